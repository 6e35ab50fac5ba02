// The job wizard's forms: zod checks with messages written for people.
import { z } from "zod";
import { US_STATES } from "../baa/forms.ts";
import type { LetterType, MailClass } from "../platform/schema.ts";

export const LETTER_TYPES: readonly { value: LetterType; label: string }[] = [
  { value: "practice_closure", label: "Practice closure" },
  { value: "provider_departure", label: "Provider departure" },
  { value: "records_transfer", label: "Records transfer" },
  { value: "appointment_recall", label: "Appointment recall" },
  { value: "breach_notification", label: "Breach notification" },
  { value: "other", label: "Other" },
];

export const MAIL_CLASSES: readonly { value: MailClass; label: string; hint: string }[] = [
  { value: "first_class", label: "First-Class Mail", hint: "Delivered in 1–5 business days, forwarded and returned if undeliverable. Required for breach notifications." },
  { value: "marketing", label: "USPS Marketing Mail", hint: "Lower cost, 3–10 business days, not forwarded. Only for non-urgent letters such as recalls." },
];

const text = (label: string, max: number) => z.string({ error: `Enter ${label}` }).trim().min(1, `Enter ${label}`).max(max, `Use at most ${max} characters`);

export const jobDetailsForm = z.object({
  title: text("a title that helps your team find this job (no patient names)", 120),
  letterType: z.enum(LETTER_TYPES.map((t) => t.value) as [LetterType, ...LetterType[]], { error: "Choose the kind of letter" }),
  mailClass: z.enum(MAIL_CLASSES.map((m) => m.value) as [MailClass, ...MailClass[]], { error: "Choose a mail class" }),
  returnName: text("the name on the return address", 100),
  returnLine1: text("the return street address", 100),
  returnLine2: z.string().trim().max(100, "Use at most 100 characters").optional().transform((v) => v || null),
  returnCity: text("the return city", 60),
  returnState: z.string({ error: "Choose a state" }).trim().toUpperCase().refine((v) => (US_STATES as readonly string[]).includes(v), "Choose a state"),
  returnZip: z.string({ error: "Enter a ZIP code like 02139 or 02139-4307" }).trim().regex(/^\d{5}(-\d{4})?$/, "Enter a ZIP code like 02139 or 02139-4307"),
}).refine((v) => v.letterType !== "breach_notification" || v.mailClass === "first_class", {
  path: ["mailClass"], message: "Breach notifications must go First-Class Mail (45 CFR 164.404(d))",
});
export type JobDetailsInput = z.output<typeof jobDetailsForm>;

export const attestationForm = z.object({
  statementVersion: z.string({ error: "Reload the page: the statement you saw is not known" }).max(20),
  confirm: z.literal("yes", { message: "Tick the box to confirm the statement" }),
  initials: z.string({ error: "Type your initials" }).trim().regex(/^[A-Za-z][A-Za-z.'-]{0,5}$/, "Type your initials, 1 to 6 letters, like JQD"),
});
export type AttestationInput = z.output<typeof attestationForm>;

export const cancelForm = z.object({
  reason: text("why the job is cancelled (no patient information)", 500),
});

// ---- the letter step and the dashboard (issue 6) -------------------------------------------------

const letterBody = z.string({ error: "Write the letter" }).transform((v) => v.replace(/\r\n?/g, "\n")).refine((v) => v.trim().length > 0, "Write the letter")
  .refine((v) => v.length <= 10_000, "Use at most 10,000 characters");

export const letterForm = z.object({
  body: letterBody,
  // Printed under the closing: who signs the letter, and their title (issue 7 item 1).
  signerName: text("the name of the person who signs the letter", 100),
  signerTitle: text("the signer's title, like “Medical Director”", 100),
});
export type LetterInput = z.output<typeof letterForm>;

/** The live preview: whatever is typed so far (never stored), cut to the editor's limit. */
export const letterPreviewForm = z.object({
  body: z.string().catch("").transform((v) => v.replace(/\r\n?/g, "\n").slice(0, 10_000)),
  signerName: z.string().catch("").transform((v) => v.trim().slice(0, 100)),
  signerTitle: z.string().catch("").transform((v) => v.trim().slice(0, 100)),
});
export type LetterPreviewInput = z.output<typeof letterPreviewForm>;

const templateName = text("a name for the template that helps your team find it (no patient names)", 80);

/** "Save as practice template": the letter text in the editor, and a name for it. */
export const letterTemplateForm = z.object({ templateName, body: letterBody });
export type LetterTemplateInput = z.output<typeof letterTemplateForm>;

export const renameTemplateForm = z.object({ name: templateName });

const JOB_STATUS_VALUES = ["draft", "submitted", "proof_ready", "changes_requested", "approved", "in_production", "mailed", "completed", "cancelled"] as const;

/** The dashboard's query string: search text, status filter, page (1-based). Bad values fall back to none. */
export const jobListQuery = z.object({
  q: z.string().trim().max(120).optional().catch(undefined).transform((v) => v || undefined),
  status: z.enum(JOB_STATUS_VALUES).optional().catch(undefined),
  page: z.coerce.number().int().min(1).max(10_000).optional().catch(undefined).transform((v) => v ?? 1),
});
export type JobListQuery = z.output<typeof jobListQuery>;
