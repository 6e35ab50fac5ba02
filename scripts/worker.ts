// `bun run worker`: the background work alone (scheduled tasks and queued workers, the same lists as
// the server: src/schedules.ts backgroundWork), for a deployment that runs it apart from the web
// processes. pg-boss sends each cron tick once across instances, so running it beside servers is safe.
// Stops on SIGTERM/SIGINT after running work finishes (up to 30 s), then exits 0.
import { ConfigError, loadConfig } from "../src/config.ts";
import { createBlobStore } from "../src/platform/blob.ts";
import { createDb } from "../src/platform/db.ts";
import { createLogger } from "../src/platform/log.ts";
import { createMailer } from "../src/platform/mail.ts";
import { pendingMigrations } from "../src/platform/migrator.ts";
import { createQueue } from "../src/platform/queue.ts";
import { backgroundWork } from "../src/schedules.ts";

function fail(message: string): never {
  console.error(message);
  process.exit(1);
}

let config;
try {
  config = loadConfig();
} catch (error) {
  if (error instanceof ConfigError) fail(`The PatientLetterHub worker cannot start.\n${error.message}\nSee .env.example for every variable and its default.`);
  throw error;
}

const logger = createLogger({ level: config.logLevel });
const db = createDb(config.database.url, { max: config.database.poolMax });
const blob = createBlobStore(config.blob);
try {
  const pending = await pendingMigrations(db);
  if (pending.length > 0) fail(`The database has ${pending.length} pending migration(s): ${pending.join(", ")}.\nRun \`bun run migrate\` with DATABASE_OWNER_URL first.`);
} catch (error) {
  fail(`Cannot reach the database: ${error instanceof Error ? error.message : String(error)}`);
}

const work = backgroundWork({ config, db, blob, mailer: createMailer(config.mail), logger });
const queue = createQueue({ url: config.database.url, logger, ...work });
try {
  await queue.start();
} catch (error) {
  fail(`Cannot start the background queue: ${error instanceof Error ? error.message : String(error)}`);
}
logger.info({ tasks: work.tasks.map((t) => `${t.name} (${t.cron})`), queues: work.workers.map((w) => w.name) }, "PatientLetterHub worker is running");

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, "shutting down: finishing running background work");
  await queue.stop();
  await db.destroy();
  logger.info("stopped");
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
