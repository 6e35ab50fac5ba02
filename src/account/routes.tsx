// Account settings (/account…, behind two-step sign-in, for every signed-in person, operators
// included) and the two links that arrive by email and work without signing in: confirming an
// email change and one-click unsubscribe. With AUTH_PROVIDER=clerk, Clerk owns email, password and
// second factor: those routes answer 404 and the settings page links to Clerk instead.
import { type Context, Hono } from "hono";
import type { HonoEnv } from "../context.ts";
import { requireMfa } from "../http/guards.ts";
import { render } from "../http/render.tsx";
import { requestMeta } from "../http/request-context.ts";
import { setSessionCookie } from "../http/session.ts";
import { auditDenied } from "../http/audit-denied.ts";
import { withContext } from "../platform/db.ts";
import { NON_ESSENTIAL_CATEGORIES } from "../platform/mail.ts";
import type { AuthDeps } from "../auth/service.ts";
import { formValues, parseForm } from "../auth/forms.ts";
import { maskEmail } from "../auth/emails.ts";
import { clerkFrontendApiHost } from "../auth/clerk.ts";
import {
  AccountFrame, ConfirmEmailChangePage, EmailChangeResultPage, EmailChangeSentPage, PasswordPage, PreferencesPage, type ProfilePageProps,
  ProfilePage, ReenrolPage, TwoStepDonePage, TwoStepPage, UnsubscribePage, UnsubscribeRefusedPage,
} from "../../views/account/settings.tsx";
import { codeForm, emailForm, nameForm, passwordForm, preferencesForm } from "./forms.ts";
import { countUnusedRecoveryCodes, pendingEmailChange } from "./repo.ts";
import { CATEGORIES, checkUnsubscribeLink, readPreferences, savePreferences, SERVICE_EMAILS, unsubscribe } from "./preferences.ts";
import {
  changeName, changePassword, confirmEmailChange, confirmReenrolment, hasPendingReenrolment, REENROL_MINUTES, type Refusal,
  regenerateRecoveryCodes, requestEmailChange, startReenrolment,
} from "./service.ts";

const utc = (d: Date) => new Date(d).toISOString().slice(0, 16).replace("T", " ");

/**
 * Clerk's hosted profile page (Account Portal) for the instance its publishable key names: a
 * production Frontend API `clerk.<domain>` has it at `accounts.<domain>/user`, a development
 * instance `<slug>.clerk.accounts.dev` at `<slug>.accounts.dev/user`. Null when the host fits neither.
 */
export function clerkAccountUrl(frontendApiHost: string): string | null {
  const dev = /^([a-z0-9-]+)\.clerk\.accounts\.dev$/.exec(frontendApiHost);
  if (dev) return `https://${dev[1]}.accounts.dev/user`;
  if (frontendApiHost.startsWith("clerk.")) return `https://accounts.${frontendApiHost.slice("clerk.".length)}/user`;
  return null;
}

const CODE_MESSAGES: Record<Refusal["reason"], string> = {
  invalid: "That code did not work. Use a code you have not used before (codes change every 30 seconds), or an unused recovery code.",
  locked: "Too many wrong codes. Wait a few minutes, then try again.",
  expired: "The set-up of the new app expired or was replaced. Start again.",
};
const refusalStatus = (reason: Refusal["reason"]) => (reason === "locked" ? 429 : 422);

