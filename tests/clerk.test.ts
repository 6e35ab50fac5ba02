// Clerk as the identity provider (AUTH_PROVIDER=clerk), with no network: the tests mint RS256
// session tokens with a local RSA key whose public half is CLERK_JWT_KEY, exactly as Clerk's
// Frontend API would, and send them in the __session cookie.
// The app under test is the real one (createTestApp) configured for clerk mode.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { generateKeyPairSync, type KeyObject, sign } from "node:crypto";
import { Hono } from "hono";
import { sql } from "kysely";
import type { HonoEnv } from "../src/context.ts";
import { ConfigError, loadConfig } from "../src/config.ts";
import { clerkFrontendApiHost, clerkSession, clerkSessionTokenHash, verifyClerkSessionToken } from "../src/auth/clerk.ts";
import { requireMfa } from "../src/http/guards.ts";
import { createTestApp, TEST_ORIGIN, testEnv, type TestApp } from "./support/app.ts";

const FRONTEND_API = "clerk.example.test";
const PUBLISHABLE_KEY = `pk_test_${Buffer.from(`${FRONTEND_API}$`).toString("base64")}`;
const signing = generateKeyPairSync("rsa", { modulusLength: 2048 });
const stranger = generateKeyPairSync("rsa", { modulusLength: 2048 });
const JWT_KEY = signing.publicKey.export({ type: "spki", format: "pem" }).toString();

const CLERK_ENV = {
  AUTH_PROVIDER: "clerk",
  CLERK_PUBLISHABLE_KEY: PUBLISHABLE_KEY,
  CLERK_JWT_KEY: JWT_KEY,
  CLERK_AUTHORIZED_PARTIES: TEST_ORIGIN,
  TRUST_PROXY: "true",
};

let t: TestApp;
let app: Hono<HonoEnv>;

beforeAll(async () => {
  t = await createTestApp({ env: CLERK_ENV });
  // The real app in clerk mode, plus a probe behind requireMfa (routes added later still run
  // behind the whole middleware chain).
  app = t.app;
  app.get("/whoami", requireMfa(), (c) =>
    c.json({ userId: c.var.user!.id, sessionId: c.var.session!.id, practiceId: c.var.session!.practice_id, mfa: Boolean(c.var.session!.mfa_verified_at) }),
  );
});
afterAll(() => t.close());

// ------------------------------------------------------------------------------------------------
// Tokens and fixtures

const b64url = (value: string | Buffer) => Buffer.from(value).toString("base64url");
let counter = 0;
const unique = () => `${++counter}${crypto.randomUUID().replace(/-/g, "").slice(0, 10)}`;

type Claims = Record<string, unknown>;

function mint(claims: Claims, key: KeyObject = signing.privateKey, header: Claims = {}): string {
  const head = b64url(JSON.stringify({ alg: "RS256", typ: "JWT", kid: "test", ...header }));
  const body = b64url(JSON.stringify(claims));
  const signature = sign("RSA-SHA256", Buffer.from(`${head}.${body}`), key).toString("base64url");
  return `${head}.${body}.${signature}`;
}

/** A Clerk session token as the Frontend API mints it: one minute long, second factor used. */
function claimsFor(person: { clerkUserId: string; sessionId?: string; email?: string }, overrides: Claims = {}): Claims {
  const now = Math.floor(Date.now() / 1000);
  return {
    sub: person.clerkUserId,
    sid: person.sessionId ?? `sess_${unique()}`,
    azp: TEST_ORIGIN,
    iss: `https://${FRONTEND_API}`,
    iat: now,
    nbf: now - 10,
    exp: now + 60,
    fva: [2, 1],
    v: 2,
    ...(person.email ? { email: person.email, email_verified: true } : {}),
    ...overrides,
  };
}

async function get(path: string, token?: string, headers: Record<string, string> = {}): Promise<Response> {
  return app.request(`${TEST_ORIGIN}${path}`, {
    headers: { "x-forwarded-for": "203.0.113.9", "user-agent": "TestBrowser/1.0", ...(token ? { cookie: `__session=${token}` } : {}), ...headers },
  });
}

