import { Field, FormErrors } from "../components/field.tsx";

export function ForgotPasswordPage(props: { values?: Record<string, string>; errors?: Record<string, string> }) {
  const e = props.errors ?? {};
  return (
    <section class="narrow" aria-labelledby="forgot-title">
      <h1 id="forgot-title">Reset your password</h1>
      <p>Enter the email address of your account. We will send a link to choose a new password.</p>
      <FormErrors errors={e} />
      <form method="post" action="/password/forgot" novalidate>
        <Field name="email" label="Email" type="email" value={props.values?.email} error={e.email} autocomplete="username" maxlength={254} />
        <button type="submit" class="button">Send the link</button>
      </form>
      <p><a href="/login">Back to sign in</a></p>
    </section>
  );
}

export function ResetLinkSentPage() {
  return (
    <section class="narrow" aria-labelledby="sent-title">
      <h1 id="sent-title">Check your email</h1>
      <p>If that address belongs to an account, a link to choose a new password is on its way. It works once, for 30 minutes.</p>
      <p><a href="/login">Back to sign in</a></p>
    </section>
  );
}

export function ResetPasswordPage(props: { token: string; errors?: Record<string, string>; message?: string }) {
  const e = props.errors ?? {};
  return (
    <section class="narrow" aria-labelledby="reset-title">
      <h1 id="reset-title">Choose a new password</h1>
      <p>Changing your password signs you out on every device.</p>
      <FormErrors errors={e} message={props.message} />
      <form method="post" action="/password/reset" novalidate>
        <input type="hidden" name="token" value={props.token} />
        <Field name="password" label="New password" type="password" error={e.password} autocomplete="new-password" minlength={12} maxlength={128}
          hint="At least 12 characters. A passphrase of several words works well." />
        <Field name="confirm" label="New password again" type="password" error={e.confirm} autocomplete="new-password" maxlength={128} />
        <button type="submit" class="button">Change password</button>
      </form>
    </section>
  );
}

export function PasswordChangedPage(props: { ok: boolean }) {
  return (
    <section class="narrow" aria-labelledby="changed-title">
      <h1 id="changed-title">{props.ok ? "Password changed" : "This link does not work"}</h1>
      <p>{props.ok ? "Every session was signed out. Sign in with your new password." : "It may have been used already or expired. Ask for a new link."}</p>
      <p><a class="button" href={props.ok ? "/login" : "/password/forgot"}>{props.ok ? "Sign in" : "Ask for a new link"}</a></p>
    </section>
  );
}
