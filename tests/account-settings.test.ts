// Account settings (src/account): name, email change, password change and two-step sign-in
// management, through the real app and database. Mail is read back from the test app's mail folder.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { generateKeyPairSync, sign } from "node:crypto";
import { Secret, TOTP } from "otpauth";
import { sql } from "kysely";
import pg from "pg";
import { encryptTotpSecret, issueRecoveryCodes, newTotpSecret } from "../src/auth/mfa.ts";
import { hashPassword, verifyPassword } from "../src/auth/password.ts";
import { clerkAccountUrl } from "../src/account/routes.tsx";
import { withContext } from "../src/platform/db.ts";
import { listDevMail, readDevMail } from "../src/platform/mail.ts";
import { createTestApp, TEST_ORIGIN, type TestApp } from "./support/app.ts";
import { Client, clientAs } from "./support/browserless.ts";
import { makePerson } from "./support/people.ts";
import { waitFor } from "./support/wait.ts";

const PASSWORD = "correct horse battery staple";
const NEW_PASSWORD = "a different long passphrase";

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

/** A local account with a real password, TOTP secret and recovery codes, signed in (second factor passed). */
async function account() {
  const person = await makePerson(t, { practiceName: "Settings Clinic" });
  const secret = newTotpSecret();
  const passwordHash = await hashPassword(PASSWORD);
  const recovery = await withContext(t.db, { actor: "test", userId: person.userId }, async (tx) => {
    await tx.updateTable("users").set({ password_hash: passwordHash, totp_secret: encryptTotpSecret({ config: t.config }, person.userId, secret) })
      .where("id", "=", person.userId).execute();
    return issueRecoveryCodes(tx, { config: t.config }, person.userId);
  });
  return { ...person, email: `${person.userId}@people.example`, secret, totp: new TOTP({ secret: Secret.fromBase32(secret) }), recovery, client: await clientAs(t, person) };
}

const userRow = (id: string) => t.ownerDb.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
const eventsOf = (userId: string) =>
  t.ownerDb.selectFrom("audit_events").select(["action", "outcome", "details", "practice_id"]).where("target_id", "=", userId).orderBy("occurred_at").orderBy("chain_seq").execute();

async function mailsTo(address: string) {
  const list = (await listDevMail(t.config.mail.dir)).filter((m) => m.to.includes(address));
  return Promise.all(list.map(async (m) => ({ subject: m.subject, text: (await readDevMail(t.config.mail.dir, m.id))!.text })));
}

describe("name", () => {
  test("saved and audited; an empty name is refused", async () => {
    const a = await account();
    expect((await a.client.post("/account/name", { fullName: "   " })).status).toBe(422);
    const res = await a.client.post("/account/name", { fullName: "Robin Renamed" });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/account?saved=name");
    expect((await userRow(a.userId)).full_name).toBe("Robin Renamed");
    const page = await (await a.client.get("/account?saved=name")).text();
    expect(page).toContain("Your name is saved.");
    expect(page).toContain('href="/account/sessions"');
    expect((await eventsOf(a.userId)).map((e) => e.action)).toEqual(["account.name.changed"]);
  });
});

