// Clerk as the identity provider (AUTH_PROVIDER=clerk). Clerk's frontend signs the person in and
// keeps a short-lived session token (a JWT, about a minute) in the `__session` cookie. Here we:
//   1. verify that token without any network call: signature with the instance's PEM public key
//      (CLERK_JWT_KEY), expiry/not-before, and the authorized party (azp) against our origins;
//   2. map the Clerk user to a local user: by users.clerk_user_id, else by a verified email that an
//      admin invited (the link is made once and audited); nobody gets an account from Clerk alone;
//   3. refuse a session whose token shows no second factor;
//   4. find or create OUR session row, keyed by the Clerk session id, so everything downstream
//      (guards, RLS context, audit, idle/absolute timeouts, revocation) works as for local sign-in.
//
// Claims we rely on (Clerk session token v2):
//   sub  the Clerk user id;  sid  the Clerk session id;  azp  the origin the token was minted for;
//   fva  [minutes since first factor, minutes since second factor], -1 meaning "never verified in
//        this session" (Clerk's docs: "[7, -1] … there either is not a second factor or the second
//        factor has never been verified"; @clerk/shared's reverification check treats -1 the same);
//   sts  session status: "pending" (tasks left, e.g. MFA set-up) is not a signed-in session;
//   act  present only when someone impersonates the user from Clerk's dashboard: refused here,
//        because our audit trail would attribute their actions to the user.
// Custom claims the instance MUST add (Clerk Dashboard → Sessions → Customize session token):
//   {
//     "email": "{{user.primary_email_address}}",
//     "email_verified": "{{user.email_verified}}"
//   }
// Without them a signed-in Clerk user can still use an account already linked to them, but a
// first sign-in can never link to an invited account (we never link by an unverified address).
import type { verifyToken } from "@clerk/backend";
import type { Config } from "../config.ts";
import type { RequestMeta } from "../context.ts";
import { recordAudit } from "../audit/record.ts";
import { sha256Hex } from "../platform/crypto.ts";
import { type Db, setContext, type Tx, withContext } from "../platform/db.ts";
import type { User } from "../platform/schema.ts";
import { joinByVerifiedEmail } from "../teams/service.ts";
import { findUserByEmail, findUserById, insertSessionIfAbsent, listActiveMemberships, revokeSession, touchSession } from "./repo.ts";
import { findSessionRowByTokenHash, findUserByClerkId, linkClerkUser } from "./clerk-repo.ts";
import { idleDeadline, type ResolvedSession } from "./sessions.ts";

export type ClerkSettings = NonNullable<Config["auth"]["clerk"]>;

/** Clerk's session cookie on our own domain, written by Clerk's frontend script. */
export const CLERK_SESSION_COOKIE = "__session";
/** The Clerk frontend bundle (major version pinned) served by the instance's Frontend API. */
export const CLERK_JS_PATH = "/npm/@clerk/clerk-js@5/dist/clerk.browser.js";

const TOUCH_EVERY_MS = 30_000; // as sessions.ts: one last_seen_at write per half minute

// ---------------------------------------------------------------------------------------------
// Publishable key and the browser side's Content-Security-Policy

/**
 * The Frontend API host a publishable key names: a key is `pk_test_` or `pk_live_` followed by
 * base64("<frontend-api-host>$"). Throws on anything else, so a bad key stops the boot.
 */
export function clerkFrontendApiHost(publishableKey: string): string {
  const match = /^pk_(test|live)_([A-Za-z0-9+/=_-]+)$/.exec(publishableKey);
  const decoded = match ? Buffer.from(match[2]!.replace(/-/g, "+").replace(/_/g, "/"), "base64").toString("utf8") : "";
  const host = decoded.endsWith("$") ? decoded.slice(0, -1) : "";
  // A bare DNS name (optionally with a port): it goes into a script URL and the CSP.
  if (!/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+(?::\d{1,5})?$/i.test(host)) {
    throw new Error("CLERK_PUBLISHABLE_KEY does not decode to a Clerk Frontend API host");
  }
  return host.toLowerCase();
}

/** What the sign-in page needs to load Clerk's frontend. */
export function clerkFrontend(settings: ClerkSettings) {
  const host = clerkFrontendApiHost(settings.publishableKey);
  return { publishableKey: settings.publishableKey, frontendApiHost: host, origin: `https://${host}`, scriptUrl: `https://${host}${CLERK_JS_PATH}` };
}

