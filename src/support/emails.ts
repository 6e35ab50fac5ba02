// The email to the platform's security contact when an incident is reported. Email leaves our
// boundary, so it carries what the contact needs to act (the reference, the category, when it was
// noticed and reported) and a link to the operator console, where the description is read after
// signing in; never the description, the reporter or the practice.
import type { MailMessage } from "../platform/mail.ts";
import { categoryLabel } from "./forms.ts";

export function incidentReportedEmail(to: string, input: { reference: string; category: string; noticedAt: Date; reportedAt: Date; link: string }): MailMessage {
  return {
    to,
    subject: `Incident report ${input.reference}: ${categoryLabel(input.category)}`,
    text: [
      `A security or privacy incident was reported on PatientLetterHub: ${input.reference}.`,
      "",
      `Category: ${categoryLabel(input.category)}`,
      `Noticed: ${input.noticedAt.toISOString().slice(0, 16).replace("T", " ")} UTC`,
      `Reported: ${input.reportedAt.toISOString().slice(0, 16).replace("T", " ")} UTC`,
      "",
      "Read the report, with what happened and who reported it, in the operator console (sign-in required):",
      input.link,
      "",
      "This email never contains the report's description: it may hold patient information.",
    ].join("\n"),
  };
}
