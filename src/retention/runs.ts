// What every retention sweep shares: a fixed cutoff chosen once per run, bounded batches, and a
// sweep_runs row (platform-level) that says what ran, with which cutoff, and what it counted or did.
// Each batch is its own transaction and writes its own `retention.swept` event; the run row holds
// the totals. A failed run keeps its row with the error and no finished_at.
import { type Kysely, sql } from "kysely";

export const SWEEP_NAMES = ["pending-uploads", "expired-credentials", "abandoned-drafts", "job-purge", "data-requests", "audit-partitions"] as const;
export type SweepName = (typeof SWEEP_NAMES)[number];

export type SweepCounts = Record<string, number>;
export type SweepResult = { name: SweepName; cutoff: Date; dryRun: boolean; counts: SweepCounts };

export type SweepOptions = {
  /** The cutoff: what expired before it is swept. Fixed for the whole run. Default: now. */
  now?: Date;
  dryRun?: boolean;
  batchSize: number;
};

/**
 * Runs `body` as one recorded sweep run. `db` is the app's pool, or the owner's for owner sweeps.
 * `runId` is the sweep_runs row, which what the run records may name (certificates of destruction).
 */
export async function recordedSweep(
  db: Kysely<any>, name: SweepName, options: SweepOptions, body: (cutoff: Date, dryRun: boolean, runId: string) => Promise<SweepCounts>,
): Promise<SweepResult> {
  const cutoff = options.now ?? new Date();
  const dryRun = options.dryRun ?? false;
  const { rows } = await sql<{ id: string }>`
    INSERT INTO sweep_runs (name, cutoff, dry_run) VALUES (${name}, ${cutoff}, ${dryRun}) RETURNING id`.execute(db);
  const id = rows[0]!.id;
  try {
    const counts = await body(cutoff, dryRun, id);
    await sql`UPDATE sweep_runs SET counts = ${JSON.stringify(counts)}::jsonb, finished_at = now() WHERE id = ${id}`.execute(db);
    return { name, cutoff, dryRun, counts };
  } catch (error) {
    // The message only (our errors and the database's carry no PHI), cut to the column's limit.
    const message = (error instanceof Error ? error.message : String(error)).slice(0, 500);
    await sql`UPDATE sweep_runs SET error = ${message} WHERE id = ${id}`.execute(db).catch(() => {});
    throw error;
  }
}
