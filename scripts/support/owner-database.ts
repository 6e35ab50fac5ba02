// The owner connection for maintenance scripts: DATABASE_OWNER_URL when set; otherwise the dev
// database, using the running `bun run dev` stack or, when it is not running, starting its
// embedded PostgreSQL just for the duration of the script.
import { existsSync, readFileSync } from "node:fs";
import type { Kysely } from "kysely";
import pg from "pg";
import { createOwnerDb } from "../../src/platform/db.ts";
import { loadDevSettings, loadOwnerDatabaseUrl } from "../../src/config.ts";
import { createDatabaseIfMissing } from "../../src/platform/embedded.ts";
import { DEV_DATABASE, devPaths, loadOrCreateDevSecrets, startDevPostgres } from "./dev-stack.ts";

export async function withOwnerKysely<T>(url: string, fn: (db: Kysely<any>) => Promise<T>): Promise<T> {
  const db = createOwnerDb(url);
  try {
    return await fn(db);
  } finally {
    await db.destroy();
  }
}

async function reachable(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** Runs fn with an owner Kysely; says which database it used. */
export async function withOwnerDatabase<T>(fn: (db: Kysely<any>, label: string) => Promise<T>): Promise<T> {
  const explicit = loadOwnerDatabaseUrl();
  if (explicit) return withOwnerKysely(explicit, (db) => fn(db, "DATABASE_OWNER_URL"));

  const { dataDir } = loadDevSettings();
  const paths = devPaths(dataDir);
  if (existsSync(paths.devJson)) {
    const { postgres } = JSON.parse(readFileSync(paths.devJson, "utf8")) as { postgres: string };
    if (await reachable(postgres)) return withOwnerKysely(postgres, (db) => fn(db, "the running dev database"));
  }
  const server = await startDevPostgres(dataDir, loadOrCreateDevSecrets(dataDir));
  try {
    await createDatabaseIfMissing(server.ownerUrl("postgres"), DEV_DATABASE);
    return await withOwnerKysely(server.ownerUrl(DEV_DATABASE), (db) => fn(db, `the dev database in ${paths.postgres}`));
  } finally {
    await server.stop();
  }
}
