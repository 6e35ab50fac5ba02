// The typed catalogue of audit actions. Each entry says when it fires; details never carry PHI.
// Later features add their actions here, and recordAudit() accepts nothing else.
export const AUDIT_ACTIONS = {
  "practice.created": "A practice (tenant) was created. Details: none.",
  "auth.signup": "A person signed up, creating a user, a practice and their admin membership (practice chain). Details: none.",
  "auth.signup.existing_email": "Sign-up was attempted with an email that already has an account; the owner was emailed (platform chain). Target: that user.",
  "auth.email.verified": "A user confirmed their email address through the emailed link (platform chain). Target: the user.",
  "auth.signin.succeeded": "Email and password were accepted; a new session started (practice chain of the active practice, else platform). Target: the user. Details: mfa_required.",
  "auth.signin.failed": "A sign-in was refused (platform chain). Target: the user when the email matched one. Details: reason = bad_credentials | locked | email_unverified | deactivated.",
  "auth.signout": "A user signed out, ending this session. Target: the session.",
  "mfa.enrolled": "A user finished TOTP enrolment; recovery codes were issued and the session rotated. Details: recovery_codes (count).",
  "mfa.enrol.failed": "A wrong code was entered while enrolling (outcome denied).",
  "mfa.verified": "A user passed the second factor; the session rotated. Details: method = totp | recovery_code.",
  "mfa.verify.failed": "A wrong or replayed second-factor code was refused (outcome denied).",
  "auth.password.reset_requested": "Someone asked for a password reset link (platform chain). Target: the user when the email matched one; nothing is sent otherwise. Details: sent (boolean).",
  "auth.password.reset": "A password was changed through a reset link; every session of the user ended (platform chain). Target: the user. Details: sessions (count ended).",
  "auth.session.revoked": "A user ended one of their own sessions from the sessions page. Target: the session.",
  "auth.signout_all": "A user signed out everywhere, ending all their sessions. Details: sessions (count).",
} as const satisfies Record<string, string>;

export type AuditAction = keyof typeof AUDIT_ACTIONS;
