// The landing page in a real Chromium: the strict CSP holds (no violations), htmx and its CSP
// extension load from our own origin, and the stylesheet applies.
import { expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { browserAndApp, SCREENSHOT_DIR } from "../support/browser.ts";

const ctx = browserAndApp();

test("the landing page loads under the strict CSP with htmx active and no errors", async () => {
  const page = await ctx.browser.newPage();
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
    if (!r.url().startsWith(ctx.served.origin)) outside.push(r.url());
  });
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`));
  });

  const response = await page.goto(`${ctx.served.origin}/`, { waitUntil: "load" });
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
