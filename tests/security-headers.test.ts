// Security headers on real responses from the real app: a strict CSP with a fresh per-request
// script nonce, no framing, no referrer, nosniff, no caching of dynamic pages, HSTS in production.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createApp } from "../src/app.tsx";
import { loadConfig } from "../src/config.ts";
import { createLogger } from "../src/platform/log.ts";
import { createTestApp, type TestApp, testEnv } from "./support/app.ts";

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

/** The CSP as a map from directive name to its list of sources. */
function parseCsp(header: string | null): Map<string, string[]> {
  expect(header).toBeTruthy();
  const directives = new Map<string, string[]>();
  for (const part of header!.split(";")) {
    const [name, ...sources] = part.trim().split(/\s+/);
    if (name) directives.set(name.toLowerCase(), sources);
  }
  return directives;
}

function scriptNonce(res: Response): string {
  const scriptSrc = parseCsp(res.headers.get("content-security-policy")).get("script-src") ?? [];
  const nonces = scriptSrc.map((s) => /^'nonce-([A-Za-z0-9+/=_-]+)'$/.exec(s)?.[1]).filter((n): n is string => !!n);
  expect(nonces).toHaveLength(1);
  // At least 128 bits of randomness, base64-encoded.
  expect(nonces[0]!.length).toBeGreaterThanOrEqual(22);
  return nonces[0]!;
}

type Markup = { scripts: { src: string | null; nonce: string | null }[]; styleAttributes: string[]; styleElements: number };

/** Walks the HTML with Bun's HTMLRewriter (a real HTML parser) and collects what the CSP governs. */
async function inspectMarkup(html: string): Promise<Markup> {
  const markup: Markup = { scripts: [], styleAttributes: [], styleElements: 0 };
  const rewriter = new HTMLRewriter()
    .on("script", {
      element(el) {
        markup.scripts.push({ src: el.getAttribute("src"), nonce: el.getAttribute("nonce") });
      },
    })
    .on("style", {
      element() {
        markup.styleElements++;
      },
    })
    .on("[style]", {
      element(el) {
        markup.styleAttributes.push(`<${el.tagName} style="${el.getAttribute("style")}">`);
      },
    });
  await rewriter.transform(new Response(html)).text();
  return markup;
}

const PATHS = ["/", "/healthz"] as const;

describe("Content-Security-Policy", () => {
  test.each(PATHS)("%s has a strict CSP: nonce scripts only, no objects, no base, no framing", async (path) => {
    const res = await t.app.request(path);
    expect(res.status).toBe(200);
    const header = res.headers.get("content-security-policy")!;
    const csp = parseCsp(header);
    scriptNonce(res);
    expect(header).not.toContain("unsafe-inline");
    expect(header).not.toContain("unsafe-eval");
    expect(header).not.toContain("unsafe-hashes");
    expect(csp.get("object-src")).toEqual(["'none'"]);
    expect(csp.get("base-uri")).toEqual(["'none'"]);
    expect(csp.get("frame-ancestors")).toEqual(["'none'"]);
    // No wildcard source anywhere.
    for (const [name, sources] of csp) expect({ name, wildcard: sources.includes("*") }).toEqual({ name, wildcard: false });
  });

  test.each(PATHS)("%s gets a fresh nonce on every request", async (path) => {
    const first = scriptNonce(await t.app.request(path));
    const second = scriptNonce(await t.app.request(path));
    expect(first).not.toBe(second);
  });

  test("every <script> on / carries the header's nonce and loads from a src", async () => {
    const res = await t.app.request("/");
    const nonce = scriptNonce(res);
    const markup = await inspectMarkup(await res.text());
    expect(markup.scripts.length).toBeGreaterThanOrEqual(1);
    for (const script of markup.scripts) {
      expect(script.nonce).toBe(nonce);
      expect(script.src).toBeTruthy(); // no inline script
    }
  });

  test("the pages have no style= attributes and no <style> elements (style-src is 'self' only)", async () => {
    for (const path of ["/", "/no-such-page"]) {
      const markup = await inspectMarkup(await (await t.app.request(path)).text());
      expect({ path, styleAttributes: markup.styleAttributes, styleElements: markup.styleElements }).toEqual({
        path,
        styleAttributes: [],
        styleElements: 0,
      });
    }
  });

  test("an error page's scripts carry that response's own nonce", async () => {
    const res = await t.app.request("/no-such-page");
    expect(res.status).toBe(404);
    const nonce = scriptNonce(res);
    const markup = await inspectMarkup(await res.text());
    expect(markup.scripts.length).toBeGreaterThanOrEqual(1);
    for (const script of markup.scripts) expect(script.nonce).toBe(nonce);
  });
});

describe("other security headers", () => {
  test.each(PATHS)("%s sends nosniff, no-referrer and X-Frame-Options DENY", async (path) => {
    const res = await t.app.request(path);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
  });

  test.each([...PATHS, "/no-such-page", "/static/no-such-file.js"])("%s is never cached (Cache-Control: no-store)", async (path) => {
    const res = await t.app.request(path);
    expect(res.headers.get("cache-control")).toBe("no-store");
  });

  test("a served static asset is not marked no-store", async () => {
    const res = await t.app.request("/static/styles.css");
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control") ?? "").not.toContain("no-store");
  });

  test("the test config sends no Strict-Transport-Security (it serves plain http://localhost)", async () => {
    for (const path of PATHS) {
      const res = await t.app.request(path);
      expect(res.headers.get("strict-transport-security")).toBeNull();
    }
  });

  test("a production config sends Strict-Transport-Security for at least one year", async () => {
    const config = loadConfig(
      testEnv({
        NODE_ENV: "production",
        APP_ORIGIN: "https://plh.example",
        // Production requires TLS to Postgres; this app never queries (it shares t.db).
        DATABASE_URL: `${t.database.appUrl}?sslmode=require`,
        SMTP_URL: "smtps://mailer:unused@smtp.example:465",
        SECURITY_CONTACT_EMAIL: "security@plh.example",
        AZURE_STORAGE_CONNECTION_STRING: "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=eA==;EndpointSuffix=core.windows.net",
      }),
    );
    expect(config.production).toBe(true);
    const app = createApp({ config, db: t.db, blob: t.blob, logger: createLogger({ level: "silent" }), mailer: t.mailer });
    const res = await app.request("https://plh.example/healthz");
    expect(res.status).toBe(200);
    const hsts = res.headers.get("strict-transport-security");
    expect(hsts).toBeTruthy();
    const maxAge = Number(/max-age=(\d+)/.exec(hsts!)?.[1]);
    expect(maxAge).toBeGreaterThanOrEqual(365 * 24 * 60 * 60);
    // The rest of the policy is the same in production.
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("content-security-policy")).not.toContain("unsafe-inline");
  });
});
