// Account settings pages: pure functions of what the routes give them (src/account/routes.tsx).
import type { Child } from "hono/jsx";
import { Field, FormErrors } from "../components/field.tsx";
import { RecoveryCodesList, TotpQr } from "../auth/mfa.tsx";

export type AccountSection = "profile" | "password" | "two-step" | "preferences" | "sessions";

const SECTIONS: { id: AccountSection; href: string; label: string; localOnly?: boolean }[] = [
  { id: "profile", href: "/account", label: "Name and email" },
  { id: "password", href: "/account/password", label: "Password", localOnly: true },
  { id: "two-step", href: "/account/two-step", label: "Two-step sign-in", localOnly: true },
  { id: "preferences", href: "/account/preferences", label: "Email preferences" },
  { id: "sessions", href: "/account/sessions", label: "Sessions" },
];

/** The settings area's own navigation, around each settings page. */
export function AccountFrame(props: { current: AccountSection; clerk?: boolean; children?: Child }) {
  return (
    <div class="account-settings">
      <nav aria-label="Account settings" class="account-nav">
        <ul class="nav-list">
          {SECTIONS.filter((s) => !(props.clerk && s.localOnly)).map((s) => (
            <li><a href={s.href} aria-current={s.id === props.current ? "page" : undefined}>{s.label}</a></li>
          ))}
        </ul>
      </nav>
      {props.children}
    </div>
  );
}

type Errors = Record<string, string>;

export type ProfilePageProps = {
  name: string;
  email: string;
  /** Clerk manages email, password and two-step sign-in: where to do that. */
  clerk?: { accountUrl: string | null } | null;
  pendingEmail?: { masked: string; expiresAt: string } | null;
  nameErrors?: Errors;
  emailErrors?: Errors;
  emailMessage?: string;
  values?: Record<string, string>;
};

export function ProfilePage(props: ProfilePageProps) {
  const n = props.nameErrors ?? {};
  const e = props.emailErrors ?? {};
  return (
    <AccountFrame current="profile" clerk={Boolean(props.clerk)}>
      <section aria-labelledby="account-title">
        <h1 id="account-title">Account settings</h1>
        <p>Your own account, the same in every practice you belong to. Changes are recorded in the audit trail.</p>

        <h2 id="name-title">Your name</h2>
        <FormErrors errors={n} />
        <form method="post" action="/account/name" novalidate aria-labelledby="name-title">
          <Field name="fullName" label="Full name" value={props.values?.fullName ?? props.name} error={n.fullName} autocomplete="name" maxlength={200}
            hint="Shown to your practice's team and in its audit trail." />
          <button type="submit" class="button">Save name</button>
        </form>

        <h2 id="email-title">Email address</h2>
        {props.clerk ? (
          <div class="alert alert-info" role="note">
            <p>Your sign-in is managed by Clerk: change your email address, password and two-step sign-in in your Clerk account{props.clerk.accountUrl ? "" : " (ask your administrator where it is)"}.</p>
            {props.clerk.accountUrl ? <p><a href={props.clerk.accountUrl} rel="noreferrer">Open your Clerk account settings</a></p> : null}
          </div>
        ) : (
          <>
            <p>You sign in with <strong>{props.email}</strong>.</p>
            {props.pendingEmail ? (
              <p class="alert alert-info" role="status">
                A change to {props.pendingEmail.masked} is waiting for confirmation from that address (until {props.pendingEmail.expiresAt} UTC). Nothing changes until it is confirmed.
              </p>
            ) : null}
            <FormErrors errors={e} message={props.emailMessage} />
            <form method="post" action="/account/email" novalidate aria-labelledby="email-title">
              <Field name="email" label="New email address" type="email" value={props.values?.email} error={e.email} autocomplete="email" maxlength={254} inputmode="email"
                hint="We send a confirmation link to the new address and a notice to the current one. Your address changes only when the link is used." />
              <Field name="password" id="field-email-password" label="Current password" type="password" error={e.password} autocomplete="current-password" maxlength={128} />
              <button type="submit" class="button">Send the confirmation link</button>
            </form>
          </>
        )}

        <h2>More settings</h2>
        <ul>
          {props.clerk ? null : <li><a href="/account/password">Change your password</a></li>}
          {props.clerk ? null : <li><a href="/account/two-step">Two-step sign-in</a>: move it to a new phone, or get new recovery codes.</li>}
          <li><a href="/account/preferences">Email preferences</a>: which emails you receive.</li>
          <li><a href="/account/sessions">Your sessions</a>: where you are signed in.</li>
        </ul>
      </section>
    </AccountFrame>
  );
}

