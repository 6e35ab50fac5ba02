// Opaque sessions: a 256-bit random token in a __Host- cookie; the database keeps only its
// SHA-256. Sessions end after SESSION_IDLE_MINUTES without a request and SESSION_ABSOLUTE_HOURS
// after sign-in, whichever comes first.
import { sql } from "kysely";
import type { Config } from "../config.ts";
import type { RequestMeta } from "../context.ts";
import { randomToken, sha256Hex } from "../platform/crypto.ts";
import { type Db, type Tx, withContext } from "../platform/db.ts";
import type { Role, Session, User } from "../platform/schema.ts";
import { insertSession, revokeSession, touchSession } from "./repo.ts";

export const SESSION_COOKIE = "plh_session"; // sent as __Host-plh_session
const TOUCH_EVERY_MS = 30_000; // last_seen_at precision: one write per half minute, not per request

export type SessionSettings = Config["session"];

export function idleDeadline(session: Pick<Session, "last_seen_at">, settings: SessionSettings): Date {
  return new Date(new Date(session.last_seen_at).getTime() + settings.idleMinutes * 60_000);
}

/** Creates a session inside the caller's transaction (whose context names the user). */
export async function createSession(
  tx: Tx,
  input: { userId: string; practiceId: string | null; mfaVerified: boolean; request: RequestMeta; expiresAt?: Date },
  settings: SessionSettings,
): Promise<{ token: string; session: Session }> {
  const token = randomToken(32);
  const session = await insertSession(tx, {
    tokenHash: sha256Hex(token),
    userId: input.userId,
    practiceId: input.practiceId,
    ip: input.request.ip,
    userAgent: input.request.userAgent,
    mfaVerified: input.mfaVerified,
    // A rotated token (MFA passed, practice switched) keeps the original absolute end.
    expiresAt: input.expiresAt ?? new Date(Date.now() + settings.absoluteHours * 3_600_000),
  });
  return { token, session };
}

/** The user's active membership in the session's practice, when the session names one. */
export type SessionMembership = { practiceId: string; role: Role };

/**
 * `membership` is filled by resolveSession (read with the session, in its statement): the
 * permission guard uses it instead of asking again. undefined: not looked up (Clerk sessions);
 * null: no active membership in the session's practice (or no practice).
 */
export type ResolvedSession = { session: Session; user: User; membership?: SessionMembership | null };

/** Marks the session active now (the "Stay signed in" button); returns its new idle deadline. */
export async function extendSession(db: Db, session: Session, settings: SessionSettings): Promise<Date> {
  await withContext(db, { actor: `user:${session.user_id}`, userId: session.user_id }, (tx) => touchSession(tx, session.id));
  return idleDeadline({ last_seen_at: new Date() }, settings);
}

/** A row of app_request_session (migration 202611232350): the session, its user (u_), the membership (m_). */
type RequestSessionRow = Session & {
  u_id: string | null; u_email: string; u_full_name: string; u_password_hash: string | null; u_email_verified_at: Date | null;
  u_totp_secret: string | null; u_totp_enabled_at: Date | null; u_totp_last_step: string | null; u_status: User["status"];
  u_clerk_user_id: string | null; u_created_at: Date; u_updated_at: Date; m_practice_id: string | null; m_role: Role | null;
};

function splitRow(row: RequestSessionRow): { session: Session; user: User | null; membership: SessionMembership | null } {
  const {
    u_id, u_email, u_full_name, u_password_hash, u_email_verified_at, u_totp_secret, u_totp_enabled_at, u_totp_last_step, u_status,
    u_clerk_user_id, u_created_at, u_updated_at, m_practice_id, m_role, ...session
  } = row;
  const user: User | null = u_id === null ? null : {
    id: u_id, email: u_email, full_name: u_full_name, password_hash: u_password_hash, email_verified_at: u_email_verified_at,
    totp_secret: u_totp_secret, totp_enabled_at: u_totp_enabled_at, totp_last_step: u_totp_last_step, status: u_status,
    clerk_user_id: u_clerk_user_id, created_at: u_created_at, updated_at: u_updated_at,
  };
  return { session, user, membership: m_practice_id && m_role ? { practiceId: m_practice_id, role: m_role } : null };
}

/**
 * The live session behind a cookie token, or null. An expired session (idle or absolute) is
 * revoked on the spot so it can never come back; a deactivated user's session likewise.
 *
 * One statement in the common case: app_request_session sets the context (the token hash, then the
 * user it names) and reads the session, the user and the membership in the session's practice, in
 * its own transaction. Revoking, and marking the session seen (at most every TOUCH_EVERY_MS), are
 * writes in a transaction of their own, with the user's context, only when needed.
 */
export async function resolveSession(db: Db, token: string, settings: SessionSettings): Promise<ResolvedSession | null> {
  if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return null;
  const tokenHash = sha256Hex(token);
  const { rows } = await sql<RequestSessionRow>`SELECT * FROM app_request_session(${tokenHash})`.execute(db);
  if (!rows[0]) return null;
  const { session: found, user, membership } = splitRow(rows[0]);
  const now = Date.now();
  const reason =
    !user || user.status !== "active" ? "deactivated"
    : new Date(found.expires_at).getTime() <= now ? "expired"
    : idleDeadline(found, settings).getTime() <= now ? "idle"
    : null;
  if (reason) {
    await withContext(db, { actor: "session", userId: found.user_id }, (tx) => revokeSession(tx, found.id, reason));
    return null;
  }
  if (now - new Date(found.last_seen_at).getTime() > TOUCH_EVERY_MS) {
    await withContext(db, { actor: "session", userId: found.user_id }, (tx) => touchSession(tx, found.id));
    found.last_seen_at = new Date();
  }
  return { session: found, user: user!, membership };
}
