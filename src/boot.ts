// What the server and `bun run worker` both do before their own work: read the config, connect to
// the database (checking it is migrated) and blob storage, and start the background queue. Any
// failure ends the process with a message saying what to do.
import { ConfigError, loadConfig, type Config } from "./config.ts";
import { type BlobStore, createBlobStore } from "./platform/blob.ts";
import { createDb, type Db } from "./platform/db.ts";
import { createLogger, type Logger } from "./platform/log.ts";
import { createMailer, type Mailer } from "./platform/mail.ts";
import { mailAudience } from "./account/preferences.ts";
import { pendingMigrations } from "./platform/migrator.ts";
import { createQueue, type Queue } from "./platform/queue.ts";
import { backgroundWork } from "./schedules.ts";

export function fail(message: string): never {
  console.error(message);
  process.exit(1);
}

export type Booted = { config: Config; logger: Logger; db: Db; blob: BlobStore; mailer: Mailer; queue: Queue; work: ReturnType<typeof backgroundWork> };

export async function boot(who: string): Promise<Booted> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) fail(`${who} cannot start.\n${error.message}\nSee .env.example for every variable and its default.`);
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
  // The mailer honours each person's email preferences (src/account/preferences.ts).
  const mailer = createMailer(config.mail, { audience: mailAudience({ db, config }) });
  const work = backgroundWork({ config, db, blob, mailer, logger });
  const queue = createQueue({ url: config.database.url, logger, heartbeatSeconds: config.queue.heartbeatSeconds, ...work });
  try {
    await queue.start();
  } catch (error) {
    fail(`Cannot start the background queue: ${error instanceof Error ? error.message : String(error)}`);
  }
  return { config, logger, db, blob, mailer, queue, work };
}