export function accountSettingsRoutes(deps: AuthDeps) {
  const app = new Hono<HonoEnv>();
  const clerk = deps.config.auth.clerk ? { accountUrl: clerkAccountUrl(clerkFrontendApiHost(deps.config.auth.clerk.publishableKey)) } : null;
  /** Email, password and second factor are Clerk's in clerk mode: those routes do not exist there. */
  const localOnly = async (c: Context<HonoEnv>, next: () => Promise<void>) => {
    if (clerk) return c.notFound();
    await next();
  };
  const who = (c: Context<HonoEnv>) => ({ user: c.get("user")!, session: c.get("session")! });
  const ctxOf = (c: Context<HonoEnv>) => ({ actor: `user:${c.get("user")!.id}`, userId: c.get("user")!.id });

  async function profilePage(c: Context<HonoEnv>, props: Partial<ProfilePageProps> = {}, status = 200, flash?: string) {
    const user = c.get("user")!;
    const pending = clerk ? undefined : await withContext(deps.db, ctxOf(c), (tx) => pendingEmailChange(tx, user.id));
    return render(c, {
      title: "Account settings", status, flash: flash ? [{ kind: "success", message: flash }] : undefined,
      page: <ProfilePage name={user.full_name} email={user.email} clerk={clerk}
        pendingEmail={pending ? { masked: maskEmail(pending.newEmail), expiresAt: utc(pending.expiresAt) } : null} {...props} />,
    });
  }

  app.get("/account", requireMfa(), (c) => profilePage(c, {}, 200, c.req.query("saved") === "name" ? "Your name is saved." : undefined));

  app.post("/account/name", requireMfa(), async (c) => {
    const body = await c.req.parseBody();
    const form = parseForm(nameForm, body);
    if (!form.ok) return profilePage(c, { nameErrors: form.errors, values: formValues(body) }, 422);
    await changeName(deps, who(c), form.data.fullName, requestMeta(c));
    return c.redirect("/account?saved=name", 303);
  });

  app.post("/account/email", requireMfa(), localOnly, async (c) => {
    const body = await c.req.parseBody();
    const values = formValues(body);
    const form = parseForm(emailForm, body);
    if (!form.ok) return profilePage(c, { emailErrors: form.errors, values }, 422);
    const result = await requestEmailChange(deps, who(c), form.data, requestMeta(c));
    if (result.ok) return render(c, { title: "Check your new inbox", page: <EmailChangeSentPage email={form.data.email} /> });
    switch (result.reason) {
      case "same": return profilePage(c, { emailErrors: { email: "That is already your email address" }, values }, 422);
      case "invalid": return profilePage(c, { emailErrors: { password: "That is not your current password" }, values }, 422);
      case "locked": return profilePage(c, { emailMessage: "Too many wrong passwords. Wait a few minutes, then try again.", values }, 429);
      default: return profilePage(c, { emailMessage: "You asked for several changes in a short time. Wait a few minutes, then try again.", values }, 429);
    }
  });

  // The emailed link: GET shows a button (a mail scanner opening the link changes nothing); POST confirms.
  app.get("/email-change/confirm", localOnly, (c) =>
    render(c, { title: "Confirm your new email address", page: <ConfirmEmailChangePage token={c.req.query("token") ?? ""} /> }));
  app.post("/email-change/confirm", localOnly, async (c) => {
    const body = await c.req.parseBody();
    const ok = await confirmEmailChange(deps, typeof body.token === "string" ? body.token : "", requestMeta(c));
    if (!ok) await auditDenied(deps.db, c, { action: "auth.token.rejected", details: { purpose: "change_email" } });
    const signedIn = Boolean(c.get("session")?.mfa_verified_at);
    return render(c, { title: ok ? "Email address changed" : "Link not valid", status: ok ? 200 : 400, page: <EmailChangeResultPage ok={ok} signedIn={signedIn} /> });
  });

  app.get("/account/password", requireMfa(), localOnly, (c) => render(c, { title: "Change your password", page: <PasswordPage /> }));
  app.post("/account/password", requireMfa(), localOnly, async (c) => {
    const body = await c.req.parseBody();
    const form = parseForm(passwordForm, body);
    if (!form.ok) return render(c, { title: "Change your password", status: 422, page: <PasswordPage errors={form.errors} /> });
    const result = await changePassword(deps, who(c), form.data, requestMeta(c));
    if (!result.ok) {
      return render(c, result.reason === "locked"
        ? { title: "Change your password", status: 429, page: <PasswordPage message="Too many wrong passwords. Wait a few minutes, then try again." /> }
        : { title: "Change your password", status: 422, page: <PasswordPage errors={{ current: "That is not your current password" }} /> });
    }
    setSessionCookie(c, result.token, deps.config);
    return render(c, { title: "Password changed", page: <PasswordPage done={{ endedSessions: result.endedSessions }} /> });
  });

  async function twoStepPage(c: Context<HonoEnv>, error?: { form: "reenrol" | "recovery_codes"; reason: Refusal["reason"] }) {
    const user = c.get("user")!;
    const recoveryLeft = await withContext(deps.db, ctxOf(c), (tx) => countUnusedRecoveryCodes(tx, user.id));
    return render(c, {
      title: "Two-step sign-in", status: error ? refusalStatus(error.reason) : 200,
      page: <TwoStepPage enabledAt={user.totp_enabled_at ? utc(user.totp_enabled_at) : null} recoveryLeft={recoveryLeft}
        error={error ? { form: error.form, message: CODE_MESSAGES[error.reason] } : undefined} />,
    });
  }
  const codeOf = async (c: Context<HonoEnv>) => {
    const form = parseForm(codeForm, await c.req.parseBody());
    return form.ok ? form.data.code : "";
  };

  app.get("/account/two-step", requireMfa(), localOnly, (c) => twoStepPage(c));
  app.post("/account/two-step/reenrol", requireMfa(), localOnly, async (c) => {
    const result = await startReenrolment(deps, who(c), await codeOf(c), requestMeta(c));
    if (!result.ok) return twoStepPage(c, { form: "reenrol", reason: result.reason });
    return render(c, { title: "Set up your new authenticator app", page: <ReenrolPage setup={result.setup} minutes={REENROL_MINUTES} /> });
  });
  // After the start the secret is not shown again (service.ts, hasPendingReenrolment): only the code form.
  app.get("/account/two-step/reenrol", requireMfa(), localOnly, async (c) => {
    if (!(await hasPendingReenrolment(deps, who(c)))) return c.redirect("/account/two-step", 303);
    return render(c, { title: "Set up your new authenticator app", page: <ReenrolPage minutes={REENROL_MINUTES} /> });
  });
  app.post("/account/two-step/reenrol/confirm", requireMfa(), localOnly, async (c) => {
    const result = await confirmReenrolment(deps, who(c), await codeOf(c), requestMeta(c));
    if (result.ok) return render(c, { title: "Two-step sign-in moved", page: <TwoStepDonePage /> });
    const pending = result.reason !== "expired" && (await hasPendingReenrolment(deps, who(c)));
    if (!pending) return twoStepPage(c, { form: "reenrol", reason: "expired" });
    return render(c, {
      title: "Set up your new authenticator app", status: refusalStatus(result.reason),
      page: <ReenrolPage minutes={REENROL_MINUTES} error={CODE_MESSAGES[result.reason]} />,
    });
  });
  app.post("/account/two-step/recovery-codes", requireMfa(), localOnly, async (c) => {
    const result = await regenerateRecoveryCodes(deps, who(c), await codeOf(c), requestMeta(c));
    if (!result.ok) return twoStepPage(c, { form: "recovery_codes", reason: result.reason });
    return render(c, { title: "Save your new recovery codes", page: <TwoStepDonePage codes={result.codes} /> });
  });

  async function preferencesPage(c: Context<HonoEnv>, saved = false) {
    const prefs = await withContext(deps.db, ctxOf(c), (tx) => readPreferences(tx, c.get("user")!.id));
    const rows = NON_ESSENTIAL_CATEGORIES.map((category) => ({ category, ...CATEGORIES[category], subscribed: prefs[category] }));
    return render(c, { title: "Email preferences", page: <PreferencesPage rows={rows} service={SERVICE_EMAILS} saved={saved} /> });
  }
  app.get("/account/preferences", requireMfa(), (c) => preferencesPage(c, c.req.query("saved") === "1"));
  app.post("/account/preferences", requireMfa(), async (c) => {
    const form = parseForm(preferencesForm, await c.req.parseBody());
    if (!form.ok) return render(c, { title: "Email preferences", status: 422, page: <AccountFrame current="preferences"><p role="alert">Those choices could not be read. Try again.</p></AccountFrame> });
    const { user, session } = who(c);
    await savePreferences(deps, { userId: user.id, practiceId: session.practice_id }, form.data, requestMeta(c));
    return c.redirect("/account/preferences?saved=1", 303);
  });

  // One-click unsubscribe (RFC 8058). The signed link is the only authority, so it works signed out
  // and is exempt from the same-origin check (src/app.tsx): mail providers POST from their servers.
  // GET only shows the button; the mail client's POST ("List-Unsubscribe=One-Click") or the button's changes it.
  app.get("/unsubscribe", (c) => {
    const check = checkUnsubscribeLink(deps.config, c.req.query());
    if (!check.ok) return render(c, { title: "Link not valid", status: 400, page: <UnsubscribeRefusedPage /> });
    const action = `/unsubscribe?${new URLSearchParams({ u: check.link.userId, c: check.link.category, t: check.link.token })}`;
    return render(c, { title: "Unsubscribe", page: <UnsubscribePage label={CATEGORIES[check.link.category].label} action={action} /> });
  });
  app.post("/unsubscribe", async (c) => {
    const check = checkUnsubscribeLink(deps.config, c.req.query());
    const body = await c.req.parseBody().catch(() => ({} as Record<string, unknown>));
    if (!check.ok) {
      await auditDenied(deps.db, c, { action: "account.unsubscribed", target: { type: "link", id: "unsubscribe" }, details: { reason: check.reason } });
      return render(c, { title: "Link not valid", status: 400, page: <UnsubscribeRefusedPage /> });
    }
    const method = body["List-Unsubscribe"] === "One-Click" ? "one_click" : "confirm_page";
    const done = await unsubscribe(deps, check.link, method, requestMeta(c));
    return render(c, { title: "Unsubscribed", page: <UnsubscribePage label={CATEGORIES[check.link.category].label} action="" done={done} /> });
  });
  return app;
}
