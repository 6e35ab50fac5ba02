// Sweep `pending-uploads`: an upload whose URL expired (plus a grace minute) and was never verified
// will never be; its blob (whatever arrived, possibly PHI) is deleted and the file row is marked
// rejected. Practices are found by a SECURITY DEFINER function that returns ids only; the work
// itself runs inside each practice's tenant context, audited in that practice's chain.
import { sql } from "kysely";
import { recordAudit } from "../audit/record.ts";
import type { BlobStore } from "../platform/blob.ts";
import { type Db, withTenant } from "../platform/db.ts";
import { recordedSweep, type SweepOptions, type SweepResult } from "./runs.ts";

const ACTOR = "system:pending-uploads" as const;
export const UPLOAD_GRACE_MS = 60_000;
export const EXPIRED_UPLOAD_REASON = "upload URL expired unverified";

export function sweepPendingUploads(deps: { db: Db; blob: BlobStore }, options: SweepOptions): Promise<SweepResult> {
  const { db, blob } = deps;
  return recordedSweep(db, "pending-uploads", options, async (cutoff, dryRun) => {
    const expiredBefore = new Date(cutoff.getTime() - UPLOAD_GRACE_MS);
    const { rows } = await sql<{ practice_id: string }>`
      SELECT retention_expired_upload_practices AS practice_id FROM retention_expired_upload_practices(${expiredBefore})`.execute(db);
    let practices = 0;
    let files = 0;
    for (const { practice_id: practiceId } of rows) {
      let inPractice = 0;
      if (dryRun) {
        inPractice = await withTenant(db, { practiceId, actor: ACTOR }, async (tx) => {
          const row = await tx.selectFrom("job_files").select((eb) => eb.fn.countAll<string>().as("n"))
            .where("status", "=", "pending").where("upload_expires_at", "<", expiredBefore).executeTakeFirstOrThrow();
          return Number(row.n);
        });
      } else {
        for (;;) {
          const done = await withTenant(db, { practiceId, actor: ACTOR }, async (tx) => {
            // Locked, skipping a file whose verification holds it right now (it decides that file).
            const batch = await tx.selectFrom("job_files").select(["id", "job_id", "blob_name", "blob_lease_id"])
              .where("status", "=", "pending").where("upload_expires_at", "<", expiredBefore)
              .orderBy("upload_expires_at").limit(options.batchSize).forUpdate().skipLocked().execute();
            if (batch.length === 0) return 0;
            // The blob goes first: should storage fail, the transaction rolls back and the next run
            // tries again (removing a blob that is already gone is not an error).
            for (const file of batch) await blob.remove(file.blob_name, file.blob_lease_id ? { leaseId: file.blob_lease_id } : {});
            await tx.updateTable("job_files").set({ status: "rejected", rejected_reason: EXPIRED_UPLOAD_REASON, updated_at: sql`now()` })
              .where("id", "in", batch.map((f) => f.id)).where("status", "=", "pending").execute();
            await recordAudit(tx, {
              practiceId, actor: { type: "system", id: ACTOR }, action: "retention.swept",
              details: { sweep: "pending-uploads", cutoff: cutoff.toISOString(), files: batch.length },
            });
            return batch.length;
          });
          inPractice += done;
          if (done < options.batchSize) break;
        }
      }
      if (inPractice > 0) practices++;
      files += inPractice;
    }
    return { practices, files };
  });
}
