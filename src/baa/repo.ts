// SQL for the BAA: versions (platform-wide, read-only to the app), signatures and the practice
// profile (the practice in the transaction's tenant context).
import { sql } from "kysely";
import type { Tx } from "../platform/db.ts";
import type { BaaSignaturesTable, BaaVersion } from "../platform/schema.ts";
import type { Insertable } from "kysely";

/** The version in force now (the database decides: current_baa_version_id()). */
export function findCurrentVersion(tx: Tx): Promise<BaaVersion | undefined> {
  return tx.selectFrom("baa_versions").selectAll().where("id", "=", sql<string>`current_baa_version_id()`).executeTakeFirst();
}

export function findVersion(tx: Tx, id: string): Promise<BaaVersion | undefined> {
  return tx.selectFrom("baa_versions").selectAll().where("id", "=", id).executeTakeFirst();
}

export async function practiceHasCurrentBaa(tx: Tx, practiceId: string): Promise<boolean> {
  const { rows } = await sql<{ ok: boolean }>`SELECT practice_has_current_baa(${practiceId}::uuid) AS ok`.execute(tx);
  return rows[0]?.ok === true;
}

export function lockPractice(tx: Tx, practiceId: string) {
  return tx.selectFrom("practices").selectAll().where("id", "=", practiceId).forUpdate().executeTakeFirst();
}

export function listAdmins(tx: Tx, practiceId: string) {
  return tx.selectFrom("memberships as m").innerJoin("users as u", "u.id", "m.user_id")
    .select(["u.id as userId", "u.full_name as fullName"])
    .where("m.practice_id", "=", practiceId).where("m.role", "=", "admin").where("u.status", "=", "active")
    .orderBy("u.full_name").execute();
}

export type ProfileColumns = {
  legal_name: string; dba_name: string | null; address_line1: string; address_line2: string | null; city: string; state: string;
  postal_code: string; phone: string; npi: string | null; privacy_officer_name: string; privacy_officer_email: string; time_zone: string;
};

export async function updateProfile(tx: Tx, practiceId: string, profile: ProfileColumns): Promise<void> {
  await tx.updateTable("practices").set({ ...profile, profile_completed_at: sql`coalesce(profile_completed_at, now())`, updated_at: sql`now()` })
    .where("id", "=", practiceId).execute();
}

export async function activatePractice(tx: Tx, practiceId: string): Promise<void> {
  await tx.updateTable("practices").set({ status: "active", updated_at: sql`now()` }).where("id", "=", practiceId).where("status", "=", "onboarding").execute();
}

export function findSignatureFor(tx: Tx, practiceId: string, versionId: string) {
  return tx.selectFrom("baa_signatures").selectAll().where("practice_id", "=", practiceId).where("baa_version_id", "=", versionId).executeTakeFirst();
}

export function findSignature(tx: Tx, practiceId: string, id: string) {
  return tx.selectFrom("baa_signatures").selectAll().where("practice_id", "=", practiceId).where("id", "=", id).executeTakeFirst();
}

export function listSignatures(tx: Tx, practiceId: string) {
  return tx.selectFrom("baa_signatures").selectAll().where("practice_id", "=", practiceId).orderBy("signed_at", "desc").execute();
}

export function latestSignature(tx: Tx, practiceId: string) {
  return tx.selectFrom("baa_signatures").selectAll().where("practice_id", "=", practiceId).orderBy("signed_at", "desc").limit(1).executeTakeFirst();
}

export async function insertSignature(tx: Tx, row: Insertable<BaaSignaturesTable>): Promise<void> {
  await tx.insertInto("baa_signatures").values(row).execute();
}

/** The database clock for this transaction, to the millisecond (now() is fixed per transaction): the signing time. */
export async function transactionTime(tx: Tx): Promise<Date> {
  const { rows } = await sql<{ now: Date }>`SELECT date_trunc('milliseconds', now()) AS now`.execute(tx);
  return new Date(rows[0]!.now);
}