async function post(path: string, token?: string): Promise<Response> {
  return app.request(`${TEST_ORIGIN}${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded", origin: TEST_ORIGIN, "x-forwarded-for": "203.0.113.9", "user-agent": "TestBrowser/1.0",
      ...(token ? { cookie: `__session=${token}` } : {}),
    },
    body: "",
  });
}

/** A local user (as an admin's invitation or the local sign-up leaves one), with a membership. */
async function localUser(options: { email?: string; clerkUserId?: string | null; status?: "active" | "deactivated"; practice?: boolean } = {}) {
  const id = crypto.randomUUID();
  const email = options.email ?? `person${unique()}@clinic.example`;
  await t.ownerDb.insertInto("users").values({
    id, email, full_name: "Robin Lee", email_verified_at: new Date(), clerk_user_id: options.clerkUserId ?? null, status: options.status ?? "active",
  }).execute();
  let practiceId: string | null = null;
  if (options.practice !== false) {
    practiceId = crypto.randomUUID();
    await t.ownerDb.insertInto("practices").values({ id: practiceId, name: "Lakeside Clinic", status: "active" }).execute();
    await t.ownerDb.insertInto("memberships").values({ practice_id: practiceId, user_id: id, role: "staff" }).execute();
  }
  return { id, email, practiceId };
}

const sessionsOf = (userId: string) => t.ownerDb.selectFrom("sessions").selectAll().where("user_id", "=", userId).execute();
const eventsFor = (action: string, clerkUserId: string) =>
  t.ownerDb.selectFrom("audit_events").selectAll().where("action", "=", action).where(sql`details->>'clerk_user_id'`, "=", clerkUserId).orderBy("chain_seq").execute();
const eventsByTarget = (action: string, userId: string) =>
  t.ownerDb.selectFrom("audit_events").selectAll().where("action", "=", action).where("target_id", "=", userId).execute();
const clerkUserAuditCount = async (clerkUserId: string) =>
  (await t.ownerDb.selectFrom("audit_events").select("id").where(sql`details->>'clerk_user_id'`, "=", clerkUserId).execute()).length;

// ------------------------------------------------------------------------------------------------

describe("configuration", () => {
  test("AUTH_PROVIDER=clerk without its keys is refused, naming both", () => {
    let error: unknown;
    try {
      loadConfig(testEnv({ DATABASE_URL: "postgres://plh_app:x@127.0.0.1:5432/plh", AUTH_PROVIDER: "clerk" }));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toContain("CLERK_PUBLISHABLE_KEY: required when AUTH_PROVIDER=clerk");
    expect(problems).toContain("CLERK_JWT_KEY: required when AUTH_PROVIDER=clerk");
  });

  test("the config carries the key, the PEM and the authorized parties", () => {
    expect(t.config.auth.provider).toBe("clerk");
    expect(t.config.auth.clerk).toEqual({ publishableKey: PUBLISHABLE_KEY, jwtKey: JWT_KEY, authorizedParties: [TEST_ORIGIN] });
  });

  test("the publishable key names the Frontend API host; a key that does not is refused", () => {
    expect(clerkFrontendApiHost(PUBLISHABLE_KEY)).toBe(FRONTEND_API);
    // Real keys drop the base64 padding.
    expect(clerkFrontendApiHost(`pk_live_${Buffer.from("clerk.letters.example.org$").toString("base64").replace(/=+$/, "")}`)).toBe("clerk.letters.example.org");
    expect(() => clerkFrontendApiHost(`pk_test_${Buffer.from("evil.example/x$").toString("base64")}`)).toThrow(/Frontend API host/);
    expect(() => clerkFrontendApiHost(`pk_test_${Buffer.from("clerk.example.test").toString("base64")}`)).toThrow(/Frontend API host/);
    expect(() => clerkFrontendApiHost("sk_test_abc")).toThrow(/Frontend API host/);
  });
});

describe("token verification (networkless, with CLERK_JWT_KEY)", () => {
  const settings = () => t.config.auth.clerk!;

  test("a valid token gives the Clerk user, session, email and second factor", async () => {
    const claims = claimsFor({ clerkUserId: "user_abc", sessionId: "sess_abc", email: "Robin.Lee@Clinic.Example" });
    const result = await verifyClerkSessionToken(settings(), mint(claims));
    expect(result).toEqual({
      ok: true, clerkUserId: "user_abc", sessionId: "sess_abc", email: "robin.lee@clinic.example", emailVerified: true, secondFactor: true,
      expiresAt: new Date((claims.exp as number) * 1000),
    });
  });

  test("fva[1] = -1 (or no fva at all) means no second factor", async () => {
    const none = await verifyClerkSessionToken(settings(), mint(claimsFor({ clerkUserId: "user_a" }, { fva: [3, -1] })));
    expect(none).toMatchObject({ ok: true, secondFactor: false });
    const missing = await verifyClerkSessionToken(settings(), mint(claimsFor({ clerkUserId: "user_a" }, { fva: undefined })));
    expect(missing).toMatchObject({ ok: true, secondFactor: false });
    const zero = await verifyClerkSessionToken(settings(), mint(claimsFor({ clerkUserId: "user_a" }, { fva: [0, 0] })));
    expect(zero).toMatchObject({ ok: true, secondFactor: true });
  });

  test("refuses another party, an expired token, another key, a forged algorithm, impersonation and pending sessions", async () => {
    const person = { clerkUserId: "user_x" };
    const now = Math.floor(Date.now() / 1000);
    expect(await verifyClerkSessionToken(settings(), mint(claimsFor(person, { azp: "https://evil.example" })))).toEqual({ ok: false, reason: "token-invalid-authorized-parties" });
    expect(await verifyClerkSessionToken(settings(), mint(claimsFor(person, { azp: undefined })))).toEqual({ ok: false, reason: "token-invalid-authorized-parties" });
    expect(await verifyClerkSessionToken(settings(), mint(claimsFor(person, { iat: now - 600, nbf: now - 600, exp: now - 300 })))).toEqual({ ok: false, reason: "token-expired" });
    expect(await verifyClerkSessionToken(settings(), mint(claimsFor(person), stranger.privateKey))).toEqual({ ok: false, reason: "token-invalid-signature" });
    const [head, body] = mint(claimsFor(person)).split(".");
    const none = `${b64url(JSON.stringify({ alg: "none", typ: "JWT", kid: "test" }))}.${body}.${b64url("x")}`;
    expect((await verifyClerkSessionToken(settings(), none)).ok).toBe(false);
    expect((await verifyClerkSessionToken(settings(), `${head}.${body}.`)).ok).toBe(false);
    expect(await verifyClerkSessionToken(settings(), mint(claimsFor(person, { act: { sub: "user_admin" } })))).toEqual({ ok: false, reason: "impersonation" });
    expect(await verifyClerkSessionToken(settings(), mint(claimsFor(person, { sts: "pending" })))).toEqual({ ok: false, reason: "session-pending" });
    expect(await verifyClerkSessionToken(settings(), "not-a-jwt")).toEqual({ ok: false, reason: "malformed" });
    // An empty allow-list would make @clerk/backend skip the azp check: refused instead.
    expect(await verifyClerkSessionToken({ ...settings(), authorizedParties: [] }, mint(claimsFor(person)))).toEqual({ ok: false, reason: "no-authorized-parties" });
  });

  test("an email without email_verified is carried but not trusted for linking", async () => {
    const result = await verifyClerkSessionToken(settings(), mint(claimsFor({ clerkUserId: "user_y" }, { email: "a@b.example" })));
    expect(result).toMatchObject({ ok: true, email: "a@b.example", emailVerified: false });
  });
});

describe("sessions from Clerk tokens", () => {
  test("a valid token with a second factor opens OUR session once, audited once across requests", async () => {
    const clerkUserId = `user_${unique()}`;
    const sessionId = `sess_${unique()}`;
    const local = await localUser({ clerkUserId });
    const token = () => mint(claimsFor({ clerkUserId, sessionId }));

    const first = await get("/whoami", token());
    expect(first.status).toBe(200);
    const seen = await first.json();
    expect(seen).toMatchObject({ userId: local.id, practiceId: local.practiceId, mfa: true });

    // Clerk refreshes the token every minute: new tokens, same Clerk session, same row.
    for (let i = 0; i < 3; i++) {
      const again = await get("/whoami", token());
      expect(again.status).toBe(200);
      expect((await again.json()).sessionId).toBe(seen.sessionId);
    }

    const rows = await sessionsOf(local.id);
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect(row.token_hash).toBe(clerkSessionTokenHash(sessionId));
    expect(row.mfa_verified_at).not.toBeNull();
    expect(row.ip).toBe("203.0.113.9");
    // Our absolute lifetime, not the token's minute.
    const hours = (new Date(row.expires_at).getTime() - new Date(row.created_at).getTime()) / 3_600_000;
    expect(hours).toBeCloseTo(t.config.session.absoluteHours, 1);

    const signins = await eventsByTarget("auth.signin.succeeded", local.id);
    expect(signins).toHaveLength(1);
    expect(signins[0]).toMatchObject({ practice_id: local.practiceId, actor_id: local.id, actor_role: "staff", outcome: "success", details: { provider: "clerk" } });
    // Linked already: nothing to link.
    expect(await eventsByTarget("auth.clerk.linked", local.id)).toHaveLength(0);

    // Signed in: /login sends the person on.
    const login = await get("/login", token());
    expect(login.status).toBe(303);
    expect(login.headers.get("location")).toBe("/app");
  });

  test("two first requests of one Clerk session at once make one row and one sign-in event", async () => {
    const clerkUserId = `user_${unique()}`;
    const sessionId = `sess_${unique()}`;
    const local = await localUser({ clerkUserId });
    const responses = await Promise.all([1, 2, 3].map(() => get("/whoami", mint(claimsFor({ clerkUserId, sessionId })))));
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(await sessionsOf(local.id)).toHaveLength(1);
    expect(await eventsByTarget("auth.signin.succeeded", local.id)).toHaveLength(1);
  });

  test("a token without a second factor is refused: no session, an audited refusal and a page that says what to do", async () => {
    const clerkUserId = `user_${unique()}`;
    const local = await localUser({ clerkUserId });
    const token = mint(claimsFor({ clerkUserId }, { fva: [1, -1] }));

    const res = await get("/whoami", token);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/login");
    expect(await sessionsOf(local.id)).toHaveLength(0);
    const failures = await eventsByTarget("auth.signin.failed", local.id);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ practice_id: null, outcome: "denied", details: { reason: "no_second_factor", provider: "clerk", clerk_user_id: clerkUserId } });

    const page = await get("/login", token);
    expect(page.status).toBe(403);
    const html = await page.text();
    expect(html).toContain("Turn on two-step verification");
    expect(html).toContain("then sign out and sign in again");
    expect(html).toContain('data-mode="refused"');
  });

  test("a session row whose Clerk session later shows no second factor is ended", async () => {
    const clerkUserId = `user_${unique()}`;
    const sessionId = `sess_${unique()}`;
    const local = await localUser({ clerkUserId });
    expect((await get("/whoami", mint(claimsFor({ clerkUserId, sessionId })))).status).toBe(200);
    expect((await get("/whoami", mint(claimsFor({ clerkUserId, sessionId }, { fva: [1, -1] })))).status).toBe(303);
    const [row] = await sessionsOf(local.id);
    expect(row).toMatchObject({ revoked_reason: "no_second_factor" });
    expect(row!.revoked_at).not.toBeNull();
  });

  test("tokens for another party, expired, or signed by another key are refused without a session or an event", async () => {
    const clerkUserId = `user_${unique()}`;
    const local = await localUser({ clerkUserId });
    const now = Math.floor(Date.now() / 1000);
    const refused = [
      mint(claimsFor({ clerkUserId }, { azp: "https://other-app.example" })),
      mint(claimsFor({ clerkUserId }, { iat: now - 600, nbf: now - 600, exp: now - 120 })),
      mint(claimsFor({ clerkUserId }), stranger.privateKey),
    ];
    for (const token of refused) {
      const res = await get("/whoami", token);
      expect(res.status).toBe(303);
      expect(res.headers.get("location")).toBe("/login");
      const login = await get("/login", token);
      expect(login.status).toBe(200);
      expect(await login.text()).toContain('data-mode="signin"');
    }
    expect(await sessionsOf(local.id)).toHaveLength(0);
    expect(await clerkUserAuditCount(clerkUserId)).toBe(0);
    expect(await eventsByTarget("auth.signin.succeeded", local.id)).toHaveLength(0);
  });

  test("our idle timeout ends the session even though Clerk's is alive; the sign-in page then ends Clerk's too", async () => {
    const clerkUserId = `user_${unique()}`;
    const sessionId = `sess_${unique()}`;
    const local = await localUser({ clerkUserId });
    expect((await get("/whoami", mint(claimsFor({ clerkUserId, sessionId })))).status).toBe(200);
    await t.ownerDb.updateTable("sessions").set({ last_seen_at: new Date(Date.now() - (t.config.session.idleMinutes + 1) * 60_000) }).where("user_id", "=", local.id).execute();

    const token = mint(claimsFor({ clerkUserId, sessionId }));
    expect((await get("/whoami", token)).status).toBe(303);
    const [row] = await sessionsOf(local.id);
    expect(row).toMatchObject({ revoked_reason: "idle" });
    // The same Clerk session never gets a new row: the person signs in again (a new Clerk session).
    expect((await get("/whoami", mint(claimsFor({ clerkUserId, sessionId })))).status).toBe(303);
    expect(await sessionsOf(local.id)).toHaveLength(1);
    const login = await get("/login", token);
    expect(login.status).toBe(200);
    const html = await login.text();
    expect(html).toContain('data-mode="ended"');
    expect(html).toContain("Your session has ended");

    expect((await get("/whoami", mint(claimsFor({ clerkUserId })))).status).toBe(200);
    expect(await eventsByTarget("auth.signin.succeeded", local.id)).toHaveLength(2);
  });

  test("signing out ends our session for that Clerk session (audited by the shared sign-out)", async () => {
    const clerkUserId = `user_${unique()}`;
    const sessionId = `sess_${unique()}`;
    const local = await localUser({ clerkUserId });
    const token = () => mint(claimsFor({ clerkUserId, sessionId }));
    expect((await get("/whoami", token())).status).toBe(200);
    const out = await post("/logout", token());
    expect(out.status).toBe(303);
    expect(out.headers.get("location")).toBe("/login");
    expect((await get("/whoami", token())).status).toBe(303);
    expect(await get("/login", token()).then((r) => r.text())).toContain('data-mode="ended"');
    const [row] = await sessionsOf(local.id);
    expect(row).toMatchObject({ revoked_reason: "signout" });
  });

  test("a deactivated user is refused like one without an account", async () => {
    const clerkUserId = `user_${unique()}`;
    const local = await localUser({ clerkUserId, status: "deactivated" });
    const token = mint(claimsFor({ clerkUserId }));
    expect((await get("/whoami", token)).status).toBe(303);
    expect(await sessionsOf(local.id)).toHaveLength(0);
    expect((await get("/login", token)).status).toBe(403);
    const [event] = await eventsByTarget("auth.signin.failed", local.id);
    expect(event?.details).toMatchObject({ reason: "deactivated" });
  });
});

describe("mapping Clerk users to local accounts", () => {
  test("a Clerk user whose verified email matches an invited user without a Clerk identity is linked, once, and audited", async () => {
    const local = await localUser();
    const clerkUserId = `user_${unique()}`;
    const token = mint(claimsFor({ clerkUserId, email: local.email.toUpperCase() }));

    const res = await get("/whoami", token);
    expect(res.status).toBe(200);
    expect((await res.json()).userId).toBe(local.id);
    const user = await t.ownerDb.selectFrom("users").select("clerk_user_id").where("id", "=", local.id).executeTakeFirstOrThrow();
    expect(user.clerk_user_id).toBe(clerkUserId);
    const linked = await eventsByTarget("auth.clerk.linked", local.id);
    expect(linked).toHaveLength(1);
    expect(linked[0]).toMatchObject({ practice_id: null, actor_id: local.id, details: { provider: "clerk", clerk_user_id: clerkUserId } });

    // Next Clerk session: found by its Clerk id, even without the email claim; no second link.
    expect((await get("/whoami", mint(claimsFor({ clerkUserId })))).status).toBe(200);
    expect(await eventsByTarget("auth.clerk.linked", local.id)).toHaveLength(1);
    expect(await eventsByTarget("auth.signin.succeeded", local.id)).toHaveLength(2);
  });

  test("a second Clerk user with the same email cannot take over an account already linked", async () => {
    const first = `user_${unique()}`;
    const local = await localUser({ clerkUserId: first });
    const intruder = `user_${unique()}`;
    const token = mint(claimsFor({ clerkUserId: intruder, email: local.email }));

    expect((await get("/whoami", token)).status).toBe(303);
    const page = await get("/login", token);
    expect(page.status).toBe(403);
    expect(await page.text()).toContain("Ask your practice admin for an invitation");
    const user = await t.ownerDb.selectFrom("users").select("clerk_user_id").where("id", "=", local.id).executeTakeFirstOrThrow();
    expect(user.clerk_user_id).toBe(first);
    expect(await sessionsOf(local.id)).toHaveLength(0);
    const [event] = await eventsFor("auth.signin.failed", intruder);
    expect(event).toMatchObject({ target_id: local.id, outcome: "denied", details: { reason: "already_linked" } });

    // And the database itself keeps one Clerk identity to one local user.
    const other = await localUser();
    await expect(t.ownerDb.updateTable("users").set({ clerk_user_id: first }).where("id", "=", other.id).execute()).rejects.toThrow(/unique/i);
  });

  test("no link by an unverified email, and no second factor means no link either", async () => {
    const local = await localUser();
    const clerkUserId = `user_${unique()}`;
    const unverified = mint(claimsFor({ clerkUserId }, { email: local.email, email_verified: false }));
    expect((await get("/whoami", unverified)).status).toBe(303);
    expect((await get("/login", unverified)).status).toBe(403);

    const noSecondFactor = mint(claimsFor({ clerkUserId, email: local.email }, { fva: [0, -1] }));
    expect((await get("/whoami", noSecondFactor)).status).toBe(303);

    const user = await t.ownerDb.selectFrom("users").select("clerk_user_id").where("id", "=", local.id).executeTakeFirstOrThrow();
    expect(user.clerk_user_id).toBeNull();
    expect(await sessionsOf(local.id)).toHaveLength(0);
    // Every request that presents a refused token is recorded (here /whoami and /login, then /whoami).
    const events = await eventsFor("auth.signin.failed", clerkUserId);
    expect(events.map((e) => e.details.reason)).toEqual(["email_unverified", "email_unverified", "no_second_factor"]);
    expect(new Set(events.map((e) => e.details.clerk_session_id)).size).toBe(2);
  });

  test("a Clerk user with no local account gets no account, no practice, and a page saying to ask for an invitation", async () => {
    const clerkUserId = `user_${unique()}`;
    const token = mint(claimsFor({ clerkUserId, email: `stranger${unique()}@elsewhere.example` }));
    const before = await t.ownerDb.selectFrom("users").select(t.ownerDb.fn.countAll().as("n")).executeTakeFirstOrThrow();
    const practices = await t.ownerDb.selectFrom("practices").select(t.ownerDb.fn.countAll().as("n")).executeTakeFirstOrThrow();

    expect((await get("/whoami", token)).status).toBe(303);
    const page = await get("/login", token);
    expect(page.status).toBe(403);
    const html = await page.text();
    expect(html).toContain("Ask your practice admin for an invitation");
    expect(html).toContain("has no PatientLetterHub account yet");
    expect(html).toContain('id="clerk-sign-out"');

    expect(await t.ownerDb.selectFrom("users").select(t.ownerDb.fn.countAll().as("n")).executeTakeFirstOrThrow()).toEqual(before);
    expect(await t.ownerDb.selectFrom("practices").select(t.ownerDb.fn.countAll().as("n")).executeTakeFirstOrThrow()).toEqual(practices);
    const events = await eventsFor("auth.signin.failed", clerkUserId);
    expect(events.length).toBeGreaterThanOrEqual(1);
    expect(events[0]).toMatchObject({ practice_id: null, actor_type: "anonymous", target_id: null, outcome: "denied", details: { reason: "no_account", provider: "clerk" } });
  });

  test("clerkSession answers the same way when called directly (what the session loader relies on)", async () => {
    const request = { requestId: "req-clerk-direct", ip: "198.51.100.20", userAgent: "Direct/1.0" };
    const clerkUserId = `user_${unique()}`;
    const local = await localUser({ clerkUserId, practice: false });
    const ok = await clerkSession(t, mint(claimsFor({ clerkUserId })), request);
    expect("session" in ok && ok.user.id).toBe(local.id);
    expect("session" in ok && ok.session.practice_id).toBeNull();
    expect(await clerkSession(t, mint(claimsFor({ clerkUserId }), stranger.privateKey), request)).toEqual({ refused: "invalid", reason: "token-invalid-signature" });
    expect(await clerkSession(t, mint(claimsFor({ clerkUserId: `user_${unique()}` })), request)).toEqual({ refused: "no-account", reason: "no_account" });
  });
});

describe("the clerk sign-in page", () => {
  test("loads Clerk's frontend with the publishable key and the request's nonce, with no inline script", async () => {
    const res = await get("/login");
    expect(res.status).toBe(200);
    const html = await res.text();
    const csp = res.headers.get("content-security-policy")!;
    const nonce = /'nonce-([A-Za-z0-9+/=]+)'/.exec(csp)![1]!;

    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    for (const [, attrs, body] of scripts) {
      expect(attrs).toContain(`nonce="${nonce}"`);
      expect(attrs).toMatch(/\bsrc="/);
      expect(body!.trim()).toBe(""); // no inline script anywhere
    }
    const clerkScript = scripts.find(([, attrs]) => attrs!.includes(`src="https://${FRONTEND_API}/npm/@clerk/clerk-js@5/dist/clerk.browser.js"`));
    expect(clerkScript).toBeDefined();
    expect(clerkScript![1]).toContain(`data-clerk-publishable-key="${PUBLISHABLE_KEY}"`);
    expect(clerkScript![1]).toContain('crossorigin="anonymous"');
    expect(scripts.some(([, attrs]) => attrs!.includes('src="/static/clerk-signin.js"'))).toBe(true);
    expect(html).not.toMatch(/\son[a-z]+="/i); // no inline event handlers either

    expect(html).toContain('id="clerk-signin"');
    expect(html).toContain(`data-clerk-frontend-api="${FRONTEND_API}"`);
    expect(html).toContain('data-after-sign-in-url="/app"');
    expect(html).toMatch(/id="clerk-status" role="status" aria-live="polite"/);
    expect(html).toContain('id="clerk-error" role="alert"');
    expect(html).toContain("<noscript>");
  });

  test("the CSP allows exactly Clerk's Frontend API origin (and Clerk's documented helpers), never inline script", async () => {
    const res = await get("/login");
    const directives = Object.fromEntries(
      res.headers.get("content-security-policy")!.split(";").map((d) => d.trim()).filter(Boolean).map((d) => {
        const [name, ...values] = d.split(/\s+/);
        return [name!, values];
      }),
    );
    const origin = `https://${FRONTEND_API}`;
    expect(directives["script-src"]).toHaveLength(3);
    expect(directives["script-src"]![0]).toMatch(/^'nonce-/);
    expect(directives["script-src"]!.slice(1)).toEqual([origin, "https://challenges.cloudflare.com"]);
    expect(directives["script-src"]).not.toContain("'unsafe-inline'");
    expect(directives["script-src"]).not.toContain("'unsafe-eval'");
    // Besides Clerk, the blob endpoint: browsers upload files straight to storage (public/upload.js).
    expect(directives["connect-src"]).toEqual(["'self'", origin, new URL(t.blob.container.url).origin]);
    expect(directives["img-src"]).toEqual(["'self'", "data:", origin, "https://img.clerk.com"]);
    expect(directives["frame-src"]).toEqual(["'self'", origin, "https://challenges.cloudflare.com"]);
    expect(directives["worker-src"]).toEqual(["'self'", "blob:"]);
    expect(directives["default-src"]).toEqual(["'self'"]);
    expect(directives["frame-ancestors"]).toEqual(["'none'"]);
    expect(directives["form-action"]).toEqual(["'self'"]);
  });

  test("local-only routes are not reachable in clerk mode; /signup leads to sign-in", async () => {
    for (const path of ["/verify-email", "/password/forgot", "/password/reset", "/mfa/setup", "/mfa/verify"]) {
      expect((await get(path)).status).toBe(404);
    }
    for (const path of ["/login", "/signup", "/verify-email", "/password/forgot", "/mfa/verify"]) {
      expect((await post(path)).status).toBe(404);
    }
    const signup = await get("/signup");
    expect(signup.status).toBe(303);
    expect(signup.headers.get("location")).toBe("/login");
  });
});

