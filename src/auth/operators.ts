// Platform operators: the print shop's people. A platform-level identity (a row in
// platform_operators), never a practice membership, created only by `bun run operator:create`.
// They sign in like everyone else, two-step sign-in included.
import type { Kysely } from "kysely";
import { sql } from "kysely";
import { recordAudit } from "../audit/record.ts";
import { randomToken, sha256Hex } from "../platform/crypto.ts";
import type { Tx } from "../platform/db.ts";
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
