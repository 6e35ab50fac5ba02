// Platform-level account operations run by ops with the owner connection: making operators (the
// print shop's people) and deactivating accounts.
//
// Platform operators: the print shop's people. A platform-level identity (a row in
// platform_operators), never a practice membership, created only by `bun run operator:create`.
// They sign in like everyone else, two-step sign-in included.
import type { Kysely } from "kysely";
import { sql } from "kysely";
import { recordAudit } from "../audit/record.ts";
import { randomToken, sha256Hex } from "../platform/crypto.ts";
import { setContext, type Tx } from "../platform/db.ts";
import type { Database } from "../platform/schema.ts";

export const OPERATOR_SETUP_MINUTES = 60;

export async function isOperator(tx: Tx, userId: string): Promise<boolean> {
  return Boolean(await tx.selectFrom("platform_operators").select("user_id").where("user_id", "=", userId).executeTakeFirst());
}

export class OperatorError extends Error {}

/**
 * Makes (or promotes) an operator, run with the owner connection by the script. Returns a one-time
 * link for choosing a password. Someone with practice memberships cannot also be an operator:
 * the two identities stay apart.
 */
export async function createOperator(
  owner: Kysely<Database>, input: { email: string; fullName: string; appOrigin: string; createdBy: string },
): Promise<{ userId: string; setupLink: string; newAccount: boolean }> {
  const email = input.email.trim().toLowerCase();
  return owner.transaction().execute(async (tx) => {
    let user = await tx.selectFrom("users").select(["id", "status"]).where("email", "=", email).executeTakeFirst();
    const newAccount = !user;
    if (user) {
      // Looked up past RLS on purpose: the owner must see every practice's memberships here.
      const memberships = await tx.selectFrom("memberships").select("id").where("user_id", "=", user.id).execute();
      if (memberships.length) throw new OperatorError(`${email} belongs to ${memberships.length} practice(s); operators must be separate accounts.`);
      if (await isOperator(tx, user.id)) throw new OperatorError(`${email} is already an operator.`);
      if (user.status !== "active") throw new OperatorError(`${email} is deactivated.`);
    } else {
      user = await tx.insertInto("users").values({ email, full_name: input.fullName.trim(), password_hash: null, email_verified_at: sql`now()` } as never)
        .returning(["id", "status"]).executeTakeFirstOrThrow();
    }
    await tx.insertInto("platform_operators").values({ user_id: user.id, created_by: input.createdBy }).execute();
    const token = randomToken(32);
    await tx.insertInto("email_tokens").values({
      user_id: user.id, purpose: "reset_password", token_hash: sha256Hex(token), expires_at: new Date(Date.now() + OPERATOR_SETUP_MINUTES * 60_000),
    }).execute();
    await recordAudit(tx, {
      practiceId: null, actor: { type: "system", id: "system:operator-create" }, action: "operator.created",
      target: { type: "user", id: user.id }, details: { new_account: newAccount },
    });
    return { userId: user.id, setupLink: `${input.appOrigin}/password/reset?token=${token}`, newAccount };
  });
}

/**
 * Deactivates an account (platform operations, owner connection): it can no longer sign in, and
 * every live session ends now, not at its next use. Memberships and the audit trail stay.
 */
export async function deactivateUser(owner: Kysely<Database>, input: { email: string; reason: string; by: string }): Promise<{ userId: string; sessions: number }> {
  const email = input.email.trim().toLowerCase();
  return owner.transaction().execute(async (tx) => {
    const user = await tx.selectFrom("users").select(["id", "status"]).where("email", "=", email).executeTakeFirst();
    if (!user) throw new OperatorError(`No account uses ${email}.`);
    if (user.status === "deactivated") throw new OperatorError(`${email} is already deactivated.`);
    await tx.updateTable("users").set({ status: "deactivated", updated_at: sql`now()` }).where("id", "=", user.id).execute();
    // Sessions are private to their user under RLS: read and end them as that user.
    await setContext(tx, { userId: user.id });
    const ended = await tx.updateTable("sessions").set({ revoked_at: sql`now()`, revoked_reason: "deactivated" })
      .where("user_id", "=", user.id).where("revoked_at", "is", null).executeTakeFirst();
    const sessions = Number(ended.numUpdatedRows);
    await recordAudit(tx, {
      practiceId: null, actor: { type: "system", id: `system:${input.by}` }, action: "auth.user.deactivated",
      target: { type: "user", id: user.id }, details: { sessions, reason: input.reason.slice(0, 200) },
    });
    return { userId: user.id, sessions };
  });
}
