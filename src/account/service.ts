// A person's own account, changed from account settings (local accounts; with Clerk, only the
// name): name, email address (confirmed from the new address before anything changes), password
// (current one required, other sessions end) and two-step sign-in (a fresh code before the
// authenticator moves or recovery codes are replaced). Every change is audited in its own
// transaction; refusals are audited as denied. Mail goes out after the change commits.
import type { RequestMeta } from "../context.ts";
import { recordAudit } from "../audit/record.ts";
import { decryptField, encryptField, randomToken, sha256Hex } from "../platform/crypto.ts";
import { type Tx, withContext } from "../platform/db.ts";
import type { Session, User } from "../platform/schema.ts";
import type { AuthDeps } from "../auth/service.ts";
import { hashPassword, verifyPassword } from "../auth/password.ts";
import { revokeSession, revokeUserSessions } from "../auth/repo.ts";
import { createSession } from "../auth/sessions.ts";
import { claimAttempt, clearFailures, MFA_LIMIT, mfaKey } from "../auth/throttle.ts";
import {
  claim as claimCodeAttempt, consumeSecondFactor, encryptTotpSecret, issueRecoveryCodes, matchingStep, newTotpSecret, totpSetup,
} from "../auth/mfa.ts";
import {
  emailChangeAddressInUseEmail, emailChangeConfirmEmail, emailChangedNotice, emailChangeRequestedNotice,
  passwordChangedInSettingsEmail, twoStepChangedEmail,
} from "../auth/emails.ts";
import {
  consumeEmailChangeToken, deletePendingTotp, emailInUse, findPendingTotp, insertEmailChangeToken, putPendingTotp,
  replaceTotpSecret, retireEmailTokens, setEmail, setFullName,
} from "./repo.ts";

export const EMAIL_CHANGE_HOURS = 24;
/** Email-change requests per user before a pause (1 minute, then doubling): no flooding someone's inbox. */
export const EMAIL_CHANGE_LIMIT = 3;
/** Wrong current passwords before a pause, like sign-in. */
export const REAUTH_LIMIT = 5;
export const REENROL_MINUTES = 15;

type Who = { user: User; session: Session };
const ctx = (who: Who) => ({ actor: `user:${who.user.id}`, userId: who.user.id, practiceId: who.session.practice_id });
const actorOf = (who: Who) => ({ type: "user" as const, id: who.user.id });
const target = (who: Who) => ({ type: "user", id: who.user.id });
const reauthKey = (userId: string) => `reauth:${userId}`;
const pendingContext = (userId: string) => `totp_reenrolments.secret:${userId}`;

/** A notice about a change already made: a failed send is logged, never turned into an error page. */
async function notify(deps: AuthDeps, message: Parameters<AuthDeps["mailer"]["send"]>[0], request: RequestMeta): Promise<void> {
  try {
    await deps.mailer.send(message);
  } catch (error) {
    deps.logger?.error({ requestId: request.requestId, error: error instanceof Error ? error.name : "unknown" }, "account notice not sent");
  }
}

type Purpose = "email" | "password" | "reenrol" | "recovery_codes";
export type Refusal = { ok: false; reason: "invalid" | "locked" | "expired" };

async function refuse(deps: AuthDeps, who: Who, purpose: Purpose, factor: "password" | "second_factor", reason: "invalid" | "locked", request: RequestMeta): Promise<Refusal> {
  await withContext(deps.db, ctx(who), (tx) => recordAudit(tx, {
    practiceId: who.session.practice_id, actor: actorOf(who), action: "account.reauth.failed", outcome: "denied", target: target(who),
    details: { factor, purpose, reason }, request,
  }));
  return { ok: false, reason };
}

/**
 * Checks the current password (counted first, under a lock, so parallel guesses cannot pass the
 * limit); refusals are audited. The account's own sign-in counter is separate: a wrong password here
 * never locks the person out of signing in.
 */