describe("clerk mode in the wider app", () => {
  test("signed-in pages load Clerk's script (with the nonce) so its short-lived token keeps refreshing", async () => {
    const clerkUserId = `user_${unique()}`;
    await localUser({ clerkUserId });
    const res = await get("/app", mint(claimsFor({ clerkUserId, sessionId: `sess_${unique()}` })));
    expect(res.status).toBe(200);
    const html = await res.text();
    const nonce = /script-src[^;]*'nonce-([^']+)'/.exec(res.headers.get("content-security-policy")!)![1]!;
    expect(html).toContain(`<script src="https://${FRONTEND_API}/npm/@clerk/clerk-js@5/dist/clerk.browser.js" data-clerk-publishable-key="${PUBLISHABLE_KEY}" nonce="${nonce}"`);
    expect(html).toContain(`<script src="/static/clerk-session.js" nonce="${nonce}" defer="">`);
    // The landing page, signed out, does not load Clerk.
    expect(await (await get("/")).text()).not.toContain("clerk.browser.js");
  });

  test("switching practice keeps the Clerk-backed session (same row, new practice), with no cookie of ours", async () => {
    const clerkUserId = `user_${unique()}`;
    const local = await localUser({ clerkUserId });
    const second = crypto.randomUUID();
    await t.ownerDb.insertInto("practices").values({ id: second, name: "Second Clinic", status: "active" }).execute();
    await t.ownerDb.insertInto("memberships").values({ practice_id: second, user_id: local.id, role: "staff" }).execute();
    const token = () => mint(claimsFor({ clerkUserId, sessionId: `sess_fixed_${clerkUserId}` }));
    const before = await (await get("/whoami", token())).json();

    const res = await app.request(`${TEST_ORIGIN}/practice/switch`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: TEST_ORIGIN, cookie: `__session=${token()}` },
      body: new URLSearchParams({ practiceId: second }).toString(),
    });
    expect(res.status).toBe(303);
    expect(res.headers.getSetCookie().some((c) => c.startsWith("__Host-plh_session="))).toBe(false);
    const after = await (await get("/whoami", token())).json();
    expect(after).toMatchObject({ sessionId: before.sessionId, practiceId: second });
  });

  test("the local two-step routes are not mounted in clerk mode", async () => {
    expect((await get("/mfa/setup")).status).toBe(404);
    expect((await get("/mfa/verify")).status).toBe(404);
  });
});

