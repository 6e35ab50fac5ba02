// The audit trail as CSV, streamed: rows come from a database cursor in batches and leave as soon
// as the client reads them (backpressure), so memory stays flat however long the trail is.
import { stringify } from "csv-stringify/sync";
import { type Db, withContext } from "../platform/db.ts";
import type { AuditFilters } from "./filters.ts";
import { type ExportRow, streamEvents } from "./repo.ts";

export const CSV_COLUMNS = [
  "occurred_at_utc", "chain_seq", "actor_type", "actor_id", "actor_name", "actor_role", "ip", "user_agent", "request_id",
  "action", "target_type", "target_id", "outcome", "details", "prev_hash", "hash",
] as const;

// Rows per cursor fetch, and so per CSV chunk (~300 KB): few round trips and few, large writes.
const BATCH = 1_000;

/**
 * Spreadsheets run a cell that starts with = + - @ (or tab / carriage return) as a formula; such a
 * cell gets a leading apostrophe so it opens as text (OWASP CSV injection).
 */
export function neutralise(value: string): string {
  // Full-width ＝＋－＠ too: some spreadsheets read them as their ASCII twins.
  return /^[=+\-@\t\r\uFF1D\uFF0B\uFF0D\uFF20]/.test(value) ? `'${value}` : value;
}

const cell = (value: string | null) => (value === null ? "" : neutralise(value));

// PostgreSQL already wrote every cell as text (repo.ts exportQuery). Times, sequence numbers, ids,
// codes and hashes are written by us in fixed shapes; only the other columns can hold text that
// came from outside (names, user agents, targets, details), so only they are neutralised.
function toRecord(row: ExportRow): (string | null)[] {
  return [
    row.occurred_at_utc, row.chain_seq, row.actor_type, row.actor_id, cell(row.actor_name), row.actor_role, cell(row.ip), cell(row.user_agent),
    cell(row.request_id), row.action, cell(row.target_type), cell(row.target_id), row.outcome, cell(row.details), row.prev_hash, row.hash,
  ];
}

class Cancelled extends Error {}

export function auditCsvStream(db: Db, scope: { practiceId: string; userId: string; timeZone: string }, filters: AuditFilters): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let wake: (() => void) | null = null;
  let cancelled = false;
  return new ReadableStream<Uint8Array>(
    {
      async start(controller) {
        // One chunk per cursor batch; then wait while the reader is behind, so rows do not pile up.
        const send = async (csv: string) => {
          if (cancelled) throw new Cancelled();
          controller.enqueue(encoder.encode(csv));
          while ((controller.desiredSize ?? 1) <= 0 && !cancelled) await new Promise<void>((resolve) => (wake = resolve));
        };
        try {
          await withContext(db, { actor: `user:${scope.userId}`, userId: scope.userId, practiceId: scope.practiceId }, async (tx) => {
            await send(stringify([[...CSV_COLUMNS]]));
            for await (const rows of streamEvents(tx, scope.practiceId, filters, scope.timeZone, BATCH)) await send(stringify(rows.map(toRecord)));
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
    { highWaterMark: 768 * 1024, size: (chunk) => chunk?.byteLength ?? 0 },
  );
}
