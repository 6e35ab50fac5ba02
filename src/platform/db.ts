// The only place that creates connection pools. The app connects as plh_app, which owns nothing
// and cannot bypass row-level security; tenant context is set per transaction by withTenant().
import { CompiledQuery, Kysely, PostgresDialect, sql, type Transaction } from "kysely";
import { SQL } from "bun";
import pg from "pg";
import type { Database } from "./schema.ts";

export type Db = Kysely<Database>;
export type Tx = Transaction<Database>;

// bigint (count(*), chain_seq) stays a string so no precision is lost; timestamptz parses to Date.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => v);
// A calendar date (e.g. the day a job was mailed) stays "YYYY-MM-DD": a Date would shift it by the
// server's time zone.
pg.types.setTypeParser(pg.types.builtins.DATE, (v) => v);

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
  // Nor one that is checked out (a database restart while a transaction is open): pg-pool does not
  // listen then, and an unheard 'error' ends the process. Its query fails anyway, and the pool
  // discards the broken client when it is released.
  pool.on("connect", (client) => client.on("error", () => {}));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  // Beside the pool, made on first use: Bun's own client, for reads whose cells leave as the bytes
  // PostgreSQL sent (raw-rows.ts, ADR 0022). Kysely's destroy ends the pool, and so this client too.
  let raw: SQL | undefined;
  rawClients.set(db, () => (raw ??= new SQL({
    url, max: RAW_CLIENT_MAX, idleTimeout: 30, connectionTimeout: 5, prepare: false,
    connection: { application_name: `${options.applicationName ?? "patientletterhub"}-raw` },
  })));
  const endPool = pool.end.bind(pool);
  pool.end = (async () => {
    await raw?.close();
    return endPool();
  }) as typeof pool.end;
  return db;
}

// Long reads (an export of years of audit events) hold their connection throughout: a few at once,
// the others wait for one, and the request pool's connections stay free for pages.
const RAW_CLIENT_MAX = 3;
const rawClients = new WeakMap<Db, () => SQL>();

/** The Bun SQL client beside `db`'s pool (the same database, role and settings). */
export function rawClientOf(db: Db): SQL {
  const client = rawClients.get(db);
  if (!client) throw new Error("this database handle was not made by createDb, so it has no raw client");
  return client();
}

/**
 * The owner connection for migrations and maintenance (scripts, tests): untyped, because it also
 * reads tables and functions the app never touches. Never used by the running app.
 */
export function createOwnerDb(url: string, options: { max?: number } = {}): Kysely<any> {
  const pool = new pg.Pool({ connectionString: url, max: options.max ?? 2, application_name: "patientletterhub-owner" });
  pool.on("error", () => {});
  return new Kysely<any>({ dialect: new PostgresDialect({ pool }) });
}

/**
 * What a transaction may see. RLS policies read these settings, set with is_local = true so they
 * cannot outlive the transaction or leak to the next user of the pooled connection.
 * - practiceId: the tenant (practice tables);
 * - userId: the signed-in user (their own sessions, memberships, practice names);
 * - sessionTokenHash: proof of holding a session cookie (finding that one session row);
 * - invitationTokenHash: proof of holding an invitation link.
 */
export type DbContext = {
  actor: string;
  practiceId?: string | null;
  userId?: string | null;
  sessionTokenHash?: string | null;
  /** Proof of holding an invitation link (finding and accepting that one invitation). */
  invitationTokenHash?: string | null;
  /** A verified email from a Clerk session token: the invitations addressed to it. */
  inviteeEmail?: string | null;
};

/** The statement that sets a transaction's context; its parameters come from contextParameters. */
export const SET_CONTEXT_SQL = `SELECT set_config('app.actor', $1, true), set_config('app.practice_id', $2, true),
  set_config('app.user_id', $3, true), set_config('app.session_token_hash', $4, true),
  set_config('app.invitation_token_hash', $5, true), set_config('app.invitee_email', $6, true)`;

export function contextParameters(context: DbContext): string[] {
  return [
    context.actor, context.practiceId ?? "", context.userId ?? "", context.sessionTokenHash ?? "",
    context.invitationTokenHash ?? "", context.inviteeEmail ?? "",
  ];
}

export async function withContext<T>(db: Db, context: DbContext, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return db.transaction().execute(async (tx) => {
    await tx.executeQuery(CompiledQuery.raw(SET_CONTEXT_SQL, contextParameters(context)));
    return fn(tx);
  });
}

/** Changes the context of a running transaction, e.g. once a token has named the user. */
export async function setContext(tx: Tx, context: { practiceId?: string | null; userId?: string | null }): Promise<void> {
  if (context.practiceId !== undefined) await sql`SELECT set_config('app.practice_id', ${context.practiceId ?? ""}, true)`.execute(tx);
  if (context.userId !== undefined) await sql`SELECT set_config('app.user_id', ${context.userId ?? ""}, true)`.execute(tx);
}

export type TenantContext = { practiceId: string; actor: string; userId?: string | null };

/** Runs fn in a transaction scoped to one practice. */
export function withTenant<T>(db: Db, context: TenantContext, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return withContext(db, context, fn);
}

/** Runs fn in a transaction with no tenant: only platform-level rows are visible. */
export function withPlatform<T>(db: Db, actor: string, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return withContext(db, { actor }, fn);
}

export async function pingDatabase(db: Db): Promise<void> {
  await sql`SELECT 1`.execute(db);
}
