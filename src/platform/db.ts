// The only place that creates connection pools. The app connects as plh_app, which owns nothing
// and cannot bypass row-level security; tenant context is set per transaction by withTenant().
import { Kysely, PostgresDialect, sql, type Transaction } from "kysely";
import pg from "pg";
import type { Database } from "./schema.ts";

export type Db = Kysely<Database>;
export type Tx = Transaction<Database>;

// bigint (count(*), chain_seq) stays a string so no precision is lost; timestamptz parses to Date.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => v);

export function createDb(url: string, options: { max?: number; applicationName?: string } = {}): Db {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    application_name: options.applicationName ?? "patientletterhub",
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 5_000,
  });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on("error", () => {});
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

/** Who a transaction acts for: recorded as app.actor so database-side checks can name it. */
export type TenantContext = { practiceId: string; actor: string };

/**
 * Runs fn in a transaction scoped to one practice. RLS policies read app.practice_id, set with
 * is_local = true so it cannot outlive the transaction or leak to the next user of the connection.
 */
export async function withTenant<T>(db: Db, context: TenantContext, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return db.transaction().execute(async (tx) => {
    await sql`SELECT set_config('app.practice_id', ${context.practiceId}, true), set_config('app.actor', ${context.actor}, true)`.execute(tx);
    return fn(tx);
  });
}

/** Runs fn in a transaction with no tenant: only platform-level rows are visible. */
export async function withPlatform<T>(db: Db, actor: string, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return db.transaction().execute(async (tx) => {
    await sql`SELECT set_config('app.actor', ${actor}, true)`.execute(tx);
    return fn(tx);
  });
}

export async function pingDatabase(db: Db): Promise<void> {
  await sql`SELECT 1`.execute(db);
}