export function EmailChangeSentPage(props: { email: string }) {
  return (
    <AccountFrame current="profile">
      <section class="narrow" aria-labelledby="sent-title">
        <h1 id="sent-title">Check your new inbox</h1>
        <p>We sent a link to <strong>{props.email}</strong>. Your email address changes only when you open it and confirm (it works once, for 24 hours). Your current address has been told about the request.</p>
        <p><a href="/account">Back to account settings</a></p>
      </section>
    </AccountFrame>
  );
}

/** The page an emailed change link opens: confirming takes a POST (mail scanners fetch links). */
export function ConfirmEmailChangePage(props: { token: string }) {
  return (
    <section class="narrow" aria-labelledby="confirm-title">
      <h1 id="confirm-title">Confirm your new email address</h1>
      <p>Your PatientLetterHub account will use this address to sign in from now on.</p>
      <form method="post" action="/email-change/confirm">
        <input type="hidden" name="token" value={props.token} />
        <button type="submit" class="button">Confirm the new address</button>
      </form>
    </section>
  );
}

export function EmailChangeResultPage(props: { ok: boolean; signedIn: boolean }) {
  return (
    <section class="narrow" aria-labelledby="result-title">
      <h1 id="result-title">{props.ok ? "Email address changed" : "This link does not work"}</h1>
      <p>{props.ok ? "Sign in with the new address from now on. The old address has been told." : "It may have been used already, replaced by a newer request, or expired. Ask for a new one in account settings."}</p>
      <p><a class="button" href={props.signedIn ? "/account" : "/login"}>{props.signedIn ? "Account settings" : "Sign in"}</a></p>
    </section>
  );
}

export function PasswordPage(props: { errors?: Errors; message?: string; done?: { endedSessions: number } }) {
  const e = props.errors ?? {};
  return (
    <AccountFrame current="password">
      <section class="narrow" aria-labelledby="password-title">
        <h1 id="password-title">Change your password</h1>
        {props.done ? (
          <p class="alert alert-success" role="status">
            Password changed. {props.done.endedSessions === 1 ? "One other session was" : `${props.done.endedSessions} other sessions were`} signed out; this one continues.
          </p>
        ) : (
          <p>Changing your password signs you out everywhere else. We email you when it changes.</p>
        )}
        <FormErrors errors={e} message={props.message} />
        <form method="post" action="/account/password" novalidate>
          <Field name="current" label="Current password" type="password" error={e.current} autocomplete="current-password" maxlength={128} />
          <Field name="password" label="New password" type="password" error={e.password} autocomplete="new-password" minlength={12} maxlength={128}
            hint="At least 12 characters. A passphrase of several words works well." />
          <Field name="confirm" label="New password again" type="password" error={e.confirm} autocomplete="new-password" maxlength={128} />
          <button type="submit" class="button">Change password</button>
        </form>
        <p>Forgot your current password? Sign out and use <a href="/password/forgot">Reset your password</a>.</p>
      </section>
    </AccountFrame>
  );
}

