// The services one test run shares: embedded PostgreSQL (throwaway data directory) and Azurite
// (in memory). Started once by the preload; test files reach it through testStack().
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createOwnerDb } from "../../src/platform/db.ts";
import {
  createDatabaseIfMissing, enableAppLogin, freePort, postgresUrl, startAzurite, startEmbeddedPostgres,
  type RunningAzurite, type RunningPostgres, APP_ROLE,
} from "../../src/platform/embedded.ts";
import { migrateToLatest } from "../../src/platform/migrator.ts";

export const TEMPLATE_DB = "plh_template";

export type TestStack = {
  postgres: RunningPostgres;
  azurite: RunningAzurite;
  appPassword: string;
  dataDir: string;
};

const KEY = Symbol.for("patientletterhub.testStack");
type GlobalWithStack = typeof globalThis & { [KEY]?: TestStack };

export async function startTestStack(): Promise<TestStack> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "plh-test-"));
  // As root, PostgreSQL runs as the "postgres" system user, which must be able to enter this folder.
  chmodSync(dataDir, 0o755);
  const [postgres, azurite] = await Promise.all([
    freePort().then((port) =>
      startEmbeddedPostgres({
        dataDir: path.join(dataDir, "postgres"), port, ownerUser: "plh_owner", ownerPassword: "test-owner", persistent: false,
      }),
    ),
    freePort().then((port) => startAzurite({ port })),
  ]);
  await createDatabaseIfMissing(postgres.ownerUrl("postgres"), TEMPLATE_DB);
  const owner = createOwnerDb(postgres.ownerUrl(TEMPLATE_DB), { max: 1 });
  try {
    await migrateToLatest(owner);
  } finally {
    await owner.destroy();
  }
  const appPassword = `test-app-${crypto.randomUUID()}`;
  await enableAppLogin(postgres.ownerUrl(TEMPLATE_DB), appPassword);
  const stack = { postgres, azurite, appPassword, dataDir };
  (globalThis as GlobalWithStack)[KEY] = stack;
  return stack;
}

export async function stopTestStack(): Promise<void> {
  const stack = (globalThis as GlobalWithStack)[KEY];
  if (!stack) return;
  await Promise.allSettled([stack.postgres.stop(), stack.azurite.stop()]);
  rmSync(stack.dataDir, { recursive: true, force: true });
  delete (globalThis as GlobalWithStack)[KEY];
}

export function testStack(): TestStack {
  const stack = (globalThis as GlobalWithStack)[KEY];
  if (!stack) throw new Error("the test stack is not running: tests must run through `bun test` (bunfig.toml preloads it)");
  return stack;
}

let databaseCounter = 0;

/** A fresh database cloned from the migrated template: fast (a file copy), isolated per test file. */
export async function freshDatabase(): Promise<{ name: string; ownerUrl: string; appUrl: string }> {
  const stack = testStack();
  const name = `t_${process.pid}_${++databaseCounter}_${Math.random().toString(36).slice(2, 8)}`;
  await createDatabaseIfMissing(stack.postgres.ownerUrl("postgres"), name, TEMPLATE_DB);
  return {
    name,
    ownerUrl: stack.postgres.ownerUrl(name),
    appUrl: postgresUrl(APP_ROLE, stack.appPassword, stack.postgres.port, name),
  };
}
