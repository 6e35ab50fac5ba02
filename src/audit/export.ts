// The audit trail as CSV, streamed: rows come from a database cursor in small batches, PostgreSQL
// having written every cell as text, and each batch leaves as one chunk as soon as the client has
// taken the previous ones (backpressure), so memory stays flat however long the trail is. The
// cells are written here rather than by csv-stringify: ADR 0019 has the measurements.
import { type Db, withContext } from "../platform/db.ts";
import type { AuditFilters } from "./filters.ts";
import { type ExportRow, streamEvents } from "./repo.ts";

// The CSV's columns in order. Times, sequence numbers, ids, codes and hashes are written by us in
// fixed shapes; only the `outside` columns can hold text that came from outside (names, user
// agents, targets, details), so only they are neutralised.
const COLUMNS = [
  { name: "occurred_at_utc", outside: false }, { name: "chain_seq", outside: false }, { name: "actor_type", outside: false },
  { name: "actor_id", outside: false }, { name: "actor_name", outside: true }, { name: "actor_role", outside: false },
  { name: "ip", outside: true }, { name: "user_agent", outside: true }, { name: "request_id", outside: true },
  { name: "action", outside: false }, { name: "target_type", outside: true }, { name: "target_id", outside: true },
  { name: "outcome", outside: false }, { name: "details", outside: true }, { name: "prev_hash", outside: false }, { name: "hash", outside: false },
] as const satisfies readonly { name: keyof ExportRow; outside: boolean }[];

export const CSV_COLUMNS = COLUMNS.map((column) => column.name);

/**
 * Spreadsheets run a cell that starts with = + - @ (or tab / carriage return) as a formula; such a
 * cell gets a leading apostrophe so it opens as text (OWASP CSV injection). Full-width ＝＋－＠ too:
 * some spreadsheets read them as their ASCII twins.
 */
export const FORMULA_STARTS = ["=", "+", "-", "@", "\t", "\r", "\uFF1D", "\uFF0B", "\uFF0D", "\uFF20"] as const;

const FORMULA = new Set<string>(FORMULA_STARTS);

export function neutralise(value: string): string {
  return FORMULA.has(value.charAt(0)) ? `'${value}` : value;
}

// RFC 4180 as csv-stringify writes it: a cell holding a quote, comma, CR or LF is quoted, with inner
// quotes doubled; NULL is an empty cell.
const NEEDS_QUOTES = /[",\r\n]/;
function cell(value: string | null): string {
  if (value === null) return "";
  return NEEDS_QUOTES.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** One event as a CSV line. */
function line(row: ExportRow): string {
  let out = "";
  for (let i = 0; i < COLUMNS.length; i++) {
    const { name, outside } = COLUMNS[i]!;
    const value = row[name];
    out += (i ? "," : "") + cell(outside && value !== null ? neutralise(value) : value);
  }
  return `${out}\n`;
}

// Events per cursor fetch, and so per chunk sent (~33 KB). Small on purpose: whatever is alive when
// the garbage collector runs is promoted and stays until a full collection, so the batch in hand
// sets how fast the heap creeps up (bench audit, 200k events: peak RSS +67 MB over idle with
// 250-row batches, +44 MB with 100); one fetch ahead keeps the extra round trips off the clock.
const BATCH = 100;

class Cancelled extends Error {}

export function auditCsvStream(db: Db, scope: { practiceId: string; userId: string; timeZone: string }, filters: AuditFilters): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let wake: (() => void) | null = null;
  let cancelled = false;
  return new ReadableStream<Uint8Array>(
    {
      async start(controller) {
        // One chunk per cursor batch; then wait while the reader is behind, so lines do not pile up.
        const send = async (csv: string) => {
          if (cancelled) throw new Cancelled();
          controller.enqueue(encoder.encode(csv));
          while ((controller.desiredSize ?? 1) <= 0 && !cancelled) await new Promise<void>((resolve) => (wake = resolve));
        };
        try {
          await withContext(db, { actor: `user:${scope.userId}`, userId: scope.userId, practiceId: scope.practiceId }, async (tx) => {
            // The header's names are plain words: no quoting needed.
            await send(`${CSV_COLUMNS.join(",")}\n`);
            for await (const rows of streamEvents(tx, scope.practiceId, filters, scope.timeZone, BATCH)) {
              let csv = "";
              for (const row of rows) csv += line(row);
              await send(csv);
            }
          });
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
