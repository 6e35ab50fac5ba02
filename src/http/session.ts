// Loads the session named by the __Host- cookie (if any) into c.var.session / c.var.user, and
// the helpers that set and clear that cookie. Guards that require a session live in guards.ts.
import type { Context, MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { Config } from "../config.ts";
import type { HonoEnv } from "../context.ts";
import { resolveSession, SESSION_COOKIE } from "../auth/sessions.ts";
import type { Db } from "../platform/db.ts";

export function sessionLoader(deps: { db: Db; config: Config }): MiddlewareHandler<HonoEnv> {
  return async function sessionLoader(c, next) {
    const token = getCookie(c, SESSION_COOKIE, "host");
    if (token) {
      const resolved = await resolveSession(deps.db, token, deps.config.session);
      if (resolved) {
        c.set("session", resolved.session);
        c.set("user", resolved.user);
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
