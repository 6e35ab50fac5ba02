// The audit trail as CSV, streamed: rows come from a database cursor in small batches, PostgreSQL
// having written every cell as text, and each batch leaves as one chunk as soon as the client has
// taken the previous ones (backpressure), so memory stays flat however long the trail is. The
// cells are written here rather than by csv-stringify (ADR 0019), from the bytes PostgreSQL sent,
// never decoded into strings (ADR 0022).
import type { Db } from "../platform/db.ts";
import { type RawRow, readRawRows } from "../platform/raw-rows.ts";
import type { AuditFilters } from "./filters.ts";
import { type ExportRow, exportQuery } from "./repo.ts";

// The CSV's columns, in the order of exportQuery's select (rows arrive as arrays). Times, sequence
// numbers, ids, codes and hashes are written by us in fixed shapes; only the `outside` columns can
// hold text that came from outside (names, user agents, targets, details), so only they are
// neutralised.
const COLUMNS = [
  { name: "occurred_at_utc", outside: false, utcTime: true }, { name: "chain_seq", outside: false }, { name: "actor_type", outside: false },
  { name: "actor_id", outside: false }, { name: "actor_name", outside: true }, { name: "actor_role", outside: false },
  { name: "ip", outside: true }, { name: "user_agent", outside: true }, { name: "request_id", outside: true },
  { name: "action", outside: false }, { name: "target_type", outside: true }, { name: "target_id", outside: true },
  { name: "outcome", outside: false }, { name: "details", outside: true }, { name: "prev_hash", outside: false }, { name: "hash", outside: false },
] as const satisfies readonly { name: keyof ExportRow; outside: boolean; utcTime?: true }[];

export const CSV_COLUMNS = COLUMNS.map((column) => column.name);

/**
 * Spreadsheets run a cell that starts with = + - @ (or tab / carriage return) as a formula; such a
 * cell gets a leading apostrophe so it opens as text (OWASP CSV injection). Full-width ＝＋－＠ too:
 * some spreadsheets read them as their ASCII twins.
 */
export const FORMULA_STARTS = ["=", "+", "-", "@", "\t", "\r", "\uFF1D", "\uFF0B", "\uFF0D", "\uFF20"] as const;

const FORMULA_PREFIXES = FORMULA_STARTS.map((start) => Buffer.from(start));
const FORMULA_FIRST_BYTES = new Set(FORMULA_PREFIXES.map((prefix) => prefix[0]!));

function startsAsFormula(cell: Uint8Array): boolean {
  if (!FORMULA_FIRST_BYTES.has(cell[0]!)) return false;
  return FORMULA_PREFIXES.some((prefix) => prefix.every((byte, i) => cell[i] === byte));
}

const QUOTE = 0x22;
const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;
const APOSTROPHE = 0x27;

function needsQuotes(cell: Uint8Array): boolean {
  for (let i = 0; i < cell.length; i++) {
    const byte = cell[i];
    if (byte === QUOTE || byte === COMMA || byte === LF || byte === CR) return true;
  }
  return false;
}

const UTC_TIME_COLUMN = COLUMNS.findIndex((column) => "utcTime" in column);
const ZERO = 0x30;
// PostgreSQL writes a timestamp as YYYY-MM-DD HH:MM:SS, then a fraction of up to six digits with
// trailing zeros left off (none at all on a whole second).

/**
 * A UTC timestamp as Date.prototype.toISOString() writes it: YYYY-MM-DDTHH:MM:SS.mmmZ, the fraction
 * cut (not rounded) to milliseconds. Anything else is a bug upstream: stop rather than write a
 * time that means something else.
 */
function writeIsoTime(out: Uint8Array, at: number, cell: Uint8Array): number {
  const shaped = cell.length >= 19 && cell.length <= 26 && cell[4] === 0x2d && cell[7] === 0x2d && cell[10] === 0x20 &&
    cell[13] === 0x3a && cell[16] === 0x3a && (cell.length === 19 || (cell[19] === 0x2e && cell.length > 20));
  if (!shaped) {
    throw new Error(`unexpected timestamp text from PostgreSQL: ${new TextDecoder().decode(cell)}`);
  }
  out.set(cell.subarray(0, 19), at);
  out[at + 10] = 0x54; // T
  out[at + 19] = 0x2e; // .
  for (let k = 0; k < 3; k++) out[at + 20 + k] = 20 + k < cell.length ? cell[20 + k]! : ZERO;
  out[at + 23] = 0x5a; // Z
  return at + 24;
}

