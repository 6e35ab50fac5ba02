import { Field, FormErrors } from "../components/field.tsx";

export type SignInProps = { values?: Record<string, string>; errors?: Record<string, string>; message?: string };

export function SignInPage(props: SignInProps) {
  const v = props.values ?? {};
  const e = props.errors ?? {};
  return (
    <section class="narrow" aria-labelledby="signin-title">
      <h1 id="signin-title">Sign in</h1>
      <FormErrors errors={e} message={props.message} />
      <form method="post" action="/login" novalidate>
        <Field name="email" label="Email" type="email" value={v.email} error={e.email} autocomplete="username" maxlength={254} />
        <Field name="password" label="Password" type="password" error={e.password} autocomplete="current-password" maxlength={128} />
        <button type="submit" class="button">Sign in</button>
      </form>
      <p><a href="/password/forgot">Forgot your password?</a></p>
      <p>New to PatientLetterHub? <a href="/signup">Create your practice account</a>.</p>
    </section>
  );
}