describe("invitations in clerk mode", () => {
  async function invite(email: string, role: "staff" | "auditor" = "staff") {
    const admin = await localUser();
    const id = crypto.randomUUID();
    await t.ownerDb.insertInto("invitations").values({
      id, practice_id: admin.practiceId!, email, role, token_hash: Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("hex"),
      invited_by: admin.id, expires_at: new Date(Date.now() + 86_400_000),
    }).execute();
    return { invitationId: id, practiceId: admin.practiceId! };
  }

  test("an invitee's first Clerk sign-in with the verified invited email creates the account and joins", async () => {
    const email = `invitee${unique()}@clinic.example`;
    const { invitationId, practiceId } = await invite(email, "auditor");
    const clerkUserId = `user_${unique()}`;
    const res = await get("/whoami", mint(claimsFor({ clerkUserId, email })));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ practiceId, mfa: true });
    const user = await t.ownerDb.selectFrom("users").selectAll().where("email", "=", email).executeTakeFirstOrThrow();
    expect(user).toMatchObject({ clerk_user_id: clerkUserId, password_hash: null });
    const membership = await t.ownerDb.selectFrom("memberships").select("role").where("user_id", "=", user.id).executeTakeFirstOrThrow();
    expect(membership.role).toBe("auditor");
    const invitation = await t.ownerDb.selectFrom("invitations").select(["accepted_by"]).where("id", "=", invitationId).executeTakeFirstOrThrow();
    expect(invitation.accepted_by).toBe(user.id);
    const events = await t.ownerDb.selectFrom("audit_events").select("action").where("target_id", "=", user.id).where("practice_id", "=", practiceId).orderBy("chain_seq").execute();
    expect(events.map((e) => e.action)).toEqual(["team.joined", "auth.signup", "auth.signin.succeeded"]);
  });

  test("no invitation, an unverified email or no second factor: no account is created", async () => {
    const email = `maybe${unique()}@clinic.example`;
    expect((await get("/whoami", mint(claimsFor({ clerkUserId: `user_${unique()}`, email })))).status).toBe(303);
    await invite(email);
    expect((await get("/whoami", mint(claimsFor({ clerkUserId: `user_${unique()}`, email }, { email_verified: false })))).status).toBe(303);
    expect((await get("/whoami", mint(claimsFor({ clerkUserId: `user_${unique()}`, email }, { fva: [2, -1] })))).status).toBe(303);
    expect(await t.ownerDb.selectFrom("users").select("id").where("email", "=", email).execute()).toEqual([]);
  });

  test("the invitation page sends invitees to sign in, and the password form is gone", async () => {
    const email = `page${unique()}@clinic.example`;
    const admin = await localUser();
    const token = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
    await t.ownerDb.insertInto("invitations").values({
      practice_id: admin.practiceId!, email, role: "staff", token_hash: new Bun.CryptoHasher("sha256").update(token).digest("hex"),
      invited_by: admin.id, expires_at: new Date(Date.now() + 86_400_000),
    }).execute();
    const html = await (await get(`/invitations/accept?token=${token}`)).text();
    expect(html).toContain(`Sign in as ${email}`);
    expect(html).not.toContain('action="/invitations/accept/new-account"');
    expect((await post("/invitations/accept/new-account")).status).toBe(404);
  });
});
