import { Field, FormErrors } from "../components/field.tsx";

export type SignUpProps = { values?: Record<string, string>; errors?: Record<string, string> };

export function SignUpPage(props: SignUpProps) {
  const v = props.values ?? {};
  const e = props.errors ?? {};
  return (
    <section class="narrow" aria-labelledby="signup-title">
      <h1 id="signup-title">Create your practice account</h1>
      <p>You will be the practice's first administrator. Next you confirm your email, set up two-step sign-in and sign the Business Associate Agreement.</p>
      <FormErrors errors={e} />
      <form method="post" action="/signup" novalidate>
        <Field name="fullName" label="Your full name" value={v.fullName} error={e.fullName} autocomplete="name" maxlength={200} />
        <Field name="email" label="Work email" type="email" value={v.email} error={e.email} autocomplete="email" maxlength={254} />
        <Field name="password" label="Password" type="password" error={e.password} autocomplete="new-password" minlength={12} maxlength={128}
          hint="At least 12 characters. A passphrase of several words works well." />
        <Field name="practiceName" label="Practice name" value={v.practiceName} error={e.practiceName} autocomplete="organization" maxlength={200} />
        <button type="submit" class="button">Create account</button>
      </form>
      <p>Already have an account? <a href="/login">Sign in</a>.</p>
    </section>
  );
}

export function CheckEmailPage(props: { email: string }) {
  return (
    <section class="narrow" aria-labelledby="check-title">
      <h1 id="check-title">Check your email</h1>
      <p>We sent a message to <strong>{props.email}</strong>. Open the link in it to confirm your address, then sign in.</p>
      <p class="muted">The link works once and expires after 24 hours. Nothing arrived? Check your spam folder, or sign in to get a new link.</p>
    </section>
  );
}

export function VerifyEmailPage(props: { token: string }) {
  return (
    <section class="narrow" aria-labelledby="verify-title">
      <h1 id="verify-title">Confirm your email address</h1>
      <form method="post" action="/verify-email">
        <input type="hidden" name="token" value={props.token} />
        <button type="submit" class="button">Confirm my email address</button>
      </form>
    </section>
  );
}

export function VerifyEmailResultPage(props: { ok: boolean }) {
  return (
    <section class="narrow" aria-labelledby="verified-title">
      <h1 id="verified-title">{props.ok ? "Email address confirmed" : "This link does not work"}</h1>
      <p>
        {props.ok
          ? "Thank you. Sign in to continue setting up your practice."
          : "It may have been used already or expired. Sign in and we will send you a new link."}
      </p>
      <p><a class="button" href="/login">Sign in</a></p>
    </section>
  );
}
