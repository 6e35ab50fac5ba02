// Identity end to end through the real app: sign-up, email confirmation, sign-in with throttling,
// TOTP enrolment and verification with single-use codes, recovery codes, sessions and sign-out.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "kysely";
import { Secret, TOTP } from "otpauth";
import { listDevMail, readDevMail } from "../src/platform/mail.ts";
import { hashPassword } from "../src/auth/password.ts";
import { accountKey } from "../src/auth/throttle.ts";
import { resolveSession } from "../src/auth/sessions.ts";
import { randomToken, sha256Hex } from "../src/platform/crypto.ts";
import { withContext } from "../src/platform/db.ts";
import { createTestApp, type TestApp } from "./support/app.ts";
import { makePerson, sessionToken } from "./support/people.ts";
import { Client } from "./support/browserless.ts";

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ env: { TRUST_PROXY: "true" } });
});
afterAll(() => t.close());

const PASSWORD = "correct horse battery staple";
let counter = 0;
const newEmail = () => `person${++counter}.${crypto.randomUUID().slice(0, 6)}@clinic.example`;

async function latestMailTo(email: string) {
  const list = await listDevMail(t.config.mail.dir);
  const item = list.find((m) => m.to.includes(email));
  return item ? readDevMail(t.config.mail.dir, item.id) : null;
}

const RESET_SUBJECT = "Reset your PatientLetterHub password";

/** Waits for the count-th mail with this subject to the address (some mail is sent after the answer). */
async function waitForMail(email: string, subject: string, count = 1) {
  for (let i = 0; i < 150; i++) {
    const list = (await listDevMail(t.config.mail.dir)).filter((m) => m.to.includes(email) && m.subject === subject);
    if (list.length >= count) return (await readDevMail(t.config.mail.dir, list[0]!.id))!;
    await Bun.sleep(20);
  }
  throw new Error(`no mail "${subject}" (#${count}) to ${email}`);
}

async function signUpAndVerify(client: Client, email = newEmail(), practiceName = "Riverside Family Practice") {
  const res = await client.post("/signup", { fullName: "Dana Reyes", email, password: PASSWORD, practiceName });
  expect(res.status).toBe(200);
  const mail = await latestMailTo(email);
  const token = /verify-email\?token=([A-Za-z0-9_-]{43})/.exec(mail!.text)![1]!;
  expect((await client.post("/verify-email", { token })).status).toBe(200);
  return email;
}

async function events(action: string) {
  return t.ownerDb.selectFrom("audit_events").selectAll().where("action", "=", action).orderBy("occurred_at").execute();
}

function codeFromSetupPage(html: string): { totp: TOTP; code: () => string } {
  const secret = /<code class="secret">([A-Z2-7 ]+)<\/code>/.exec(html)![1]!.replace(/ /g, "");
  const totp = new TOTP({ secret: Secret.fromBase32(secret), digits: 6, period: 30 });
  return { totp, code: () => totp.generate() };
}

async function signInWithMfa(client: Client, email: string) {
  const login = await client.post("/login", { email, password: PASSWORD });
  expect(login.status).toBe(303);
  const setup = await client.get("/mfa/setup");
  const { totp } = codeFromSetupPage(await setup.text());
  const done = await client.post("/mfa/setup", { code: totp.generate() });
  expect(done.status).toBe(200);
  return { totp, recoveryPage: await done.text() };
}

