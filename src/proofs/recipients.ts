// The recipient list: parsed as a stream (UTF-8 with or without BOM, CRLF or LF, quoted fields),
// headers matched case-insensitively with common aliases, every row checked for what a mailing
// needs. Reports name rows and reasons, never the values (they are PHI).
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { parse } from "csv-parse";
import { USPS_STATE_CODES, zipMatchesState } from "./zip-prefixes.ts";

export const REQUIRED_FIELDS = ["first_name", "last_name", "address1", "city", "state", "zip"] as const;
/** The recipient columns every list has, in address order (address2 may be empty). */
export const STANDARD_FIELDS = ["first_name", "last_name", "address1", "address2", "city", "state", "zip"] as const;
export type StandardField = (typeof STANDARD_FIELDS)[number];

/** The longest line that fits the 4-inch recipient window at 10 pt (checked exactly again at layout). */
export const MAX_LINE = 40;
export const DEFAULT_MAX_ROWS = 100_000;

const ALIASES: Record<string, StandardField> = {
  firstname: "first_name", first: "first_name", fname: "first_name", givenname: "first_name", patientfirstname: "first_name",
  lastname: "last_name", last: "last_name", lname: "last_name", surname: "last_name", familyname: "last_name", patientlastname: "last_name",
  address1: "address1", address: "address1", addressline1: "address1", street: "address1", streetaddress: "address1", mailingaddress: "address1", add1: "address1",
  address2: "address2", addressline2: "address2", apt: "address2", suite: "address2", unit: "address2", aptsuite: "address2", add2: "address2",
  city: "city", town: "city",
  state: "state", st: "state", statecode: "state",
  zip: "zip", zipcode: "zip", postalcode: "zip", postcode: "zip", zip5: "zip", zipplus4: "zip", zip4: "zip",
};

/** A header cell as a merge-field name: "Appointment Date" → appointment_date (null when nothing usable is left). */
export function fieldName(header: string): string | null {
  const name = header.trim().toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "").slice(0, 40);
  return /^[a-z][a-z0-9_]*$/.test(name) ? name : null;
}

function standardField(header: string): StandardField | undefined {
  return ALIASES[header.toLowerCase().replace(/[^a-z0-9]/g, "")];
}

export type Recipient = { seq: number; row: number; fields: Record<string, string> };
export type RowProblem = { row: number; reasons: string[] };

export type RecipientReport =
  | { ok: false; fatal: string }
  | {
      ok: true;
      /** Merge fields available to the letter: the standard ones and the list's extra columns. */
      fields: string[];
      rows: number;
      valid: number;
      invalid: number;
      duplicates: number;
      /** The first problems (at most `maxProblems`), by row number in the file (header = row 1). */
      problems: RowProblem[];
    };

export class RecipientListError extends Error {}

function checkRow(f: Record<string, string>): string[] {
  const reasons: string[] = [];
  for (const field of REQUIRED_FIELDS) if (!f[field]) reasons.push(`${field} is empty`);
  if (f.state && !USPS_STATE_CODES.has(f.state)) reasons.push("state is not a US state or territory code");
  if (f.zip && !/^\d{5}(-\d{4})?$/.test(f.zip)) reasons.push("zip is not a ZIP or ZIP+4 code");
  else if (f.zip && f.state && USPS_STATE_CODES.has(f.state) && !zipMatchesState(f.zip, f.state)) reasons.push("zip does not belong to the state");
  if (`${f.first_name} ${f.last_name}`.length > MAX_LINE) reasons.push(`name is longer than ${MAX_LINE} characters`);
  if ((f.address1 ?? "").length > MAX_LINE) reasons.push(`address1 is longer than ${MAX_LINE} characters`);
  if ((f.address2 ?? "").length > MAX_LINE) reasons.push(`address2 is longer than ${MAX_LINE} characters`);
  if (`${f.city}, ${f.state} ${f.zip}`.length > MAX_LINE) reasons.push(`city, state and zip are longer than ${MAX_LINE} characters together`);
  return reasons;
}

const RUNS_OF_SPACE = /\s{2,}|[\t\n\r\f\v]/;

/** A cell as printed: trimmed, inner runs of white space (line breaks included) made one space. */
function clean(value: string): string {
  const trimmed = value.trim();
  return RUNS_OF_SPACE.test(trimmed) ? trimmed.replace(/\s+/g, " ") : trimmed;
}

/** Turns a byte stream into text, refusing anything that is not UTF-8 (or holds NUL bytes). */
async function* utf8Text(source: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let first = true;
  for await (const chunk of source) {
    // Text has no control characters but tab, line feed and carriage return (NUL anywhere).
    const binary = chunk.includes(0) || (first && chunk.subarray(0, 512).some((b) => b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d));
    first = false;
    if (binary) throw new RecipientListError("This is not a CSV file: it contains binary data. Save the list as CSV (UTF-8) and upload it again.");
    try {
      yield decoder.decode(chunk, { stream: true });
    } catch {
      throw new RecipientListError("The file is not UTF-8 text. In your spreadsheet choose “Save as → CSV UTF-8” and upload it again.");
    }
  }
  try {
    yield decoder.decode();
  } catch {
    throw new RecipientListError("The file is not UTF-8 text. In your spreadsheet choose “Save as → CSV UTF-8” and upload it again.");
  }
}