/**
 * The CSP sources Clerk's frontend needs (Clerk's "Configure CSP headers" guide), for the
 * securityHeaders() extras in clerk mode: its Frontend API for the script, API calls, images and
 * frames; img.clerk.com for avatars; Cloudflare's bot-protection challenge (script and frame);
 * blob: workers (token refresh timers). Clerk's components style themselves with runtime
 * CSS-in-JS, which needs 'unsafe-inline' in style-src; scripts stay nonce-only.
 */
export function clerkContentSecurity(settings: ClerkSettings) {
  const { origin } = clerkFrontend(settings);
  const challenges = "https://challenges.cloudflare.com";
  return {
    scriptSrc: [origin, challenges],
    connectSrc: [origin],
    imgSrc: [origin, "https://img.clerk.com"],
    frameSrc: [origin, challenges],
    workerSrc: ["'self'", "blob:"],
    styleSrc: ["'unsafe-inline'"],
  };
}

// ---------------------------------------------------------------------------------------------
// Token verification

export type VerifiedClerkToken = {
  ok: true;
  clerkUserId: string;
  sessionId: string;
  /** The primary email (custom claim), lower-cased; null when absent or not a plausible address. */
  email: string | null;
  /** True only when the custom `email_verified` claim says Clerk verified that address. */
  emailVerified: boolean;
  /** The token says a second factor was verified in this Clerk session (fva[1] >= 0). */
  secondFactor: boolean;
  /** When this token (not the session) expires: Clerk's frontend replaces it about every minute. */
  expiresAt: Date;
};

export type ClerkTokenResult = VerifiedClerkToken | { ok: false; reason: string };

const CLERK_ID = /^[A-Za-z0-9_-]{1,200}$/;

/** Verifies a Clerk session token with the instance's public key only: never calls Clerk. */
export async function verifyClerkSessionToken(settings: ClerkSettings, token: string): Promise<ClerkTokenResult> {
  if (!token || token.length > 8192 || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token)) return { ok: false, reason: "malformed" };
  if (!settings.jwtKey) return { ok: false, reason: "no-jwt-key" }; // never fall back to a network JWKS fetch
  // @clerk/backend skips the azp check when the list is empty: fail closed instead.
  if (settings.authorizedParties.length === 0) return { ok: false, reason: "no-authorized-parties" };
  let claims: Awaited<ReturnType<typeof verifyToken>>;
  try {
    // jwtKey makes this networkless (no secretKey is given, so no JWKS fetch is possible);
    // authorizedParties refuses a token minted for another origin (subdomain cookie leaks).
    // Imported here, not at the top: only AUTH_PROVIDER=clerk verifies tokens, and @clerk/backend
    // costs every process ~8 MB of memory.
    const { verifyToken } = await import("@clerk/backend");
    claims = await verifyToken(token, { jwtKey: settings.jwtKey, authorizedParties: [...settings.authorizedParties] });
  } catch (error) {
    const { TokenVerificationError } = await import("@clerk/backend/errors");
    return { ok: false, reason: error instanceof TokenVerificationError ? error.reason : "verification-failed" };
  }
  const { sub, sid, exp, fva, sts, act } = claims;
  if (typeof sub !== "string" || !CLERK_ID.test(sub) || typeof sid !== "string" || !CLERK_ID.test(sid)) return { ok: false, reason: "missing-subject-or-session" };
  if (sts === "pending") return { ok: false, reason: "session-pending" };
  if (act !== undefined && act !== null) return { ok: false, reason: "impersonation" };
  const email = typeof claims.email === "string" && /^[^\s@]{1,64}@[^\s@]{1,190}$/.test(claims.email.trim()) ? claims.email.trim().toLowerCase() : null;
  const emailVerified = claims.email_verified === true || claims.email_verified === "true";
  const secondFactor = Array.isArray(fva) && typeof fva[1] === "number" && Number.isFinite(fva[1]) && fva[1] >= 0;
  return { ok: true, clerkUserId: sub, sessionId: sid, email, emailVerified, secondFactor, expiresAt: new Date(exp * 1000) };
}

// ---------------------------------------------------------------------------------------------
// From a verified token to our session

/**
 * - no-account: no local user for this Clerk user (a practice admin must invite them), or the
 *   local user is deactivated;
 * - no-second-factor: the Clerk session was not completed with a second factor;
 * - ended: our session for this Clerk session ended (sign-out, idle, absolute, revoked): the person
 *   must sign out of Clerk and sign in again, which starts a new Clerk session;
 * - invalid: the token did not verify (expired, wrong key or party, malformed).
 */
