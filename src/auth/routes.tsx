// Identity pages: sign-up, email confirmation, sign-in, sign-out. Routes parse input and pick a
// view; the rules live in service.ts.
import { Hono } from "hono";
import type { HonoEnv } from "../context.ts";
import { render } from "../http/render.tsx";
import { requestMeta } from "../http/request-context.ts";
import { clearSessionCookie, setSessionCookie } from "../http/session.ts";
import { auditDenied } from "../http/audit-denied.ts";
import { CheckEmailPage, SignUpPage, VerifyEmailPage, VerifyEmailResultPage } from "../../views/auth/signup.tsx";
import { SignInPage } from "../../views/auth/login.tsx";
import { ForgotPasswordPage, PasswordChangedPage, ResetLinkSentPage, ResetPasswordPage } from "../../views/auth/password.tsx";
import { forgotPasswordForm, formValues, parseForm, resetPasswordForm, signInForm, signUpForm } from "./forms.ts";
import { requestPasswordReset, resetPassword } from "./password-reset.ts";
import { type AuthDeps, signIn, signOut, signOutEverywhere, signUp, verifyEmail } from "./service.ts";

export function authRoutes(deps: AuthDeps) {
  const app = new Hono<HonoEnv>();

  app.get("/signup", (c) => render(c, { title: "Create your practice account", page: <SignUpPage /> }));
  app.post("/signup", async (c) => {
    const body = await c.req.parseBody();
    const form = parseForm(signUpForm, body);
    if (!form.ok) {
      return render(c, { title: "Create your practice account", status: 422, page: <SignUpPage values={formValues(body)} errors={form.errors} /> });
    }
    await signUp(deps, form.data, requestMeta(c));
    return render(c, { title: "Check your email", page: <CheckEmailPage email={form.data.email} /> });
  });

  app.get("/verify-email", (c) => {
    // Confirming takes a POST: opening a link (or a mail scanner fetching it) changes nothing.
    const token = c.req.query("token") ?? "";
    return render(c, { title: "Confirm your email address", page: <VerifyEmailPage token={token} /> });
  });
  app.post("/verify-email", async (c) => {
    const body = await c.req.parseBody();
    const ok = await verifyEmail(deps, typeof body.token === "string" ? body.token : "", requestMeta(c));
    if (!ok) await auditDenied(deps.db, c, { action: "auth.token.rejected", details: { purpose: "verify_email" } });
    return render(c, { title: ok ? "Email confirmed" : "Link not valid", status: ok ? 200 : 400, page: <VerifyEmailResultPage ok={ok} /> });
  });

  app.get("/login", (c) => {
    if (c.get("session")) return c.redirect("/app", 303);
    return render(c, { title: "Sign in", page: <SignInPage /> });
  });
  app.post("/login", async (c) => {
    const body = await c.req.parseBody();
    const form = parseForm(signInForm, body);
    const values = formValues(body);
    if (!form.ok) return render(c, { title: "Sign in", status: 422, page: <SignInPage values={values} errors={form.errors} /> });
    const result = await signIn(deps, form.data, requestMeta(c));
    switch (result.kind) {
      case "signed-in": {
        // Signing in again in the same browser replaces the session its cookie named.
        const previous = c.get("session");
        if (previous) await signOut(deps, previous, requestMeta(c));
        setSessionCookie(c, result.token, deps.config);
        return c.redirect(result.mfaEnrolled ? "/mfa/verify" : "/mfa/setup", 303);
      }
      case "locked": {
        const minutes = Math.max(1, Math.ceil((result.until.getTime() - Date.now()) / 60_000));
        return render(c, { title: "Sign in", status: 429, page: <SignInPage values={values} message={`Too many attempts. Try again in ${minutes} minute${minutes === 1 ? "" : "s"}.`} /> });
      }
      case "unverified":
        return render(c, { title: "Sign in", status: 403, page: <SignInPage values={values} message="Confirm your email address first: we have sent you a new link." /> });
      case "refused":
        return render(c, { title: "Sign in", status: 401, page: <SignInPage values={values} message="That email and password do not match an account." /> });
    }
  });

  app.get("/password/forgot", (c) => render(c, { title: "Reset your password", page: <ForgotPasswordPage /> }));
  app.post("/password/forgot", async (c) => {
    const body = await c.req.parseBody();
    const form = parseForm(forgotPasswordForm, body);
    if (!form.ok) return render(c, { title: "Reset your password", status: 422, page: <ForgotPasswordPage values={formValues(body)} errors={form.errors} /> });
    await requestPasswordReset(deps, form.data.email, requestMeta(c));
    return render(c, { title: "Check your email", page: <ResetLinkSentPage /> });
  });
  app.get("/password/reset", (c) => render(c, { title: "Choose a new password", page: <ResetPasswordPage token={c.req.query("token") ?? ""} /> }));
  app.post("/password/reset", async (c) => {
    const body = await c.req.parseBody();
    const token = typeof body.token === "string" ? body.token : "";
    const form = parseForm(resetPasswordForm, body);
    if (!form.ok) return render(c, { title: "Choose a new password", status: 422, page: <ResetPasswordPage token={token} errors={form.errors} /> });
    const ok = await resetPassword(deps, form.data.token, form.data.password, requestMeta(c));
    if (!ok) await auditDenied(deps.db, c, { action: "auth.token.rejected", details: { purpose: "reset_password" } });
    if (ok) clearSessionCookie(c);
    return render(c, { title: ok ? "Password changed" : "Link not valid", status: ok ? 200 : 400, page: <PasswordChangedPage ok={ok} /> });
  });

  app.post("/logout", async (c) => {
    const session = c.get("session");
    if (session) await signOut(deps, session, requestMeta(c));
    clearSessionCookie(c);
    return c.redirect("/login", 303);
  });
  app.post("/logout/everywhere", async (c) => {
    const session = c.get("session");
    if (session) await signOutEverywhere(deps, session, requestMeta(c));
    clearSessionCookie(c);
    return c.redirect("/login", 303);
  });
  return app;
}
