// Route guards that need a session: signed in at all, and past the second factor. Practice pages
// use requireMfa: no role reaches them on a password alone.
import type { MiddlewareHandler } from "hono";
import type { HonoEnv } from "../context.ts";
import { isFragmentRequest } from "./render.tsx";
import { respondWithError } from "./errors.tsx";

export function requireSignedIn(): MiddlewareHandler<HonoEnv> {
  return async function requireSignedIn(c, next) {
    if (!c.get("session")) {
      if (isFragmentRequest(c)) return respondWithError(c, 401, "Your session has ended. Sign in again to continue.");
      return c.redirect("/login", 303);
    }
    await next();
  };
}

export function requireMfa(): MiddlewareHandler<HonoEnv> {
  return async function requireMfa(c, next) {
    const session = c.get("session");
    const user = c.get("user");
    if (!session || !user) {
      if (isFragmentRequest(c)) return respondWithError(c, 401, "Your session has ended. Sign in again to continue.");
      return c.redirect("/login", 303);
    }
    if (!session.mfa_verified_at) return c.redirect(user.totp_enabled_at ? "/mfa/verify" : "/mfa/setup", 303);
    await next();
  };
}
