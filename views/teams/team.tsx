import { Field, FormErrors } from "../components/field.tsx";

export type MemberRow = { userId: string; fullName: string; email: string; role: string; endsAt: string | null; mfa: boolean; isMe: boolean };
export type InvitationRow = { id: string; email: string; role: string; endsAt: string | null; expiresAt: string };
export type TeamPageProps = {
  members: MemberRow[];
  invitations: InvitationRow[];
  values?: Record<string, string>;
  errors?: Record<string, string>;
  message?: string;
  notice?: string;
  /** A refused role change: what was chosen and why, shown in that member's row. */
  roleEdit?: { userId: string; values: Record<string, string>; errors: Record<string, string> };
};

const ROLE_OPTIONS = [
  { value: "staff", label: "Staff: creates and submits jobs, approves proofs" },
  { value: "admin", label: "Administrator: also manages the team, the BAA and the audit trail" },
  { value: "auditor", label: "Auditor: reads the audit trail and BAA records; never sees patient information" },
];

function RoleSelect(props: { id: string; selected?: string; label: string; error?: string }) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <select id={props.id} name="role" aria-invalid={props.error ? "true" : undefined} aria-describedby={props.error ? `${props.id}-error` : undefined}>
        {ROLE_OPTIONS.map((o) => <option value={o.value} selected={o.value === props.selected}>{o.label}</option>)}
      </select>
      {props.error ? <p class="field-error" id={`${props.id}-error`}>{props.error}</p> : null}
    </div>
  );
}

export function TeamPage(props: TeamPageProps) {
  const e = props.errors ?? {};
  return (
    <section aria-labelledby="team-title">
      <h1 id="team-title">Team</h1>
      {props.notice ? <div class="alert alert-success" role="status"><p>{props.notice}</p></div> : null}
      <FormErrors message={props.message} />
      <table>
        <caption>Members</caption>
        <thead><tr><th scope="col">Name</th><th scope="col">Email</th><th scope="col">Role</th><th scope="col">Two-step sign-in</th><th scope="col">Actions</th></tr></thead>
        <tbody>
          {props.members.map((m) => {
            const edit = props.roleEdit?.userId === m.userId ? props.roleEdit : undefined;
            return (
            <tr>
              <td>{m.fullName}{m.isMe ? " (you)" : ""}</td>
              <td>{m.email}</td>
              <td>{m.role}{m.endsAt ? ` until ${m.endsAt}` : ""}</td>
              <td>{m.mfa ? "On" : "Not set up yet"}</td>
              <td>
                <form method="post" action={`/team/members/${m.userId}/role`} class="inline-form">
                  <RoleSelect id={`role-${m.userId}`} selected={edit?.values.role ?? m.role} label={`Role for ${m.fullName}`} error={edit?.errors.role} />
                  <Field id={`ends-${m.userId}`} name="endsAt" label={`Access ends for ${m.fullName} (auditors, optional)`} type="date"
                    value={edit ? edit.values.endsAt : (m.endsAt ?? undefined)} error={edit?.errors.endsAt} required={false} />
                  <button type="submit" class="button button-secondary">Change role</button>
                </form>
                {m.isMe ? null : (
                  <>
                    <form method="post" action={`/team/members/${m.userId}/reset-mfa`} class="inline-form">
                      <button type="submit" class="button button-secondary" aria-label={`Reset two-step sign-in for ${m.fullName}`}>Reset two-step sign-in</button>
                    </form>
                    <form method="post" action={`/team/members/${m.userId}/remove`} class="inline-form">
                      <button type="submit" class="button button-secondary" aria-label={`Remove ${m.fullName} from the practice`}>Remove</button>
                    </form>
                  </>
                )}
              </td>
            </tr>
            );
          })}
        </tbody>
      </table>

      <h2>Pending invitations</h2>
      {props.invitations.length === 0 ? <p>None.</p> : (
        <ul>
          {props.invitations.map((i) => (
            <li>
              {i.email}, {i.role}{i.endsAt ? ` until ${i.endsAt}` : ""}, link valid until {i.expiresAt}
              <form method="post" action={`/team/invitations/${i.id}/revoke`} class="inline-form">
                <button type="submit" class="button-link" aria-label={`Withdraw the invitation to ${i.email}`}>Withdraw</button>
              </form>
            </li>
          ))}
        </ul>
      )}

      <h2>Invite someone</h2>
      <FormErrors errors={e} />
      <form method="post" action="/team/invitations" novalidate>
        <Field name="email" label="Email" type="email" value={props.values?.email} error={e.email} maxlength={254} />
        <RoleSelect id="invite-role" selected={props.values?.role ?? "staff"} label="Role" />
        <Field name="endsAt" label="Access ends (auditors only, optional)" type="date" value={props.values?.endsAt} error={e.endsAt} required={false}
          hint="An auditor's access lapses at the start of this day (UTC)." />
        <button type="submit" class="button">Send invitation</button>
      </form>
      <p>The two-person rule for proof approval, the letterhead and the practice profile are in <a href="/practice/settings">Practice settings</a>.</p>
    </section>
  );
}
