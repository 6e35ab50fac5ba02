export type PracticeHomeProps = {
  userName: string;
  practice: { name: string; status: "onboarding" | "active" | "suspended" } | null;
  role: string | null;
  otherPractices: { practiceId: string; practiceName: string; role: string }[];
  canManageTeam: boolean;
};

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
      {props.canManageTeam ? <p><a href="/team">Manage the team</a>: invite people, change roles, remove members.</p> : null}
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