export type ClerkRefusal = "no-account" | "no-second-factor" | "ended" | "invalid";
export type ClerkSessionResult = ResolvedSession | { refused: ClerkRefusal; reason: string };

export type ClerkDeps = { db: Db; config: Config };

/** Our session-row key for a Clerk session: Clerk session ids are not secrets, so namespace and hash them. */
export function clerkSessionTokenHash(sessionId: string): string {
  return sha256Hex(`clerk:${sessionId}`);
}

type FailureReason = "no_second_factor" | "no_account" | "email_unverified" | "already_linked" | "deactivated";

async function auditRefusal(tx: Tx, reason: FailureReason, token: VerifiedClerkToken, user: User | undefined, request: RequestMeta) {
  await setContext(tx, { practiceId: null }); // refusals belong to the platform chain, as for local sign-in
  await recordAudit(tx, {
    practiceId: null, actor: { type: "anonymous" }, action: "auth.signin.failed", outcome: "denied",
    target: user ? { type: "user", id: user.id } : undefined,
    // The Clerk ids group the events of one person and one Clerk session (each refused request is recorded).
    details: { reason, provider: "clerk", clerk_user_id: token.clerkUserId, clerk_session_id: token.sessionId }, request,
  });
}

/**
 * Resolves a Clerk `__session` token to our session row and user, creating the row on the first
 * request of a Clerk session (audited once), or says why not (refusals of a person are audited).
 */
export async function clerkSession(deps: ClerkDeps, token: string, request: RequestMeta): Promise<ClerkSessionResult> {
  const settings = deps.config.auth.clerk;
  if (!settings) return { refused: "invalid", reason: "clerk-not-configured" };
  const verified = await verifyClerkSessionToken(settings, token);
  if (!verified.ok) return { refused: "invalid", reason: verified.reason };

  const tokenHash = clerkSessionTokenHash(verified.sessionId);
  const existing = await withContext(deps.db, { actor: "session", sessionTokenHash: tokenHash }, (tx) => findSessionRowByTokenHash(tx, tokenHash));
  if (existing) return continueSession(deps, existing, verified, request);
  return startSession(deps, verified, tokenHash, request);
}

/** Every later request of a Clerk session: our row's own rules (revocation, absolute, idle) decide. */
async function continueSession(
  deps: ClerkDeps, row: NonNullable<Awaited<ReturnType<typeof findSessionRowByTokenHash>>>, token: VerifiedClerkToken, request: RequestMeta,
): Promise<ClerkSessionResult> {
  if (row.revoked_at) return { refused: "ended", reason: row.revoked_reason ?? "revoked" };
  return withContext(deps.db, { actor: `user:${row.user_id}`, userId: row.user_id }, async (tx): Promise<ClerkSessionResult> => {
    const user = await findUserById(tx, row.user_id);
    const now = Date.now();
    // A Clerk session id belongs to one Clerk user; anything else is not this session.
    if (!user || user.clerk_user_id !== token.clerkUserId) return { refused: "invalid", reason: "session-user-mismatch" };
    if (!token.secondFactor) {
      await revokeSession(tx, row.id, "no_second_factor");
      await auditRefusal(tx, "no_second_factor", token, user, request);
      return { refused: "no-second-factor", reason: "no_second_factor" };
    }
    const ended =
      user.status !== "active" ? "deactivated"
      : new Date(row.expires_at).getTime() <= now ? "expired"
      : idleDeadline(row, deps.config.session).getTime() <= now ? "idle"
      : null;
    if (ended) {
      await revokeSession(tx, row.id, ended);
      return { refused: "ended", reason: ended };
    }
    if (now - new Date(row.last_seen_at).getTime() > TOUCH_EVERY_MS) {
      await touchSession(tx, row.id);
      row.last_seen_at = new Date();
    }
    return { session: row, user };
  });
}

