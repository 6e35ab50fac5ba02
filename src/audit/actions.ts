// The typed catalogue of audit actions. Each entry says when it fires; details never carry PHI.
// Later features add their actions here, and recordAudit() accepts nothing else.
export const AUDIT_ACTIONS = {
  "practice.created": "A practice (tenant) was created. Details: none.",
  "auth.signup": "A person signed up: with a new practice (and its admin membership), or by accepting an invitation (practice chain). Details: invitation (when invited), provider = clerk (when joined through a Clerk sign-in).",
  "auth.signup.existing_email": "Sign-up was attempted with an email that already has an account; the owner was emailed (platform chain). Target: that user.",
  "auth.email.verified": "A user confirmed their email address through the emailed link (platform chain). Target: the user.",
  "auth.signin.succeeded": "Email and password were accepted, or (AUTH_PROVIDER=clerk) the first request of a Clerk session carrying a second factor; a new session started (practice chain of the active practice, else platform). Target: the user. Details: mfa_required (local) or provider = clerk.",
  "auth.signin.failed": "A sign-in was refused (platform chain). Target: the user when the email (or Clerk identity) matched one. Details: reason = bad_credentials | locked | email_unverified | deactivated; with provider = clerk, clerk_user_id and clerk_session_id (one event per refused request) also no_second_factor | no_account | already_linked (that account belongs to another Clerk user).",
  "auth.clerk.linked": "A Clerk user was linked to an existing (invited) user whose email matched the token's verified email, at their first Clerk sign-in (platform chain). Target: the user. Details: provider = clerk, clerk_user_id.",
  "auth.signout": "A user signed out, ending this session. Target: the session.",
  "mfa.enrolled": "A user finished TOTP enrolment; recovery codes were issued and the session rotated. Details: recovery_codes (count).",
  "mfa.enrol.failed": "A code was refused while enrolling (outcome denied). Details: reason = invalid | locked.",
  "mfa.verified": "A user passed the second factor; the session rotated. Details: method = totp | recovery_code.",
  "mfa.verify.failed": "A wrong, replayed or throttled second-factor code was refused (outcome denied). Details: reason = invalid | locked.",
  "auth.password.reset_requested": "Someone asked for a password reset link (platform chain). Target: the user when the email matched one; nothing is sent otherwise. Details: sent, throttled (booleans).",
  "auth.password.reset": "A password was changed through a reset link; every session of the user ended (platform chain). Target: the user. Details: sessions (count ended).",
  "auth.session.revoked": "A user ended one of their own sessions from the sessions page. Target: the session.",
  "access.denied": "A signed-in person asked for something they may not have (outcome denied): a permission their role lacks, another user's session, a practice they do not belong to. Target: route (its pattern, never its values) or the resource. Details: permission and role, or reason.",
  "team.change.denied": "A team change was refused (outcome denied): last admin, not a member, other practices, operator, wrong account, already a member, account exists. Target: the route. Details: reason.",
  "auth.token.rejected": "A single-use link (email confirmation, password reset, invitation) was unknown, used or expired (outcome denied). Details: purpose.",
  "team.invited": "An admin invited someone by email. Target: the invitation. Details: role, ends_at (auditors).",
  "team.invitation_revoked": "An admin withdrew a pending invitation. Target: the invitation.",
  "team.joined": "An invited person accepted and became a member. Target: the user. Details: role, invitation.",
  "team.role_changed": "An admin changed a member's role or auditor end date; the member's sessions in this practice ended so the next one carries the change. Target: the user. Details: from, to, ends_at_from, ends_at_to.",
  "team.member_removed": "An admin removed a member; the member's sessions in this practice ended. Target: the user. Details: role.",
  "mfa.reset_by_admin": "An admin reset a member's two-step sign-in; the member's sessions ended and they enrol again at next sign-in. Target: the user.",
  "practice.switched": "A user switched their session to another practice they belong to (chain of the new practice); a local session token rotates, a Clerk-backed session keeps its row. Target: the practice.",
  "operator.created": "`bun run operator:create` made a platform operator (platform chain, actor system:operator-create). Target: the user. Details: new_account.",
  "auth.user.deactivated": "`bun run user:deactivate` deactivated an account; all its sessions ended (platform chain, actor system:user-deactivate). Target: the user. Details: sessions, reason (ops' short text, no PHI).",
  "auth.signout_all": "A user signed out everywhere, ending all their sessions. Details: sessions (count).",
} as const satisfies Record<string, string>;

export type AuditAction = keyof typeof AUDIT_ACTIONS;