describe("sign-up", () => {
  test("creates the user, a practice in onboarding and an admin membership, and emails a confirmation link", async () => {
    const client = new Client(t);
    const email = newEmail();
    const res = await client.post("/signup", { fullName: "Dana Reyes", email: email.toUpperCase(), password: PASSWORD, practiceName: "Riverside Family Practice" });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("Check your email");
    const user = await t.ownerDb.selectFrom("users").selectAll().where("email", "=", email).executeTakeFirstOrThrow();
    expect(user.email_verified_at).toBeNull();
    expect(user.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    const membership = await t.ownerDb.selectFrom("memberships as m").innerJoin("practices as p", "p.id", "m.practice_id")
      .select(["m.role", "p.status", "p.name", "p.id"]).where("m.user_id", "=", user.id).executeTakeFirstOrThrow();
    expect(membership).toMatchObject({ role: "admin", status: "onboarding", name: "Riverside Family Practice" });
    const mail = await latestMailTo(email);
    expect(mail!.subject).toBe("Confirm your email address for PatientLetterHub");
    expect(mail!.text).toMatch(/http:\/\/localhost:3000\/verify-email\?token=[A-Za-z0-9_-]{43}/);
    const practiceEvents = await t.ownerDb.selectFrom("audit_events").select(["action", "actor_id", "ip"]).where("practice_id", "=", membership.id).orderBy("chain_seq").execute();
    expect(practiceEvents).toEqual([
      { action: "practice.created", actor_id: user.id, ip: "198.51.100.7" },
      { action: "auth.signup", actor_id: user.id, ip: "198.51.100.7" },
    ]);
  });

  test("bad input re-renders with a message per field and keeps everything but the password", async () => {
    const res = await new Client(t).post("/signup", { fullName: "", email: "not-an-email", password: "short", practiceName: "Hillside <Clinic>" });
    expect(res.status).toBe(422);
    const html = await res.text();
    expect(html).toContain("Enter your full name");
    expect(html).toContain("Enter a valid email address");
    expect(html).toContain("Use at least 12 characters");
    expect(html).toContain('value="not-an-email"');
    expect(html).toContain("Hillside &lt;Clinic&gt;");
    expect(html).not.toContain('value="short"');
    expect(html).toContain('aria-invalid="true"');
  });

  test("an email that already has an account gets the same answer; its owner is told, nothing is created", async () => {
    const email = await signUpAndVerify(new Client(t));
    const before = await t.ownerDb.selectFrom("practices").select(sql<number>`count(*)::int`.as("n")).executeTakeFirstOrThrow();
    const res = await new Client(t).post("/signup", { fullName: "Someone Else", email, password: PASSWORD, practiceName: "Another" });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("Check your email");
    const after = await t.ownerDb.selectFrom("practices").select(sql<number>`count(*)::int`.as("n")).executeTakeFirstOrThrow();
    expect(after.n).toBe(before.n);
    expect((await latestMailTo(email))!.subject).toBe("Someone tried to create a PatientLetterHub account with your email");
  });
});

describe("email confirmation", () => {
  test("opening the link changes nothing; confirming works once", async () => {
    const client = new Client(t);
    const email = newEmail();
    await client.post("/signup", { fullName: "Sam Lee", email, password: PASSWORD, practiceName: "Lee Dental" });
    const token = /token=([A-Za-z0-9_-]{43})/.exec((await latestMailTo(email))!.text)![1]!;
    const page = await client.get(`/verify-email?token=${token}`);
    expect(page.status).toBe(200);
    const user = () => t.ownerDb.selectFrom("users").select("email_verified_at").where("email", "=", email).executeTakeFirstOrThrow();
    expect((await user()).email_verified_at).toBeNull();
    expect((await client.post("/verify-email", { token })).status).toBe(200);
    expect((await user()).email_verified_at).toBeInstanceOf(Date);
    expect((await client.post("/verify-email", { token })).status).toBe(400);
  });

  test("signing in before confirming is refused and sends a new link", async () => {
    const client = new Client(t);
    const email = newEmail();
    await client.post("/signup", { fullName: "Ari Patel", email, password: PASSWORD, practiceName: "Patel Pediatrics" });
    const first = (await listDevMail(t.config.mail.dir)).filter((m) => m.to.includes(email)).length;
    const res = await client.post("/login", { email, password: PASSWORD });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain("Confirm your email address first");
    expect((await listDevMail(t.config.mail.dir)).filter((m) => m.to.includes(email)).length).toBe(first + 1);
    expect(client.cookies.size).toBe(0);
  });
});

describe("sign-in", () => {
  test("a wrong password and an unknown email get the same generic answer, audited as denied", async () => {
    const email = await signUpAndVerify(new Client(t));
    const wrong = await new Client(t, "198.51.100.20").post("/login", { email, password: "wrong password here" });
    const unknown = await new Client(t, "198.51.100.20").post("/login", { email: "nobody@clinic.example", password: "wrong password here" });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    const message = "That email and password do not match an account.";
    expect(await wrong.text()).toContain(message);
    expect(await unknown.text()).toContain(message);
    const failed = await events("auth.signin.failed");
    expect(failed.slice(-2).map((e) => [e.outcome, e.details.reason, e.practice_id, e.ip])).toEqual([
      ["denied", "bad_credentials", null, "198.51.100.20"],
      ["denied", "bad_credentials", null, "198.51.100.20"],
    ]);
  });

  test("success sets a __Host- session cookie and asks for the second factor before any practice page", async () => {
    const email = await signUpAndVerify(new Client(t));
    const client = new Client(t);
    const res = await client.post("/login", { email, password: PASSWORD });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/mfa/setup");
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith("__Host-plh_session="))!;
    expect(cookie).toMatch(/; Secure/);
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; SameSite=Lax/);
    expect(cookie).toMatch(/; Path=\//);
    expect(cookie).not.toMatch(/Domain=/i);
    const token = cookie.split(";")[0]!.split("=")[1]!;
    const stored = await t.ownerDb.selectFrom("sessions").select("token_hash").orderBy("created_at", "desc").limit(1).executeTakeFirstOrThrow();
    expect(stored.token_hash).toBe(new Bun.CryptoHasher("sha256").update(token).digest("hex"));
    expect(stored.token_hash).not.toContain(token);
    const home = await client.get("/app");
    expect(home.status).toBe(303);
    expect(home.headers.get("location")).toBe("/mfa/setup");
  });

  test("five wrong passwords lock the account, even against the right password, with a generic message", async () => {
    const email = await signUpAndVerify(new Client(t));
    for (let i = 0; i < 5; i++) expect((await new Client(t, `203.0.113.${i}`).post("/login", { email, password: "not the password!" })).status).toBe(401);
    const locked = await new Client(t, "203.0.113.99").post("/login", { email, password: PASSWORD });
    expect(locked.status).toBe(429);
    expect(await locked.text()).toContain("Too many attempts");
    const stored = await t.ownerDb.selectFrom("auth_throttle").select("key").where("key", "like", "acct:%").execute();
    expect(stored.every((r) => /^acct:[0-9a-f]{64}$/.test(r.key))).toBe(true); // no email addresses at rest
  });

  test("a hash made with older argon2 parameters is replaced on sign-in", async () => {
    const email = await signUpAndVerify(new Client(t));
    const old = await hashPassword(PASSWORD, { timeCost: 3, memoryCost: 8192 });
    await t.ownerDb.updateTable("users").set({ password_hash: old }).where("email", "=", email).execute();
    expect((await new Client(t).post("/login", { email, password: PASSWORD })).status).toBe(303);
    const user = await t.ownerDb.selectFrom("users").select("password_hash").where("email", "=", email).executeTakeFirstOrThrow();
    expect(user.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  });
});

describe("two-step sign-in", () => {
  test("enrolment shows a QR code and key, accepts a current code, rotates the session and shows ten recovery codes once", async () => {
    const email = await signUpAndVerify(new Client(t));
    const client = new Client(t);
    await client.post("/login", { email, password: PASSWORD });
    const before = client.cookies.get("__Host-plh_session");
    const setup = await client.get("/mfa/setup");
    const html = await setup.text();
    expect(html).toContain("<svg");
    expect(html).toContain('aria-label="QR code to add PatientLetterHub to your authenticator app"');
    const { totp } = codeFromSetupPage(html);
    expect((await client.post("/mfa/setup", { code: "000000" })).status).toBe(422);
    const done = await client.post("/mfa/setup", { code: totp.generate() });
    expect(done.status).toBe(200);
    const codes = [...(await done.text()).matchAll(/<code>([a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4})<\/code>/g)].map((m) => m[1]);
    expect(codes).toHaveLength(10);
    expect(client.cookies.get("__Host-plh_session")).not.toBe(before);
    const home = await client.get("/app");
    expect(home.status).toBe(200);
    expect(await home.text()).toContain("Riverside Family Practice");
    // The old token died with the rotation.
    const stale = new Client(t);
    stale.cookies.set("__Host-plh_session", before!);
    expect((await stale.get("/app")).status).toBe(303);
    const user = await t.ownerDb.selectFrom("users").select(["totp_secret", "totp_enabled_at"]).where("email", "=", email).executeTakeFirstOrThrow();
    expect(user.totp_secret).toStartWith("v1."); // encrypted at rest
    expect(user.totp_enabled_at).toBeInstanceOf(Date);
    const mine = await t.ownerDb.selectFrom("user_recovery_codes as r").innerJoin("users as u", "u.id", "r.user_id").select("r.code_hash").where("u.email", "=", email).execute();
    expect(mine).toHaveLength(10);
    // Keyed hashes under the current HMAC key, never the codes or their plain SHA-256.
    const plain = (c: string) => new Bun.CryptoHasher("sha256").update(c.replace(/-/g, "")).digest("hex");
    for (const row of mine) expect(row.code_hash).toMatch(new RegExp(`^${t.config.keys.hmac[0]!.id}:[0-9a-f]{64}$`));
    for (const code of codes) {
      expect(mine.map((r) => r.code_hash)).not.toContain(code!.replace(/-/g, ""));
      expect(mine.map((r) => r.code_hash.split(":")[1])).not.toContain(plain(code!));
    }
  });

  test("a code works once; a recovery code works once; both are audited", async () => {
    const email = await signUpAndVerify(new Client(t));
    const first = new Client(t);
    const { totp, recoveryPage } = await signInWithMfa(first, email);
    const recovery = /<code>([a-z0-9-]{14})<\/code>/.exec(recoveryPage)![1]!;

    // The code just used for enrolment cannot sign in a second session.
    const second = new Client(t);
    await second.post("/login", { email, password: PASSWORD });
    const replay = await second.post("/mfa/verify", { code: totp.generate() });
    expect(replay.status).toBe(422);
    const withRecovery = await second.post("/mfa/verify", { code: recovery.toUpperCase() });
    expect(withRecovery.status).toBe(303);
    expect((await second.get("/app")).status).toBe(200);

    const third = new Client(t);
    await third.post("/login", { email, password: PASSWORD });
    expect((await third.post("/mfa/verify", { code: recovery })).status).toBe(422);
    const verified = await events("mfa.verified");
    expect(verified.at(-1)!.details).toEqual({ method: "recovery_code" });
    expect((await events("mfa.verify.failed")).length).toBeGreaterThanOrEqual(2);
  });
});

describe("sessions", () => {
  test("sign-out ends this session only, clears the cookie and is audited", async () => {
    const email = await signUpAndVerify(new Client(t));
    const a = new Client(t);
    const { recoveryPage } = await signInWithMfa(a, email);
    const b = new Client(t);
    await b.post("/login", { email, password: PASSWORD });
    await b.post("/mfa/verify", { code: /<code>([a-z0-9-]{14})<\/code>/.exec(recoveryPage)![1]! });
    const token = a.cookies.get("__Host-plh_session")!;
    const out = await a.post("/logout", {});
    expect(out.status).toBe(303);
    expect(out.headers.getSetCookie().some((c) => c.startsWith("__Host-plh_session=;"))).toBe(true);
    const replay = new Client(t);
    replay.cookies.set("__Host-plh_session", token);
    expect((await replay.get("/app")).status).toBe(303);
    expect((await b.get("/app")).status).toBe(200);
    const user = await t.ownerDb.selectFrom("users").select("id").where("email", "=", email).executeTakeFirstOrThrow();
    expect(await t.ownerDb.selectFrom("audit_events").select("id").where("action", "=", "auth.signout").where("actor_id", "=", user.id).execute()).toHaveLength(1);
  });

  test("sign-out ends the session and sign-out everywhere ends the others too", async () => {
    const email = await signUpAndVerify(new Client(t));
    const a = new Client(t);
    const { recoveryPage } = await signInWithMfa(a, email);
    const b = new Client(t);
    await b.post("/login", { email, password: PASSWORD });
    // a's TOTP code is spent for this time step; b passes with a recovery code instead.
    const recovery = /<code>([a-z0-9-]{14})<\/code>/.exec(recoveryPage)![1]!;
    expect((await b.post("/mfa/verify", { code: recovery })).status).toBe(303);

    const out = await a.post("/logout/everywhere", {});
    expect(out.status).toBe(303);
    expect((await b.get("/app")).status).toBe(303);
    expect((await a.get("/app")).status).toBe(303);
    const reasons = await t.ownerDb.selectFrom("sessions as s").innerJoin("users as u", "u.id", "s.user_id").select("s.revoked_reason").where("u.email", "=", email).execute();
    expect(reasons.every((r) => r.revoked_reason !== null)).toBe(true);
    expect((await events("auth.signout_all")).at(-1)!.details).toEqual({ sessions: 2 });
  });

  test("an idle session ends and cannot come back", async () => {
    const email = await signUpAndVerify(new Client(t));
    const client = new Client(t);
    await signInWithMfa(client, email);
    expect((await client.get("/app")).status).toBe(200);
    await t.ownerDb.updateTable("sessions").set({ last_seen_at: sql`now() - interval '16 minutes'` })
      .where("user_id", "=", t.ownerDb.selectFrom("users").select("id").where("email", "=", email)).execute();
    expect((await client.get("/app")).status).toBe(303);
    const revoked = await t.ownerDb.selectFrom("sessions as s").innerJoin("users as u", "u.id", "s.user_id").select("s.revoked_reason").where("u.email", "=", email).where("s.revoked_reason", "=", "idle").execute();
    expect(revoked.length).toBe(1);
  });

  test("signing in again in the same browser ends the session the cookie named", async () => {
    const email = await signUpAndVerify(new Client(t));
    const client = new Client(t);
    await client.post("/login", { email, password: PASSWORD });
    const first = client.cookies.get("__Host-plh_session")!;
    expect((await client.post("/login", { email, password: PASSWORD })).status).toBe(303);
    expect(client.cookies.get("__Host-plh_session")).not.toBe(first);
    const live = await t.ownerDb.selectFrom("sessions as s").innerJoin("users as u", "u.id", "s.user_id").select("s.id").where("u.email", "=", email).where("s.revoked_at", "is", null).execute();
    expect(live).toHaveLength(1);
  });

  test("deactivating a user ends every session at its next use", async () => {
    const email = await signUpAndVerify(new Client(t));
    const client = new Client(t);
    await signInWithMfa(client, email);
    expect((await client.get("/app")).status).toBe(200);
    await t.ownerDb.updateTable("users").set({ status: "deactivated" }).where("email", "=", email).execute();
    expect((await client.get("/app")).status).toBe(303);
    const reasons = await t.ownerDb.selectFrom("sessions as s").innerJoin("users as u", "u.id", "s.user_id").select("s.revoked_reason").where("u.email", "=", email).execute();
    expect(reasons.map((r) => r.revoked_reason)).toContain("deactivated");
    expect((await new Client(t).post("/login", { email, password: PASSWORD })).status).toBe(401);
  });

  test("the app role cannot read sessions without naming their user or holding the token", async () => {
    const rows = await t.db.selectFrom("sessions").select("id").execute();
    expect(rows).toEqual([]);
  });

  test("one statement resolves a session: the same session, user and membership as the queries, and its context ends with it", async () => {
    const person = await makePerson(t, { role: "staff" });
    const token = await sessionToken(t, person);
    const resolved = await resolveSession(t.db, token, t.config.session);
    const tokenHash = sha256Hex(token);
    const expected = await withContext(t.db, { actor: "test", sessionTokenHash: tokenHash, userId: person.userId }, async (tx) => ({
      session: await tx.selectFrom("sessions").selectAll().where("token_hash", "=", tokenHash).executeTakeFirstOrThrow(),
      user: await tx.selectFrom("users").selectAll().where("id", "=", person.userId).executeTakeFirstOrThrow(),
    }));
    // Every column of both rows, with the same JS types (timestamps as Date, bigint as string).
    expect(resolved).toEqual({ ...expected, membership: { practiceId: person.practiceId, role: "staff" } });
    expect(Object.keys(resolved!.user).sort()).toEqual(Object.keys(expected.user).sort());
    expect(Object.keys(resolved!.session).sort()).toEqual(Object.keys(expected.session).sort());
    // The settings were local to that statement's transaction: the next one on the connection sees none.
    const after = await t.db.connection().execute(async (conn) => {
      await sql`SELECT * FROM app_request_session(${tokenHash})`.execute(conn);
      return (await sql<{ user_id: string; hash: string; actor: string }>`SELECT current_setting('app.user_id', true) AS user_id,
        current_setting('app.session_token_hash', true) AS hash, current_setting('app.actor', true) AS actor`.execute(conn)).rows[0];
    });
    expect([after?.user_id ?? "", after?.hash ?? "", after?.actor ?? ""]).toEqual(["", "", ""]);
    // No membership in the session's practice: null (the guard refuses); an unknown token names nothing.
    await t.ownerDb.deleteFrom("memberships").where("user_id", "=", person.userId).execute();
    expect((await resolveSession(t.db, token, t.config.session))?.membership).toBeNull();
    expect(await resolveSession(t.db, randomToken(32), t.config.session)).toBeNull();
  });
});

describe("password reset", () => {
  test("asking answers the same for known and unknown emails; only a real account gets a link", async () => {
    const email = await signUpAndVerify(new Client(t));
    const known = await new Client(t).post("/password/forgot", { email });
    const unknown = await new Client(t).post("/password/forgot", { email: "ghost@clinic.example" });
    expect(known.status).toBe(200);
    expect(unknown.status).toBe(200);
    const text = (html: string) => html.replace(/nonce="[^"]+"/g, "").replace(/[0-9a-f-]{36}/g, "");
    expect(text(await known.text())).toBe(text(await unknown.text()));
    expect((await waitForMail(email, RESET_SUBJECT)).subject).toBe(RESET_SUBJECT);
    expect(await latestMailTo("ghost@clinic.example")).toBeNull();
    const requested = await events("auth.password.reset_requested");
    expect(requested.slice(-2).map((e) => e.details)).toEqual([{ sent: true, throttled: false }, { sent: false, throttled: false }]);
  });

  test("the link sets a new password once, ends every session, and the old password stops working", async () => {
    const email = await signUpAndVerify(new Client(t));
    const signedIn = new Client(t);
    await signInWithMfa(signedIn, email);
    expect((await signedIn.get("/app")).status).toBe(200);

    await new Client(t).post("/password/forgot", { email });
    const token = /password\/reset\?token=([A-Za-z0-9_-]{43})/.exec((await waitForMail(email, RESET_SUBJECT)).text)![1]!;
    const mismatch = await new Client(t).post("/password/reset", { token, password: "a brand new passphrase", confirm: "something else entirely" });
    expect(mismatch.status).toBe(422);
    expect(await mismatch.text()).toContain("The two passwords do not match");

    const reset = await new Client(t).post("/password/reset", { token, password: "a brand new passphrase", confirm: "a brand new passphrase" });
    expect(reset.status).toBe(200);
    expect((await signedIn.get("/app")).status).toBe(303); // the old session ended
    expect((await new Client(t).post("/login", { email, password: PASSWORD })).status).toBe(401);
    expect((await new Client(t).post("/login", { email, password: "a brand new passphrase" })).status).toBe(303);
    expect((await new Client(t).post("/password/reset", { token, password: "yet another passphrase", confirm: "yet another passphrase" })).status).toBe(400);
    expect((await latestMailTo(email))!.subject).toBe("Your PatientLetterHub password was changed");
    expect((await events("auth.password.reset")).at(-1)!.details).toEqual({ sessions: 1 });
  });

  test("using one reset link also retires every older one", async () => {
    const email = await signUpAndVerify(new Client(t));
    await new Client(t).post("/password/forgot", { email });
    const older = /token=([A-Za-z0-9_-]{43})/.exec((await waitForMail(email, RESET_SUBJECT)).text)![1]!;
    await new Client(t).post("/password/forgot", { email });
    const newer = /token=([A-Za-z0-9_-]{43})/.exec((await waitForMail(email, RESET_SUBJECT, 2)).text)![1]!;
    expect(newer).not.toBe(older);
    expect((await new Client(t).post("/password/reset", { token: newer, password: "a brand new passphrase", confirm: "a brand new passphrase" })).status).toBe(200);
    expect((await new Client(t).post("/password/reset", { token: older, password: "an attacker passphrase", confirm: "an attacker passphrase" })).status).toBe(400);
  });

  test("reset mails to one address pause after three, answered the same way", async () => {
    const email = await signUpAndVerify(new Client(t));
    const answers: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await new Client(t, `198.51.100.${60 + i}`).post("/password/forgot", { email });
      expect(res.status).toBe(200);
      answers.push((await res.text()).replace(/nonce="[^"]+"/g, "").replace(/[0-9a-f-]{36}/g, ""));
    }
    expect(new Set(answers).size).toBe(1);
    await waitForMail(email, RESET_SUBJECT, 3);
    await Bun.sleep(100);
    const mails = (await listDevMail(t.config.mail.dir)).filter((m) => m.to.includes(email) && m.subject === RESET_SUBJECT);
    expect(mails).toHaveLength(3);
    const user = await t.ownerDb.selectFrom("users").select("id").where("email", "=", email).executeTakeFirstOrThrow();
    const requested = await t.ownerDb.selectFrom("audit_events").select("details").where("action", "=", "auth.password.reset_requested").where("target_id", "=", user.id).orderBy("chain_seq").execute();
    expect(requested.map((e) => e.details.throttled)).toEqual([false, false, false, true, true]);
  });

  test("an expired link does nothing", async () => {
    const email = await signUpAndVerify(new Client(t));
    await new Client(t).post("/password/forgot", { email });
    const token = /token=([A-Za-z0-9_-]{43})/.exec((await waitForMail(email, RESET_SUBJECT)).text)![1]!;
    await t.ownerDb.updateTable("email_tokens").set({ expires_at: sql`now() - interval '1 minute'` }).where("purpose", "=", "reset_password").execute();
    expect((await new Client(t).post("/password/reset", { token, password: "a brand new passphrase", confirm: "a brand new passphrase" })).status).toBe(400);
    expect((await new Client(t).post("/login", { email, password: PASSWORD })).status).toBe(303);
  });
});

describe("the sessions page", () => {
  test("lists the user's sessions with device and IP, and ends another one", async () => {
    const email = await signUpAndVerify(new Client(t));
    const laptop = new Client(t, "192.0.2.10");
    const { recoveryPage } = await signInWithMfa(laptop, email);
    const phone = new Client(t, "192.0.2.20");
    await phone.post("/login", { email, password: PASSWORD });
    await phone.post("/mfa/verify", { code: /<code>([a-z0-9-]{14})<\/code>/.exec(recoveryPage)![1]! });

    const page = await laptop.get("/account/sessions");
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain("192.0.2.10");
    expect(html).toContain("192.0.2.20");
    expect(html).toContain("(this session)");
    const other = /action="\/account\/sessions\/([0-9a-f-]{36})\/revoke"/.exec(html)![1]!;
    expect((await laptop.post(`/account/sessions/${other}/revoke`, {})).status).toBe(303);
    expect((await phone.get("/app")).status).toBe(303);
    expect((await laptop.get("/app")).status).toBe(200);
    expect((await events("auth.session.revoked")).at(-1)!.target_id).toBe(other);
  });

  test("another user's session id is not found, and stays alive", async () => {
    const a = new Client(t);
    await signInWithMfa(a, await signUpAndVerify(new Client(t)));
    const b = new Client(t);
    const bEmail = await signUpAndVerify(new Client(t));
    await signInWithMfa(b, bEmail);
    const { id: bId } = await t.ownerDb.selectFrom("sessions as s").innerJoin("users as u", "u.id", "s.user_id")
      .select("s.id").where("u.email", "=", bEmail).where("s.revoked_at", "is", null).executeTakeFirstOrThrow();
    expect((await a.post(`/account/sessions/${bId}/revoke`, {})).status).toBe(404);
    expect((await b.get("/app")).status).toBe(200);
  });
});

describe("throttling under pressure", () => {
  test("parallel wrong passwords: at most five are checked, the rest are refused as locked", async () => {
    const email = await signUpAndVerify(new Client(t));
    const answers = await Promise.all(Array.from({ length: 15 }, (_, i) => new Client(t, `198.18.0.${i + 1}`).post("/login", { email, password: "wrong guess number x" })));
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(5);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(10);
  });

  test("parallel wrong second-factor codes: at most five are checked", async () => {
    const email = await signUpAndVerify(new Client(t));
    await signInWithMfa(new Client(t), email);
    const client = new Client(t);
    await client.post("/login", { email, password: PASSWORD });
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => client.post("/mfa/verify", { code: String(100000 + i) })));
    expect(answers.filter((r) => r.status === 422).length).toBeLessThanOrEqual(5);
    expect(answers.filter((r) => r.status === 429).length).toBeGreaterThanOrEqual(15);
    const user = await t.ownerDb.selectFrom("users").select("id").where("email", "=", email).executeTakeFirstOrThrow();
    const locked = await t.ownerDb.selectFrom("audit_events").select("details").where("action", "=", "mfa.verify.failed").where("target_id", "=", user.id).execute();
    expect(locked.filter((e) => e.details.reason === "locked").length).toBeGreaterThanOrEqual(15);
  });

  test("one address guessing across many accounts is stopped after twenty attempts", async () => {
    const ip = "198.19.7.7";
    const statuses: number[] = [];
    for (let i = 0; i < 21; i++) statuses.push((await new Client(t, ip).post("/login", { email: `nobody${i}.${crypto.randomUUID().slice(0, 6)}@clinic.example`, password: "wrong guess" })).status);
    expect(statuses.slice(0, 20).every((s) => s === 401)).toBe(true);
    expect(statuses[20]).toBe(429);
  });

  test("each lock after the first is longer, and a correct password in between clears the count", async () => {
    const email = await signUpAndVerify(new Client(t));
    const attempt = (password: string) => new Client(t, `198.20.${Math.floor(Math.random() * 250)}.1`).post("/login", { email, password });
    for (let i = 0; i < 5; i++) expect((await attempt("wrong guess again")).status).toBe(401);
    const lockOf = async () => {
      const row = await t.ownerDb.selectFrom("auth_throttle").select(sql<number>`extract(epoch FROM locked_until - now())::int`.as("seconds")).where("key", "=", accountKey(email)).executeTakeFirstOrThrow();
      return row.seconds;
    };
    const first = await lockOf();
    expect(first).toBeGreaterThan(50);
    expect(first).toBeLessThanOrEqual(60);
    // The lock runs out; the next wrong password is checked once more and locks for longer.
    await t.ownerDb.updateTable("auth_throttle").set({ locked_until: sql`now() - interval '1 second'` }).where("key", "=", accountKey(email)).execute();
    expect((await attempt("wrong guess again")).status).toBe(401);
    expect(await lockOf()).toBeGreaterThan(first);
    // After that lock too, the right password gets in and the count starts over.
    await t.ownerDb.updateTable("auth_throttle").set({ locked_until: sql`now() - interval '1 second'` }).where("key", "=", accountKey(email)).execute();
    expect((await attempt(PASSWORD)).status).toBe(303);
    expect(await t.ownerDb.selectFrom("auth_throttle").select("key").where("key", "=", accountKey(email)).execute()).toEqual([]);
  });
});

