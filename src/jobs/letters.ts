// The letter of a job: starter bodies per letter type, and merge fields written {{first_name}}.
// Pure functions: the service decides which fields a job allows and stores the body encrypted.
import type { LetterType } from "../platform/schema.ts";
import { fieldName, STANDARD_FIELDS, type StandardField } from "../proofs/recipients.ts";

export { STANDARD_FIELDS };

export const LETTER_MAX = 10_000;

/** The fields a letter may use: the standard set, then any extra CSV columns, without repeats. */
export function allowedFields(extra: readonly string[] = []): string[] {
  const names = [...STANDARD_FIELDS, ...extra.map(fieldName).filter((n): n is string => n !== null)];
  return [...new Set(names)];
}

const TOKEN = /\{\{\s*([^{}]*?)\s*\}\}/g;

export type LetterCheck = { fields: string[]; unknown: string[]; malformed: boolean };

/** The merge fields a body uses (in order of first use), the ones not allowed, and stray braces. */
export function checkLetter(body: string, allowed: readonly string[]): LetterCheck {
  const fields: string[] = [];
  const unknown: string[] = [];
  for (const match of body.matchAll(TOKEN)) {
    const name = match[1]!;
    const list = allowed.includes(name) ? fields : unknown;
    if (!list.includes(name)) list.push(name);
  }
  const rest = body.replace(TOKEN, "");
  return { fields, unknown, malformed: rest.includes("{{") || rest.includes("}}") };
}

/** What is wrong with a body, in words for the field's error message (null when it is fine). */
export function letterProblem(check: LetterCheck, allowed: readonly string[]): string | null {
  if (check.unknown.length) {
    const names = check.unknown.map((n) => `{{${n}}}`).join(", ");
    return `${check.unknown.length === 1 ? "This field is" : "These fields are"} not in your recipient list: ${names}. Use only ${allowed.map((n) => `{{${n}}}`).join(", ")}.`;
  }
  if (check.malformed) return "A merge field is not closed: write fields as {{first_name}}, with two braces on each side.";
  return null;
}

// The closing ("Sincerely,") and the signer's name and title are printed by the signature block
// under the body (src/proofs/layout.ts), so the starters end with the last paragraph.

const STARTERS: Record<LetterType, string> = {
  practice_closure: `Dear {{first_name}} {{last_name}},

We are writing to let you know that {{practice}} will close on [closing date]. It has been a privilege to care for you, and we want to make sure your care continues without interruption.

Please choose a new primary care provider before that date. Your medical records will remain available: after the closing, copies can be requested from [records custodian and contact details] for at least [number] years.

If you would like your records sent directly to your new provider, please complete the enclosed authorization form and return it to us, or call our office at [phone number].

Thank you for the trust you have placed in us.`,
  provider_departure: `Dear {{first_name}} {{last_name}},

We want to let you know that [provider name] will be leaving {{practice}} on [last day].

You are welcome to continue your care with us. Our other providers, [names], are accepting patients, and our staff can help you schedule your next visit. If you prefer to follow [provider name] or choose another provider, we will transfer a copy of your records at your request.

Please call our office at [phone number] with any questions.`,
  records_transfer: `Dear {{first_name}} {{last_name}},

Your medical records held by {{practice}} are being transferred to [new custodian] on [date]. After that date, please send requests for copies of your records to:

[custodian name]
[address]
[phone number]

You do not need to do anything for the transfer to take place. If you would rather have a copy of your records sent to you or to another provider before then, please contact our office at [phone number].`,
  appointment_recall: `Dear {{first_name}},

Our records show that you are due for a [type of visit] at {{practice}}. Regular visits help us keep you healthy and catch problems early.

Please call us at [phone number] or use our patient portal to schedule an appointment at a time that suits you. If you have already scheduled your visit or receive care elsewhere, please disregard this letter.

We look forward to seeing you.`,
  breach_notification: `Dear {{first_name}} {{last_name}},

We are writing to tell you about an incident that may have involved some of your information.

What happened: On [date of discovery], we learned that [brief description of what happened and when].

What information was involved: [the types of information involved, for example name, address, date of birth, insurance information].

What we are doing: [the steps taken to investigate, limit the harm and protect against further incidents].

What you can do: [steps you can take to protect yourself, for example reviewing statements from your health insurer].

For more information: Please call [toll-free number], [hours], or write to us at [address or email]. We sincerely regret any concern this may cause you.`,
  other: `Dear {{first_name}} {{last_name}},

[Write your message here.]

If you have any questions, please call our office at [phone number].`,
};