/** The code field every two-step change asks for first (a fresh code, or a recovery code). */
function FreshCodeField(props: { id: string; error?: string }) {
  return (
    <Field name="code" id={props.id} label="Current code" autocomplete="one-time-code" maxlength={20} error={props.error}
      hint="A code from your authenticator app that you have not used yet (wait for the next one if you just signed in), or one of your recovery codes." />
  );
}

export function TwoStepPage(props: { enabledAt: string | null; recoveryLeft: number; error?: { form: "reenrol" | "recovery_codes"; message: string } }) {
  const err = props.error;
  return (
    <AccountFrame current="two-step">
      <section aria-labelledby="two-step-title">
        <h1 id="two-step-title">Two-step sign-in</h1>
        <p>Two-step sign-in is on{props.enabledAt ? ` (this authenticator since ${props.enabledAt} UTC)` : ""}. You have {props.recoveryLeft} unused recovery {props.recoveryLeft === 1 ? "code" : "codes"}.</p>
        <p>Each change below asks for a fresh code first, so that someone who finds your computer signed in cannot take over your second factor.</p>

        <h2 id="reenrol-title">Move to a new authenticator app</h2>
        <p>For a new phone or app. Your current app keeps working until the new one has shown a correct code.</p>
        {err?.form === "reenrol" ? <FormErrors message={err.message} /> : null}
        <form method="post" action="/account/two-step/reenrol" novalidate aria-labelledby="reenrol-title">
          <FreshCodeField id="field-reenrol-code" error={err?.form === "reenrol" ? "Check the code and try again" : undefined} />
          <button type="submit" class="button">Set up a new app</button>
        </form>

        <h2 id="codes-title">New recovery codes</h2>
        <p>Replaces all your recovery codes: the old ones stop working. Do this if you used several or think someone saw them.</p>
        {err?.form === "recovery_codes" ? <FormErrors message={err.message} /> : null}
        <form method="post" action="/account/two-step/recovery-codes" novalidate aria-labelledby="codes-title">
          <FreshCodeField id="field-codes-code" error={err?.form === "recovery_codes" ? "Check the code and try again" : undefined} />
          <button type="submit" class="button">Make new recovery codes</button>
        </form>
        <p>Lost your phone and your recovery codes? A practice administrator can reset your two-step sign-in from the Team page.</p>
      </section>
    </AccountFrame>
  );
}

/** `setup` only in the answer to the start: the secret is shown once (src/account/service.ts). */
export function ReenrolPage(props: { setup?: { qrSvg: string; secret: string }; minutes: number; error?: string }) {
  return (
    <AccountFrame current="two-step">
      <section class="narrow" aria-labelledby="reenrol-page-title">
        <h1 id="reenrol-page-title">Set up your new authenticator app</h1>
        {props.setup ? (
          <>
            <ol>
              <li>In the new app, add an account and scan this code. It is shown only now: a reload will not show it again.</li>
              <li>Enter the 6-digit code the new app shows. Until you do, your old app keeps working (this set-up lasts {props.minutes} minutes).</li>
            </ol>
            <TotpQr qrSvg={props.setup.qrSvg} secret={props.setup.secret} label="QR code to add PatientLetterHub to your new authenticator app" />
          </>
        ) : (
          <p>Enter the 6-digit code your new app shows. Until you do, your old app keeps working. For your security, the code to scan was shown only once, when you started: if the new app does not have it, <a href="/account/two-step">start again</a> with a code from your current app.</p>
        )}
        <FormErrors message={props.error} />
        <form method="post" action="/account/two-step/reenrol/confirm" novalidate>
          <Field name="code" label="6-digit code from the new app" inputmode="numeric" autocomplete="one-time-code" maxlength={7} error={props.error ? "Check the code and try again" : undefined} />
          <button type="submit" class="button">Switch to the new app</button>
        </form>
        <p><a href="/account/two-step">Cancel: keep the current app</a></p>
      </section>
    </AccountFrame>
  );
}

