// Sweep `abandoned-drafts`: a draft without activity (the job or any of its files changing) for
// RETENTION_DRAFT_DAYS at the cutoff is cancelled by the system, through the lifecycle module
// (moveJobAs, which audits job.status.changed). Its data is then purged on the job-purge rule, the
// same days after this cancellation as any other cancelled job. Practices are found by a SECURITY
// DEFINER function returning ids only; each batch runs in the practice's own tenant context.
import { sql } from "kysely";
import { recordAudit } from "../audit/record.ts";
import { moveJobAs } from "../jobs/service.ts";
import { type Db, withTenant } from "../platform/db.ts";
import { recordedSweep, type SweepOptions, type SweepResult } from "./runs.ts";

const ACTOR = "system:abandoned-drafts" as const;
export const DAY_MS = 86_400_000;
export const ABANDONED_REASON = "Cancelled by PatientLetterHub: no activity on this draft for the retention period.";

export function sweepAbandonedDrafts(deps: { db: Db; days: number }, options: SweepOptions): Promise<SweepResult> {
  const { db, days } = deps;
  return recordedSweep(db, "abandoned-drafts", options, async (cutoff, dryRun) => {
    const idleBefore = new Date(cutoff.getTime() - days * DAY_MS);
    const { rows } = await sql<{ practice_id: string }>`
      SELECT p AS practice_id FROM retention_abandoned_draft_practices(${idleBefore}) AS p`.execute(db);
    let practices = 0;
    let jobs = 0;
    for (const { practice_id: practiceId } of rows) {
      let inPractice = 0;
      for (;;) {
        const done = await withTenant(db, { practiceId, actor: ACTOR }, async (tx) => {
          // Locked, skipping a draft someone is saving right now (that save is activity).
          const batch = await tx.selectFrom("jobs as j").selectAll("j")
            .where("j.status", "=", "draft").where("j.updated_at", "<=", idleBefore)
            .where(({ not, exists, selectFrom }) => not(exists(
              selectFrom("job_files as f").select("f.id").whereRef("f.job_id", "=", "j.id").where("f.updated_at", ">", idleBefore))))
            .orderBy("j.updated_at").$if(!dryRun, (q) => q.limit(options.batchSize).forUpdate().skipLocked()).execute();
          if (dryRun || batch.length === 0) return batch.length;
          const who = { lifecycle: { kind: "system" as const }, audit: { type: "system" as const, id: ACTOR } };
          for (const job of batch) {
            await moveJobAs(tx, job, "cancelled", who, { cancelled_at: new Date(), cancel_reason: ABANDONED_REASON }, { reason: "abandoned_draft", idle_days: days });
          }
          await recordAudit(tx, {
            practiceId, actor: { type: "system", id: ACTOR }, action: "retention.swept",
            details: { sweep: "abandoned-drafts", cutoff: cutoff.toISOString(), jobs: batch.length },
          });
          return batch.length;
        });
        inPractice += done;
        if (dryRun || done < options.batchSize) break;
      }
      if (inPractice > 0) practices++;
      jobs += inPractice;
    }
    return { practices, jobs };
  });
}
