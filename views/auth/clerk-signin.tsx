// Sign-in pages when Clerk is the identity provider (AUTH_PROVIDER=clerk). Clerk's own script
// renders the form into #clerk-signin; /static/clerk-signin.js drives it. No inline script: both
// script tags carry the request's nonce and the CSP names Clerk's Frontend API host.
import { useNonce } from "../components/nonce-context.ts";

export type ClerkFrontendProps = {
  publishableKey: string;
  /** The Frontend API host decoded from the publishable key, e.g. clerk.example.org. */
  frontendApiHost: string;
  /** https://<frontend-api-host>/npm/@clerk/clerk-js@5/dist/clerk.browser.js */
  scriptUrl: string;
};

/**
 * signin: show Clerk's sign-in form (or, if Clerk already has a session we could not read, retry once);
 * ended: our session ended (signed out, idle, 12 h): sign out of Clerk too, then show the form;
 * refused: Clerk signed the person in but we do not let them in: offer only "sign out".
 */
export type ClerkPageMode = "signin" | "ended" | "refused";

function ClerkScripts(props: { clerk: ClerkFrontendProps }) {
  const nonce = useNonce();
  return (
    <>
      <script
        src={props.clerk.scriptUrl}
        data-clerk-publishable-key={props.clerk.publishableKey}
        nonce={nonce}
        crossorigin="anonymous"
        defer
      ></script>
      <script src="/static/clerk-signin.js" nonce={nonce} defer></script>
    </>
  );
}

function ClerkMount(props: { clerk: ClerkFrontendProps; mode: ClerkPageMode; loading: string }) {
  return (
    <>
      <div
        id="clerk-signin"
        class="clerk-signin"
        data-mode={props.mode}
        data-clerk-publishable-key={props.clerk.publishableKey}
        data-clerk-frontend-api={props.clerk.frontendApiHost}
        data-after-sign-in-url="/app"
      >
        <p id="clerk-status" role="status" aria-live="polite">{props.loading}</p>
      </div>
      {/* Filled by the script when Clerk cannot load; role="alert" makes screen readers say it. */}
      <div id="clerk-error" role="alert"></div>
      <noscript>
        <p class="alert alert-error">Sign-in needs JavaScript: the secure sign-in form runs in your browser. Turn JavaScript on for this site, then reload the page.</p>
      </noscript>
    </>
  );
}

export function ClerkSignInPage(props: { clerk: ClerkFrontendProps; mode?: "signin" | "ended" }) {
  const mode = props.mode ?? "signin";
  return (
    <section class="narrow" aria-labelledby="signin-title">
      <h1 id="signin-title">Sign in</h1>
      {mode === "ended" ? <p>Your session has ended. Sign in again to continue.</p> : null}
      <ClerkMount clerk={props.clerk} mode={mode} loading="Loading the secure sign-in form…" />
      <p>New to PatientLetterHub? Your practice administrator invites you by email; sign in with that address.</p>
      <ClerkScripts clerk={props.clerk} />
    </section>
  );
}

export type ClerkRefusalReason = "no-account" | "no-second-factor";

const REFUSALS: Record<ClerkRefusalReason, { title: string; body: string[] }> = {
  "no-account": {
    title: "Ask your practice admin for an invitation",
    body: [
      "You are signed in, but this email address has no PatientLetterHub account yet.",
      "PatientLetterHub accounts are created by invitation: ask your practice admin to invite the email address you signed in with, then sign in again.",
    ],
  },
  "no-second-factor": {
    title: "Turn on two-step verification",
    body: [
      "PatientLetterHub protects patient information with a second step at every sign-in, and this sign-in did not use one.",
      "Turn on two-step verification in your account (Manage account → Security), then sign out and sign in again.",
    ],
  },
};

export function ClerkRefusedPage(props: { clerk: ClerkFrontendProps; reason: ClerkRefusalReason }) {
  const text = REFUSALS[props.reason];
  return (
    <section class="narrow" aria-labelledby="refused-title">
      <h1 id="refused-title">{text.title}</h1>
      {text.body.map((p) => <p>{p}</p>)}
      <ClerkMount clerk={props.clerk} mode="refused" loading="Loading your account options…" />
      <p class="actions">
        {props.reason === "no-second-factor" ? (
          <button type="button" id="clerk-manage-account" class="button" disabled>
            Open account security
          </button>
        ) : null}{" "}
        <button type="button" id="clerk-sign-out" class={props.reason === "no-second-factor" ? "button-link" : "button"} disabled>
          Sign out
        </button>
      </p>
      <ClerkScripts clerk={props.clerk} />
    </section>
  );
}

export function clerkRefusalTitle(reason: ClerkRefusalReason): string {
  return REFUSALS[reason].title;
}
