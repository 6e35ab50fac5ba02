// The background work: tasks that run on a schedule (pg-boss sends each tick once across
// instances, and each task runs at most once at a time) and queued work sent by use cases.
import type { Config } from "./config.ts";
import { sendWeeklySummaries } from "./account/weekly-summary.ts";
import { writeCheckpoints } from "./audit/checkpoint.ts";
import { ensureAuditPartitions } from "./audit/partitions.ts";
import type { Db } from "./platform/db.ts";
import type { QueueWorker, ScheduledTask } from "./platform/queue.ts";
import type { BlobStore } from "./platform/blob.ts";
import type { Logger } from "./platform/log.ts";
import type { Mailer } from "./platform/mail.ts";
import { renderPrintFile } from "./proofs/print-file.ts";
import { PROOF_ATTEMPTS, renderProof } from "./proofs/render-proof.ts";
import { RENDER_PRINT_FILE, RENDER_PROOF } from "./proofs/request.ts";
import { sweepAbandonedDrafts } from "./retention/abandoned-drafts.ts";
import { sweepExpiredCredentials } from "./retention/expired-credentials.ts";
import { sweepJobPurge } from "./retention/job-purge.ts";
import { sweepPendingUploads } from "./retention/pending-uploads.ts";
import { BUILD_DATA_EXPORT, buildDataExport, EXPORT_ATTEMPTS, sweepDataRequests } from "./retention/requests.ts";

/** Hourly: exports past their 7 days are purged, deletions that fell due are processed. */

export function scheduledTasks(deps: { config: Config; db: Db; blob: BlobStore; mailer: Mailer; logger: Logger }): ScheduledTask[] {
  const { config, db, blob, mailer, logger } = deps;
  const batchSize = config.retention.batchSize;
  return [
    { name: "audit-partitions", cron: config.schedules.auditPartitions, run: () => ensureAuditPartitions(db) },
    { name: "audit-checkpoint", cron: config.schedules.auditCheckpoint, run: () => writeCheckpoints(db, config.keys.hmac) },
    // Retention sweeps the app role may run (src/retention). Dropping audit partitions past
    // retention needs the owner and runs only from `bun run sweep`, never here.
    { name: "sweep-pending-uploads", cron: config.schedules.pendingUploads, run: () => sweepPendingUploads({ db, blob }, { batchSize }) },
    { name: "sweep-expired-credentials", cron: config.schedules.expiredCredentials, run: () => sweepExpiredCredentials({ db }, { batchSize }) },
    { name: "sweep-data-requests", cron: config.schedules.dataRequests, run: () => sweepDataRequests({ db, blob }, { batchSize }) },
    { name: "sweep-abandoned-drafts", cron: config.schedules.abandonedDrafts, run: () => sweepAbandonedDrafts({ db, days: config.retention.draftDays }, { batchSize }) },
    { name: "sweep-job-purge", cron: config.schedules.jobPurge, run: () => sweepJobPurge({ db, blob, days: config.retention.jobDataDays }, { batchSize }) },
    // The non-essential weekly job summary email; a rerun in the same week sends nothing twice.
    { name: "weekly-summary", cron: config.schedules.weeklySummary, run: () => sendWeeklySummaries({ db, mailer, logger, appOrigin: config.appOrigin }, { batchSize }) },
  ];
}

type BackgroundDeps = { config: Config; db: Db; blob: BlobStore; mailer: Mailer; logger: Logger };

/** Everything a working process runs: the same lists in the server and in `bun run worker`. */
export function backgroundWork(deps: BackgroundDeps) {
  return { tasks: scheduledTasks(deps), workers: queueWorkers(deps) };
}

export function queueWorkers(deps: { config: Config; db: Db; blob: BlobStore; mailer: Mailer; logger: Logger }): QueueWorker<any>[] {
  return [
    // A render that outlives expireInSeconds (a crashed or hung process) is failed and retried.
    { name: RENDER_PROOF, run: (data) => renderProof(deps, data), retryLimit: PROOF_ATTEMPTS - 1, retryDelaySeconds: 5, expireInSeconds: 10 * 60 },
    { name: RENDER_PRINT_FILE, run: (data) => renderPrintFile(deps, data), retryLimit: 3, retryDelaySeconds: 10, expireInSeconds: 60 * 60 },
    // The data export ZIP (src/retention/requests.ts), sent in the request's transaction.
    // Its attempts are counted on the request too: the last failure marks it failed (EXPORT_ATTEMPTS).
    { name: BUILD_DATA_EXPORT, run: (data) => buildDataExport(deps, data), retryLimit: EXPORT_ATTEMPTS - 1, retryDelaySeconds: 30, expireInSeconds: 60 * 60 },
  ];
}
