// Route guards that need a session: signed in at all, and past the second factor. Practice pages
// use requireMfa: no role reaches them on a password alone.
import type { Context, MiddlewareHandler } from "hono";
import type { HonoEnv } from "../context.ts";
import { isFragmentRequest } from "./render.tsx";
import { respondWithError } from "./errors.tsx";
import { auditDenied } from "./audit-denied.ts";
import { can, type Permission } from "../auth/permissions.ts";
import { findActiveMembership } from "../auth/repo.ts";
import { isOperator } from "../auth/operators.ts";
import { type Db, withContext } from "../platform/db.ts";
import { membershipLoadedWith } from "./session.ts";

/** Where someone without a session goes: the sign-in page, or a 401 fragment for htmx. */
function toSignIn(c: Context<HonoEnv>): Response | Promise<Response> {
  if (isFragmentRequest(c)) return respondWithError(c, 401, "Your session has ended. Sign in again to continue.");
  return c.redirect("/login", 303);
}

export function requireSignedIn(): MiddlewareHandler<HonoEnv> {
  return async function requireSignedIn(c, next) {
    if (!c.get("session")) return toSignIn(c);
    await next();
  };
}

/** The answer for a request that has not passed two-step sign-in, or null when it has. */
function notPastMfa(c: Context<HonoEnv>): Response | Promise<Response> | null {
  const session = c.get("session");
  const user = c.get("user");
  if (!session || !user) return toSignIn(c);
  if (!session.mfa_verified_at) return c.redirect(user.totp_enabled_at ? "/mfa/verify" : "/mfa/setup", 303);
  return null;
}

export function requireMfa(): MiddlewareHandler<HonoEnv> {
  return async function requireMfa(c, next) {
    const refusal = notPastMfa(c);
    if (refusal) return refusal;
    await next();
  };
}

/**
 * Practice routes: two-step sign-in passed, an active membership in the session's practice, and a
 * role that grants the permission. Refusals are audited; the membership is set on c.var.
 */
export function requirePermission(deps: { db: Db }, permission: Permission): MiddlewareHandler<HonoEnv> {
  return async function requirePermission(c, next) {
    const refusal = notPastMfa(c);
    if (refusal) return refusal;
    const session = c.get("session")!;
    // Read with the session in this request when the loader could (http/session.ts); else asked here.
    const loaded = membershipLoadedWith(session);
    const membership = loaded !== undefined
      ? (loaded && loaded.practiceId === session.practice_id ? { practice_id: loaded.practiceId, role: loaded.role } : undefined)
      : session.practice_id
        ? await withContext(deps.db, { actor: `user:${session.user_id}`, userId: session.user_id, practiceId: session.practice_id }, (tx) =>
            findActiveMembership(tx, session.practice_id!, session.user_id),
          )
        : undefined;
    if (!membership || !can(membership.role, permission)) {
      await auditDenied(deps.db, c, { action: "access.denied", role: membership?.role ?? null, details: { permission, role: membership?.role ?? "none" } });
      return respondWithError(c, 403, "Your role in this practice does not allow this. Ask a practice administrator if you need it.");
    }
    c.set("membership", { practiceId: membership.practice_id, role: membership.role });
    await next();
  };
}

/**
 * Operator routes: two-step sign-in passed and a platform operator identity. Practice members
 * (whatever their role) are refused and audited, like operators on practice routes.
 */
export function requireOperator(deps: { db: Db }): MiddlewareHandler<HonoEnv> {
  return async function requireOperator(c, next) {
    const refusal = notPastMfa(c);
    if (refusal) return refusal;
    const session = c.get("session")!;
    const operator = await withContext(deps.db, { actor: `user:${session.user_id}`, userId: session.user_id }, (tx) => isOperator(tx, session.user_id));
    if (!operator) {
      await auditDenied(deps.db, c, { action: "access.denied", details: { reason: "not_an_operator" } });
      return respondWithError(c, 403, "This page is for the print operators who mail approved jobs.");
    }
    await next();
  };
}
