// Debian's Chromium driven by playwright-core: never a downloaded browser. The flags keep it off
// the network (this machine has none) and working as root.
import { afterAll, beforeAll } from "bun:test";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { createTestApp, type TestApp } from "./app.ts";
import { type Person, sessionToken } from "./people.ts";

export const CHROMIUM_PATH = "/usr/bin/chromium";
export const SCREENSHOT_DIR = `${import.meta.dir}/../../screenshots`;

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
      "--disable-sync", "--no-first-run", "--disable-quic",
    ],
  });
}

/** createTestApp's options besides env: its logger, and whether it runs background work. */
type AppOptions = Omit<NonNullable<Parameters<typeof createTestApp>[0]>, "env">;

/** The real app on a real loopback socket, for a real browser. */
export async function serveTestApp(env: Record<string, string> = {}, options: AppOptions = {}): Promise<TestApp & { origin: string; stop(): Promise<void> }> {
  const probe = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const port = probe.port;
  await probe.stop(true);
  const origin = `http://localhost:${port}`;
  const t = await createTestApp({ ...options, env: { APP_ORIGIN: origin, PORT: String(port), ...env } });
  const server = Bun.serve({ hostname: "127.0.0.1", port, fetch: t.app.fetch });
  return {
    ...t,
    origin,
    async stop() {
      await server.stop(true);
      await t.close();
    },
  };
}

export type ServedApp = Awaited<ReturnType<typeof serveTestApp>>;

/**
 * For a browser test file: Chromium and the served app start before its tests and stop after
 * them. Read `.browser` and `.served` inside tests (they are set once beforeAll has run).
 */
export function browserAndApp(env: Record<string, string> = {}, options: AppOptions = {}): { browser: Browser; served: ServedApp } {
  const state = {} as { browser: Browser; served: ServedApp };
  beforeAll(async () => {
    [state.browser, state.served] = await Promise.all([launchChromium(), serveTestApp(env, options)]);
  }, 30_000);
  afterAll(async () => {
    await state.browser?.close();
    await state.served?.stop();
  });
  return state;
}

/**
 * A signed-in page for `person`, and the list of what went wrong in it: console errors and
 * warnings, page errors and CSP violations. `expected` skips console errors the test provokes on
 * purpose (Chromium logs every 4xx answer, e.g. a form refused with 422).
 */
export async function signedInPage(ctx: { browser: Browser; served: ServedApp }, person: Person, expected?: RegExp): Promise<{ page: Page; problems: string[] }> {
  const context = await ctx.browser.newContext();
  await context.addCookies([{ name: "__Host-plh_session", value: await sessionToken(ctx.served, person), domain: "localhost", path: "/", secure: true, httpOnly: true, sameSite: "Lax" }]);
  return watchedPage(context, expected);
}

/** A new page in `context`, watched as signedInPage's is (signed-out browsing starts here). */
export async function watchedPage(context: BrowserContext, expected?: RegExp): Promise<{ page: Page; problems: string[] }> {
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error" && expected?.test(m.text())) return;
    if (m.type() === "error" || m.type() === "warning") problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
  });
  return { page, problems };
}
