// People and sessions made directly through the repositories, for tests that are not about
// signing in (the sign-in flows themselves are tested in tests/auth.test.ts).
import { sql } from "kysely";
import { insertMembership, insertUser } from "../../src/auth/repo.ts";
import { createSession } from "../../src/auth/sessions.ts";
import { withContext } from "../../src/platform/db.ts";
import type { Role } from "../../src/platform/schema.ts";
import { insertPractice } from "../../src/practices/repo.ts";
import type { TestApp } from "./app.ts";

/** Someone who can hold a session: a practice member, or an operator (no practice). */
export type Person = { userId: string; practiceId: string | null; mfa: boolean };
export type Member = Person & { practiceId: string };

/** A verified user with a membership; newPractice creates the practice too. */
export async function makePerson(t: TestApp, options: { practiceId?: string; role?: Role; mfa?: boolean; practiceName?: string } = {}): Promise<Member> {
  const userId = crypto.randomUUID();
  const practiceId = options.practiceId ?? crypto.randomUUID();
  const mfa = options.mfa ?? true;
  await withContext(t.db, { actor: "test", userId, practiceId }, async (tx) => {
    await insertUser(tx, { id: userId, email: `${userId}@people.example`, fullName: "Test Person", passwordHash: "unused" });
    await tx.updateTable("users").set({ email_verified_at: sql`now()`, totp_enabled_at: mfa ? sql`now()` : null }).where("id", "=", userId).execute();
    if (!options.practiceId) await insertPractice(tx, { id: practiceId, name: options.practiceName ?? "Test Practice" });
    await insertMembership(tx, { practiceId, userId, role: options.role ?? "admin" });
  });
  return { userId, practiceId, mfa };
}

/** A new session token for the person (MFA passed when the person has MFA). */
export async function sessionToken(t: TestApp, person: Person): Promise<string> {
  const { token } = await withContext(t.db, { actor: "test", userId: person.userId }, (tx) =>
    createSession(tx, { userId: person.userId, practiceId: person.practiceId, mfaVerified: person.mfa, request: { ip: "127.0.0.1", userAgent: "test", requestId: "test-00000001" } }, t.config.session),
  );
  return token;
}

/** A platform operator (as `bun run operator:create` makes one), with MFA enrolled. */
export async function makeOperator(t: TestApp): Promise<Person> {
  const userId = crypto.randomUUID();
  await t.ownerDb.insertInto("users").values({
    id: userId, email: `${userId}@operators.example`, full_name: "Test Operator", email_verified_at: new Date(), totp_enabled_at: new Date(),
  }).execute();
  await t.ownerDb.insertInto("platform_operators").values({ user_id: userId, created_by: "test" }).execute();
  return { userId, practiceId: null, mfa: true };
}
