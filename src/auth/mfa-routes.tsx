// The second factor: enrolment for users without one, verification for everyone else. Both need
// a password session; neither is reachable once the session has passed MFA.
import { Hono } from "hono";
import type { HonoEnv } from "../context.ts";
import { requireSignedIn } from "../http/guards.ts";
import { render } from "../http/render.tsx";
import { requestMeta } from "../http/request-context.ts";
import { setSessionCookie } from "../http/session.ts";
import { MfaSetupPage, MfaVerifyPage, RecoveryCodesPage } from "../../views/auth/mfa.tsx";
import { confirmEnrolment, enrolmentDetails, verifySecondFactor } from "./mfa.ts";
import type { AuthDeps } from "./service.ts";

const LOCKED = "Too many wrong codes. Wait a few minutes, then try again.";
const INVALID = "That code did not work. Codes change every 30 seconds and each works once.";

export function mfaRoutes(deps: AuthDeps) {
  const app = new Hono<HonoEnv>();
  app.use("/mfa/*", requireSignedIn());
  app.use("/mfa/*", async (c, next) => {
    if (c.get("session")!.mfa_verified_at) return c.redirect("/app", 303);
    await next();
  });

  app.get("/mfa/setup", async (c) => {
    const user = c.get("user")!;
    if (user.totp_enabled_at) return c.redirect("/mfa/verify", 303);
    const details = await enrolmentDetails(deps, user);
    return render(c, { title: "Set up two-step sign-in", page: <MfaSetupPage qrSvg={details.qrSvg} secret={details.secret} /> });
  });
  app.post("/mfa/setup", async (c) => {
    const user = c.get("user")!;
    if (user.totp_enabled_at) return c.redirect("/mfa/verify", 303);
    const code = String((await c.req.parseBody()).code ?? "");
    const result = await confirmEnrolment(deps, user, c.get("session")!, code, requestMeta(c));
    if (!result.ok) {
      const details = await enrolmentDetails(deps, user);
      return render(c, { title: "Set up two-step sign-in", status: result.reason === "locked" ? 429 : 422, page: <MfaSetupPage qrSvg={details.qrSvg} secret={details.secret} error={result.reason === "locked" ? LOCKED : INVALID} /> });
    }
    setSessionCookie(c, result.token, deps.config);
    return render(c, { title: "Save your recovery codes", page: <RecoveryCodesPage codes={result.recoveryCodes ?? []} /> });
  });

  app.get("/mfa/verify", (c) => {
    if (!c.get("user")!.totp_enabled_at) return c.redirect("/mfa/setup", 303);
    return render(c, { title: "Two-step sign-in", page: <MfaVerifyPage /> });
  });
  app.post("/mfa/verify", async (c) => {
    const code = String((await c.req.parseBody()).code ?? "");
    const result = await verifySecondFactor(deps, c.get("user")!, c.get("session")!, code, requestMeta(c));
    if (!result.ok) {
      return render(c, { title: "Two-step sign-in", status: result.reason === "locked" ? 429 : 422, page: <MfaVerifyPage error={result.reason === "locked" ? LOCKED : INVALID} /> });
    }
    setSessionCookie(c, result.token, deps.config);
    return c.redirect("/app", 303);
  });
  return app;
}
