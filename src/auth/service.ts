// Sign-up, email verification, sign-in and sign-out. Every state change audits in its own
// transaction; mail goes out only after that transaction commits. Messages to the person never
// reveal whether an email address has an account.
import type { Config } from "../config.ts";
import type { RequestMeta } from "../context.ts";
import { type Actor, recordAudit } from "../audit/record.ts";
import { randomToken, sha256Hex } from "../platform/crypto.ts";
import { type Db, setContext, withContext } from "../platform/db.ts";
import type { Mailer } from "../platform/mail.ts";
import type { Logger } from "../platform/log.ts";
import type { Session } from "../platform/schema.ts";
import { insertPractice } from "../practices/repo.ts";
import { dummyPasswordHash, hashPassword, needsRehash, verifyPassword } from "./password.ts";
import {
  consumeEmailToken, findUserByEmail, insertEmailToken, insertMembership, insertUser,
  listActiveMemberships, markEmailVerified, revokeSession, revokeUserSessions, setPasswordHash,
} from "./repo.ts";
import { createSession } from "./sessions.ts";
import { ACCOUNT_LIMIT, accountKey, claimAttempt, clearFailures, IP_LIMIT, ipKey, releaseAttempt } from "./throttle.ts";
import { existingAccountEmail, verificationEmail } from "./emails.ts";

export type AuthDeps = { db: Db; config: Config; mailer: Mailer; logger?: Logger };

const VERIFY_EMAIL_HOURS = 24;

async function issueVerification(deps: AuthDeps, tx: Parameters<typeof insertEmailToken>[0], userId: string): Promise<string> {
  const token = randomToken(32);
  await insertEmailToken(tx, {
    userId, purpose: "verify_email", tokenHash: sha256Hex(token), expiresAt: new Date(Date.now() + VERIFY_EMAIL_HOURS * 3_600_000),
  });
  return `${deps.config.appOrigin}/verify-email?token=${token}`;
}

export type SignUpInput = { fullName: string; email: string; password: string; practiceName: string };

/** Creates user + practice (onboarding) + admin membership, or emails the existing account's owner. */
export async function signUp(deps: AuthDeps, input: SignUpInput, request: RequestMeta): Promise<void> {
  const email = input.email.trim().toLowerCase();
  const passwordHash = await hashPassword(input.password);
  const userId = crypto.randomUUID();
  const practiceId = crypto.randomUUID();
  const outcome = await withContext(deps.db, { actor: `user:${userId}`, practiceId, userId }, async (tx) => {
    const existing = await findUserByEmail(tx, email);
    if (existing) return { existing };
    await insertUser(tx, { id: userId, email, fullName: input.fullName, passwordHash });
    await insertPractice(tx, { id: practiceId, name: input.practiceName });
    await insertMembership(tx, { practiceId, userId, role: "admin" });
    const actor: Actor = { type: "user", id: userId, role: "admin" };
    await recordAudit(tx, { practiceId, actor, action: "practice.created", target: { type: "practice", id: practiceId }, request });
    await recordAudit(tx, { practiceId, actor, action: "auth.signup", target: { type: "user", id: userId }, request });
    return { link: await issueVerification(deps, tx, userId) };
  });
  if ("existing" in outcome && outcome.existing) {
    const existing = outcome.existing;
    await withContext(deps.db, { actor: "anonymous" }, (tx) =>
      recordAudit(tx, { practiceId: null, actor: { type: "anonymous" }, action: "auth.signup.existing_email", target: { type: "user", id: existing.id }, request }),
    );
    await deps.mailer.send(existingAccountEmail(deps.config.appOrigin, existing.email));
    return;
  }
  if ("link" in outcome && outcome.link) await deps.mailer.send(verificationEmail(email, outcome.link));
}

/** Confirms an email address; false when the link is unknown, used or expired. */
export async function verifyEmail(deps: AuthDeps, token: string, request: RequestMeta): Promise<boolean> {
  if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return false;
  return withContext(deps.db, { actor: "anonymous" }, async (tx) => {
    const userId = await consumeEmailToken(tx, "verify_email", sha256Hex(token));
    if (!userId) return false;
    await markEmailVerified(tx, userId);
    await recordAudit(tx, { practiceId: null, actor: { type: "user", id: userId }, action: "auth.email.verified", target: { type: "user", id: userId }, request });
    return true;
  });
}

