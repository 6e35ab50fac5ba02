// Loads the session named by the __Host- cookie (if any) into c.var.session / c.var.user (with
// AUTH_PROVIDER=clerk: the session behind Clerk's __session token instead), and
// the helpers that set and clear that cookie. Guards that require a session live in guards.ts.
import type { Context, MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { Config } from "../config.ts";
import type { HonoEnv } from "../context.ts";
import { idleDeadline, resolveSession, SESSION_COOKIE, type SessionMembership } from "../auth/sessions.ts";
import { CLERK_SESSION_COOKIE, clerkSession } from "../auth/clerk.ts";
import { requestMeta } from "./request-context.ts";
import type { Db } from "../platform/db.ts";
import type { Session } from "../platform/schema.ts";

/**
 * The membership read together with a session by the loader (the user's active membership in the
 * session's practice, or null), keyed by that request's session object: requirePermission uses it
 * rather than asking the database again in the same request. No entry: not looked up (ask).
 */
const membershipsLoaded = new WeakMap<Session, SessionMembership | null>();

export function membershipLoadedWith(session: Session): SessionMembership | null | undefined {
  return membershipsLoaded.get(session);
}

export function sessionLoader(deps: { db: Db; config: Config }): MiddlewareHandler<HonoEnv> {
  return async function sessionLoader(c, next) {
    if (deps.config.auth.provider === "clerk") {
      // Clerk's frontend keeps its short-lived session token in __session; clerkSession maps it to
      // our own session row, so everything after this sees the same c.var.session and c.var.user.
      const clerkToken = getCookie(c, CLERK_SESSION_COOKIE);
      if (clerkToken) {
        const result = await clerkSession(deps, clerkToken, requestMeta(c));
        if ("refused" in result) {
          c.set("clerkRefusal", result.refused); // the sign-in page explains it (auth/clerk-routes.tsx)
          if (result.refused === "invalid" && result.reason !== "token-expired") c.get("log")?.warn({ reason: result.reason }, "clerk session token refused");
        } else {
          c.set("session", result.session);
          c.set("user", result.user);
          c.set("idleDeadline", idleDeadline(result.session, deps.config.session));
        }
      }
      return next();
    }
    const token = getCookie(c, SESSION_COOKIE, "host");
    if (token) {
      const resolved = await resolveSession(deps.db, token, deps.config.session);
      if (resolved) {
        if (resolved.membership !== undefined) membershipsLoaded.set(resolved.session, resolved.membership);
        c.set("session", resolved.session);
        c.set("user", resolved.user);
        c.set("idleDeadline", idleDeadline(resolved.session, deps.config.session));
      } else {
        clearSessionCookie(c); // expired or revoked: drop it so the browser stops sending it
      }
    }
    await next();
  };
}

export function setSessionCookie(c: Context<HonoEnv>, token: string, config: Config): void {
  // __Host-: Secure, Path=/, no Domain. Browsers accept Secure cookies on http://localhost too.
  setCookie(c, SESSION_COOKIE, token, {
    prefix: "host", path: "/", secure: true, httpOnly: true, sameSite: "Lax", maxAge: config.session.absoluteHours * 3600,
  });
}

export function clearSessionCookie(c: Context<HonoEnv>): void {
  deleteCookie(c, SESSION_COOKIE, { prefix: "host", path: "/", secure: true });
}
