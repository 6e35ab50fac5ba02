import { FlashRegion } from "./components/flash.tsx";
import { NonceContext } from "./components/nonce-context.ts";
import { BaaBanner } from "./baa/pages.tsx";

export type Flash = { kind: "success" | "error" | "info"; message: string };

export type LayoutProps = {
  title: string;
  nonce: string;
  flash?: Flash[];
  user?: { name: string } | null;
  /** For a signed-in page: seconds until the session ends for inactivity (drives the warning). */
  idleSeconds?: number | null;
  /** Clerk mode, signed in: load Clerk's script so its short-lived session token keeps refreshing. */
  clerk?: { scriptUrl: string; publishableKey: string } | null;
  /** Admins: the practice lacks the BAA in force (shown above every page's content). */
  baaBanner?: "never_signed" | "out_of_date";
  /** Signed in with a practice (not an operator): the practice links (home, jobs) in the header. */
  practiceNav?: boolean;
  children?: any;
};

/**
 * The full HTML document around every page (the caller emits the doctype).
 * No inline scripts or styles: the CSP allows scripts by nonce only and
 * styles from 'self' only.
 */
export function Layout(props: LayoutProps) {
  const { title, nonce, flash, user, idleSeconds, clerk, baaBanner, practiceNav, children } = props;
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${title} · PatientLetterHub`}</title>
        <meta name="htmx-config" content='extensions:"hx-csp"' />
        <link rel="icon" href="/static/favicon.svg" type="image/svg+xml" />
        <link rel="stylesheet" href="/static/styles.css" />
        <script src="/static/vendor/htmx.min.js" nonce={nonce} defer></script>
        <script src="/static/vendor/hx-csp.min.js" nonce={nonce} defer></script>
        {idleSeconds ? <meta name="plh-session-idle-seconds" content={String(idleSeconds)} /> : null}
        {idleSeconds ? <script src="/static/session-timeout.js" nonce={nonce} defer></script> : null}
        {clerk ? <script src={clerk.scriptUrl} data-clerk-publishable-key={clerk.publishableKey} nonce={nonce} crossorigin="anonymous" defer></script> : null}
        {clerk ? <script src="/static/clerk-session.js" nonce={nonce} defer></script> : null}
      </head>
      <body>
        {idleSeconds ? (
          <div id="session-warning" class="session-warning" role="alertdialog" aria-modal="false" aria-labelledby="session-warning-title" aria-describedby="session-warning-text" hidden>
            <p id="session-warning-title"><strong>You will be signed out soon</strong></p>
            <p id="session-warning-text">For the safety of patient information, PatientLetterHub signs you out after a period without activity. <span data-countdown></span></p>
            <button type="button" class="button" data-stay>Stay signed in</button>
          </div>
        ) : null}
        <a class="skip-link" href="#main">
          Skip to main content
        </a>
        <header class="site-header">
          <div class="container header-inner">
            <a class="brand" href="/">
              <span class="brand-mark" aria-hidden="true"></span>
              PatientLetterHub
            </a>
            <nav aria-label="Main">
              {user ? (
                <ul class="nav-list">
                  {practiceNav ? <li><a href="/app">Home</a></li> : null}
                  {practiceNav ? <li><a href="/jobs">Jobs</a></li> : null}
                  <li class="nav-user">
                    <span class="visually-hidden">Signed in as </span>
                    {user.name}
                  </li>
                  <li><a href="/account">Account settings</a></li>
                  <li><a href="/support">Support</a></li>
                  <li>
                    <form method="post" action="/logout" class="nav-form">
                      <button type="submit" class="button-link">
                        Sign out
                      </button>
                    </form>
                  </li>
                </ul>
              ) : (
                <ul class="nav-list">
                  <li>
                    <a href="/login">Sign in</a>
                  </li>
                  <li>
                    <a href="/signup" class="button button-small">
                      Create account
                    </a>
                  </li>
                </ul>
              )}
            </nav>
          </div>
        </header>
        <main id="main" tabindex={-1} class="container">
          {baaBanner ? <BaaBanner state={baaBanner} /> : null}
          <FlashRegion messages={flash} />
          <NonceContext.Provider value={nonce}>{children}</NonceContext.Provider>
        </main>
        <footer class="site-footer">
          <div class="container">
            <p>© PatientLetterHub · Patient health information is handled under a signed Business Associate Agreement.</p>
          </div>
        </footer>
      </body>
    </html>
  );
}
