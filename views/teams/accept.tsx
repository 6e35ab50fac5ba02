import { Field, FormErrors } from "../components/field.tsx";

export type AcceptProps = {
  token: string;
  invitation: { practiceName: string; email: string; role: string; endsAt: string | null } | null;
  signedInAs: string | null;
  /** With Clerk, invitees join by signing in with the invited email: no local password form. */
  provider: "local" | "clerk";
  errors?: Record<string, string>;
  message?: string;
  values?: Record<string, string>;
};

export function AcceptInvitationPage(props: AcceptProps) {
  const inv = props.invitation;
  if (!inv) {
    return (
      <section class="narrow" aria-labelledby="accept-title">
        <h1 id="accept-title">This invitation cannot be used</h1>
        <p>{props.message ?? "It has been used, withdrawn or has expired. Ask the practice administrator to invite you again."}</p>
      </section>
    );
  }
  const e = props.errors ?? {};
  return (
    <section class="narrow" aria-labelledby="accept-title">
      <h1 id="accept-title">Join {inv.practiceName}</h1>
      <p>You are invited as <strong>{inv.role}</strong>{inv.endsAt ? `, with access until ${inv.endsAt}` : ""}. The invitation is for {inv.email}.</p>
      <FormErrors errors={e} message={props.message} />
      {props.signedInAs ? (
        <form method="post" action="/invitations/accept">
          <input type="hidden" name="token" value={props.token} />
          <p>You are signed in as {props.signedInAs}.</p>
          <button type="submit" class="button">Join {inv.practiceName}</button>
        </form>
      ) : props.provider === "clerk" ? (
        <p>
          <a class="button" href="/login">Sign in as {inv.email}</a> to join. If you have no PatientLetterHub account yet, it
          is created when you first sign in with that address (verified, with two-step verification on).
        </p>
      ) : (
        <>
          <h2>New to PatientLetterHub?</h2>
          <form method="post" action="/invitations/accept/new-account" novalidate>
            <input type="hidden" name="token" value={props.token} />
            <Field name="fullName" label="Your full name" value={props.values?.fullName} error={e.fullName} autocomplete="name" maxlength={200} />
            <Field name="password" label="Choose a password" type="password" error={e.password} autocomplete="new-password" minlength={12} maxlength={128}
              hint="At least 12 characters. You will set up two-step sign-in next." />
            <button type="submit" class="button">Create account and join</button>
          </form>
          <h2>Already have an account?</h2>
          <p><a href="/login">Sign in</a>, then open the invitation link again.</p>
        </>
      )}
    </section>
  );
}
