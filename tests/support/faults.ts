// Private services for the fault tests (tests/faults-*.test.ts). A fault test stops and starts
// PostgreSQL or Azurite, so it never touches the run's shared stack (tests/support/stack.ts): it
// starts its own, on its own ports and data directories, that can be stopped and started again
// with their data kept, and it destroys them in afterAll. Other test files in the same `bun test`
// process keep using the shared services, which nothing here stops.
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "bun:test";
import type { Kysely } from "kysely";
import { verifyAuditChains } from "../../src/audit/verify.ts";
import { createOwnerDb } from "../../src/platform/db.ts";
import {
  APP_ROLE, createDatabaseIfMissing, enableAppLogin, freePort, postgresUrl, type RunningAzurite, type RunningPostgres, startAzurite, startEmbeddedPostgres, withOwnerClient,
} from "../../src/platform/embedded.ts";
import { migrateToLatest } from "../../src/platform/migrator.ts";

export type OwnPostgres = {
  port: number;
  ownerUrl: string;
  appUrl: string;
  /** A fast shutdown (SIGINT): open connections are cut, as in a database restart or failover. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same data. */
  start(): Promise<void>;
  destroy(): Promise<void>;
};

/** A PostgreSQL cluster of the test's own, migrated, with data kept across stop/start. */
export async function startOwnPostgres(): Promise<OwnPostgres> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "plh-fault-pg-"));
  chmodSync(dir, 0o755); // as root, PostgreSQL runs as the "postgres" user, which must enter it
  const port = await freePort();
  const ownerPassword = "fault-owner";
  const launch = () => startEmbeddedPostgres({ dataDir: path.join(dir, "postgres"), port, ownerUser: "plh_owner", ownerPassword, persistent: true });
  let running: RunningPostgres | null = await launch();
  // Like the shared test cluster, skip fsync (a throwaway cluster); a clean shutdown still keeps it all.
  await withOwnerClient(running.ownerUrl("postgres"), async (client) => {
    await client.query("ALTER SYSTEM SET fsync = off");
    await client.query("ALTER SYSTEM SET synchronous_commit = off");
    await client.query("SELECT pg_reload_conf()");
  });
  const database = "plh_fault";
  const ownerUrl = running.ownerUrl(database);
  await createDatabaseIfMissing(running.ownerUrl("postgres"), database);
  const owner = createOwnerDb(ownerUrl, { max: 1 });
  try {
    await migrateToLatest(owner);
  } finally {
    await owner.destroy();
  }
  const appPassword = `fault-app-${crypto.randomUUID()}`;
  await enableAppLogin(ownerUrl, appPassword);
  return {
    port, ownerUrl, appUrl: postgresUrl(APP_ROLE, appPassword, port, database),
    async stop() {
      await running?.stop();
      running = null;
    },
    async start() {
      running ??= await launch();
    },
    async destroy() {
      await running?.stop().catch(() => {});
      running = null;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export type OwnAzurite = { connectionString: string; stop(): Promise<void>; start(): Promise<void>; destroy(): Promise<void> };

/** An Azurite of the test's own that keeps its blobs on disk, so stopping it loses nothing. */
export async function startOwnAzurite(): Promise<OwnAzurite> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "plh-fault-azurite-"));
  const port = await freePort();
  let running: RunningAzurite | null = await startAzurite({ port, dataDir: dir });
  const { connectionString } = running;
  return {
    connectionString,
    async stop() {
      await running?.stop();
      running = null;
    },
    async start() {
      running ??= await startAzurite({ port, dataDir: dir });
    },
    async destroy() {
      await running?.stop().catch(() => {});
      running = null;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Every audit chain of the database recomputes (src/audit/verify.ts): no broken or missing link. */
export async function expectAuditChainsIntact(ownerDb: Kysely<any>): Promise<void> {
  const report = await verifyAuditChains(ownerDb);
  expect(report.breaks).toEqual([]);
  expect(report.events).toBeGreaterThan(0);
}

/** A form post to a running server, as a signed-in browser on our pages sends it. */
export function postForm(origin: string, appOrigin: string, cookie: string, pathname: string, body: Record<string, string>): Promise<Response> {
  return fetch(`${origin}${pathname}`, {
    method: "POST", redirect: "manual", signal: AbortSignal.timeout(15_000),
    headers: { cookie, origin: appOrigin, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(body).toString(),
  });
}