describe("email change", () => {
  test("nothing changes until the new address confirms; the old address is told; the link works once", async () => {
    const a = await account();
    const newEmail = `moved.${crypto.randomUUID().slice(0, 8)}@clinic.example`;
    const res = await a.client.post("/account/email", { email: newEmail, password: PASSWORD });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("Check your new inbox");

    // Not applied yet: the account still has the old address, and the settings page says a change waits.
    expect((await userRow(a.userId)).email).toBe(a.email);
    expect(await (await a.client.get("/account")).text()).toContain("waiting for confirmation");

    const [toNew] = await mailsTo(newEmail);
    const token = /email-change\/confirm\?token=([A-Za-z0-9_-]{43})/.exec(toNew!.text)![1]!;
    const [notice] = await mailsTo(a.email);
    expect(notice!.subject).toBe("A change of your PatientLetterHub email address was requested");
    expect(notice!.text).toContain("Nothing changes until the link sent to that address is used.");
    expect(notice!.text).toContain("m******@clinic.example"); // masked: the first letter and the domain
    expect(notice!.text).not.toContain(token);

    // Opening the link (a mail scanner does) changes nothing either.
    const opened = await new Client(t).get(`/email-change/confirm?token=${token}`);
    expect(opened.status).toBe(200);
    expect(await opened.text()).toContain("Confirm the new address");
    expect((await userRow(a.userId)).email).toBe(a.email);

    const confirmed = await new Client(t).post("/email-change/confirm", { token });
    expect(confirmed.status).toBe(200);
    const after = await userRow(a.userId);
    expect(after.email).toBe(newEmail);
    expect(after.email_verified_at).not.toBeNull();
    expect((await mailsTo(a.email)).map((m) => m.subject)).toContain("Your PatientLetterHub email address was changed");

    // Single use: the same link again is refused and audited.
    expect((await new Client(t).post("/email-change/confirm", { token })).status).toBe(400);
    // The new address signs in; the old one no longer matches an account.
    expect((await new Client(t).post("/login", { email: newEmail, password: PASSWORD })).headers.get("location")).toBe("/mfa/verify");
    expect((await new Client(t).post("/login", { email: a.email, password: PASSWORD })).status).toBe(401);

    const events = await eventsOf(a.userId);
    expect(events.map((e) => e.action)).toContain("account.email.change_requested");
    const changed = events.find((e) => e.action === "account.email.changed")!;
    expect(changed.details).toEqual({ old_domain: "people.example", new_domain: "clinic.example" });
    expect(changed.practice_id).toBeNull();
    const rejected = await t.ownerDb.selectFrom("audit_events").select(["outcome", "details"]).where("action", "=", "auth.token.rejected").execute();
    expect(rejected.some((e) => e.outcome === "denied" && (e.details as { purpose?: string }).purpose === "change_email")).toBe(true);
  });

  test("a wrong current password changes nothing and sends nothing", async () => {
    const a = await account();
    const newEmail = `wrong.${crypto.randomUUID().slice(0, 8)}@clinic.example`;
    const res = await a.client.post("/account/email", { email: newEmail, password: "not my password" });
    expect(res.status).toBe(422);
    expect(await res.text()).toContain("That is not your current password");
    expect(await mailsTo(newEmail)).toEqual([]);
    expect(await t.ownerDb.selectFrom("email_tokens").select("id").where("new_email", "=", newEmail).execute()).toEqual([]);
    const [event] = await eventsOf(a.userId);
    expect(event).toMatchObject({ action: "account.reauth.failed", outcome: "denied", details: { factor: "password", purpose: "email", reason: "invalid" } });
  });

  test("an address that already has an account is told so, and no link is issued", async () => {
    const a = await account();
    const other = await account();
    const res = await a.client.post("/account/email", { email: other.email, password: PASSWORD });
    expect(res.status).toBe(200); // the same answer as for a free address: no account discovery
    // The settings page afterwards says a change waits, as it does for a free address (its absence
    // would tell the asker that the address has an account).
    expect(await (await a.client.get("/account")).text()).toContain("waiting for confirmation");
    const mails = await mailsTo(other.email);
    expect(mails.map((m) => m.subject)).toEqual(["Someone tried to move a PatientLetterHub account to your email"]);
    expect(mails[0]!.text).not.toContain("token=");
    expect((await eventsOf(a.userId)).at(-1)).toMatchObject({ action: "account.email.change_requested", details: { address_in_use: true } });
  });

  test("too many change requests are refused, audited as denied, and send nothing", async () => {
    const a = await account();
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const to = `many${i}.${crypto.randomUUID().slice(0, 8)}@clinic.example`;
      const res = await a.client.post("/account/email", { email: to, password: PASSWORD });
      statuses.push(res.status);
      if (res.status === 429) {
        expect(await res.text()).toContain("You asked for several changes in a short time");
        expect(await mailsTo(to)).toEqual([]);
        expect(await t.ownerDb.selectFrom("email_tokens").select("id").where("new_email", "=", to).execute()).toEqual([]);
      }
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429]); // EMAIL_CHANGE_LIMIT: 3
    const requested = (await eventsOf(a.userId)).filter((e) => e.action === "account.email.change_requested");
    expect(requested.map((e) => [e.outcome, e.details])).toEqual([
      ["success", { address_in_use: false }], ["success", { address_in_use: false }], ["success", { address_in_use: false }],
      ["denied", { reason: "rate_limited" }], ["denied", { reason: "rate_limited" }],
    ]);
  });

  test("a newer request retires the older link, and an expired link is refused", async () => {
    const a = await account();
    const first = `first.${crypto.randomUUID().slice(0, 8)}@clinic.example`;
    const second = `second.${crypto.randomUUID().slice(0, 8)}@clinic.example`;
    await a.client.post("/account/email", { email: first, password: PASSWORD });
    await a.client.post("/account/email", { email: second, password: PASSWORD });
    const tokenOf = async (to: string) => /token=([A-Za-z0-9_-]{43})/.exec((await mailsTo(to))[0]!.text)![1]!;
    expect((await new Client(t).post("/email-change/confirm", { token: await tokenOf(first) })).status).toBe(400);
    await t.ownerDb.updateTable("email_tokens").set({ expires_at: sql`now() - interval '1 second'` }).where("new_email", "=", second).execute();
    expect((await new Client(t).post("/email-change/confirm", { token: await tokenOf(second) })).status).toBe(400);
    expect((await userRow(a.userId)).email).toBe(a.email);
  });

  test("an address taken while the confirmation is in flight refuses the link (400), never a 500", async () => {
    const a = await account();
    const other = await account();
    const target = `contested.${crypto.randomUUID().slice(0, 8)}@clinic.example`;
    await a.client.post("/account/email", { email: target, password: PASSWORD });
    const token = /token=([A-Za-z0-9_-]{43})/.exec((await mailsTo(target))[0]!.text)![1]!;
    // Another account takes the address in a transaction still open (a sign-up or another change would).
    const owner = new pg.Client({ connectionString: t.database.ownerUrl });
    await owner.connect();
    try {
      await owner.query("BEGIN");
      await owner.query("UPDATE users SET email = $1 WHERE id = $2", [target, other.userId]);
      const confirming = new Client(t).post("/email-change/confirm", { token });
      await waitFor("the confirmation to wait on the address", async () =>
        (await owner.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()", [t.database.name])).rows[0].n > 0);
      await owner.query("COMMIT");
      expect((await confirming).status).toBe(400);
    } finally {
      await owner.query("ROLLBACK").catch(() => {});
      await owner.end();
    }
    expect((await userRow(a.userId)).email).toBe(a.email);
  });

  // The notice to the old address says: not you? change or reset your password. Doing so must kill
  // the pending link, or whoever asked for the change still takes the account by confirming it.
  test("changing or resetting the password kills a pending email-change link", async () => {
    const tokenOf = async (to: string) => /token=([A-Za-z0-9_-]{43})/.exec((await mailsTo(to))[0]!.text)![1]!;

    const a = await account();
    const intruder = `intruder.${crypto.randomUUID().slice(0, 8)}@elsewhere.example`;
    expect((await a.client.post("/account/email", { email: intruder, password: PASSWORD })).status).toBe(200);
    expect((await a.client.post("/account/password", { current: PASSWORD, password: NEW_PASSWORD, confirm: NEW_PASSWORD })).status).toBe(200);
    expect((await new Client(t).post("/email-change/confirm", { token: await tokenOf(intruder) })).status).toBe(400);
    expect((await userRow(a.userId)).email).toBe(a.email);

    const b = await account();
    const other = `intruder.${crypto.randomUUID().slice(0, 8)}@elsewhere.example`;
    expect((await b.client.post("/account/email", { email: other, password: PASSWORD })).status).toBe(200);
    expect((await new Client(t).post("/password/forgot", { email: b.email })).status).toBe(200);
    const reset = await waitFor("the reset link", async () => {
      const mail = (await mailsTo(b.email)).find((m) => m.subject === "Reset your PatientLetterHub password");
      return mail && /password\/reset\?token=([A-Za-z0-9_-]{43})/.exec(mail.text)?.[1];
    });
    expect((await new Client(t).post("/password/reset", { token: reset, password: NEW_PASSWORD, confirm: NEW_PASSWORD })).status).toBe(200);
    expect((await new Client(t).post("/email-change/confirm", { token: await tokenOf(other) })).status).toBe(400);
    expect((await userRow(b.userId)).email).toBe(b.email);
  });
});