async function checkCurrentPassword(deps: AuthDeps, who: Who, password: string, purpose: Purpose, request: RequestMeta): Promise<Refusal | null> {
  const claim = await withContext(deps.db, ctx(who), (tx) => claimAttempt(tx, reauthKey(who.user.id), REAUTH_LIMIT));
  if (!claim.allowed) return refuse(deps, who, purpose, "password", "locked", request);
  const ok = Boolean(who.user.password_hash) && (await verifyPassword(who.user.password_hash!, password));
  if (!ok) return refuse(deps, who, purpose, "password", "invalid", request);
  return null;
}

export async function changeName(deps: AuthDeps, who: Who, fullName: string, request: RequestMeta): Promise<boolean> {
  return withContext(deps.db, ctx(who), async (tx) => {
    if (!(await setFullName(tx, who.user.id, fullName))) return false;
    await recordAudit(tx, { practiceId: who.session.practice_id, actor: actorOf(who), action: "account.name.changed", target: target(who), request });
    return true;
  });
}

// ---- email address -------------------------------------------------------------------------------------

export type EmailChangeResult = { ok: true } | Refusal | { ok: false; reason: "same" | "throttled" };

/**
 * Asks to move the account to a new address: a single-use link to the new address, a notice to the
 * old one. When the new address already has an account, that address is told instead and no link is
 * sent; the person asking sees the same answer either way, then and on the settings page (no account discovery).
 */
export async function requestEmailChange(deps: AuthDeps, who: Who, input: { email: string; password: string }, request: RequestMeta): Promise<EmailChangeResult> {
  const newEmail = input.email.trim().toLowerCase();
  if (newEmail === who.user.email) return { ok: false, reason: "same" };
  const refused = await checkCurrentPassword(deps, who, input.password, "email", request);
  if (refused) return refused;
  const outcome = await withContext(deps.db, ctx(who), async (tx) => {
    await clearFailures(tx, reauthKey(who.user.id));
    const claim = await claimAttempt(tx, `email-change:${who.user.id}`, EMAIL_CHANGE_LIMIT);
    if (!claim.allowed) {
      // A refused attempt is audited like any other (issue 4): no link, no notice, the same event denied.
      await recordAudit(tx, {
        practiceId: who.session.practice_id, actor: actorOf(who), action: "account.email.change_requested", outcome: "denied", target: target(who),
        details: { reason: "rate_limited" }, request,
      });
      return null;
    }
    const inUse = await emailInUse(tx, newEmail);
    // Only the newest request counts: an older link in some inbox dies now.
    await retireEmailTokens(tx, who.user.id, ["change_email"]);
    // A link is stored either way, so the settings page shows the same "waiting for confirmation"
    // afterwards; for an address in use it is never sent (nobody holds it), and setEmail would
    // refuse it anyway.
    const token = randomToken(32);
    await insertEmailChangeToken(tx, { userId: who.user.id, tokenHash: sha256Hex(token), newEmail, expiresAt: new Date(Date.now() + EMAIL_CHANGE_HOURS * 3_600_000) });
    const link = inUse ? null : `${deps.config.appOrigin}/email-change/confirm?token=${token}`;
    await recordAudit(tx, {
      practiceId: who.session.practice_id, actor: actorOf(who), action: "account.email.change_requested", target: target(who),
      details: { address_in_use: inUse }, request,
    });
    return { link };
  });
  if (!outcome) return { ok: false, reason: "throttled" };
  await deps.mailer.send(outcome.link
    ? emailChangeConfirmEmail(newEmail, outcome.link, EMAIL_CHANGE_HOURS)
    : emailChangeAddressInUseEmail(deps.config.appOrigin, newEmail));
  await notify(deps, emailChangeRequestedNotice(deps.config.appOrigin, who.user.email, newEmail), request);
  return { ok: true };
}

const domainOf = (email: string) => email.slice(email.lastIndexOf("@") + 1).slice(0, 200);

