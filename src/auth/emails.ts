// The identity and account emails. No PHI ever; links carry single-use tokens in the query string
// (which our request log never records). All are service emails: they are about the account's
// security, so preferences never silence them (src/platform/mail.ts).
import type { MailMessage } from "../platform/mail.ts";

export function verificationEmail(to: string, link: string): MailMessage {
  return {
    category: "service",
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
    category: "service",
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
    category: "service",
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
    category: "service",
    to,
    subject: "Your PatientLetterHub password was changed",
    text: [
      "The password of your PatientLetterHub account was just changed, and every session was signed out.",
      "",
      `If this was not you, reset your password now at ${appOrigin}/password/forgot and tell your practice's privacy officer.`,
    ].join("\n"),
  };
}

/** An address shown in a notice to the other address: enough to recognise it, not to harvest it. */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf("@");
  if (at < 1) return "***";
  const local = email.slice(0, at);
  return `${local[0]}${"*".repeat(Math.min(6, Math.max(1, local.length - 1)))}${email.slice(at)}`;
}

export function emailChangeConfirmEmail(to: string, link: string, hours: number): MailMessage {
  return {
    category: "service",
    to,
    subject: "Confirm your new email address for PatientLetterHub",
    text: [
      "Someone (hopefully you) asked to use this address for their PatientLetterHub account.",
      "",
      `Confirm it with this link (valid for ${hours} hours, usable once):`,
      link,
      "",
      "Nothing changes until the link is used. If you did not ask for this, ignore this email.",
    ].join("\n"),
  };
}

export function emailChangeAddressInUseEmail(appOrigin: string, to: string): MailMessage {
  return {
    category: "service",
    to,
    subject: "Someone tried to move a PatientLetterHub account to your email",
    text: [
      "Someone asked to use this address for their PatientLetterHub account, but it already belongs to an account, so nothing changed.",
      "",
      `If that was you, sign in with this address instead: ${appOrigin}/login`,
    ].join("\n"),
  };
}

export function emailChangeRequestedNotice(appOrigin: string, to: string, newEmail: string): MailMessage {
  return {
    category: "service",
    to,
    subject: "A change of your PatientLetterHub email address was requested",
    text: [
      `Someone signed in to your PatientLetterHub account asked to change its email address to ${maskEmail(newEmail)}.`,
      "Nothing changes until the link sent to that address is used.",
      "",
      `If this was not you, change your password now at ${appOrigin}/account/password (or reset it at ${appOrigin}/password/forgot) and tell your practice's privacy officer.`,
    ].join("\n"),
  };
}

export function emailChangedNotice(appOrigin: string, to: string, newEmail: string): MailMessage {
  return {
    category: "service",
    to,
    subject: "Your PatientLetterHub email address was changed",
    text: [
      `The email address of your PatientLetterHub account is now ${maskEmail(newEmail)}. This address no longer signs in.`,
      "",
      `If this was not you, contact your practice's administrator or PatientLetterHub support at once (${appOrigin}).`,
    ].join("\n"),
  };
}

export function passwordChangedInSettingsEmail(appOrigin: string, to: string, otherSessions: number): MailMessage {
  return {
    category: "service",
    to,
    subject: "Your PatientLetterHub password was changed",
    text: [
      `The password of your PatientLetterHub account was changed from its settings. ${otherSessions === 1 ? "One other session was" : `${otherSessions} other sessions were`} signed out.`,
      "",
      `If this was not you, reset your password now at ${appOrigin}/password/forgot and tell your practice's privacy officer.`,
    ].join("\n"),
  };
}

export function twoStepChangedEmail(appOrigin: string, to: string, change: "reenrolled" | "recovery_codes"): MailMessage {
  const what = change === "reenrolled"
    ? "Two-step sign-in on your PatientLetterHub account was moved to a new authenticator app. The old one no longer works."
    : "New recovery codes were made for your PatientLetterHub account. The old ones no longer work.";
  return {
    category: "service",
    to,
    subject: change === "reenrolled" ? "Your two-step sign-in was moved to a new device" : "Your recovery codes were replaced",
    text: [
      what,
      "",
      `If this was not you, sign in and end the sessions you do not recognise (${appOrigin}/account/sessions), change your password, and tell your practice's privacy officer.`,
    ].join("\n"),
  };
}
