// SQL for a person's own account settings. Each function takes the transaction first; callers set
// the context naming the user (app.user_id), which the RLS policies of email_preferences and
// totp_reenrolments require. users and email_tokens have no RLS (as before this feature), so every
// statement here names its user explicitly.
import { sql } from "kysely";
import type { Tx } from "../platform/db.ts";
import type { NonEssentialCategory } from "../platform/mail.ts";

export async function setFullName(tx: Tx, userId: string, fullName: string): Promise<boolean> {
  const result = await tx.updateTable("users").set({ full_name: fullName, updated_at: sql`now()` })
    .where("id", "=", userId).where("full_name", "!=", fullName).executeTakeFirst();
  return result.numUpdatedRows === 1n;
}

export async function emailInUse(tx: Tx, email: string): Promise<boolean> {
  return Boolean(await tx.selectFrom("users").select("id").where("email", "=", email).executeTakeFirst());
}

/** Kills the user's live links of these purposes (a newer link, or a changed address, replaces them). */
export async function retireEmailTokens(tx: Tx, userId: string, purposes: ("verify_email" | "reset_password" | "change_email")[]): Promise<number> {
  const result = await tx.updateTable("email_tokens").set({ used_at: sql`now()` })
    .where("user_id", "=", userId).where("purpose", "in", purposes).where("used_at", "is", null).executeTakeFirst();
  return Number(result.numUpdatedRows);
}

export async function insertEmailChangeToken(tx: Tx, token: { userId: string; tokenHash: string; newEmail: string; expiresAt: Date }): Promise<void> {
  await tx.insertInto("email_tokens").values({
    user_id: token.userId, purpose: "change_email", token_hash: token.tokenHash, new_email: token.newEmail, expires_at: token.expiresAt,
  }).execute();
}

/** Marks a live email-change link used; its user and the address it confirms, or undefined. */
export async function consumeEmailChangeToken(tx: Tx, tokenHash: string): Promise<{ userId: string; newEmail: string } | undefined> {
  const row = await tx.updateTable("email_tokens").set({ used_at: sql`now()` })
    .where("token_hash", "=", tokenHash).where("purpose", "=", "change_email")
    .where("used_at", "is", null).where("expires_at", ">", sql<Date>`now()`)
    .returning(["user_id", "new_email"]).executeTakeFirst();
  return row?.new_email ? { userId: row.user_id, newEmail: row.new_email } : undefined;
}

/** The address of the user's newest live email-change link, if any (shown as "waiting for confirmation"). */
export async function pendingEmailChange(tx: Tx, userId: string): Promise<{ newEmail: string; expiresAt: Date } | undefined> {
  const row = await tx.selectFrom("email_tokens").select(["new_email", "expires_at"])
    .where("user_id", "=", userId).where("purpose", "=", "change_email")
    .where("used_at", "is", null).where("expires_at", ">", sql<Date>`now()`)
    .orderBy("created_at", "desc").executeTakeFirst();
  return row?.new_email ? { newEmail: row.new_email, expiresAt: new Date(row.expires_at) } : undefined;
}

/** Sets the new address; false when the user is gone or the address was taken meanwhile (unique index). */
export async function setEmail(tx: Tx, userId: string, email: string): Promise<boolean> {
  const result = await tx.updateTable("users").set({ email, email_verified_at: sql`now()`, updated_at: sql`now()` })
    .where("id", "=", userId).where("status", "=", "active")
    .where(({ not, exists, selectFrom }) => not(exists(selectFrom("users as other").select("other.id").where("other.email", "=", email))))
    .executeTakeFirst();
  return result.numUpdatedRows === 1n;
}

// ---- preferences ------------------------------------------------------------------------------------

export function listPreferences(tx: Tx, userId: string) {
  return tx.selectFrom("email_preferences").select(["category", "subscribed"]).where("user_id", "=", userId).execute();
}

/** Stores one choice; true when it changed what was stored (or nothing was stored yet). */
export async function upsertPreference(tx: Tx, userId: string, category: NonEssentialCategory, subscribed: boolean): Promise<boolean> {
  const row = await tx.insertInto("email_preferences").values({ user_id: userId, category, subscribed })
    .onConflict((oc) => oc.columns(["user_id", "category"]).doUpdateSet({ subscribed, updated_at: sql`now()` })
      .where("email_preferences.subscribed", "!=", subscribed))
    .returning("category").executeTakeFirst();
  return Boolean(row);
}

export async function userMailStatus(tx: Tx, userId: string): Promise<{ status: string } | undefined> {
  return tx.selectFrom("users").select("status").where("id", "=", userId).executeTakeFirst();
}

// ---- moving two-step sign-in to a new authenticator ------------------------------------------------------

export async function putPendingTotp(tx: Tx, userId: string, secret: string, expiresAt: Date): Promise<void> {
  await tx.insertInto("totp_reenrolments").values({ user_id: userId, secret, expires_at: expiresAt })
    .onConflict((oc) => oc.column("user_id").doUpdateSet({ secret, expires_at: expiresAt, created_at: sql`now()` })).execute();
}

export function findPendingTotp(tx: Tx, userId: string) {
  return tx.selectFrom("totp_reenrolments").select(["secret", "expires_at"])
    .where("user_id", "=", userId).where("expires_at", ">", sql<Date>`now()`).executeTakeFirst();
}

export async function deletePendingTotp(tx: Tx, userId: string): Promise<boolean> {
  const result = await tx.deleteFrom("totp_reenrolments").where("user_id", "=", userId).executeTakeFirst();
  return result.numDeletedRows === 1n;
}

export async function countUnusedRecoveryCodes(tx: Tx, userId: string): Promise<number> {
  const row = await tx.selectFrom("user_recovery_codes").select((eb) => eb.fn.countAll<string>().as("n"))
    .where("user_id", "=", userId).where("used_at", "is", null).executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Replaces the active TOTP secret (two-step sign-in stays on) and remembers the step just used. */
export async function replaceTotpSecret(tx: Tx, userId: string, secret: string, step: number): Promise<void> {
  await tx.updateTable("users").set({ totp_secret: secret, totp_last_step: String(step), totp_enabled_at: sql`now()`, updated_at: sql`now()` })
    .where("id", "=", userId).execute();
}
