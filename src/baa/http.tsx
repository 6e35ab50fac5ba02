// The BAA's HTTP helpers: the gate's refusal page (for the jobs and upload routes to answer
// BaaRequiredError with), a membership guard for pages every member may open, and the middleware
// that puts the "sign the BAA" banner on admins' pages.
import type { Context, MiddlewareHandler } from "hono";
import type { HonoEnv } from "../context.ts";
import type { AuditAction } from "../audit/actions.ts";
import { can } from "../auth/permissions.ts";
import { findActiveMembership } from "../auth/repo.ts";
import { auditDenied } from "../http/audit-denied.ts";
import { respondWithError } from "../http/errors.tsx";
import { isFragmentRequest, render } from "../http/render.tsx";
import { membershipLoadedWith } from "../http/session.ts";
import { type Db, withContext } from "../platform/db.ts";
import { BaaRequiredFragment, BaaRequiredPage } from "../../views/baa/pages.tsx";
import { type BaaRequiredError, baaStateFor } from "./service.ts";

/**
 * The answer to BaaRequiredError: 403 with a page naming who can sign and linking to /baa (a
 * fragment for htmx, JSON for API callers). Does not audit: see refuseWithoutBaa.
 */
export function respondBaaRequired(c: Context<HonoEnv>, error: BaaRequiredError): Response | Promise<Response> {
  const role = c.get("membership")?.role;
  const canSign = can(role, "baa.sign");
  const accept = c.req.header("accept") ?? "";
  if (accept.includes("application/json") && !accept.includes("text/html")) {
    return c.json({ error: "baa_required", message: error.message, admins: error.admins, requestId: c.get("requestId") }, 403);
  }
  return render(c, {
    title: "Sign the Business Associate Agreement first",
    status: 403,
    page: <BaaRequiredPage admins={error.admins} canSign={canSign} outOfDate={error.reason === "out_of_date"} requestId={c.get("requestId")} />,
    fragment: <BaaRequiredFragment admins={error.admins} canSign={canSign} />,
  });
}

/** Records the refusal as denied (its own transaction: the refused change rolled back), then answers 403. */
export async function refuseWithoutBaa(
  db: Db, c: Context<HonoEnv>, error: BaaRequiredError, audit: { action?: AuditAction; target?: { type: string; id: string } } = {},
): Promise<Response> {
  await auditDenied(db, c, {
    action: audit.action ?? "access.denied", target: audit.target, role: c.get("membership")?.role ?? null,
    details: { reason: "baa_required", baa: error.reason },
  });
  return respondBaaRequired(c, error);
}

/** Pages any member of the session's practice may open (past two-step sign-in); others get 403, audited. */
export function requireMember(deps: { db: Db }): MiddlewareHandler<HonoEnv> {
  return async function requireMember(c, next) {
    const session = c.get("session");
    const user = c.get("user");
    if (!session || !user) return isFragmentRequest(c) ? respondWithError(c, 401, "Your session has ended. Sign in again to continue.") : c.redirect("/login", 303);
    if (!session.mfa_verified_at) return c.redirect(user.totp_enabled_at ? "/mfa/verify" : "/mfa/setup", 303);
    const membership = session.practice_id
      ? await withContext(deps.db, { actor: `user:${session.user_id}`, userId: session.user_id, practiceId: session.practice_id }, (tx) =>
          findActiveMembership(tx, session.practice_id!, session.user_id))
      : undefined;
    if (!membership) {
      await auditDenied(deps.db, c, { action: "access.denied", details: { reason: "not_a_member" } });
      return respondWithError(c, 403, "This page belongs to a practice, and you are not a member of one.");
    }
    c.set("membership", { practiceId: membership.practice_id, role: membership.role });
    await next();
  };
}

/**
 * For admins, on full practice pages: a banner while the practice lacks the BAA in force (never
 * signed, or a newer version published). Skipped for fragments, non-GET requests, static files and
 * the BAA pages themselves; costs one transaction per full page of a signed-in member.
 */
export function baaBanner(deps: { db: Db }): MiddlewareHandler<HonoEnv> {
  return async function baaBanner(c, next) {
    const session = c.get("session");
    if (c.req.method === "GET" && session?.mfa_verified_at && session.practice_id && !isFragmentRequest(c) && !/^\/(baa|static|healthz|readyz|metrics)(\/|$)/.test(c.req.path)) {
      // The role the session loader read with the session: no banner, and no transaction, for a
      // member who cannot sign (staff, auditors) or someone who is not a member.
      const loaded = membershipLoadedWith(session);
      if (loaded !== undefined && (loaded?.practiceId !== session.practice_id || !can(loaded.role, "baa.sign"))) return next();
      const status = await baaStateFor(deps, { userId: session.user_id, practiceId: session.practice_id });
      if (status && status.state !== "signed" && can(status.role, "baa.sign")) c.set("baaBanner", status.state);
    }
    await next();
  };
}
