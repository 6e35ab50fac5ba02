// The landing page in a real Chromium: the strict CSP holds (no violations), htmx and its CSP
// extension load from our own origin, and the stylesheet applies.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import type { Browser } from "playwright-core";
import { launchChromium, SCREENSHOT_DIR, serveTestApp } from "../support/browser.ts";

let browser: Browser;
let served: Awaited<ReturnType<typeof serveTestApp>>;

beforeAll(async () => {
  [browser, served] = await Promise.all([launchChromium(), serveTestApp()]);
}, 30_000);
afterAll(async () => {
  await browser?.close();
  await served?.stop();
});

test("the landing page loads under the strict CSP with htmx active and no errors", async () => {
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
  const outside: string[] = [];
  page.on("response", (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()} ${new URL(r.url()).pathname}`);
  });
  page.on("request", (r) => {
    if (!r.url().startsWith(served.origin)) outside.push(r.url());
  });
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`));
  });

  const response = await page.goto(`${served.origin}/`, { waitUntil: "load" });
  expect(response?.status()).toBe(200);
  await page.waitForFunction(() => (window as unknown as { htmx?: unknown }).htmx !== undefined);

  const state = await page.evaluate(() => {
    const htmx = (window as unknown as { htmx: { version: string; config: { extensions: string } } }).htmx;
    return {
      htmxVersion: htmx.version,
      extensions: htmx.config.extensions,
      h1: document.querySelector("h1")?.textContent ?? "",
      bodyFont: getComputedStyle(document.body).fontFamily,
      skipLink: document.querySelector("a[href='#main']")?.textContent ?? "",
    };
  });
  expect(state.htmxVersion).toStartWith("4.");
  expect(state.extensions).toContain("hx-csp");
  expect(state.h1.length).toBeGreaterThan(0);
  expect(state.bodyFont).not.toMatch(/^"?Times/); // our stylesheet applied, not the browser default
  expect(state.skipLink.toLowerCase()).toContain("skip");
  expect(problems).toEqual([]);
  expect(outside).toEqual([]);

  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: `${SCREENSHOT_DIR}/landing.png`, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
  expect(overflow).toBe(false); // usable on a phone: no horizontal scrolling
  await page.screenshot({ path: `${SCREENSHOT_DIR}/landing-phone.png`, fullPage: true });
  await page.close();
}, 30_000);
