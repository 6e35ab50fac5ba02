// SQL for identity. Each function takes the transaction first; callers set the context
// (user, practice, session token hash) that the RLS policies need.
import { sql } from "kysely";
import type { Tx } from "../platform/db.ts";
import type { Role, Session, User } from "../platform/schema.ts";

export function findUserByEmail(tx: Tx, email: string): Promise<User | undefined> {
  return tx.selectFrom("users").selectAll().where("email", "=", email.toLowerCase()).executeTakeFirst();
}

export function findUserById(tx: Tx, id: string): Promise<User | undefined> {
  return tx.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirst();
}

export function insertUser(tx: Tx, user: { id: string; email: string; fullName: string; passwordHash: string }): Promise<User> {
  return tx
    .insertInto("users")
    .values({ id: user.id, email: user.email.toLowerCase(), full_name: user.fullName.trim(), password_hash: user.passwordHash })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function setPasswordHash(tx: Tx, userId: string, passwordHash: string): Promise<void> {
  await tx.updateTable("users").set({ password_hash: passwordHash, updated_at: sql`now()` }).where("id", "=", userId).execute();
}

export async function markEmailVerified(tx: Tx, userId: string): Promise<void> {
  await tx.updateTable("users").set({ email_verified_at: sql`now()`, updated_at: sql`now()` }).where("id", "=", userId).where("email_verified_at", "is", null).execute();
}

export async function insertMembership(tx: Tx, membership: { practiceId: string; userId: string; role: Role }): Promise<void> {
  await tx.insertInto("memberships").values({ practice_id: membership.practiceId, user_id: membership.userId, role: membership.role }).execute();
}

/** The user's membership in a practice, unless it has lapsed (auditor end date). */
export function findActiveMembership(tx: Tx, practiceId: string, userId: string) {
  return tx
    .selectFrom("memberships")
    .selectAll()
    .where("practice_id", "=", practiceId)
    .where("user_id", "=", userId)
    .where((eb) => eb.or([eb("ends_at", "is", null), eb("ends_at", ">", sql<Date>`now()`)]))
    .executeTakeFirst();
}

/** The user's current memberships (lapsed auditor memberships excluded), with practice names. */
export function listActiveMemberships(tx: Tx, userId: string) {
  return tx
    .selectFrom("memberships as m")
    .innerJoin("practices as p", "p.id", "m.practice_id")
    .select(["m.practice_id as practiceId", "m.role", "p.name as practiceName", "p.status as practiceStatus"])
    .where("m.user_id", "=", userId)
    .where((eb) => eb.or([eb("m.ends_at", "is", null), eb("m.ends_at", ">", sql<Date>`now()`)]))
    .orderBy("p.name")
    .execute();
}

type NewSession = { tokenHash: string; userId: string; practiceId: string | null; ip: string; userAgent: string; expiresAt: Date; mfaVerified: boolean };

function insertSessionQuery(tx: Tx, session: NewSession) {
  return tx.insertInto("sessions").values({
    token_hash: session.tokenHash,
    user_id: session.userId,
    practice_id: session.practiceId,
    ip: session.ip.slice(0, 64),
    user_agent: session.userAgent.slice(0, 512),
    expires_at: session.expiresAt,
    mfa_verified_at: session.mfaVerified ? sql`now()` : null,
  });
}

export function insertSession(tx: Tx, session: NewSession): Promise<Session> {
  return insertSessionQuery(tx, session).returningAll().executeTakeFirstOrThrow();
}

/** Inserts unless a session with that token hash exists (two first requests may race): the new row, or undefined. */
export function insertSessionIfAbsent(tx: Tx, session: NewSession): Promise<Session | undefined> {
  return insertSessionQuery(tx, session).onConflict((oc) => oc.column("token_hash").doNothing()).returningAll().executeTakeFirst();
}

export function findSessionByTokenHash(tx: Tx, tokenHash: string): Promise<Session | undefined> {
  return tx.selectFrom("sessions").selectAll().where("token_hash", "=", tokenHash).where("revoked_at", "is", null).executeTakeFirst();
}

export async function touchSession(tx: Tx, sessionId: string): Promise<void> {
  await tx.updateTable("sessions").set({ last_seen_at: sql`now()` }).where("id", "=", sessionId).execute();
}

export async function revokeSession(tx: Tx, sessionId: string, reason: string): Promise<void> {
  await tx.updateTable("sessions").set({ revoked_at: sql`now()`, revoked_reason: reason }).where("id", "=", sessionId).where("revoked_at", "is", null).execute();
}

/** Revokes every live session of the user (the context must name that user); returns how many. */
export async function revokeUserSessions(tx: Tx, userId: string, reason: string, exceptSessionId?: string): Promise<number> {
  let query = tx.updateTable("sessions").set({ revoked_at: sql`now()`, revoked_reason: reason }).where("user_id", "=", userId).where("revoked_at", "is", null);
  if (exceptSessionId) query = query.where("id", "!=", exceptSessionId);
  const result = await query.executeTakeFirst();
  return Number(result.numUpdatedRows);
}

export async function insertEmailToken(tx: Tx, token: { userId: string; purpose: "verify_email" | "reset_password"; tokenHash: string; expiresAt: Date }): Promise<void> {
  await tx.insertInto("email_tokens").values({ user_id: token.userId, purpose: token.purpose, token_hash: token.tokenHash, expires_at: token.expiresAt }).execute();
}

/** Marks a live token used and returns its user, or undefined when unknown, used or expired. */
export async function consumeEmailToken(tx: Tx, purpose: "verify_email" | "reset_password", tokenHash: string): Promise<string | undefined> {
  const row = await tx
    .updateTable("email_tokens")
    .set({ used_at: sql`now()` })
    .where("token_hash", "=", tokenHash)
    .where("purpose", "=", purpose)
    .where("used_at", "is", null)
    .where("expires_at", ">", sql<Date>`now()`)
    .returning("user_id")
    .executeTakeFirst();
  return row?.user_id;
}

/** The user's live sessions, newest activity first (the context must name that user). */
export function listLiveSessions(tx: Tx, userId: string) {
  return tx
    .selectFrom("sessions")
    .select(["id", "ip", "user_agent", "created_at", "last_seen_at", "expires_at"])
    .where("user_id", "=", userId)
    .where("revoked_at", "is", null)
    .where("expires_at", ">", sql<Date>`now()`)
    .orderBy("last_seen_at", "desc")
    .execute();
}

/** Revokes one of the user's own sessions; false when no such live session belongs to them. */
export async function revokeOwnSession(tx: Tx, userId: string, sessionId: string, reason: string): Promise<boolean> {
  const result = await tx
    .updateTable("sessions")
    .set({ revoked_at: sql`now()`, revoked_reason: reason })
    .where("id", "=", sessionId)
    .where("user_id", "=", userId)
    .where("revoked_at", "is", null)
    .executeTakeFirst();
  return result.numUpdatedRows === 1n;
}
