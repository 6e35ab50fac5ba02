// SQL for Clerk sign-in (AUTH_PROVIDER=clerk). Like repo.ts, each function takes the transaction
// first; callers set the RLS context (user, session token hash) the policies need.
import { sql } from "kysely";
import type { Tx } from "../platform/db.ts";
import type { Session, User } from "../platform/schema.ts";

export function findUserByClerkId(tx: Tx, clerkUserId: string): Promise<User | undefined> {
  return tx.selectFrom("users").selectAll().where("clerk_user_id", "=", clerkUserId).executeTakeFirst();
}

/**
 * Links a Clerk user to a local user that has no Clerk identity yet. False when the user was
 * linked meanwhile (by another request) or the Clerk id already names another user.
 */
export async function linkClerkUser(tx: Tx, userId: string, clerkUserId: string): Promise<boolean> {
  const result = await tx
    .updateTable("users")
    .set({ clerk_user_id: clerkUserId, updated_at: sql`now()` })
    .where("id", "=", userId)
    .where("clerk_user_id", "is", null)
    .where((eb) => eb.not(eb.exists(eb.selectFrom("users as other").select(sql`1`.as("one")).where("other.clerk_user_id", "=", clerkUserId))))
    .executeTakeFirst();
  return result.numUpdatedRows === 1n;
}

/** The session row with this token hash, revoked or not (the context must hold the hash or name the user). */
export function findSessionRowByTokenHash(tx: Tx, tokenHash: string): Promise<Session | undefined> {
  return tx.selectFrom("sessions").selectAll().where("token_hash", "=", tokenHash).executeTakeFirst();
}