// Reused for every batch (writing is synchronous), grown when a batch needs more.
let scratch = new Uint8Array(64 * 1024);

/**
 * Rows as CSV lines, RFC 4180 as csv-stringify writes them: a cell holding a quote, comma, CR or LF
 * is quoted, with inner quotes doubled; NULL is an empty cell; an `outside` cell that starts like a
 * formula gets its apostrophe first. UTF-8 passes through untouched: every byte we look for is ASCII,
 * and no byte of a multi-byte character is.
 */
function csvLines(rows: RawRow[]): Uint8Array {
  let bound = 0; // every cell quoted, every byte doubled, an apostrophe and a separator each
  for (const row of rows) for (const cell of row) bound += (cell ? cell.length * 2 : 0) + 4;
  if (bound > scratch.length) scratch = new Uint8Array(Math.max(bound, scratch.length * 2));
  const out = scratch;
  let at = 0;
  for (const row of rows) {
    for (let i = 0; i < COLUMNS.length; i++) {
      if (i > 0) out[at++] = COMMA;
      const cell = row[i];
      if (!cell || cell.length === 0) continue;
      if (i === UTC_TIME_COLUMN) {
        at = writeIsoTime(out, at, cell);
        continue;
      }
      const formula = COLUMNS[i]!.outside && startsAsFormula(cell);
      if (needsQuotes(cell)) {
        out[at++] = QUOTE;
        if (formula) out[at++] = APOSTROPHE;
        for (let j = 0; j < cell.length; j++) {
          const byte = cell[j]!;
          if (byte === QUOTE) out[at++] = QUOTE;
          out[at++] = byte;
        }
        out[at++] = QUOTE;
      } else {
        if (formula) out[at++] = APOSTROPHE;
        out.set(cell, at);
        at += cell.length;
      }
    }
    out[at++] = LF;
  }
  return out.slice(0, at); // a copy: the scratch is written again for the next batch
}

// Events per cursor fetch, and so per chunk sent (~80 KB). Each batch read is garbage once sent,
// and the runtime's collector, left to itself, lets that garbage pile up for tens of megabytes
// before a full collection; so the export asks for one every COLLECT_EVERY events (a few
// milliseconds each, while PostgreSQL, the slower side, reads on). Measured by `bench audit`
// (ADR 0022): 100-row batches were slower with no lower peak, more frequent collections cost CPU
// and did not lower it either.
const BATCH = 250;
const COLLECT_EVERY = 50_000;

class Cancelled extends Error {}

export function auditCsvStream(db: Db, scope: { practiceId: string; userId: string; timeZone: string }, filters: AuditFilters): ReadableStream<Uint8Array> {
  let wake: (() => void) | null = null;
  let cancelled = false;
  return new ReadableStream<Uint8Array>(
    {
      async start(controller) {
        // One chunk per cursor batch; then wait while the reader is behind, so lines do not pile up.
        const send = async (chunk: Uint8Array) => {
          if (cancelled) throw new Cancelled();
          controller.enqueue(chunk);
          while ((controller.desiredSize ?? 1) <= 0 && !cancelled) await new Promise<void>((resolve) => (wake = resolve));
        };
        try {
          const context = { actor: `user:${scope.userId}`, userId: scope.userId, practiceId: scope.practiceId };
          const query = exportQuery(db, scope.practiceId, filters, scope.timeZone).compile();
          // The header's names are plain words: no quoting needed.
          await send(new TextEncoder().encode(`${CSV_COLUMNS.join(",")}\n`));
          let sinceCollected = 0;
          for await (const rows of readRawRows(db, context, query, BATCH)) {
            await send(csvLines(rows));
            sinceCollected += rows.length;
            if (sinceCollected >= COLLECT_EVERY) {
              Bun.gc(true);
              sinceCollected = 0;
            }
          }
          controller.close();
        } catch (error) {
          // A reader that went away rolled the transaction back above; there is no one to tell.
          if (!(error instanceof Cancelled)) controller.error(error);
        }
      },
      pull() {
        wake?.();
        wake = null;
      },
      // The client went away: stop waiting, so the transaction ends and its connection goes back.
      cancel() {
        cancelled = true;
        wake?.();
        wake = null;
      },
    },
    // Room for about two batches: the next fetch overlaps the socket draining the previous one.
    { highWaterMark: 192 * 1024, size: (chunk) => chunk?.byteLength ?? 0 },
  );
}