export function TwoStepDonePage(props: { codes?: string[] }) {
  return (
    <AccountFrame current="two-step">
      <section class="narrow" aria-labelledby="done-title">
        <h1 id="done-title">{props.codes ? "Save your new recovery codes" : "Two-step sign-in moved"}</h1>
        {props.codes ? (
          <>
            <p>Your old recovery codes no longer work. Each of these lets you sign in once if you lose your phone. <strong>They are shown only now.</strong></p>
            <RecoveryCodesList codes={props.codes} />
          </>
        ) : (
          <p class="alert alert-success" role="status">Your new authenticator app is now the one that works; the old one no longer does. Your recovery codes are unchanged.</p>
        )}
        <p><a class="button" href="/account/two-step">Back to two-step sign-in</a></p>
      </section>
    </AccountFrame>
  );
}

export type PreferenceRow = { category: string; label: string; description: string; subscribed: boolean };

export function PreferencesPage(props: { rows: PreferenceRow[]; service: readonly { label: string; why: string }[]; saved?: boolean }) {
  return (
    <AccountFrame current="preferences">
      <section aria-labelledby="prefs-title">
        <h1 id="prefs-title">Email preferences</h1>
        {props.saved ? <p class="alert alert-success" role="status">Your email preferences are saved.</p> : null}
        <form method="post" action="/account/preferences">
          <fieldset>
            <legend>Emails you may turn off</legend>
            {props.rows.map((row) => (
              <div class="field field-checkbox">
                <input type="checkbox" id={`pref-${row.category}`} name={row.category} checked={row.subscribed} aria-describedby={`pref-${row.category}-hint`} />
                <label for={`pref-${row.category}`}>{row.label}</label>
                <p class="hint" id={`pref-${row.category}-hint`}>{row.description}</p>
              </div>
            ))}
          </fieldset>
          <button type="submit" class="button">Save preferences</button>
        </form>
        <p>Each of these emails also has a one-click unsubscribe link at the bottom, which works without signing in. PatientLetterHub sends no newsletters, marketing or other optional email.</p>

        <h2 id="service-title">Emails we always send</h2>
        <p>These are about your account's security or about work you or your practice started, so they cannot be turned off. None of them contains patient information.</p>
        <dl aria-labelledby="service-title">
          {props.service.map((s) => (
            <>
              <dt>{s.label}</dt>
              <dd>{s.why}</dd>
            </>
          ))}
        </dl>
      </section>
    </AccountFrame>
  );
}

/** The unsubscribe link's page (GET): nothing changes until the button is pressed. */
export function UnsubscribePage(props: { label: string; action: string; done?: { changed: boolean } }) {
  return (
    <section class="narrow" aria-labelledby="unsub-title">
      <h1 id="unsub-title">{props.done ? "You are unsubscribed" : `Unsubscribe from ${props.label.toLowerCase()}`}</h1>
      {props.done ? (
        <p role="status">{props.done.changed ? `You will no longer receive ${props.label.toLowerCase()} emails.` : `You were already not receiving ${props.label.toLowerCase()} emails.`} Emails about your account's security and your practice's jobs still arrive.</p>
      ) : (
        <>
          <p>You will stop receiving {props.label.toLowerCase()} emails. Emails about your account's security and your practice's jobs still arrive.</p>
          <form method="post" action={props.action}>
            <button type="submit" class="button">Unsubscribe</button>
          </form>
        </>
      )}
      <p>To choose other emails, sign in and open <a href="/account/preferences">Email preferences</a>.</p>
    </section>
  );
}

export function UnsubscribeRefusedPage() {
  return (
    <section class="narrow" aria-labelledby="unsub-bad-title">
      <h1 id="unsub-bad-title">This unsubscribe link does not work</h1>
      <p>It may be incomplete or too old. Sign in and open <a href="/account/preferences">Email preferences</a> to choose which emails you receive.</p>
    </section>
  );
}
