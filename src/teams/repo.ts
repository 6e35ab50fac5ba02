// SQL for teams: members and invitations of the practice in the transaction's context.
import { sql } from "kysely";
import type { Tx } from "../platform/db.ts";
import type { Role } from "../platform/schema.ts";

export function listMembers(tx: Tx, practiceId: string) {
  return tx
    .selectFrom("memberships as m")
    .innerJoin("users as u", "u.id", "m.user_id")
    .select(["u.id as userId", "u.full_name as fullName", "u.email", "m.role", "m.ends_at as endsAt", "u.totp_enabled_at as mfaSince"])
    .where("m.practice_id", "=", practiceId)
    .orderBy("u.full_name")
    .execute();
}

export function listPendingInvitations(tx: Tx, practiceId: string) {
  return tx
    .selectFrom("invitations")
    .select(["id", "email", "role", "ends_at as endsAt", "expires_at as expiresAt"])
    .where("practice_id", "=", practiceId)
    .where("accepted_at", "is", null)
    .where("revoked_at", "is", null)
    .where("expires_at", ">", sql<Date>`now()`)
    .orderBy("created_at", "desc")
    .execute();
}

export function findMembership(tx: Tx, practiceId: string, userId: string) {
  return tx.selectFrom("memberships").selectAll().where("practice_id", "=", practiceId).where("user_id", "=", userId).executeTakeFirst();
}

/** Locks the practice's admin rows and counts them: the last-admin rule holds under concurrency. */
export async function lockAdminCount(tx: Tx, practiceId: string): Promise<number> {
  const rows = await tx.selectFrom("memberships").select("id").where("practice_id", "=", practiceId).where("role", "=", "admin").forUpdate().execute();
  return rows.length;
}

export async function insertInvitation(tx: Tx, invitation: { practiceId: string; email: string; role: Role; endsAt: Date | null; tokenHash: string; invitedBy: string; expiresAt: Date }) {
  return tx
    .insertInto("invitations")
    .values({
      practice_id: invitation.practiceId, email: invitation.email, role: invitation.role, ends_at: invitation.endsAt,
      token_hash: invitation.tokenHash, invited_by: invitation.invitedBy, expires_at: invitation.expiresAt,
    })
    .returning("id")
    .executeTakeFirstOrThrow();
}

/** The invitation behind a link, if it can still be accepted (the context must hold its token hash). */
export function findOpenInvitation(tx: Tx, tokenHash: string) {
  return tx
    .selectFrom("invitations")
    .select(["id", "practice_id as practiceId", "email", "role", "ends_at as endsAt"])
    .where("token_hash", "=", tokenHash)
    .where("accepted_at", "is", null)
    .where("revoked_at", "is", null)
    .where("expires_at", ">", sql<Date>`now()`)
    .executeTakeFirst();
}
