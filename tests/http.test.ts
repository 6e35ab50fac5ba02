// The HTTP chain's own behaviour: request ids, the error handler (page, fragment, JSON; never a
// stack or an internal message outside development) and request logs that never carry PHI.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { HTTPException } from "hono/http-exception";
import { createApp } from "../src/app.tsx";
import { loadConfig } from "../src/config.ts";
import { createLogger, type Logger } from "../src/platform/log.ts";
import { createTestApp, formPost, type TestApp, TEST_ORIGIN, testEnv } from "./support/app.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

/** A logger that keeps its JSON lines in memory. */
function memoryLogger(level = "info"): { logger: Logger; lines: string[]; entries(): Record<string, unknown>[] } {
  const lines: string[] = [];
  const logger = createLogger({
    level,
    destination: {
      write(line: string) {
        lines.push(line);
      },
    },
  });
  return { logger, lines, entries: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

/** The real app for the given environment, plus routes that fail in the ways routes fail. */
function appWithFailingRoutes(env: Record<string, string | undefined>, logger: Logger = createLogger({ level: "silent" })) {
  const config = loadConfig(testEnv({ DATABASE_URL: t.database.appUrl, ...env }));
  const app = createApp({ config, db: t.db, blob: t.blob, logger, mailer: t.mailer });
  // Routes added after createApp still run behind the whole middleware chain and its onError.
  app.get("/boom", () => {
    throw new Error("secret detail");
  });
  app.get("/conflict", () => {
    throw new HTTPException(409, { message: "This job was already approved." });
  });
  return app;
}

const PRODUCTION = {
  NODE_ENV: "production",
  APP_ORIGIN: "https://plh.example",
  // Production requires TLS to Postgres; these apps never query (they share t.db).
  DATABASE_URL: "postgres://plh_app:unused@db.internal:5432/plh?sslmode=verify-full",
  SMTP_URL: "smtps://mailer:unused@smtp.example:465",
  SECURITY_CONTACT_EMAIL: "security@plh.example",
  AZURE_STORAGE_CONNECTION_STRING: "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=eA==;EndpointSuffix=core.windows.net",
};

describe("request id", () => {
  test("a response carries a fresh uuid X-Request-Id when none was sent", async () => {
    const first = (await t.app.request("/healthz")).headers.get("x-request-id");
    const second = (await t.app.request("/healthz")).headers.get("x-request-id");
    expect(first).toMatch(UUID);
    expect(second).toMatch(UUID);
    expect(first).not.toBe(second);
  });

  test("a well-formed incoming X-Request-Id is echoed, and quoted on error pages", async () => {
    const requestId = "lb-2f9c1e7a.0042_edge";
    const res = await t.app.request("/no-such-page", { headers: { "x-request-id": requestId } });
    expect(res.headers.get("x-request-id")).toBe(requestId);
    expect(await res.text()).toContain(requestId);
  });

  test.each([
    ["spaces", "abc def ghi jkl"],
    ["200 characters", "a".repeat(200)],
    ["markup", "<script>alert(1)</script>"],
    ["too short", "abc"],
    ["a semicolon", "abcdefgh;drop=1"],
  ])("a malformed incoming X-Request-Id (%s) is replaced by a uuid", async (_label, incoming) => {
    const res = await t.app.request("/no-such-page", { headers: { "x-request-id": incoming } });
    const requestId = res.headers.get("x-request-id");
    expect(requestId).toMatch(UUID);
    expect(await res.text()).not.toContain(incoming);
  });
});

describe("error handler", () => {
  test.each<[string, Record<string, string>]>([
    ["test", {}],
    ["production", PRODUCTION],
  ])("an unhandled error (NODE_ENV=%s) is a 500 page without the message or a stack", async (_env, env) => {
    const app = appWithFailingRoutes(env);
    const res = await app.request(`${env.APP_ORIGIN ?? TEST_ORIGIN}/boom`);
    expect(res.status).toBe(500);
    expect(res.headers.get("content-type")).toStartWith("text/html");
    const html = await res.text();
    expect(html.toLowerCase()).toStartWith("<!doctype html>");
    expect(html).toContain("Something went wrong");
    expect(html).toContain(res.headers.get("x-request-id")!);
    expect(html).not.toContain("secret detail");
    expect(html).not.toContain(" at ");
    expect(html).not.toContain(".ts:");
    // The error page keeps the security headers of every other page.
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("content-security-policy")).toContain("'nonce-");
  });

  test("in development the 500 page names the error but still shows no stack", async () => {
    const app = appWithFailingRoutes({ NODE_ENV: "development" });
    const res = await app.request("/boom");
    expect(res.status).toBe(500);
    const html = await res.text();
    expect(html).toContain("Error: secret detail");
    expect(html).not.toContain(" at ");
  });

  test("an htmx request that fails gets a 500 fragment with role=alert", async () => {
    const app = appWithFailingRoutes({});
    const res = await app.request("/boom", { headers: { "HX-Request": "true" } });
    expect(res.status).toBe(500);
    const html = await res.text();
    expect(html).toContain('role="alert"');
    expect(html).toContain(res.headers.get("x-request-id")!);
    expect(html).not.toContain("<html");
    expect(html).not.toContain("secret detail");
  });

  test("an API caller that fails gets JSON {error, message, requestId}", async () => {
    const app = appWithFailingRoutes({});
    const res = await app.request("/boom", { headers: { accept: "application/json" } });
    expect(res.status).toBe(500);
    expect(res.headers.get("content-type")).toStartWith("application/json");
    const body = (await res.json()) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(["error", "message", "requestId"]);
    expect(body.error).toBe("Something went wrong");
    expect(body.requestId).toBe(res.headers.get("x-request-id")!);
    expect(JSON.stringify(body)).not.toContain("secret detail");
  });

  test("the unhandled error is logged at error level with the response's request id", async () => {
    const { logger, entries } = memoryLogger();
    const app = appWithFailingRoutes({}, logger);
    const res = await app.request("/boom");
    const requestId = res.headers.get("x-request-id");
    const logged = entries().filter((e) => e.level === "error" && e.requestId === requestId);
    expect(logged.map((e) => e.msg).sort()).toEqual(["request failed", "unhandled error"]);
    const unhandled = logged.find((e) => e.msg === "unhandled error") as { err: { message: string } };
    expect(unhandled.err.message).toBe("secret detail");
  });

  test("an HTTPException with our own message shows that message with its status", async () => {
    const app = appWithFailingRoutes({});
    const res = await app.request("/conflict");
    expect(res.status).toBe(409);
    const html = await res.text();
    expect(html).toContain("Conflict");
    expect(html).toContain("This job was already approved.");
  });
});

describe("request logs carry no PHI", () => {
  test("query strings and form bodies never reach the log; the path does", async () => {
    const { logger, lines, entries } = memoryLogger();
    const config = loadConfig(testEnv({ DATABASE_URL: t.database.appUrl }));
    const app = createApp({ config, db: t.db, blob: t.blob, logger, mailer: t.mailer });

    const get = await app.request("/?first_name=Jane&dob=1970-01-01");
    expect(get.status).toBe(200);
    const post = await app.request(formPost("/", { first_name: "Jane", dob: "1970-01-01" }, { cookie: "session=Jane1970" }));
    expect(post.status).toBe(404);
    const crossSite = await app.request(
      new Request(`${TEST_ORIGIN}/?first_name=Jane`, {
        method: "POST",
        headers: { origin: "https://evil.example", "content-type": "application/x-www-form-urlencoded" },
        body: "first_name=Jane&dob=1970-01-01",
      }),
    );
    expect(crossSite.status).toBe(403);

    const requests = entries().filter((e) => e.msg === "request");
    expect(requests.map((e) => [e.method, e.path, e.status])).toEqual([
      ["GET", "/", 200],
      ["POST", "/", 404],
      ["POST", "/", 403],
    ]);
    const all = lines.join("");
    expect(all).not.toContain("Jane");
    expect(all).not.toContain("1970");
    expect(all).not.toContain("first_name");
  });

  test("createLogger redacts emails and passwords, top-level and nested", () => {
    const { logger, lines, entries } = memoryLogger();
    logger.info({ email: "a@b.c", password: "p4ssw0rd" }, "x");
    logger.info({ user: { email: "nested@b.c", password: "n3sted" } }, "y");
    expect(lines).toHaveLength(2);
    const [top, nested] = entries() as [Record<string, unknown>, { user: Record<string, unknown> }];
    expect(top.email).toBe("[redacted]");
    expect(top.password).toBe("[redacted]");
    expect(nested.user.email).toBe("[redacted]");
    expect(nested.user.password).toBe("[redacted]");
    const all = lines.join("");
    for (const secret of ["a@b.c", "p4ssw0rd", "nested@b.c", "n3sted"]) expect(all).not.toContain(secret);
  });
});
