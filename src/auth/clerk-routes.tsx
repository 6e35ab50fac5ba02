// Sign-in pages when Clerk is the identity provider (AUTH_PROVIDER=clerk). Clerk's frontend does
// the signing in; the session loader (http/session.ts) turns its token into our session, or leaves
// c.var.clerkRefusal saying why not, which /login explains. Mounted before authRoutes, in place of
// the local-only routes (sign-up, POST /login, email confirmation, two-step set-up).
import { Hono } from "hono";
import type { Config } from "../config.ts";
import type { HonoEnv } from "../context.ts";
import { render } from "../http/render.tsx";
import type { Db } from "../platform/db.ts";
import { ClerkRefusedPage, ClerkSignInPage, clerkRefusalTitle } from "../../views/auth/clerk-signin.tsx";
import { clerkFrontend } from "./clerk.ts";

/** Paths that only make sense with local accounts (POST /login too). */
// With Clerk, an invitee joins by signing in with the invited email, never with a local password.
export const LOCAL_ONLY_PATHS = ["/signup", "/verify-email", "/password/forgot", "/password/reset", "/mfa/setup", "/mfa/verify", "/invitations/accept/new-account"];

export function clerkRoutes(deps: { db: Db; config: Config }) {
  const settings = deps.config.auth.clerk;
  if (!settings) throw new Error("clerkRoutes needs AUTH_PROVIDER=clerk and its settings");
  // Decoding the publishable key here makes a bad key stop the boot, not the first sign-in.
  const { publishableKey, frontendApiHost, scriptUrl } = clerkFrontend(settings);
  const clerk = { publishableKey, frontendApiHost, scriptUrl };
  const app = new Hono<HonoEnv>();

  app.get("/login", (c) => {
    if (c.get("session")) return c.redirect("/app", 303);
    const refusal = c.get("clerkRefusal");
    if (refusal === "no-account" || refusal === "no-second-factor") {
      return render(c, { title: clerkRefusalTitle(refusal), status: 403, page: <ClerkRefusedPage clerk={clerk} reason={refusal} /> });
    }
    return render(c, { title: "Sign in", page: <ClerkSignInPage clerk={clerk} mode={refusal === "ended" ? "ended" : "signin"} /> });
  });

  // Accounts come from invitations, not from Clerk sign-ups: the public /signup path leads to sign-in.
  app.get("/signup", (c) => c.redirect("/login", 303));
  // Local-only routes (passwords, email confirmation, our TOTP) answer 404 in clerk mode, even where
  // authRoutes/mfaRoutes are mounted after this: Clerk owns credentials and second factors here.
  app.on(["GET", "POST"], LOCAL_ONLY_PATHS, (c) => c.notFound());
  app.post("/login", (c) => c.notFound());
  return app;
}
