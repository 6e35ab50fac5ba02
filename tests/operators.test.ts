// Platform operators: made only by the script, signed in with two-step sign-in like everyone,
// and refused (audited) on every practice page.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Secret, TOTP } from "otpauth";
import { createTestApp, type TestApp } from "./support/app.ts";
import { Client } from "./support/browserless.ts";
import { makePerson } from "./support/people.ts";

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

async function operatorCreate(...args: string[]) {
  const proc = Bun.spawn([process.execPath, "scripts/operator-create.ts", ...args], {
    cwd: `${import.meta.dir}/..`,
    env: { PATH: process.env.PATH ?? "", DATABASE_OWNER_URL: t.database.ownerUrl, APP_ORIGIN: "http://localhost:3000" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const code = await proc.exited;
  return { code, out: (await new Response(proc.stdout).text()) + (await new Response(proc.stderr).text()) };
}

const PASSWORD = "print shop passphrase one";

async function newOperator(): Promise<{ email: string; userId: string; client: Client }> {
  const email = `op.${crypto.randomUUID().slice(0, 8)}@printshop.example`;
  const made = await operatorCreate("--email", email, "--name", "Pat Printer");
  expect(made.code).toBe(0);
  const token = /password\/reset\?token=([A-Za-z0-9_-]{43})/.exec(made.out)![1]!;
  expect((await new Client(t).post("/password/reset", { token, password: PASSWORD, confirm: PASSWORD })).status).toBe(200);
  const client = new Client(t);
  const login = await client.post("/login", { email, password: PASSWORD });
  expect(login.headers.get("location")).toBe("/mfa/setup"); // two-step sign-in is required of operators too
  expect((await client.get("/app")).status).toBe(303);
  const secret = /<code class="secret">([A-Z2-7 ]+)<\/code>/.exec(await (await client.get("/mfa/setup")).text())![1]!.replace(/ /g, "");
  expect((await client.post("/mfa/setup", { code: new TOTP({ secret: Secret.fromBase32(secret) }).generate() })).status).toBe(200);
  const user = await t.ownerDb.selectFrom("users").select("id").where("email", "=", email).executeTakeFirstOrThrow();
  return { email, userId: user.id, client };
}

describe("bun run operator:create", () => {
  test("makes a verified operator account with a one-time setup link, audited on the platform chain", async () => {
    const email = `op.${crypto.randomUUID().slice(0, 8)}@printshop.example`;
    const made = await operatorCreate("--email", email, "--name", "Pat Printer");
    expect(made.code).toBe(0);
    expect(made.out).toContain(`Operator created: ${email}`);
    expect(made.out).toMatch(/http:\/\/localhost:3000\/password\/reset\?token=[A-Za-z0-9_-]{43}/);
    const user = await t.ownerDb.selectFrom("users as u").innerJoin("platform_operators as o", "o.user_id", "u.id")
      .select(["u.id", "u.password_hash", "u.email_verified_at", "o.created_by"]).where("u.email", "=", email).executeTakeFirstOrThrow();
    expect(user.password_hash).toBeNull();
    expect(user.email_verified_at).toBeInstanceOf(Date);
    const event = await t.ownerDb.selectFrom("audit_events").selectAll().where("action", "=", "operator.created").where("target_id", "=", user.id).executeTakeFirstOrThrow();
    expect(event).toMatchObject({ practice_id: null, actor_type: "system", actor_id: "system:operator-create", details: { new_account: true } });
  });

  test("refuses a practice member, a second grant and bad arguments", async () => {
    const member = await makePerson(t);
    const memberEmail = `${member.userId}@people.example`;
    const refused = await operatorCreate("--email", memberEmail);
    expect(refused.code).toBe(1);
    expect(refused.out).toContain("operators must be separate accounts");
    const email = `op.${crypto.randomUUID().slice(0, 8)}@printshop.example`;
    expect((await operatorCreate("--email", email)).code).toBe(0);
    const again = await operatorCreate("--email", email);
    expect(again.code).toBe(1);
    expect(again.out).toContain("already an operator");
    expect((await operatorCreate("--email", "not-an-email")).code).toBe(2);
  });
});

describe("operators in the app", () => {
  test("sign in with two-step sign-in and land on the operator page", async () => {
    const operator = await newOperator();
    const home = await operator.client.get("/app");
    expect(home.status).toBe(200);
    expect(await home.text()).toContain("Platform operator");
  });

  test("practice pages are refused and each refusal is audited on the platform chain", async () => {
    const operator = await newOperator();
    expect((await operator.client.get("/team")).status).toBe(403);
    expect((await operator.client.post("/team/invitations", { email: "x@y.example", role: "admin" })).status).toBe(403);
    const denied = await t.ownerDb.selectFrom("audit_events").selectAll().where("action", "=", "access.denied").where("actor_id", "=", operator.userId).orderBy("chain_seq").execute();
    expect(denied.map((e) => [e.practice_id, e.outcome, e.target_id])).toEqual([
      [null, "denied", "GET /team"],
      [null, "denied", "POST /team/invitations"],
    ]);
  });
});

describe("bun run user:deactivate", () => {
  test("ends every session at once, blocks sign-in, and is audited with the session count", async () => {
    const operator = await newOperator();
    expect((await operator.client.get("/app")).status).toBe(200);
    const proc = Bun.spawn([process.execPath, "scripts/user-deactivate.ts", "--email", operator.email, "--reason", "left the print shop"], {
      cwd: `${import.meta.dir}/..`, env: { PATH: process.env.PATH ?? "", DATABASE_OWNER_URL: t.database.ownerUrl }, stdout: "pipe", stderr: "pipe",
    });
    expect(await proc.exited).toBe(0);
    expect(await new Response(proc.stdout).text()).toContain("1 session(s) ended");
    // Ended in the database already, before any further request.
    const live = await t.ownerDb.selectFrom("sessions").select("id").where("user_id", "=", operator.userId).where("revoked_at", "is", null).execute();
    expect(live).toEqual([]);
    expect((await operator.client.get("/app")).status).toBe(303);
    expect((await new Client(t).post("/login", { email: operator.email, password: PASSWORD })).status).toBe(401);
    const event = await t.ownerDb.selectFrom("audit_events").selectAll().where("action", "=", "auth.user.deactivated").where("target_id", "=", operator.userId).executeTakeFirstOrThrow();
    expect(event).toMatchObject({ practice_id: null, actor_id: "system:user-deactivate", details: { sessions: 1, reason: "left the print shop" } });
    const again = Bun.spawn([process.execPath, "scripts/user-deactivate.ts", "--email", operator.email, "--reason", "again"], {
      cwd: `${import.meta.dir}/..`, env: { PATH: process.env.PATH ?? "", DATABASE_OWNER_URL: t.database.ownerUrl }, stdout: "pipe", stderr: "pipe",
    });
    expect(await again.exited).toBe(1);
  });
});
