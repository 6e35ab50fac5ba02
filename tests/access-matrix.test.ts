// Every route the app registers, with the answer each kind of visitor must get. The list of
// routes comes from the app itself, so a new route without a row here fails this test.
// Visitors so far: anonymous; "password" (signed in, second factor not yet passed, not enrolled);
// "admin" (fully signed in, MFA passed, admin of their practice). Teams (issue 3) add staff,
// auditor, admin of another practice and operator.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "kysely";
import { createSession } from "../src/auth/sessions.ts";
import { insertMembership, insertUser } from "../src/auth/repo.ts";
import { withContext } from "../src/platform/db.ts";
import { insertPractice } from "../src/practices/repo.ts";
import { createTestApp, TEST_ORIGIN, type TestApp } from "./support/app.ts";

type Visitor = "anonymous" | "password" | "admin";
type Row = { method?: "GET" | "POST"; path: string; body?: Record<string, string>; expect: Record<Visitor, number> };
const all = (status: number) => ({ anonymous: status, password: status, admin: status });

// "METHOD /registered/path" → a concrete request and the expected status per visitor.
const MATRIX: Record<string, Row> = {
  "GET /": { path: "/", expect: all(200) },
  "GET /healthz": { path: "/healthz", expect: all(200) },
  "GET /readyz": { path: "/readyz", expect: all(200) },
  "ALL /static/*": { path: "/static/styles.css", expect: all(200) },
  "GET /signup": { path: "/signup", expect: all(200) },
  "POST /signup": { method: "POST", path: "/signup", body: {}, expect: all(422) },
  "GET /verify-email": { path: "/verify-email?token=x", expect: all(200) },
  "POST /verify-email": { method: "POST", path: "/verify-email", body: { token: "x" }, expect: all(400) },
  "GET /login": { path: "/login", expect: { anonymous: 200, password: 303, admin: 303 } },
  "POST /login": { method: "POST", path: "/login", body: {}, expect: all(422) },
  "POST /logout": { method: "POST", path: "/logout", body: {}, expect: all(303) },
  "POST /logout/everywhere": { method: "POST", path: "/logout/everywhere", body: {}, expect: all(303) },
  "GET /mfa/setup": { path: "/mfa/setup", expect: { anonymous: 303, password: 200, admin: 303 } },
  "POST /mfa/setup": { method: "POST", path: "/mfa/setup", body: { code: "000000" }, expect: { anonymous: 303, password: 422, admin: 303 } },
  "GET /mfa/verify": { path: "/mfa/verify", expect: { anonymous: 303, password: 303, admin: 303 } },
  "POST /mfa/verify": { method: "POST", path: "/mfa/verify", body: { code: "000000" }, expect: { anonymous: 303, password: 422, admin: 303 } },
  "GET /app": { path: "/app", expect: { anonymous: 303, password: 303, admin: 200 } },
  "GET /password/forgot": { path: "/password/forgot", expect: all(200) },
  "POST /password/forgot": { method: "POST", path: "/password/forgot", body: {}, expect: all(422) },
  "GET /password/reset": { path: "/password/reset?token=x", expect: all(200) },
  "POST /password/reset": { method: "POST", path: "/password/reset", body: { token: "x", password: "a long enough password", confirm: "a long enough password" }, expect: all(400) },
  "GET /account/sessions": { path: "/account/sessions", expect: { anonymous: 303, password: 303, admin: 200 } },
  "POST /account/sessions/:id/revoke": { method: "POST", path: `/account/sessions/${"0".repeat(8)}-0000-0000-0000-${"0".repeat(12)}/revoke`, body: {}, expect: { anonymous: 303, password: 303, admin: 404 } },
  // Development only (a production app does not mount it: tests/mail.test.ts).
  "GET /dev/mail": { path: "/dev/mail", expect: all(200) },
  "GET /dev/mail/:id": { path: "/dev/mail/2026-01-01T00-00-00.000Z-abcdef", expect: all(404) },
};

// Middleware mounts that are not routes of their own.
const MIDDLEWARE = new Set(["ALL /*", "ALL /mfa/*", "ALL /account/*"]);

let t: TestApp;
let users: Record<Exclude<Visitor, "anonymous">, { userId: string; practiceId: string; mfa: boolean }>;

async function makeUser(mfa: boolean) {
  const userId = crypto.randomUUID();
  const practiceId = crypto.randomUUID();
  await withContext(t.db, { actor: "test", userId, practiceId }, async (tx) => {
    await insertUser(tx, { id: userId, email: `${userId}@matrix.example`, fullName: "Matrix Person", passwordHash: "unused" });
    await tx.updateTable("users").set({ email_verified_at: sql`now()`, totp_enabled_at: mfa ? sql`now()` : null }).where("id", "=", userId).execute();
    await insertPractice(tx, { id: practiceId, name: "Matrix Practice" });
    await insertMembership(tx, { practiceId, userId, role: "admin" });
  });
  return { userId, practiceId, mfa };
}

/** A fresh session per request, so a sign-out row cannot affect the next one. */
async function cookieFor(visitor: Visitor): Promise<string | undefined> {
  if (visitor === "anonymous") return undefined;
  const u = users[visitor];
  const { token } = await withContext(t.db, { actor: "test", userId: u.userId }, (tx) =>
    createSession(tx, { userId: u.userId, practiceId: u.practiceId, mfaVerified: u.mfa, request: { ip: "127.0.0.1", userAgent: "matrix", requestId: "matrix-000001" } }, t.config.session),
  );
  return `__Host-plh_session=${token}`;
}

beforeAll(async () => {
  t = await createTestApp();
  users = { password: await makeUser(false), admin: await makeUser(true) };
});
afterAll(() => t.close());

function registeredRoutes(): string[] {
  const keys = t.app.routes.map((r) => `${r.method} ${r.path}`).filter((k) => !MIDDLEWARE.has(k));
  return [...new Set(keys)].sort();
}

test("every registered route has a row in the matrix, and every row is a registered route", () => {
  expect(registeredRoutes()).toEqual(Object.keys(MATRIX).sort());
});

describe("each route answers each visitor as the matrix says", () => {
  for (const [route, row] of Object.entries(MATRIX)) {
    for (const [visitor, status] of Object.entries(row.expect) as [Visitor, number][]) {
      test(`${route} as ${visitor} → ${status}`, async () => {
        const cookie = await cookieFor(visitor);
        const method = row.method ?? "GET";
        const res = await t.app.request(`${TEST_ORIGIN}${row.path}`, {
          method,
          headers: {
            ...(cookie ? { cookie } : {}),
            ...(method === "POST" ? { origin: TEST_ORIGIN, "content-type": "application/x-www-form-urlencoded" } : {}),
          },
          body: method === "POST" ? new URLSearchParams(row.body ?? {}).toString() : undefined,
        });
        expect(res.status).toBe(status);
      });
    }
  }
});
