// The identity emails. No PHI ever; links carry single-use tokens in the query string (which our
// request log never records).
import type { MailMessage } from "../platform/mail.ts";

export function verificationEmail(to: string, link: string): MailMessage {
  return {
    to,
    subject: "Confirm your email address for PatientLetterHub",
    text: [
      "Welcome to PatientLetterHub.",
      "",
      "Confirm your email address by opening this link (valid for 24 hours, usable once):",
      link,
      "",
      "If you did not create an account, ignore this email: nothing happens without the confirmation.",
    ].join("\n"),
  };
}

export function existingAccountEmail(appOrigin: string, to: string): MailMessage {
  return {
    to,
    subject: "Someone tried to create a PatientLetterHub account with your email",
    text: [
      "Someone tried to sign up for PatientLetterHub with this email address, which already has an account.",
      "",
      `If it was you, sign in instead: ${appOrigin}/login`,
      "If it was not you, you can ignore this message; your account is unchanged.",
    ].join("\n"),
  };
}

export function passwordResetEmail(to: string, link: string, minutes: number): MailMessage {
  return {
    to,
    subject: "Reset your PatientLetterHub password",
    text: [
      "Someone (hopefully you) asked to reset the password of your PatientLetterHub account.",
      "",
      `Choose a new password with this link (valid for ${minutes} minutes, usable once):`,
      link,
      "",
      "Resetting signs you out on every device. If you did not ask for this, ignore this email: your password stays as it is.",
    ].join("\n"),
  };
}

export function passwordChangedEmail(appOrigin: string, to: string): MailMessage {
  return {
    to,
    subject: "Your PatientLetterHub password was changed",
    text: [
      "The password of your PatientLetterHub account was just changed, and every session was signed out.",
      "",
      `If this was not you, reset your password now at ${appOrigin}/password/forgot and tell your practice's privacy officer.`,
    ].join("\n"),
  };
}
