// The only importer of pg-boss. Its schema is installed and upgraded by the owner role together
// with the migrations (installQueueSchema); the running app, as plh_app, only reads and writes its
// rows, so the app still owns nothing (docs/decisions/0010-pg-boss-schema-owned-by-migrations.md).
import { CompiledQuery, type Kysely, sql } from "kysely";
import { getConstructionPlans, getMigrationPlans, PgBoss } from "pg-boss";
import schemaManifest from "pg-boss/dist/schema.json" with { type: "json" };
import type { Logger } from "./log.ts";

export const QUEUE_SCHEMA = "pgboss";
/** The pg-boss schema version the installed library expects. */
export const QUEUE_SCHEMA_VERSION: number = schemaManifest.version;

/** The installed pg-boss schema version, or null before the first install. */
export async function queueSchemaVersion(db: Kysely<any>): Promise<number | null> {
  const { rows } = await sql<{ exists: boolean }>`SELECT to_regclass(${`${QUEUE_SCHEMA}.version`}) IS NOT NULL AS exists`.execute(db);
  if (!rows[0]?.exists) return null;
  const version = await sql<{ version: number }>`SELECT version FROM ${sql.table(`${QUEUE_SCHEMA}.version`)}`.execute(db);
  return version.rows[0]?.version ?? null;
}

/**
 * Installs or upgrades pg-boss's schema as the owner and grants the app role the row privileges it
 * needs. Idempotent. Returns what it did, for the migration log (null when already current).
 */
export async function installQueueSchema(owner: Kysely<any>): Promise<string | null> {
  const installed = await queueSchemaVersion(owner);
  if (installed !== null && installed >= QUEUE_SCHEMA_VERSION) return null;
  const plans = installed === null ? getConstructionPlans(QUEUE_SCHEMA) : getMigrationPlans(QUEUE_SCHEMA, installed);
  // The plans are multi-statement SQL without parameters: the simple query protocol runs them whole.
  await owner.executeQuery(CompiledQuery.raw(plans, []));
  await owner.executeQuery(
    CompiledQuery.raw(
      `GRANT USAGE ON SCHEMA ${QUEUE_SCHEMA} TO plh_app;
       GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${QUEUE_SCHEMA} TO plh_app;
       GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ${QUEUE_SCHEMA} TO plh_app;
       GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA ${QUEUE_SCHEMA} TO plh_app;`,
      [],
    ),
  );
  return installed === null ? `pg-boss schema v${QUEUE_SCHEMA_VERSION}` : `pg-boss schema v${installed} → v${QUEUE_SCHEMA_VERSION}`;
}

/** A piece of background work run on a cron schedule, at most one run at a time across instances. */
export type ScheduledTask = {
  name: string;
  cron: string;
  run: () => Promise<unknown>;
};

export type Queue = {
  start(): Promise<void>;
  /** Stops taking new work and waits for running handlers to finish (up to timeoutMs). */
  stop(timeoutMs?: number): Promise<void>;
  /** Runs a scheduled task now, through the queue (tests, ops). Resolves with its job id. */
  trigger(name: string): Promise<string | null>;
  readonly boss: PgBoss;
};

export function createQueue(options: { url: string; logger: Logger; tasks: readonly ScheduledTask[]; max?: number }): Queue {
  const boss = new PgBoss({
    connectionString: options.url,
    schema: QUEUE_SCHEMA,
    application_name: "patientletterhub-queue",
    max: options.max ?? 4,
    // The owner installs and upgrades the schema; the app role cannot, and must not try.
    migrate: false,
    createSchema: false,
  });
  boss.on("error", (error) => options.logger.error({ err: error }, "background queue error"));
  return {
    boss,
    async start() {
      await boss.start();
      for (const task of options.tasks) {
        // exclusive: one queued or active job per queue, so a slow run is never doubled by the
        // next tick or by another instance; the cron tick itself is sent once across instances.
        await boss.createQueue(task.name, { policy: "exclusive", retryLimit: 2, retryDelay: 60, retryBackoff: true });
        await boss.schedule(task.name, task.cron, null, { tz: "UTC" });
        await boss.work(task.name, async () => {
          const started = performance.now();
          const result = await task.run();
          options.logger.info({ task: task.name, ms: Math.round(performance.now() - started), result }, "scheduled task finished");
          return result;
        });
      }
    },
    async stop(timeoutMs = 30_000) {
      await boss.stop({ graceful: true, timeout: timeoutMs, close: true });
    },
    trigger(name) {
      return boss.send(name, null);
    },
  };
}