/** The starter body for a letter type, with the practice's name filled in (no patient data). */
export function starterLetter(type: LetterType, practiceName: string): string {
  return STARTERS[type].replaceAll("{{practice}}", practiceName);
}

// ---- the live preview (issue 7 item 1) -----------------------------------------------------------

/**
 * The made-up recipient every preview uses. Fixed, fictional values: a preview never reads the
 * recipient list (that would pull PHI through the web tier), so it cannot show a real row.
 */
export const SAMPLE_RECIPIENT: Readonly<Record<StandardField, string>> = {
  first_name: "Jordan", last_name: "Sample", address1: "100 Example Street", address2: "Apt 1", city: "Springfield", state: "IL", zip: "62701",
};

/** The sample record for a job's fields: the fixed values above, and "Sample <field>" for each extra column. */
export function sampleRecord(fields: readonly string[]): Record<string, string> {
  const record: Record<string, string> = {};
  for (const name of fields) record[name] = (SAMPLE_RECIPIENT as Record<string, string>)[name] ?? `Sample ${name}`;
  return record;
}

/** A piece of a previewed paragraph: plain text, a filled merge field, or a field the letter may not use. */
export type PreviewPiece = { kind: "text"; text: string } | { kind: "field"; name: string; value: string } | { kind: "unknown"; name: string };

export type LetterPreview = {
  /** The sample recipient's address block, as the envelope window shows it. */
  recipient: string[];
  /** Paragraphs (split on blank lines, as the printed letter is), each as pieces. */
  paragraphs: PreviewPiece[][];
  check: LetterCheck;
  /** What is wrong, in words (unknown fields named), or null. */
  problem: string | null;
};

/** The body as it prints for the made-up sample recipient; pure (nothing stored, nothing read). */
export function previewLetter(body: string, allowed: readonly string[]): LetterPreview {
  const sample = sampleRecord(allowed);
  const check = checkLetter(body, allowed);
  const paragraphs = body.replace(/\r\n?/g, "\n").split(/\n[ \t]*\n+/).map((p) => p.trim()).filter(Boolean).map((paragraph) => {
    const pieces: PreviewPiece[] = [];
    let at = 0;
    for (const match of paragraph.matchAll(TOKEN)) {
      if (match.index > at) pieces.push({ kind: "text", text: paragraph.slice(at, match.index) });
      const name = match[1]!;
      pieces.push(allowed.includes(name) ? { kind: "field", name, value: sample[name] ?? "" } : { kind: "unknown", name });
      at = match.index + match[0].length;
    }
    if (at < paragraph.length) pieces.push({ kind: "text", text: paragraph.slice(at) });
    return pieces;
  });
  const recipient = [
    `${sample.first_name ?? SAMPLE_RECIPIENT.first_name} ${sample.last_name ?? SAMPLE_RECIPIENT.last_name}`,
    SAMPLE_RECIPIENT.address1, SAMPLE_RECIPIENT.address2,
    `${SAMPLE_RECIPIENT.city}, ${SAMPLE_RECIPIENT.state} ${SAMPLE_RECIPIENT.zip}`,
  ];
  return { recipient, paragraphs, check, problem: letterProblem(check, allowed) };
}