describe("password change", () => {
  test("needs the current password; ends every other session; this one continues under a new token", async () => {
    const a = await account();
    const elsewhere = await clientAs(t, a);
    expect((await elsewhere.get("/account")).status).toBe(200);

    const wrong = await a.client.post("/account/password", { current: "not my password", password: NEW_PASSWORD, confirm: NEW_PASSWORD });
    expect(wrong.status).toBe(422);
    expect(await wrong.text()).toContain("That is not your current password");
    expect(await verifyPassword((await userRow(a.userId)).password_hash!, PASSWORD)).toBe(true);
    expect((await elsewhere.get("/account")).status).toBe(200);

    const oldCookie = a.client.cookies.get("__Host-plh_session")!;
    const res = await a.client.post("/account/password", { current: PASSWORD, password: NEW_PASSWORD, confirm: NEW_PASSWORD });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("One other session was signed out");
    const user = await userRow(a.userId);
    expect(await verifyPassword(user.password_hash!, NEW_PASSWORD)).toBe(true);
    expect(await verifyPassword(user.password_hash!, PASSWORD)).toBe(false);

    // The other browser is signed out; this one carries on with its rotated cookie; the old cookie is dead.
    expect((await elsewhere.get("/account")).headers.get("location")).toBe("/login");
    expect(a.client.cookies.get("__Host-plh_session")).not.toBe(oldCookie);
    expect((await a.client.get("/account")).status).toBe(200);
    const stale = new Client(t);
    stale.cookies.set("__Host-plh_session", oldCookie);
    expect((await stale.get("/account")).status).toBe(303);

    expect((await mailsTo(a.email)).map((m) => m.subject)).toContain("Your PatientLetterHub password was changed");
    const changed = (await eventsOf(a.userId)).find((e) => e.action === "account.password.changed")!;
    expect(changed.details).toEqual({ sessions: 1 });
  });
});

