// The background work that runs on a schedule, in every app process (pg-boss sends each tick once
// across instances, and each task runs at most once at a time).
import type { Config } from "./config.ts";
import { writeCheckpoints } from "./audit/checkpoint.ts";
import { ensureAuditPartitions } from "./audit/partitions.ts";
import type { Db } from "./platform/db.ts";
import type { ScheduledTask } from "./platform/queue.ts";

export function scheduledTasks(deps: { config: Config; db: Db }): ScheduledTask[] {
  const { config, db } = deps;
  return [
    { name: "audit-partitions", cron: config.schedules.auditPartitions, run: () => ensureAuditPartitions(db) },
    { name: "audit-checkpoint", cron: config.schedules.auditCheckpoint, run: () => writeCheckpoints(db, config.keys.hmac) },
  ];
}
