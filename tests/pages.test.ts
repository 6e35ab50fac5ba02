// Pages and static assets as a browser and htmx see them: full pages vs fragments, the vendored
// htmx files matching the installed package, 404s in every shape, and no source leaking.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import net from "node:net";
import path from "node:path";
import { createTestApp, type TestApp } from "./support/app.ts";

const ROOT = path.resolve(import.meta.dir, "..");

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

function varyValues(res: Response): string[] {
  return (res.headers.get("vary") ?? "").split(",").map((v) => v.trim().toLowerCase()).filter(Boolean);
}

/** Every href of every <a>, read with Bun's HTMLRewriter (a real HTML parser). */
async function linksOf(html: string): Promise<string[]> {
  const hrefs: string[] = [];
  await new HTMLRewriter()
    .on("a[href]", {
      element(el) {
        hrefs.push(el.getAttribute("href")!);
      },
    })
    .transform(new Response(html))
    .text();
  return hrefs;
}

/** The page's visible text, tags removed and whitespace collapsed. */
function textOf(html: string): string {
  return html.replace(/<[^>]*>/g, " ").replace(/\s+/g, " ");
}

describe("the landing page", () => {
  test("/ is a full HTML page with one <h1> and links to sign in and sign up", async () => {
    const res = await t.app.request("/");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("text/html");
    const html = await res.text();
    expect(html.slice(0, 15).toLowerCase()).toBe("<!doctype html>");
    expect(html.match(/<h1[\s>]/g)).toHaveLength(1);
    const links = await linksOf(html);
    expect(links).toContain("/login");
    expect(links).toContain("/signup");
  });

  test("/ explains the BAA, the audit trail and row-level security", async () => {
    const text = textOf(await (await t.app.request("/")).text());
    expect(text).toMatch(/\bBAA\b/);
    expect(text).toMatch(/\baudit\b/i);
    expect(text).toMatch(/row-level security/i);
  });

  test("/ varies on HX-Request, for full pages and fragments alike", async () => {
    const full = await t.app.request("/");
    const fragment = await t.app.request("/", { headers: { "HX-Request": "true" } });
    expect(varyValues(full)).toContain("hx-request");
    expect(varyValues(fragment)).toContain("hx-request");
  });

  test("an htmx request for / gets a fragment: no doctype, <html> or <head>", async () => {
    const res = await t.app.request("/", { headers: { "HX-Request": "true" } });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html.toLowerCase()).not.toContain("<!doctype");
    expect(html).not.toContain("<html");
    expect(html).not.toContain("<head");
    expect(html).not.toContain("<script");
    // It is still the page's content.
    expect(html.match(/<h1[\s>]/g)).toHaveLength(1);
    expect(await linksOf(html)).toContain("/signup");
  });

  test("without HX-Request, and for htmx full-page swaps (HX-Request-Type: full), / is a full page", async () => {
    const variants: Record<string, string>[] = [{}, { "HX-Request": "false" }, { "HX-Request": "true", "HX-Request-Type": "full" }];
    for (const headers of variants) {
      const html = await (await t.app.request("/", { headers })).text();
      expect({ headers, full: html.includes("<html") && html.includes("<head>") }).toEqual({ headers, full: true });
    }
  });
});

describe("static assets", () => {
  test.each([
    ["/static/vendor/htmx.min.js", "node_modules/htmx.org/dist/htmx.min.js"],
    ["/static/vendor/hx-csp.min.js", "node_modules/htmx.org/dist/ext/hx-csp.min.js"],
  ])("%s is JavaScript, byte for byte the installed package's %s", async (url, installed) => {
    const res = await t.app.request(url);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^(text|application)\/javascript\b/);
    const served = Buffer.from(await res.arrayBuffer());
    const expected = Buffer.from(await Bun.file(path.join(ROOT, installed)).arrayBuffer());
    expect(expected.length).toBeGreaterThan(0);
    expect(served.length).toBe(expected.length);
    expect(served.equals(expected)).toBe(true);
  });

  test("/static/styles.css is served as text/css", async () => {
    const res = await t.app.request("/static/styles.css");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("text/css");
    expect((await res.text()).length).toBeGreaterThan(0);
  });

  test("every stylesheet and script the layout references is served", async () => {
    const html = await (await t.app.request("/")).text();
    const refs = [...html.matchAll(/(?:src|href)="(\/static\/[^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThanOrEqual(3);
    for (const ref of refs) expect({ ref, status: (await t.app.request(ref)).status }).toEqual({ ref, status: 200 });
  });
});

describe("not found", () => {
  test("an unknown path is a 404 HTML page naming the problem and quoting the request id", async () => {
    const res = await t.app.request("/no-such-page");
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toStartWith("text/html");
    const requestId = res.headers.get("x-request-id")!;
    const html = await res.text();
    expect(html.toLowerCase()).toStartWith("<!doctype html>");
    expect(html).toContain("Page not found");
    expect(html).toContain(requestId);
  });

  test("an unknown path asked for as JSON is a JSON 404 with the request id", async () => {
    const res = await t.app.request("/no-such-page", { headers: { accept: "application/json" } });
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toStartWith("application/json");
    expect(await res.json()).toEqual({ error: "Not found", requestId: res.headers.get("x-request-id")! });
  });

  test("an unknown path requested by htmx is a 404 fragment, not a full page", async () => {
    const res = await t.app.request("/no-such-page", { headers: { "HX-Request": "true" } });
    expect(res.status).toBe(404);
    const html = await res.text();
    expect(html).toContain("Page not found");
    expect(html).not.toContain("<html");
    expect(html).not.toContain("<head");
    expect(varyValues(res)).toContain("hx-request");
  });

  const TRAVERSALS = [
    "/static/../src/config.ts",
    "/static/%2e%2e/src/config.ts",
    "/static/..%2fsrc%2fconfig.ts",
    "/static/%2e%2e%2fsrc%2fconfig.ts",
    "/static/vendor/..%2f..%2fsrc%2fconfig.ts",
    "/static/..%5csrc%5cconfig.ts",
    "/static/%252e%252e/src/config.ts",
    `/static/${ROOT}/src/config.ts`,
  ];

  test.each(TRAVERSALS)("%s does not leak source code", async (url) => {
    const res = await t.app.request(`http://localhost:3000${url}`);
    expect(res.status).toBe(404);
    const body = await res.text();
    expect(body).not.toContain("loadConfig");
    expect(body).not.toContain("process.env");
  });

  test("traversal request lines sent verbatim over a real socket do not leak source code", async () => {
    // fetch() and new Request() normalise "..": a raw HTTP request line is what an attacker sends.
    const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req, srv) => t.app.fetch(req, { server: srv }) });
    try {
      for (const target of [...TRAVERSALS, "/static/vendor/../../src/config.ts", "/static/....//src/config.ts"]) {
        const answer = await rawGet(server.port!, target);
        expect({ target, statusLine: answer.split("\r\n")[0] }).toEqual({ target, statusLine: "HTTP/1.1 404 Not Found" });
        expect(answer).not.toContain("loadConfig");
      }
    } finally {
      server.stop(true);
    }
  });
});

function rawGet(port: number, target: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => {
      socket.write(`GET ${target} HTTP/1.1\r\nHost: localhost:3000\r\nConnection: close\r\n\r\n`);
    });
    let answer = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (answer += chunk));
    socket.on("end", () => resolve(answer));
    socket.on("error", reject);
  });
}