describe("session lifetime", () => {
  test("a session ends at its absolute limit however active it is", async () => {
    const email = await signUpAndVerify(new Client(t));
    const client = new Client(t);
    await signInWithMfa(client, email);
    expect((await client.get("/app")).status).toBe(200);
    await t.ownerDb.updateTable("sessions").set({ expires_at: sql`now() - interval '1 second'` })
      .where("user_id", "=", t.ownerDb.selectFrom("users").select("id").where("email", "=", email)).where("revoked_at", "is", null).execute();
    expect((await client.get("/app")).status).toBe(303);
    const ended = await t.ownerDb.selectFrom("sessions as s").innerJoin("users as u", "u.id", "s.user_id").select("s.revoked_reason").where("u.email", "=", email).where("s.revoked_reason", "=", "expired").execute();
    expect(ended).toHaveLength(1);
  });

  test("the defaults are 15 idle minutes and 12 hours", () => {
    expect(t.config.session).toEqual({ idleMinutes: 15, absoluteHours: 12 });
  });

  test("rotating the token (second factor passed) never extends the session's absolute end", async () => {
    const email = await signUpAndVerify(new Client(t));
    const client = new Client(t);
    await client.post("/login", { email, password: PASSWORD });
    const first = await t.ownerDb.selectFrom("sessions as s").innerJoin("users as u", "u.id", "s.user_id").select(["s.id", "s.expires_at"]).where("u.email", "=", email).executeTakeFirstOrThrow();
    const setup = await client.get("/mfa/setup");
    const { totp } = codeFromSetupPage(await setup.text());
    await client.post("/mfa/setup", { code: totp.generate() });
    const rotated = await t.ownerDb.selectFrom("sessions as s").innerJoin("users as u", "u.id", "s.user_id").select(["s.id", "s.expires_at"]).where("u.email", "=", email).where("s.revoked_at", "is", null).executeTakeFirstOrThrow();
    expect(rotated.id).not.toBe(first.id);
    expect(rotated.expires_at.getTime()).toBe(first.expires_at.getTime());
  });
});
