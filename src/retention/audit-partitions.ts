// Sweep `audit-partitions`: monthly audit partitions wholly older than the retention period (7 years
// by default) are dropped, whole (DROP TABLE: no row deletes, which the trail's triggers refuse).
// Only the schema owner may drop a table, and the app role must never be able to: this sweep takes
// the owner's connection and runs only from `bun run sweep`, never on the app's schedules.
// One partition per transaction (the batch), each audited in the platform chain; the last event of
// each chain in a dropped month is kept in audit_retention_anchors (where that chain now starts).
import { type Kysely, sql } from "kysely";
import { recordAudit } from "../audit/record.ts";
import type { Tx } from "../platform/db.ts";
import { recordedSweep, type SweepOptions, type SweepResult } from "./runs.ts";

const ACTOR = "system:audit-partitions" as const;
const PARTITION_NAME = /^audit_events_y(\d{4})m(\d{2})$/;

/** The start of the oldest month still kept: partitions ending on or before it are dropped. */
export function auditRetentionStart(cutoff: Date, years: number): Date {
  return new Date(Date.UTC(cutoff.getUTCFullYear() - years, cutoff.getUTCMonth(), 1));
}

type Partition = { name: string; month: string; end: Date };

async function partitions(owner: Kysely<any>): Promise<Partition[]> {
  const { rows } = await sql<{ name: string }>`
    SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'audit_events'::regclass ORDER BY c.relname`.execute(owner);
  return rows.flatMap(({ name }) => {
    const m = PARTITION_NAME.exec(name);
    if (!m) return []; // not one of ours (audit_ensure_partitions names them): never touched
    const year = Number(m[1]);
    const month = Number(m[2]);
    return [{ name, month: `${m[1]}-${m[2]}`, end: new Date(Date.UTC(year, month, 1)) }];
  });
}

export function sweepAuditPartitions(deps: { ownerDb: Kysely<any>; years: number }, options: SweepOptions): Promise<SweepResult> {
  const { ownerDb, years } = deps;
  return recordedSweep(ownerDb, "audit-partitions", options, async (cutoff, dryRun) => {
    const keepFrom = auditRetentionStart(cutoff, years);
    const expired = (await partitions(ownerDb)).filter((p) => p.end.getTime() <= keepFrom.getTime());
    let dropped = 0;
    let events = 0;
    for (const partition of expired) {
      const n = await ownerDb.transaction().execute(async (tx) => {
        await sql`SELECT set_config('app.actor', ${ACTOR}, true), set_config('app.practice_id', '', true)`.execute(tx);
        // Locks the partition (and, through it, the parent) against concurrent writers first.
        const { rows } = await sql<{ n: string }>`SELECT count(*)::text AS n FROM ${sql.table(partition.name)}`.execute(tx);
        const count = Number(rows[0]!.n);
        if (dryRun) return count;
        // Where each chain now starts: its last event in the dropped month (audit_retention_anchors).
        await sql`
          INSERT INTO audit_retention_anchors (chain_key, through_seq, through_hash, partition_month)
          SELECT DISTINCT ON (practice_id) coalesce(practice_id::text, 'platform'), chain_seq, hash, ${partition.month}
          FROM ${sql.table(partition.name)} ORDER BY practice_id, chain_seq DESC
          ON CONFLICT (chain_key, partition_month) DO NOTHING`.execute(tx);
        await sql`DROP TABLE ${sql.table(partition.name)}`.execute(tx);
        await recordAudit(tx as unknown as Tx, {
          practiceId: null, actor: { type: "system", id: ACTOR }, action: "retention.swept",
          details: { sweep: "audit-partitions", cutoff: cutoff.toISOString(), partition: partition.month, events: count },
        });
        return count;
      });
      dropped++;
      events += n;
    }
    return { partitions: dropped, events };
  });
}
