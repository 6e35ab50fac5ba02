// Password reset by email: a single-use link valid for 30 minutes. Using it sets the new password
// and ends every session of the account. Asking for a link answers the same whether or not the
// email has an account.
import { sql } from "kysely";
import type { RequestMeta } from "../context.ts";
import { recordAudit } from "../audit/record.ts";
import { randomToken, sha256Hex } from "../platform/crypto.ts";
import { setContext, withContext } from "../platform/db.ts";
import { hashPassword } from "./password.ts";
import { consumeEmailToken, findUserByEmail, insertEmailToken, revokeUserSessions, setPasswordHash } from "./repo.ts";
import type { AuthDeps } from "./service.ts";
import { accountKey, claimAttempt, clearFailures } from "./throttle.ts";
import { passwordChangedEmail, passwordResetEmail } from "./emails.ts";

export const RESET_MINUTES = 30;
/** Reset mails per address before a pause (1 minute, then doubling): nobody can flood an inbox. */
export const RESET_REQUEST_LIMIT = 3;

export async function requestPasswordReset(deps: AuthDeps, emailInput: string, request: RequestMeta): Promise<void> {
  const email = emailInput.trim().toLowerCase();
  const sent = await withContext(deps.db, { actor: "anonymous" }, async (tx) => {
    // Counted whether or not the address has an account, so the limit reveals nothing either.
    const claim = await claimAttempt(tx, `reset:${sha256Hex(email)}`, RESET_REQUEST_LIMIT);
    const user = await findUserByEmail(tx, email);
    const usable = claim.allowed && user && user.status === "active" && user.password_hash ? user : null;
    let link: string | null = null;
    if (usable) {
      const token = randomToken(32);
      await insertEmailToken(tx, { userId: usable.id, purpose: "reset_password", tokenHash: sha256Hex(token), expiresAt: new Date(Date.now() + RESET_MINUTES * 60_000) });
      link = `${deps.config.appOrigin}/password/reset?token=${token}`;
    }
    await recordAudit(tx, {
      practiceId: null, actor: { type: "anonymous" }, action: "auth.password.reset_requested",
      target: user ? { type: "user", id: user.id } : undefined, details: { sent: Boolean(link), throttled: !claim.allowed }, request,
    });
    return link && usable ? { to: usable.email, link } : null;
  });
  // Sent after the answer, so the answer takes as long whether or not the address has an account.
  if (sent) {
    void deps.mailer.send(passwordResetEmail(sent.to, sent.link, RESET_MINUTES)).catch((error: unknown) => {
      deps.logger?.error({ requestId: request.requestId, error: error instanceof Error ? error.name : "unknown" }, "password reset mail not sent");
    });
  }
}

/** Sets a new password from a reset link; false when the link is unknown, used or expired. */
export async function resetPassword(deps: AuthDeps, token: string, newPassword: string, request: RequestMeta): Promise<boolean> {
  if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return false;
  const passwordHash = await hashPassword(newPassword);
  const done = await withContext(deps.db, { actor: "anonymous" }, async (tx) => {
    const userId = await consumeEmailToken(tx, "reset_password", sha256Hex(token));
    if (!userId) return null;
    await setContext(tx, { userId }); // the token named the user: their sessions become visible
    const user = await tx.selectFrom("users").select(["id", "email"]).where("id", "=", userId).executeTakeFirstOrThrow();
    await setPasswordHash(tx, userId, passwordHash);
    // Any other reset link still in an inbox dies with this one, and so does a pending email change
    // (its notice tells the owner to reset the password if they did not ask for it).
    await tx.updateTable("email_tokens").set({ used_at: sql`now()` }).where("user_id", "=", userId).where("purpose", "in", ["reset_password", "change_email"]).where("used_at", "is", null).execute();
    const ended = await revokeUserSessions(tx, userId, "password_reset");
    await clearFailures(tx, accountKey(user.email));
    await recordAudit(tx, { practiceId: null, actor: { type: "user", id: userId }, action: "auth.password.reset", target: { type: "user", id: userId }, details: { sessions: ended }, request });
    return user.email;
  });
  if (!done) return false;
  await deps.mailer.send(passwordChangedEmail(deps.config.appOrigin, done));
  return true;
}