export type SignInResult =
  | { kind: "signed-in"; token: string; session: Session; mfaEnrolled: boolean }
  | { kind: "refused" }
  | { kind: "locked"; until: Date }
  | { kind: "unverified" };

export async function signIn(deps: AuthDeps, input: { email: string; password: string }, request: RequestMeta): Promise<SignInResult> {
  const email = input.email.trim().toLowerCase();
  const keys = { account: accountKey(email), ip: ipKey(request.ip) };
  const platform = { actor: "anonymous" } as const;

  // Count the attempt first (both keys, atomically): parallel guesses cannot slip past the limit.
  const { user, claims } = await withContext(deps.db, platform, async (tx) => ({
    claims: [await claimAttempt(tx, keys.account, ACCOUNT_LIMIT), await claimAttempt(tx, keys.ip, IP_LIMIT)],
    user: await findUserByEmail(tx, email),
  }));
  const refuse = (reason: "bad_credentials" | "locked" | "email_unverified" | "deactivated") =>
    withContext(deps.db, platform, (tx) =>
      recordAudit(tx, {
        practiceId: null, actor: { type: "anonymous" }, action: "auth.signin.failed", outcome: "denied",
        target: user ? { type: "user", id: user.id } : undefined, details: { reason }, request,
      }),
    );

  const locks = claims.flatMap((claim) => (claim.allowed ? [] : [claim.until]));
  if (locks.length) {
    await refuse("locked");
    return { kind: "locked", until: new Date(Math.max(...locks.map((d) => new Date(d).getTime()))) };
  }
  // Always run argon2, so a missing account takes as long as a wrong password.
  const passwordOk = await verifyPassword(user?.password_hash ?? (await dummyPasswordHash()), input.password);
  if (!user || !user.password_hash || !passwordOk) {
    await refuse("bad_credentials");
    return { kind: "refused" };
  }
  if (user.status !== "active") {
    await refuse("deactivated");
    return { kind: "refused" };
  }
  const forgive = (tx: Parameters<typeof clearFailures>[0]) => Promise.all([clearFailures(tx, keys.account), releaseAttempt(tx, keys.ip)]);
  if (!user.email_verified_at) {
    await refuse("email_unverified");
    const link = await withContext(deps.db, { actor: `user:${user.id}`, userId: user.id }, async (tx) => {
      await forgive(tx);
      return issueVerification(deps, tx, user.id);
    });
    await deps.mailer.send(verificationEmail(user.email, link));
    return { kind: "unverified" };
  }

  const rehash = needsRehash(user.password_hash) ? await hashPassword(input.password) : null;
  return withContext(deps.db, { actor: `user:${user.id}`, userId: user.id }, async (tx) => {
    await forgive(tx);
    if (rehash) await setPasswordHash(tx, user.id, rehash);
    const memberships = await listActiveMemberships(tx, user.id);
    const practiceId = memberships[0]?.practiceId ?? null;
    const { token, session } = await createSession(tx, { userId: user.id, practiceId, mfaVerified: false, request }, deps.config.session);
    // The event belongs to the chain of the practice the session opens in.
    await setContext(tx, { practiceId });
    await recordAudit(tx, {
      practiceId, actor: { type: "user", id: user.id, role: memberships[0]?.role ?? null }, action: "auth.signin.succeeded",
      target: { type: "user", id: user.id }, details: { mfa_required: true }, request,
    });
    return { kind: "signed-in", token, session, mfaEnrolled: Boolean(user.totp_enabled_at) };
  });
}

export async function signOut(deps: AuthDeps, session: Session, request: RequestMeta): Promise<void> {
  await withContext(deps.db, { actor: `user:${session.user_id}`, userId: session.user_id, practiceId: session.practice_id }, async (tx) => {
    await revokeSession(tx, session.id, "signout");
    await recordAudit(tx, { practiceId: session.practice_id, actor: { type: "user", id: session.user_id }, action: "auth.signout", target: { type: "session", id: session.id }, request });
  });
}

export async function signOutEverywhere(deps: AuthDeps, session: Session, request: RequestMeta): Promise<number> {
  return withContext(deps.db, { actor: `user:${session.user_id}`, userId: session.user_id, practiceId: session.practice_id }, async (tx) => {
    const count = await revokeUserSessions(tx, session.user_id, "signout_all");
    await recordAudit(tx, { practiceId: session.practice_id, actor: { type: "user", id: session.user_id }, action: "auth.signout_all", target: { type: "user", id: session.user_id }, details: { sessions: count }, request });
    return count;
  });
}

