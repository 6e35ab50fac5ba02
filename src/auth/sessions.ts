// Opaque sessions: a 256-bit random token in a __Host- cookie; the database keeps only its
// SHA-256. Sessions end after SESSION_IDLE_MINUTES without a request and SESSION_ABSOLUTE_HOURS
// after sign-in, whichever comes first.
import type { Config } from "../config.ts";
import type { RequestMeta } from "../context.ts";
import { randomToken, sha256Hex } from "../platform/crypto.ts";
import { type Db, setContext, type Tx, withContext } from "../platform/db.ts";
import type { Session, User } from "../platform/schema.ts";
import { findSessionByTokenHash, findUserById, insertSession, revokeSession, touchSession } from "./repo.ts";

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

export type ResolvedSession = { session: Session; user: User };

/** Marks the session active now (the "Stay signed in" button); returns its new idle deadline. */
export async function extendSession(db: Db, session: Session, settings: SessionSettings): Promise<Date> {
  await withContext(db, { actor: `user:${session.user_id}`, userId: session.user_id }, (tx) => touchSession(tx, session.id));
  return idleDeadline({ last_seen_at: new Date() }, settings);
}

/**
 * The live session behind a cookie token, or null. An expired session (idle or absolute) is
 * revoked on the spot so it can never come back; a deactivated user's session likewise.
 */
export async function resolveSession(db: Db, token: string, settings: SessionSettings): Promise<ResolvedSession | null> {
  if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return null;
  const tokenHash = sha256Hex(token);
  // One transaction per request: the token hash finds the row, then the context names its user.
  return withContext(db, { actor: "session", sessionTokenHash: tokenHash }, async (tx) => {
    const found = await findSessionByTokenHash(tx, tokenHash);
    if (!found) return null;
    await setContext(tx, { userId: found.user_id });
    const user = await findUserById(tx, found.user_id);
    const now = Date.now();
    const reason =
      !user || user.status !== "active" ? "deactivated"
      : new Date(found.expires_at).getTime() <= now ? "expired"
      : idleDeadline(found, settings).getTime() <= now ? "idle"
      : null;
    if (reason) {
      await revokeSession(tx, found.id, reason);
      return null;
    }
    if (now - new Date(found.last_seen_at).getTime() > TOUCH_EVERY_MS) {
      await touchSession(tx, found.id);
      found.last_seen_at = new Date();
    }
    return { session: found, user: user! };
  });
}