describe("two-step sign-in", () => {
  test("new recovery codes need a fresh code: a wrong or replayed one is refused", async () => {
    const a = await account();
    const unused = () => t.ownerDb.selectFrom("user_recovery_codes").select("code_hash").where("user_id", "=", a.userId).where("used_at", "is", null).execute();
    const before = await unused();
    expect(before).toHaveLength(10);

    expect((await a.client.post("/account/two-step/recovery-codes", { code: "000000" })).status).toBe(422);
    expect(await unused()).toEqual(before);

    const code = a.totp.generate();
    const res = await a.client.post("/account/two-step/recovery-codes", { code });
    expect(res.status).toBe(200);
    const shown = [...(await res.text()).matchAll(/<code>([a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4})<\/code>/g)].map((m) => m[1]!);
    expect(shown).toHaveLength(10);
    const after = await unused();
    expect(after).toHaveLength(10);
    expect(after.some((row) => before.some((b) => b.code_hash === row.code_hash))).toBe(false);

    // The same TOTP code again (a replay) and an old recovery code (replaced) are both refused.
    expect((await a.client.post("/account/two-step/recovery-codes", { code })).status).toBe(422);
    expect((await a.client.post("/account/two-step/recovery-codes", { code: a.recovery[0]! })).status).toBe(422);
    // One of the new codes works.
    expect((await a.client.post("/account/two-step/recovery-codes", { code: shown[0]! })).status).toBe(200);

    const events = await eventsOf(a.userId);
    expect(events.filter((e) => e.action === "account.mfa.recovery_codes_regenerated").map((e) => e.details)).toEqual([
      { method: "totp", recovery_codes: 10 }, { method: "recovery_code", recovery_codes: 10 },
    ]);
    expect(events.filter((e) => e.action === "account.reauth.failed").map((e) => e.details)).toEqual([
      { factor: "second_factor", purpose: "recovery_codes", reason: "invalid" },
      { factor: "second_factor", purpose: "recovery_codes", reason: "invalid" },
      { factor: "second_factor", purpose: "recovery_codes", reason: "invalid" },
    ]);
    expect((await mailsTo(a.email)).map((m) => m.subject)).toContain("Your recovery codes were replaced");
  });

  test("moving to a new app: a fresh code first, the old app works until the new one proves itself, then only the new one", async () => {
    const a = await account();
    expect((await a.client.post("/account/two-step/reenrol", { code: "123456" })).status).toBe(422);
    const started = await a.client.post("/account/two-step/reenrol", { code: a.recovery[0]! });
    expect(started.status).toBe(200);
    const newSecret = /<code class="secret">([A-Z2-7 ]+)<\/code>/.exec(await started.text())![1]!.replace(/ /g, "");
    expect(newSecret).not.toBe(a.secret);
    const newApp = new TOTP({ secret: Secret.fromBase32(newSecret) });
    const stored = (await userRow(a.userId)).totp_secret;
    // A reload (or anyone else holding the session) gets the code form, never the new secret again:
    // otherwise a stolen session could finish moving the second factor to its own app.
    const reloaded = await a.client.get("/account/two-step/reenrol");
    expect(reloaded.status).toBe(200);
    const reloadedHtml = await reloaded.text();
    expect(reloadedHtml).toContain('action="/account/two-step/reenrol/confirm"');
    expect(reloadedHtml).toContain("shown only once");
    expect(reloadedHtml).not.toContain(newSecret.slice(0, 8));
    expect(reloadedHtml).not.toContain("<svg");

    const refused = await a.client.post("/account/two-step/reenrol/confirm", { code: a.totp.generate() }); // the old app's code
    expect(refused.status).toBe(422);
    expect(await refused.text()).not.toContain(newSecret.slice(0, 8));
    expect((await userRow(a.userId)).totp_secret).toBe(stored);

    const done = await a.client.post("/account/two-step/reenrol/confirm", { code: newApp.generate() });
    expect(done.status).toBe(200);
    expect((await userRow(a.userId)).totp_secret).not.toBe(stored);
    expect((await a.client.get("/account/two-step/reenrol")).headers.get("location")).toBe("/account/two-step");

    // The next time step's codes: the old app's is refused, the new app's is accepted as a fresh code.
    const next = Date.now() + 30_000;
    expect((await a.client.post("/account/two-step/recovery-codes", { code: a.totp.generate({ timestamp: next }) })).status).toBe(422);
    expect((await a.client.post("/account/two-step/recovery-codes", { code: newApp.generate({ timestamp: next }) })).status).toBe(200);

    const actions = (await eventsOf(a.userId)).map((e) => [e.action, e.outcome]);
    expect(actions).toContainEqual(["account.mfa.reenrol_started", "success"]);
    expect(actions).toContainEqual(["account.mfa.reenrolled", "denied"]);
    expect(actions).toContainEqual(["account.mfa.reenrolled", "success"]);
    expect((await mailsTo(a.email)).map((m) => m.subject)).toContain("Your two-step sign-in was moved to a new device");
  });
});