/** Applies an email change from its link; false when the link is unknown, used, expired or the address was taken meanwhile. */
export async function confirmEmailChange(deps: AuthDeps, token: string, request: RequestMeta): Promise<boolean> {
  if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return false;
  // setEmail's check cannot see an uncommitted claim on the address (a sign-up, another change):
  // the unique index then refuses it once that commits, and the link is refused like a taken address.
  const taken = (error: unknown) => (error as { code?: string }).code === "23505" ? null : Promise.reject(error);
  const done = await withContext(deps.db, { actor: "anonymous" }, async (tx) => {
    const found = await consumeEmailChangeToken(tx, sha256Hex(token));
    if (!found) return null;
    const before = await tx.selectFrom("users").select("email").where("id", "=", found.userId).executeTakeFirst();
    if (!before || !(await setEmail(tx, found.userId, found.newEmail))) return null;
    // Links sent to the old address (a password reset, a confirmation) must not outlive it.
    await retireEmailTokens(tx, found.userId, ["verify_email", "reset_password", "change_email"]);
    await recordAudit(tx, {
      practiceId: null, actor: { type: "user", id: found.userId }, action: "account.email.changed", target: { type: "user", id: found.userId },
      details: { old_domain: domainOf(before.email), new_domain: domainOf(found.newEmail) }, request,
    });
    return { oldEmail: before.email, newEmail: found.newEmail };
  }).catch(taken);
  if (!done) return false;
  await notify(deps, emailChangedNotice(deps.config.appOrigin, done.oldEmail, done.newEmail), request);
  return true;
}

// ---- password ---------------------------------------------------------------------------------------

export type PasswordChangeResult = { ok: true; token: string; endedSessions: number } | Refusal;

/**
 * Sets a new password after checking the current one: every other session ends, pending reset links
 * die, and this session continues under a new token (same absolute end), so a copy of the old
 * cookie is worthless.
 */
export async function changePassword(deps: AuthDeps, who: Who, input: { current: string; password: string }, request: RequestMeta): Promise<PasswordChangeResult> {
  const refused = await checkCurrentPassword(deps, who, input.current, "password", request);
  if (refused) return refused;
  const passwordHash = await hashPassword(input.password);
  const result = await withContext(deps.db, ctx(who), async (tx) => {
    await clearFailures(tx, reauthKey(who.user.id));
    await tx.updateTable("users").set({ password_hash: passwordHash, updated_at: new Date() }).where("id", "=", who.user.id).execute();
    // A pending email change dies too: "not you? change your password" is what its notice says.
    await retireEmailTokens(tx, who.user.id, ["reset_password", "change_email"]);
    const ended = await revokeUserSessions(tx, who.user.id, "password_changed", who.session.id);
    const { token } = await rotate(tx, deps, who, request);
    await recordAudit(tx, { practiceId: who.session.practice_id, actor: actorOf(who), action: "account.password.changed", target: target(who), details: { sessions: ended }, request });
    return { token, endedSessions: ended };
  });
  await notify(deps, passwordChangedInSettingsEmail(deps.config.appOrigin, who.user.email, result.endedSessions), request);
  return { ok: true, ...result };
}

async function rotate(tx: Tx, deps: AuthDeps, who: Who, request: RequestMeta) {
  await revokeSession(tx, who.session.id, "rotated");
  return createSession(tx, {
    userId: who.user.id, practiceId: who.session.practice_id, mfaVerified: true, request, expiresAt: new Date(who.session.expires_at),
  }, deps.config.session);
}

// ---- two-step sign-in -------------------------------------------------------------------------------

/**
 * Runs `change` only after a fresh second factor (a TOTP code newer than the last one used, or an
 * unused recovery code) is used up in the same transaction; the attempt is counted first.
 */
async function withFreshCode<T>(deps: AuthDeps, who: Who, code: string, purpose: Purpose, request: RequestMeta,
  change: (tx: Tx, method: "totp" | "recovery_code") => Promise<T>): Promise<{ ok: true; value: T } | Refusal> {
  if (!who.user.totp_enabled_at) return { ok: false, reason: "invalid" };
  if (!(await claimCodeAttempt(deps, who.user))) return refuse(deps, who, purpose, "second_factor", "locked", request);
  const result = await withContext(deps.db, ctx(who), async (tx) => {
    const method = await consumeSecondFactor(tx, deps, who.user, code);
    if (!method) return null;
    await clearFailures(tx, mfaKey(who.user.id));
    return { value: await change(tx, method) };
  });
  if (!result) return refuse(deps, who, purpose, "second_factor", "invalid", request);
  return { ok: true, value: result.value };
}

