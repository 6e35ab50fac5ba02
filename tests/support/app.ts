// Builds the real app against a fresh database and a private container, with the same config
// loader production uses. No part of our own code is replaced.
import type { Kysely } from "kysely";
import { createApp } from "../../src/app.tsx";
import { type Config, loadConfig } from "../../src/config.ts";
import { type BlobStore, createBlobStore } from "../../src/platform/blob.ts";
import { createDb, createOwnerDb, type Db } from "../../src/platform/db.ts";
import { createLogger, type Logger } from "../../src/platform/log.ts";
import { createMailer, type Mailer } from "../../src/platform/mail.ts";
import { mailAudience } from "../../src/account/preferences.ts";
import { createQueue, type Queue } from "../../src/platform/queue.ts";
import { queueWorkers } from "../../src/schedules.ts";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { freshDatabase, testStack } from "./stack.ts";

export const TEST_ORIGIN = "http://localhost:3000";

export function randomKeyRing(id = "k1"): string {
  return `${id}:${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64")}`;
}

export function testEnv(overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  const stack = testStack();
  return {
    NODE_ENV: "test",
    APP_ORIGIN: TEST_ORIGIN,
    AZURE_STORAGE_CONNECTION_STRING: stack.azurite.connectionString,
    AZURE_STORAGE_CONTAINER: `t-${crypto.randomUUID().slice(0, 18)}`,
    HMAC_KEYS: randomKeyRing(),
    ENCRYPTION_KEYS: randomKeyRing(),
    ...overrides,
  };
}

export type TestApp = {
  app: ReturnType<typeof createApp>;
  config: Config;
  db: Db;
  /** Owner connection (superuser on the embedded cluster): for assertions that must see past RLS. */
  ownerDb: Kysely<any>;
  blob: BlobStore;
  mailer: Mailer;
  database: { name: string; ownerUrl: string; appUrl: string };
  queue: Queue;
  close(): Promise<void>;
};

/**
 * `background: true` runs queued work (proof and print-file renders) in this process, as the server
 * does; otherwise work is only sent (and waits in pg-boss's tables), and pg-boss starts on first send.
 */
export async function createTestApp(options: { env?: Record<string, string | undefined>; logger?: Logger; background?: boolean } = {}): Promise<TestApp> {
  const database = await freshDatabase();
  const mailDir = mkdtempSync(path.join(os.tmpdir(), "plh-mail-"));
  const config = loadConfig(testEnv({ DATABASE_URL: database.appUrl, MAIL_DIR: mailDir, ...options.env }));
  const db = createDb(config.database.url, { max: 5 });
  const ownerDb = createOwnerDb(database.ownerUrl);
  const blob = createBlobStore(config.blob);
  await blob.ensureContainer();
  const mailer = createMailer(config.mail, { audience: mailAudience({ db, config }) });
  const logger = options.logger ?? createLogger({ level: "silent" });
  const queue = createQueue({
    url: database.appUrl, logger, tasks: [], workers: queueWorkers({ config, db, blob, mailer, logger }), mode: options.background ? "work" : "send", max: 2,
  });
  if (options.background) await queue.start();
  const app = createApp({ config, db, blob, logger, mailer, queue });
  return {
    app, config, db, ownerDb, blob, mailer, database, queue,
    async close() {
      await queue.stop(5_000);
      await Promise.allSettled([db.destroy(), ownerDb.destroy(), blob.container.deleteIfExists()]);
      rmSync(mailDir, { recursive: true, force: true });
    },
  };
}

/** A same-origin form post, as a browser on our own pages sends it. */
export function formPost(path: string, body: Record<string, string>, headers: Record<string, string> = {}): Request {
  return new Request(`${TEST_ORIGIN}${path}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", origin: TEST_ORIGIN, ...headers },
    body: new URLSearchParams(body).toString(),
  });
}