describe("with Clerk as the identity provider", () => {
  const FRONTEND_API = "clerk.clinic.example";
  const keys = generateKeyPairSync("rsa", { modulusLength: 2048 });
  let clerk: TestApp;
  beforeAll(async () => {
    clerk = await createTestApp({
      env: {
        AUTH_PROVIDER: "clerk", CLERK_PUBLISHABLE_KEY: `pk_test_${Buffer.from(`${FRONTEND_API}$`).toString("base64")}`,
        CLERK_JWT_KEY: keys.publicKey.export({ type: "spki", format: "pem" }).toString(), CLERK_AUTHORIZED_PARTIES: TEST_ORIGIN,
      },
    });
  });
  afterAll(() => clerk.close());

  /** A Clerk session token for a linked user, as Clerk's Frontend API mints it (second factor used). */
  function clerkToken(clerkUserId: string): string {
    const now = Math.floor(Date.now() / 1000);
    const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
    const unsigned = `${part({ alg: "RS256", typ: "JWT", kid: "test" })}.${part({
      sub: clerkUserId, sid: `sess_${crypto.randomUUID().slice(0, 12)}`, azp: TEST_ORIGIN, iss: `https://${FRONTEND_API}`, iat: now, nbf: now - 10, exp: now + 60, fva: [2, 1], v: 2,
    })}`;
    return `${unsigned}.${sign("RSA-SHA256", Buffer.from(unsigned), keys.privateKey).toString("base64url")}`;
  }

  test("the settings page says Clerk manages email, password and two-step sign-in, and links there; those routes do not exist", async () => {
    const person = await makePerson(clerk);
    const clerkUserId = `user_${crypto.randomUUID().slice(0, 12)}`;
    await clerk.ownerDb.updateTable("users").set({ clerk_user_id: clerkUserId }).where("id", "=", person.userId).execute();
    const client = new Client(clerk);
    client.cookies.set("__session", clerkToken(clerkUserId));
    const res = await client.get("/account");
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain("Your sign-in is managed by Clerk");
    expect(html).toContain('href="https://accounts.clinic.example/user"');
    expect(html).not.toContain('action="/account/email"');
    expect(html).toContain('action="/account/name"');
    for (const path of ["/account/password", "/account/two-step"]) expect((await client.get(path)).status).toBe(404);
    expect((await client.post("/account/email", { email: "x@clinic.example", password: PASSWORD })).status).toBe(404);
    expect((await client.get("/account/preferences")).status).toBe(200);
  });

  test("Clerk's account page is found for production and development instances", () => {
    expect(clerkAccountUrl("clerk.clinic.example")).toBe("https://accounts.clinic.example/user");
    expect(clerkAccountUrl("happy-otter-12.clerk.accounts.dev")).toBe("https://happy-otter-12.accounts.dev/user");
    expect(clerkAccountUrl("auth.clinic.example")).toBeNull();
  });
});
