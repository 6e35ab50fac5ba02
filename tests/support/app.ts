// Builds the real app against a fresh database and a private container, with the same config
// loader production uses. No part of our own code is replaced.
import type { Kysely } from "kysely";
import { createApp } from "../../src/app.tsx";
import { type Config, loadConfig } from "../../src/config.ts";
import { type BlobStore, createBlobStore } from "../../src/platform/blob.ts";
import { createDb, createOwnerDb, type Db } from "../../src/platform/db.ts";
import { createLogger, type Logger } from "../../src/platform/log.ts";
import { createMailer, type Mailer } from "../../src/platform/mail.ts";
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
  close(): Promise<void>;
};

export async function createTestApp(options: { env?: Record<string, string | undefined>; logger?: Logger } = {}): Promise<TestApp> {
  const database = await freshDatabase();
  const mailDir = mkdtempSync(path.join(os.tmpdir(), "plh-mail-"));
  const config = loadConfig(testEnv({ DATABASE_URL: database.appUrl, MAIL_DIR: mailDir, ...options.env }));
  const db = createDb(config.database.url, { max: 5 });
  const ownerDb = createOwnerDb(database.ownerUrl);
  const blob = createBlobStore(config.blob);
  await blob.ensureContainer();
  const mailer = createMailer(config.mail);
  const app = createApp({ config, db, blob, logger: options.logger ?? createLogger({ level: "silent" }), mailer });
  return {
    app, config, db, ownerDb, blob, mailer, database,
    async close() {
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
