// Production entry (also what `bun run dev` reloads): config → db → migrations check → background
// queue → HTTP.
// It never starts embedded services: those belong to scripts/dev.ts and the tests.
import { createApp } from "./app.tsx";
import { ConfigError, loadConfig } from "./config.ts";
import { createBlobStore } from "./platform/blob.ts";
import { createDb } from "./platform/db.ts";
import { createLogger } from "./platform/log.ts";
import { createMailer } from "./platform/mail.ts";
import { pendingMigrations } from "./platform/migrator.ts";
import { createQueue } from "./platform/queue.ts";
import { backgroundWork } from "./schedules.ts";

function fail(message: string): never {
  console.error(message);
  process.exit(1);
}

let config;
try {
  config = loadConfig();
} catch (error) {
  if (error instanceof ConfigError) fail(`PatientLetterHub cannot start.\n${error.message}\nSee .env.example for every variable and its default.`);
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

const mailer = createMailer(config.mail);
const queue = createQueue({ url: config.database.url, logger, ...backgroundWork({ config, db, blob, mailer, logger }) });
try {
  await queue.start();
} catch (error) {
  fail(`Cannot start the background queue: ${error instanceof Error ? error.message : String(error)}`);
}

const app = createApp({ config, db, blob, logger, mailer, queue });

let server: ReturnType<typeof Bun.serve>;
try {
  server = Bun.serve({ hostname: config.host, port: config.port, fetch: app.fetch, idleTimeout: 30 });
} catch (error) {
  if ((error as { code?: string }).code === "EADDRINUSE") {
    fail(`Port ${config.port} on ${config.host} is already in use. Set PORT to a free port, e.g. PORT=${config.port + 1}.`);
  }
  throw error;
}
logger.info({ url: config.appOrigin, listening: `${server.hostname}:${server.port}` }, "PatientLetterHub is serving");

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, "shutting down: finishing in-flight requests");
  await server.stop(false); // stop accepting, let in-flight requests finish
  await queue.stop(); // let running background tasks finish
  await db.destroy();
  logger.info("stopped");
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
