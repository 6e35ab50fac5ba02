// CSRF: an unsafe request must come from our own origin (Origin or Sec-Fetch-Site). Refusals are
// our own error page, not the library's bare "Forbidden".
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestApp, formPost, type TestApp, TEST_ORIGIN } from "./support/app.ts";

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

function post(path: string, headers: Record<string, string>, body = "first_name=Jane"): Request {
  return new Request(`${TEST_ORIGIN}${path}`, { method: "POST", headers, body });
}

const FORM = "application/x-www-form-urlencoded";

describe("cross-site requests are refused", () => {
  test("a cross-site form POST gets 403 and our HTML error page, not a bare 'Forbidden'", async () => {
    const res = await t.app.request(post("/", { origin: "https://evil.example", "content-type": FORM }));
    expect(res.status).toBe(403);
    expect(res.headers.get("content-type")).toStartWith("text/html");
    const body = await res.text();
    expect(body.trim()).not.toBe("Forbidden");
    expect(body.toLowerCase()).toStartWith("<!doctype html>");
    expect(body).toContain("Not allowed");
    expect(body).toContain("This request was refused");
    // The page quotes the request id so support can find the log line.
    expect(body).toContain(res.headers.get("x-request-id")!);
  });

  test.each(["/", "/login", "/logout", "/healthz", "/no-such-path"])("a cross-site form POST to %s is refused before routing", async (path) => {
    const res = await t.app.request(post(path, { origin: "https://evil.example", "content-type": FORM }));
    expect(res.status).toBe(403);
  });

  test("Sec-Fetch-Site: cross-site without an Origin header gets 403", async () => {
    const res = await t.app.request(post("/", { "sec-fetch-site": "cross-site", "content-type": FORM }));
    expect(res.status).toBe(403);
  });

  test("a form POST with neither Origin nor Sec-Fetch-Site gets 403", async () => {
    const res = await t.app.request(post("/", { "content-type": FORM }));
    expect(res.status).toBe(403);
  });

  test("a cross-site text/plain POST gets 403", async () => {
    const res = await t.app.request(post("/", { origin: "https://evil.example", "content-type": "text/plain" }, "{}"));
    expect(res.status).toBe(403);
  });

  test("a cross-site multipart/form-data POST gets 403", async () => {
    const form = new FormData();
    form.set("first_name", "Jane");
    const res = await t.app.request(
      new Request(`${TEST_ORIGIN}/`, { method: "POST", headers: { origin: "https://evil.example" }, body: form }),
    );
    expect(res.status).toBe(403);
  });

  test.each([
    ["an origin that merely starts with ours", `${TEST_ORIGIN}.evil.example`],
    ["the opaque origin null", "null"],
    ["our host on another scheme", TEST_ORIGIN.replace("http://", "https://")],
    ["our host on another port", "http://localhost:3001"],
  ])("a form POST from %s gets 403", async (_label, origin) => {
    const res = await t.app.request(post("/", { origin, "content-type": FORM }));
    expect(res.status).toBe(403);
  });

  test("Sec-Fetch-Site: same-site (a sibling subdomain) is not enough", async () => {
    const res = await t.app.request(post("/", { "sec-fetch-site": "same-site", "content-type": FORM }));
    expect(res.status).toBe(403);
  });

  test("a cross-site htmx POST gets a 403 fragment, not a full page", async () => {
    const res = await t.app.request(post("/", { origin: "https://evil.example", "content-type": FORM, "hx-request": "true" }));
    expect(res.status).toBe(403);
    const body = await res.text();
    expect(body).toContain('role="alert"');
    expect(body).not.toContain("<html");
  });

  test("a cross-site POST asking for JSON gets a JSON 403", async () => {
    const res = await t.app.request(post("/", { origin: "https://evil.example", "content-type": FORM, accept: "application/json" }));
    expect(res.status).toBe(403);
    const body = (await res.json()) as { error: string; requestId: string };
    expect(body.error).toBe("Not allowed");
    expect(body.requestId).toBe(res.headers.get("x-request-id")!);
  });
});

describe("same-origin requests pass the CSRF check", () => {
  test("a same-origin form POST reaches routing (404 for an unknown path, not 403)", async () => {
    const res = await t.app.request(formPost("/no-such-path", { first_name: "Jane" }));
    expect(res.status).toBe(404);
  });

  test("Sec-Fetch-Site: same-origin without an Origin header reaches routing", async () => {
    const res = await t.app.request(post("/no-such-path", { "sec-fetch-site": "same-origin", "content-type": FORM }));
    expect(res.status).toBe(404);
  });

  test("safe methods are never refused, whatever their origin", async () => {
    const res = await t.app.request(new Request(`${TEST_ORIGIN}/`, { headers: { origin: "https://evil.example", "sec-fetch-site": "cross-site" } }));
    expect(res.status).toBe(200);
  });
});
