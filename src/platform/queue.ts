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

/**
 * Work sent on demand (e.g. render this proof). Jobs carry ids only, never PHI. `stately` with the
 * job's key: one queued and one running per key, so a resend while it waits is a no-op.
 */
export type QueueWorker<T extends object = Record<string, string>> = {
  name: string;
  run: (data: T) => Promise<unknown>;
  /** Attempts after the first, with exponential backoff from retryDelaySeconds. */
  retryLimit?: number;
  retryDelaySeconds?: number;
  /** A run still active after this long is failed and retried (a crashed process, a hung render). */
  expireInSeconds?: number;
  /** How many jobs of this queue one process runs at once. */
  concurrency?: number;
};

/**
 * What services need of the queue: sending work. With `tx`, the job is written in that transaction,
 * so it exists exactly when the change that asked for it commits (no lost or orphaned work).
 */
export type WorkSender = {
  send(name: string, data: Record<string, string>, options: { key: string; tx?: Kysely<any> }): Promise<string | null>;
};

/** pg-boss's database interface over a Kysely transaction. */
function inTransaction(tx: Kysely<any>) {
  return { executeSql: async (text: string, values?: unknown[]) => tx.executeQuery(CompiledQuery.raw(text, (values ?? []) as unknown[])) as Promise<{ rows: any[] }> };
}

export type Queue = WorkSender & {
  start(): Promise<void>;
  /** Stops taking new work and waits for running handlers to finish (up to timeoutMs). */
  stop(timeoutMs?: number): Promise<void>;
  /** Runs a scheduled task now, through the queue (tests, ops). Resolves with its job id. */
  trigger(name: string): Promise<string | null>;
  readonly boss: PgBoss;
};

/**
 * mode "work": this process runs scheduled tasks and queued work (the server, `bun run worker`).
 * mode "send": it only sends work (e.g. a test app); nothing polls, and pg-boss starts on first send.
 */
export function createQueue(options: {
  url: string; logger: Logger; tasks: readonly ScheduledTask[]; workers?: readonly QueueWorker<any>[]; max?: number; mode?: "work" | "send";
  /** QUEUE_HEARTBEAT_SECONDS: how soon the work of a process that died is failed and retried. */
  heartbeatSeconds?: number;
}): Queue {
  const working = (options.mode ?? "work") === "work";
  // A running job's worker refreshes its heartbeat every half of this; a job whose process died
  // (SIGKILL, a lost machine) stops beating and is failed and retried within about 1.5× this,
  // instead of waiting out expireInSeconds (up to an hour for a print file).
  const heartbeatSeconds = options.heartbeatSeconds ?? 30;
  const superviseSeconds = Math.max(1, Math.floor(heartbeatSeconds / 2));
  const boss = new PgBoss({
    connectionString: options.url,
    schema: QUEUE_SCHEMA,
    application_name: "patientletterhub-queue",
    max: options.max ?? 4,
    // The owner installs and upgrades the schema; the app role cannot, and must not try.
    migrate: false,
    createSchema: false,
    ...(working ? { superviseIntervalSeconds: superviseSeconds, monitorIntervalSeconds: superviseSeconds } : { supervise: false, schedule: false }),
  });
  boss.on("error", (error) => options.logger.error({ err: error }, "background queue error"));

  async function define(name: string, queue: Parameters<PgBoss["createQueue"]>[1]) {
    const existing = await boss.getQueue(name);
    if (!existing) await boss.createQueue(name, { ...queue, heartbeatSeconds });
    // Queues made before heartbeats (or with another QUEUE_HEARTBEAT_SECONDS) take the current one.
    else if (existing.heartbeatSeconds !== heartbeatSeconds) await boss.updateQueue(name, { heartbeatSeconds });
  }

  async function startOnce() {
    await boss.start();
    for (const task of options.tasks) {
      // exclusive: one queued or active job per queue, so a slow run is never doubled by the
      // next tick or by another instance; the cron tick itself is sent once across instances.
      await define(task.name, { policy: "exclusive", retryLimit: 2, retryDelay: 60, retryBackoff: true });
    }
    for (const worker of options.workers ?? []) {
      await define(worker.name, {
        policy: "stately", retryLimit: (worker.retryLimit ?? 3), retryDelay: worker.retryDelaySeconds ?? 10, retryBackoff: true,
        expireInSeconds: worker.expireInSeconds ?? 15 * 60,
      });
    }
    if (!working) return;
    for (const task of options.tasks) {
      await boss.schedule(task.name, task.cron, null, { tz: "UTC" });
      await boss.work(task.name, async () => {
        const started = performance.now();
        const result = await task.run();
        options.logger.info({ task: task.name, ms: Math.round(performance.now() - started), result }, "scheduled task finished");
        return result;
      });
    }
    for (const worker of options.workers ?? []) {
      await boss.work(worker.name, { localConcurrency: worker.concurrency ?? 1 }, async ([job]) => {
        try {
          return await worker.run(job!.data);
        } catch (error) {
          // The error's message only (our errors carry no PHI); pg-boss keeps it for the retry.
          options.logger.warn({ queue: worker.name, job: job!.id, err: error }, "queued work failed; pg-boss retries it");
          throw error;
        }
      });
    }
  }

  let started: Promise<void> | null = null;
  const start = () => (started ??= startOnce());
  return {
    boss,
    start,
    async send(name, data, { key, tx }) {
      await start();
      return boss.send(name, data, { singletonKey: key, ...(tx ? { db: inTransaction(tx) } : {}) });
    },
    async stop(timeoutMs = 30_000) {
      if (!started) return;
      await started.catch(() => {});
      await boss.stop({ graceful: true, timeout: timeoutMs, close: true });
    },
    async trigger(name) {
      await start();
      return boss.send(name, null);
    },
  };
}

/** Work waiting or running: pg-boss's states before a job ends (created = waiting, retry = waiting to retry). */
export const QUEUE_DEPTH_STATES = ["created", "retry", "active"] as const;
export type QueueDepth = { queue: string; state: (typeof QUEUE_DEPTH_STATES)[number]; jobs: number };

/**
 * How many jobs each queue holds per state, counted now (for /metrics). Read-only; every queue
 * appears, with 0 when it is empty, so a series does not vanish between scrapes. pg-boss's own
 * counters on its queue table are refreshed only by its monitor, which a send-only process never runs.
 */
export async function queueDepths(db: Kysely<any>): Promise<QueueDepth[]> {
  const { rows } = await sql<{ queue: string; state: QueueDepth["state"]; jobs: string }>`
    SELECT q.name AS queue, s.state::text AS state, count(j.id)::text AS jobs
    FROM ${sql.table(`${QUEUE_SCHEMA}.queue`)} q
    CROSS JOIN unnest(${sql.lit(`{${QUEUE_DEPTH_STATES.join(",")}}`)}::${sql.raw(QUEUE_SCHEMA)}.job_state[]) AS s(state)
    LEFT JOIN ${sql.table(`${QUEUE_SCHEMA}.job`)} j ON j.name = q.name AND j.state = s.state
    GROUP BY q.name, s.state
    ORDER BY q.name, s.state`.execute(db);
  return rows.map((r) => ({ queue: r.queue, state: r.state, jobs: Number(r.jobs) }));
}
