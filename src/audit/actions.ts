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
  "auth.signout_all": "A user signed out everywhere, ending all their sessions. Details: sessions (count).",
} as const satisfies Record<string, string>;

export type AuditAction = keyof typeof AUDIT_ACTIONS;
