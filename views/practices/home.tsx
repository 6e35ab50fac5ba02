export type PracticeHomeProps = {
  userName: string;
  practice: { name: string; status: "onboarding" | "active" | "suspended" } | null;
  role: string | null;
  otherPractices: { practiceId: string; practiceName: string; role: string }[];
  canManageTeam: boolean;
  /** Admins: the practice settings page (profile, letterhead, approval rule). */
  canManageSettings?: boolean;
  /** The practice's BAA: signed, never signed or out of date; who can sign; the wizard's progress. */
  baa?: { state: "signed" | "never_signed" | "out_of_date"; admins: string[]; canSign: boolean; profileDone: boolean } | null;
};

function BaaOnboarding(props: { baa: NonNullable<PracticeHomeProps["baa"]> }) {
  const { baa } = props;
  if (baa.state === "signed") return <p><a href="/baa">Business Associate Agreement</a>: signed and in effect.</p>;
  const heading = baa.state === "out_of_date" ? "Sign the new Business Associate Agreement" : "Finish setting up your practice";
  return (
    <div class="alert alert-info onboarding" role="region" aria-labelledby="onboarding-title">
      <h2 id="onboarding-title">{heading}</h2>
      {baa.canSign ? (
        <>
          <p>
            {baa.state === "out_of_date"
              ? "A new version of the agreement is in effect. Until you sign it, nobody in the practice can create jobs or upload patient information; jobs already in progress continue."
              : `Next step: ${baa.profileDone ? "review and sign the Business Associate Agreement (steps 2 and 3 of 4)" : "the practice profile (step 1 of 4), then review and sign the Business Associate Agreement"}. Nothing with patient information can happen before it is signed.`}
          </p>
          <p><a class="button" href="/baa">{baa.profileDone || baa.state === "out_of_date" ? "Continue to the agreement" : "Start: practice profile"}</a></p>
        </>
      ) : (
        <p>
          An administrator must sign the Business Associate Agreement before anyone can create jobs or upload patient information.
          {baa.admins.length ? ` Who can sign: ${baa.admins.join(", ")}.` : ""} <a href="/baa">BAA status</a>
        </p>
      )}
    </div>
  );
}

const STATUS_TEXT = {
  onboarding: "Onboarding: an administrator must sign the Business Associate Agreement before any job or patient information can be added.",
  active: "Active: your practice can create mailing jobs.",
  suspended: "Suspended: contact support to restore access.",
} as const;

export function PracticeHomePage(props: PracticeHomeProps) {
  return (
    <section aria-labelledby="home-title">
      <h1 id="home-title">{props.practice ? props.practice.name : "No practice yet"}</h1>
      {props.practice ? (
        <dl class="facts">
          <dt>Your role</dt>
          <dd>{props.role}</dd>
          <dt>Practice status</dt>
          <dd>{STATUS_TEXT[props.practice.status]}</dd>
        </dl>
      ) : (
        <p>You are not a member of any practice. Ask a practice administrator to invite you.</p>
      )}
      {props.baa ? <BaaOnboarding baa={props.baa} /> : null}
      {props.practice ? <p><a href="/jobs">Mailing jobs</a>: create a job, follow its status and timeline.</p> : null}
      {props.canManageTeam ? <p><a href="/team">Manage the team</a>: invite people, change roles, remove members.</p> : null}
      {props.canManageSettings ? <p><a href="/practice/settings">Practice settings</a>: the practice profile, the letterhead and logo, proof approval, retention and the BAA.</p> : null}
      <p><a href="/support">Support</a>: contact us, or report a security or privacy incident.</p>
      {props.otherPractices.length > 0 ? (
        <>
          <h2>Your other practices</h2>
          <ul>
            {props.otherPractices.map((p) => (
              <li>
                {p.practiceName} ({p.role})
                <form method="post" action="/practice/switch" class="inline-form">
                  <input type="hidden" name="practiceId" value={p.practiceId} />
                  <button type="submit" class="button-link" aria-label={`Switch to ${p.practiceName}`}>Switch</button>
                </form>
              </li>
            ))}
          </ul>
        </>
      ) : null}
      <h2>Your sessions</h2>
      <p>Signed in as {props.userName}. <a href="/account/sessions">See where you are signed in</a>; if you used a shared or lost device, end every session at once.</p>
      <form method="post" action="/logout/everywhere">
        <button type="submit" class="button button-secondary">Sign out everywhere</button>
      </form>
    </section>
  );
}