/** The first request of a Clerk session: find (or link) the local user, then open our row. */
async function startSession(deps: ClerkDeps, token: VerifiedClerkToken, tokenHash: string, request: RequestMeta): Promise<ClerkSessionResult> {
  // Users are platform-level rows (no RLS); the lookup needs no user context yet.
  type Found = { kind: "user"; user: User; link: boolean } | { kind: "refused"; reason: FailureReason };
  const found = await withContext(deps.db, { actor: "anonymous" }, async (tx): Promise<Found> => {
    const linked = await findUserByClerkId(tx, token.clerkUserId);
    if (linked) return { kind: "user", user: linked, link: false };
    const byEmail = token.email ? await findUserByEmail(tx, token.email) : undefined;
    // Refusals here are recorded in this same transaction (platform chain).
    if (!byEmail) {
      // No account yet: someone invited by this (verified) email joins now, with no local password.
      const invitee = token.email && token.emailVerified && token.secondFactor
        ? await withContext(deps.db, { actor: `clerk:${token.clerkUserId}`, inviteeEmail: token.email }, (inviteTx) =>
            joinByVerifiedEmail(inviteTx, { email: token.email!, fullName: token.email!.split("@")[0]!, clerkUserId: token.clerkUserId }, request),
          )
        : null;
      const joined = invitee ? await findUserById(tx, invitee) : undefined;
      if (joined) return { kind: "user", user: joined, link: false };
      await auditRefusal(tx, "no_account", token, undefined, request);
      return { kind: "refused", reason: "no_account" };
    }
    if (byEmail.clerk_user_id) {
      // That account already belongs to another Clerk user: one local account, one Clerk identity.
      await auditRefusal(tx, "already_linked", token, byEmail, request);
      return { kind: "refused", reason: "already_linked" };
    }
    if (!token.emailVerified) {
      await auditRefusal(tx, "email_unverified", token, byEmail, request);
      return { kind: "refused", reason: "email_unverified" };
    }
    return { kind: "user", user: byEmail, link: true };
  });
  if (found.kind === "refused") return { refused: "no-account", reason: found.reason };

  return withContext(deps.db, { actor: `user:${found.user.id}`, userId: found.user.id }, async (tx): Promise<ClerkSessionResult> => {
    const user = (await findUserById(tx, found.user.id)) ?? found.user;
    if (user.status !== "active") {
      await auditRefusal(tx, "deactivated", token, user, request);
      return { refused: "no-account", reason: "deactivated" };
    }
    if (!token.secondFactor) {
      // Nothing changes for a refused sign-in: no link, no session row.
      await auditRefusal(tx, "no_second_factor", token, user, request);
      return { refused: "no-second-factor", reason: "no_second_factor" };
    }
    let current: User = user;
    if (found.link) {
      if (await linkClerkUser(tx, user.id, token.clerkUserId)) {
        await recordAudit(tx, {
          practiceId: null, actor: { type: "user", id: user.id }, action: "auth.clerk.linked",
          target: { type: "user", id: user.id }, details: { provider: "clerk", clerk_user_id: token.clerkUserId }, request,
        });
        current = { ...user, clerk_user_id: token.clerkUserId };
      } else {
        // Another request linked it first: use the account only if it went to this Clerk user.
        const again = await findUserById(tx, user.id);
        if (!again || again.clerk_user_id !== token.clerkUserId) {
          await auditRefusal(tx, "already_linked", token, user, request);
          return { refused: "no-account", reason: "already_linked" };
        }
        current = again;
      }
    }
    const memberships = await listActiveMemberships(tx, user.id);
    const practiceId = memberships[0]?.practiceId ?? null;
    const inserted = await insertSessionIfAbsent(tx, {
      tokenHash, userId: user.id, practiceId, ip: request.ip, userAgent: request.userAgent,
      mfaVerified: true, // only tokens that carry a second factor ever reach this point
      // Clerk's token lasts a minute and is refreshed by its frontend; OUR row carries the
      // session's end: SESSION_ABSOLUTE_HOURS from now, and SESSION_IDLE_MINUTES without requests.
      expiresAt: new Date(Date.now() + deps.config.session.absoluteHours * 3_600_000),
    });
    if (!inserted) {
      // A concurrent first request created the row: use it (its request audited the sign-in).
      const row = await findSessionRowByTokenHash(tx, tokenHash);
      if (!row || row.revoked_at) return { refused: "ended", reason: row?.revoked_reason ?? "revoked" };
      return { session: row, user: current };
    }
    // The event belongs to the chain of the practice the session opens in, as for local sign-in.
    await setContext(tx, { practiceId });
    await recordAudit(tx, {
      practiceId, actor: { type: "user", id: user.id, role: memberships[0]?.role ?? null }, action: "auth.signin.succeeded",
      target: { type: "user", id: user.id }, details: { provider: "clerk" }, request,
    });
    return { session: inserted, user: current };
  });
}
