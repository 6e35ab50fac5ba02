// Sign-in throttling stored in Postgres, so every instance sees the same counters. Per account
// (keyed by a hash of the email, whether or not such an account exists) and per client IP; after
// the limit each further failure doubles the lock, up to an hour. A window of failures older than
// an hour starts over.
import { sql } from "kysely";
import type { Tx } from "../platform/db.ts";
import { sha256Hex } from "../platform/crypto.ts";

export const ACCOUNT_LIMIT = 5;
export const IP_LIMIT = 20;

export const accountKey = (email: string) => `acct:${sha256Hex(email.trim().toLowerCase())}`;
export const ipKey = (ip: string) => `ip:${ip.slice(0, 64)}`;

/** The latest lock among the keys, if any is still locked. */
export async function lockedUntil(tx: Tx, keys: string[]): Promise<Date | null> {
  const row = await tx
    .selectFrom("auth_throttle")
    .select(sql<Date | null>`max(locked_until)`.as("until"))
    .where("key", "in", keys)
    .where("locked_until", ">", sql<Date>`now()`)
    .executeTakeFirst();
  return row?.until ?? null;
}

export async function recordFailure(tx: Tx, key: string, limit: number): Promise<void> {
  await sql`
    INSERT INTO auth_throttle AS t (key, failures, first_failure_at)
    VALUES (${key}, 1, now())
    ON CONFLICT (key) DO UPDATE SET
      failures = CASE WHEN t.first_failure_at < now() - interval '1 hour' THEN 1 ELSE t.failures + 1 END,
      first_failure_at = CASE WHEN t.first_failure_at < now() - interval '1 hour' THEN now() ELSE t.first_failure_at END,
      locked_until = CASE
        WHEN t.first_failure_at >= now() - interval '1 hour' AND t.failures + 1 >= ${limit}
        THEN now() + least(interval '1 minute' * power(2, t.failures + 1 - ${limit}), interval '1 hour')
        ELSE t.locked_until END`.execute(tx);
}

export async function clearFailures(tx: Tx, key: string): Promise<void> {
  await tx.deleteFrom("auth_throttle").where("key", "=", key).execute();
}