/**
 * Reads the list and yields each row, valid or not, with its problems, in file order (pulled: the
 * source is read only as fast as rows are taken). Throws
 * RecipientListError for a list that cannot be read at all (not CSV, not UTF-8, missing columns,
 * too many rows).
 */
export async function* recipientRows(
  source: AsyncIterable<Uint8Array>,
  options: { maxRows?: number; onFields?: (fields: string[]) => void } = {},
): AsyncGenerator<{ recipient: Recipient; problems: string[] }> {
  const maxRows = options.maxRows ?? DEFAULT_MAX_ROWS;
  const parser = parse({ bom: true, skip_empty_lines: true, relax_column_count: true, trim: false });
  // The bytes flow into the parser with backpressure; an early refusal below destroys the parser,
  // which ends the pipeline and stops reading the source.
  const feeding = pipeline(Readable.from(utf8Text(source)), parser).catch((error: unknown) => error);
  let columns: (string | undefined)[] | null = null;
  let fields: string[] = [];
  // Same person at the same address (lower-cased): the first row it appeared on. A few MB at most
  // for the largest list allowed, freed when the read ends.
  const seen = new Map<string, number>();
  let row = 1;
  let seq = 0;
  try {
    for await (const record of parser as AsyncIterable<string[]>) {
      if (!columns) {
        columns = record.map((h) => standardField(h) ?? fieldName(h) ?? undefined);
        const missing = REQUIRED_FIELDS.filter((f) => !columns!.includes(f));
        if (missing.length) {
          throw new RecipientListError(`The list has no column for ${missing.join(", ")}. The first row must name the columns, e.g. first_name, last_name, address1, address2, city, state, zip.`);
        }
        const seen = new Set<string>();
        for (const c of columns) {
          if (c && seen.has(c)) throw new RecipientListError(`Two columns mean the same thing (${c}). Keep one and upload the list again.`);
          if (c) seen.add(c);
        }
        fields = [...new Set([...STANDARD_FIELDS, ...(columns.filter(Boolean) as string[])])];
        options.onFields?.(fields);
        continue;
      }
      row++;
      if (++seq > maxRows) throw new RecipientListError(`The list has more than ${maxRows.toLocaleString("en-US")} recipients, the most one job can mail. Split it into several jobs.`);
      const f: Record<string, string> = { address2: "" };
      for (let i = 0; i < columns.length; i++) if (columns[i]) f[columns[i]!] = clean(record[i] ?? "");
      f.state = f.state!.toUpperCase();
      const problems = checkRow(f);
      if (record.length !== columns.length) problems.push(`has ${record.length} cells where the header has ${columns.length}`);
      // The same person at the same address twice is flagged (and so not mailed twice).
      const key = duplicateKey(f);
      const first = seen.get(key);
      if (first === undefined) seen.set(key, row);
      else problems.push(`duplicates row ${first}`);
      yield { recipient: { seq, row, fields: f }, problems };
    }
  } catch (error) {
    if (error instanceof RecipientListError) throw error;
    const message = error instanceof Error ? error.message : String(error);
    // csv-parse names the line of a broken quote; its messages carry no cell values.
    if ((error as { code?: string }).code?.startsWith("CSV_")) throw new RecipientListError(`The file is not valid CSV: ${message.replace(/:.*$/, "")}.`);
    throw error;
  } finally {
    if (!parser.readableEnded) parser.destroy();
    const failed = await feeding;
    // The source's own failure (not UTF-8, binary) is the reason, not the parser's being cut off.
    if (failed instanceof RecipientListError) throw failed;
  }
  if (!columns) throw new RecipientListError("The file is empty. Upload a CSV whose first row names the columns.");
}

/** The same rows through a callback; resolves with the list's merge fields. */
export async function readRecipients(
  source: AsyncIterable<Uint8Array>,
  onRecipient: (recipient: Recipient, problems: string[]) => void | Promise<void>,
  options: { maxRows?: number } = {},
): Promise<{ fields: string[] }> {
  let fields: string[] = [];
  for await (const { recipient, problems } of recipientRows(source, { ...options, onFields: (f) => { fields = f; } })) await onRecipient(recipient, problems);
  return { fields };
}

/** The identity used to flag duplicates: same person at the same address. */
function duplicateKey(f: Record<string, string>): string {
  return [f.first_name, f.last_name, f.address1, f.address2, (f.zip ?? "").slice(0, 5)].map((v) => (v ?? "").toLowerCase()).join("\u0000");
}

/** Validates a whole list in one pass: memory grows only by one short hash per row (duplicates). */
export async function validateRecipients(source: AsyncIterable<Uint8Array>, options: { maxRows?: number; maxProblems?: number } = {}): Promise<RecipientReport> {
  const maxProblems = options.maxProblems ?? 500;
  const problems: RowProblem[] = [];
  let rows = 0;
  let invalid = 0;
  let duplicates = 0;
  try {
    const { fields } = await readRecipients(source, ({ row }, reasons) => {
      rows++;
      if (reasons.some((r) => r.startsWith("duplicates row"))) duplicates++;
      if (reasons.length) {
        invalid++;
        if (problems.length < maxProblems) problems.push({ row, reasons });
      }
    }, options);
    return { ok: true, fields, rows, valid: rows - invalid, invalid, duplicates, problems };
  } catch (error) {
    if (error instanceof RecipientListError) return { ok: false, fatal: error.message };
    throw error;
  }
}
