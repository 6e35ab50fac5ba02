import type { MailMessage } from "../platform/mail.ts";
import type { Role } from "../platform/schema.ts";

const ROLE_NAMES: Record<Role, string> = { admin: "an administrator", staff: "a staff member", auditor: "an auditor (read-only compliance access)" };

export function invitationEmail(to: string, practiceName: string, role: Role, link: string, days: number): MailMessage {
  return {
    category: "service",
    to,
    subject: `You are invited to join ${practiceName} on PatientLetterHub`,
    text: [
      `You have been invited to join ${practiceName} on PatientLetterHub as ${ROLE_NAMES[role]}.`,
      "",
      `Accept with this link (valid for ${days} days, usable once):`,
      link,
      "",
      "If you were not expecting this, ignore the email: nothing happens unless you accept.",
    ].join("\n"),
  };
}
