// Every route the app registers, with the answer each kind of visitor must get. The list of
// routes comes from the app itself, so a new route without a row here fails this test.
// Identity (issue 3) adds the admin, staff, auditor, other-practice and operator columns.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestApp, type TestApp } from "./support/app.ts";

type Visitor = "anonymous";
type Row = { path: string; expect: Record<Visitor, number> };

// "METHOD /registered/path" → a concrete request path and the expected status per visitor.
const MATRIX: Record<string, Row> = {
  "GET /": { path: "/", expect: { anonymous: 200 } },
  "GET /healthz": { path: "/healthz", expect: { anonymous: 200 } },
  "GET /readyz": { path: "/readyz", expect: { anonymous: 200 } },
  "ALL /static/*": { path: "/static/styles.css", expect: { anonymous: 200 } },
};

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

function registeredRoutes(): string[] {
  // "ALL /*" entries are the global middleware chain, not routes.
  const keys = t.app.routes.map((r) => `${r.method} ${r.path}`).filter((k) => k !== "ALL /*");
  return [...new Set(keys)].sort();
}

test("every registered route has a row in the matrix, and every row is a registered route", () => {
  expect(registeredRoutes()).toEqual(Object.keys(MATRIX).sort());
});

describe("each route answers each visitor as the matrix says", () => {
  for (const [route, row] of Object.entries(MATRIX)) {
    const method = route.split(" ")[0] === "ALL" ? "GET" : route.split(" ")[0]!;
    for (const [visitor, status] of Object.entries(row.expect)) {
      test(`${route} as ${visitor} → ${status}`, async () => {
        const res = await t.app.request(row.path, { method });
        expect(res.status).toBe(status);
      });
    }
  }
});