export type TotpSetup = Awaited<ReturnType<typeof totpSetup>>;

/** Step 1 of moving two-step sign-in: a fresh code, then a new secret waits (the old one keeps working). */
export async function startReenrolment(deps: AuthDeps, who: Who, code: string, request: RequestMeta): Promise<{ ok: true; setup: TotpSetup } | Refusal> {
  const secret = newTotpSecret();
  const result = await withFreshCode(deps, who, code, "reenrol", request, async (tx, method) => {
    await putPendingTotp(tx, who.user.id, encryptField(deps.config.keys.encryption, secret, pendingContext(who.user.id)), new Date(Date.now() + REENROL_MINUTES * 60_000));
    await recordAudit(tx, { practiceId: who.session.practice_id, actor: actorOf(who), action: "account.mfa.reenrol_started", target: target(who), details: { method }, request });
  });
  if (!result.ok) return result;
  return { ok: true, setup: await totpSetup(who.user, secret) };
}

/**
 * Whether a new authenticator waits for its first code. Its secret is never shown again after the
 * start (that answer went only to whoever passed the fresh code): a page reload, or a stolen session,
 * must not reveal it, or the session alone could finish moving the second factor.
 */
export async function hasPendingReenrolment(deps: AuthDeps, who: Who): Promise<boolean> {
  return (await withContext(deps.db, ctx(who), (tx) => findPendingTotp(tx, who.user.id))) !== undefined;
}

/** Step 2: a code from the new app replaces the old secret. */
export async function confirmReenrolment(deps: AuthDeps, who: Who, code: string, request: RequestMeta): Promise<{ ok: true } | Refusal> {
  const denied = (reason: Refusal["reason"]) => withContext(deps.db, ctx(who), (tx) => recordAudit(tx, {
    practiceId: who.session.practice_id, actor: actorOf(who), action: "account.mfa.reenrolled", outcome: "denied", target: target(who), details: { reason }, request,
  })).then((): Refusal => ({ ok: false, reason }));
  const allowed = await withContext(deps.db, ctx(who), (tx) => claimAttempt(tx, mfaKey(who.user.id), MFA_LIMIT));
  if (!allowed.allowed) return denied("locked");
  const done = await withContext(deps.db, ctx(who), async (tx) => {
    const pending = await findPendingTotp(tx, who.user.id);
    if (!pending) return "expired" as const;
    const secret = decryptField(deps.config.keys.encryption, pending.secret, pendingContext(who.user.id));
    const step = matchingStep(who.user, secret, code.replace(/\s/g, ""), null);
    if (step === null) return "invalid" as const;
    // Only one of two concurrent confirmations gets the pending row.
    if (!(await deletePendingTotp(tx, who.user.id))) return "expired" as const;
    await replaceTotpSecret(tx, who.user.id, encryptTotpSecret(deps, who.user.id, secret), step);
    await clearFailures(tx, mfaKey(who.user.id));
    await recordAudit(tx, { practiceId: who.session.practice_id, actor: actorOf(who), action: "account.mfa.reenrolled", target: target(who), request });
    return "done" as const;
  });
  if (done !== "done") return denied(done);
  await notify(deps, twoStepChangedEmail(deps.config.appOrigin, who.user.email, "reenrolled"), request);
  return { ok: true };
}

/** A fresh code, then every recovery code is replaced; the new ones come back to be shown once. */
export async function regenerateRecoveryCodes(deps: AuthDeps, who: Who, code: string, request: RequestMeta): Promise<{ ok: true; codes: string[] } | Refusal> {
  const result = await withFreshCode(deps, who, code, "recovery_codes", request, async (tx, method) => {
    const codes = await issueRecoveryCodes(tx, deps, who.user.id);
    await recordAudit(tx, {
      practiceId: who.session.practice_id, actor: actorOf(who), action: "account.mfa.recovery_codes_regenerated", target: target(who),
      details: { method, recovery_codes: codes.length }, request,
    });
    return codes;
  });
  if (!result.ok) return result;
  await notify(deps, twoStepChangedEmail(deps.config.appOrigin, who.user.email, "recovery_codes"), request);
  return { ok: true, codes: result.value };
}
