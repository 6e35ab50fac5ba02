// The audit trail as CSV, streamed: rows come from a database cursor in batches and leave as soon
// as the client reads them (backpressure), so memory stays flat however long the trail is.
import { stringify } from "csv-stringify/sync";
import { type Db, withContext } from "../platform/db.ts";
import type { AuditFilters } from "./filters.ts";
import { type AuditRow, streamEvents } from "./repo.ts";

export const CSV_COLUMNS = [
  "occurred_at_utc", "chain_seq", "actor_type", "actor_id", "actor_name", "actor_role", "ip", "user_agent", "request_id",
  "action", "target_type", "target_id", "outcome", "details", "prev_hash", "hash",
] as const;

const BATCH = 500;

/**
 * Spreadsheets run a cell that starts with = + - @ (or tab / carriage return) as a formula; such a
 * cell gets a leading apostrophe so it opens as text (OWASP CSV injection).
 */
export function neutralise(value: string): string {
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

// Times, sequence numbers, ids, codes and hashes are written by us in fixed shapes; only these
// columns can hold text that came from outside (names, user agents, targets, details).
function toRecord(row: AuditRow): string[] {
  return [
    new Date(row.occurred_at).toISOString(), String(row.chain_seq), row.actor_type, row.actor_id ?? "", neutralise(row.actor_name ?? ""),
    row.actor_role ?? "", neutralise(row.ip ?? ""), neutralise(row.user_agent ?? ""), neutralise(row.request_id ?? ""), row.action,
    neutralise(row.target_type ?? ""), neutralise(row.target_id ?? ""), row.outcome, neutralise(JSON.stringify(row.details ?? {})), row.prev_hash, row.hash,
  ];
}

export function auditCsvStream(db: Db, scope: { practiceId: string; userId: string; timeZone: string }, filters: AuditFilters): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let wake: (() => void) | null = null;
  return new ReadableStream<Uint8Array>(
    {
      async start(controller) {
        const send = async (records: string[][], header = false) => {
          controller.enqueue(encoder.encode(stringify(records, { header, columns: header ? [...CSV_COLUMNS] : undefined })));
          // Wait while the reader is behind, so rows are not piled up in memory.
          while ((controller.desiredSize ?? 1) <= 0) await new Promise<void>((resolve) => (wake = resolve));
        };
        try {
          await withContext(db, { actor: `user:${scope.userId}`, userId: scope.userId, practiceId: scope.practiceId }, async (tx) => {
            let batch: string[][] = [];
            await send([], true);
            for await (const row of streamEvents(tx, scope.practiceId, filters, scope.timeZone)) {
              batch.push(toRecord(row));
              if (batch.length >= BATCH) {
                await send(batch);
                batch = [];
              }
            }
            if (batch.length) await send(batch);
          });
          controller.close();
        } catch (error) {
          controller.error(error);
        }
      },
      pull() {
        wake?.();
        wake = null;
      },
    },
    { highWaterMark: 256 * 1024, size: (chunk) => chunk?.byteLength ?? 0 },
  );
}
