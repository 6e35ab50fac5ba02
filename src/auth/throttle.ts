// Sign-in throttling stored in Postgres, so every instance sees the same counters. Per account
// (keyed by a hash of the email, whether or not such an account exists), per client IP, and per
// user for second-factor codes.
//
// An attempt is counted BEFORE the credential is checked, under a row lock, so parallel requests
// cannot all slip under the limit. Reaching the limit locks the key for a minute; each failure
// after a lock expires doubles it (2, 4, 8… minutes, at most an hour). A success clears the account's (or user's) counter
// and gives back its own IP attempt, so a busy office behind one address is not locked by
// people who sign in correctly. A window older than an hour, and no longer locked, starts over.
import { sql } from "kysely";
import type { Tx } from "../platform/db.ts";
import { sha256Hex } from "../platform/crypto.ts";

export const ACCOUNT_LIMIT = 5;
export const IP_LIMIT = 20;
export const MFA_LIMIT = 5;

export const accountKey = (email: string) => `acct:${sha256Hex(email.trim().toLowerCase())}`;
export const ipKey = (ip: string) => `ip:${ip.slice(0, 64)}`;
export const mfaKey = (userId: string) => `mfa:${userId}`;

export type Claim = { allowed: true } | { allowed: false; until: Date };

/**
 * Counts one attempt against key. Refused while a lock is in force; the attempt that reaches the
 * limit sets the next lock in advance (a success clears it), and each later one doubles it.
 */
export async function claimAttempt(tx: Tx, key: string, limit: number): Promise<Claim> {
  // Make sure the row exists, then lock it: concurrent attempts on one key queue here, each
  // seeing the count the one before left.
  await sql`INSERT INTO auth_throttle (key, failures, first_failure_at) VALUES (${key}, 0, now()) ON CONFLICT (key) DO NOTHING`.execute(tx);
  const { rows } = await sql<{ failures: number; locked_until: Date | null; locked: boolean; stale: boolean }>`
    SELECT failures, locked_until, coalesce(locked_until > now(), false) AS locked,
           first_failure_at < now() - interval '1 hour' AND coalesce(locked_until <= now(), true) AS stale
    FROM auth_throttle WHERE key = ${key} FOR UPDATE`.execute(tx);
  const row = rows[0]!;
  const failures = row.stale ? 1 : row.failures + 1;
  const lockMinutes = Math.min(2 ** Math.max(0, failures - limit), 60);
  const lockedUntil = row.locked ? row.locked_until : failures >= limit ? sql`now() + ${`${lockMinutes} minutes`}::interval` : row.stale ? null : row.locked_until;
  await sql`
    UPDATE auth_throttle SET failures = ${failures}, locked_until = ${lockedUntil},
      first_failure_at = CASE WHEN ${row.stale} THEN now() ELSE first_failure_at END
    WHERE key = ${key}`.execute(tx);
  return row.locked ? { allowed: false, until: row.locked_until! } : { allowed: true };
}

/** Forgets the key's attempts (after a success on an account or a second factor). */
export async function clearFailures(tx: Tx, key: string): Promise<void> {
  await tx.deleteFrom("auth_throttle").where("key", "=", key).execute();
}

/**
 * Gives back one counted attempt after a success (a correct sign-in from this IP is not held
 * against it), with any lock that attempt set in advance.
 */
export async function releaseAttempt(tx: Tx, key: string): Promise<void> {
  await tx.updateTable("auth_throttle").set({ failures: sql`greatest(failures - 1, 0)`, locked_until: null }).where("key", "=", key).execute();
}
