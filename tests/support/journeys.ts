// For the browser journeys (tests/e2e/journey-*.test.ts): a page that remembers every page it
// visits, an accessibility check with axe-core on each of them (0 serious or critical violations),
// screenshots of the main pages, and the test mail outbox.
import { mkdirSync } from "node:fs";
import path from "node:path";
import axe from "axe-core";
import type { Browser, Page } from "playwright-core";
import { listDevMail, readDevMail } from "../../src/platform/mail.ts";
import { type ServedApp, signedInPage, watchedPage } from "./browser.ts";
import type { Person } from "./people.ts";
import { waitFor } from "./wait.ts";

/** Where the journeys write their screenshots (git-ignored; named in the README). */
export const JOURNEY_SCREENSHOTS = path.resolve(import.meta.dir, "../../screenshots/journeys");

type Ctx = { browser: Browser; served: ServedApp };
type Violation = { id: string; impact?: string | null; help: string; nodes: { target: unknown[]; failureSummary?: string }[] };

export type Journey = {
  page: Page;
  /** Console errors and warnings, page errors and CSP violations seen so far. */
  problems: string[];
  /**
   * axe-core on the page as it is now: fails on any serious or critical violation, naming the rule
   * and the elements. `screenshot` also writes the page to JOURNEY_SCREENSHOTS/<name>.png.
   */
  check(screenshot?: string): Promise<void>;
  /** Fails when a page the journey visited was never checked, or anything went wrong in the browser. */
  finish(): Promise<void>;
};

/** Strips the fragment: /jobs/1#proof and /jobs/1 are the same page. */
const pageOf = (url: string) => url.split("#")[0]!;

async function journeyOf(page: Page, problems: string[]): Promise<Journey> {
  // Loaded into every document through the DevTools protocol, so the page's strict CSP does not
  // block it (and each check does not send axe's half a megabyte again).
  await page.context().addInitScript(axe.source);
  const visited = new Set<string>();
  const checked = new Set<string>();
  page.on("framenavigated", (frame) => {
    if (frame === page.mainFrame() && frame.url().startsWith("http")) visited.add(pageOf(frame.url()));
  });
  return {
    page,
    problems,
    async check(screenshot) {
      await page.waitForLoadState("load");
      if (!(await page.evaluate(() => "axe" in window))) await page.evaluate(axe.source);
      const violations = await page.evaluate(async () => {
        const w = window as unknown as { axe: { run(context: Document, options: object): Promise<{ violations: unknown[] }> } };
        const styled = new Set(document.querySelectorAll("[style]"));
        const { violations } = await w.axe.run(document, { resultTypes: ["violations"] });
        // axe changes styles through the CSSOM and restores them, leaving empty style attributes
        // behind; htmx would later copy those with setAttribute, which the CSP (rightly) refuses.
        for (const e of document.querySelectorAll("[style]")) if (!styled.has(e) && e.getAttribute("style") === "") e.removeAttribute("style");
        return violations;
      }) as Violation[];
      const bad = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
      const where = pageOf(page.url());
      if (bad.length) {
        const lines = bad.map((v) => `${v.impact} ${v.id} (${v.help}): ${v.nodes.map((n) => JSON.stringify(n.target)).join(", ")}`);
        throw new Error(`axe found ${bad.length} serious or critical violation(s) on ${where}:\n${lines.join("\n")}`);
      }
      checked.add(where);
      if (screenshot) {
        mkdirSync(JOURNEY_SCREENSHOTS, { recursive: true });
        // caret "initial": hiding the caret would leave empty style attributes on every input.
        await page.screenshot({ path: path.join(JOURNEY_SCREENSHOTS, `${screenshot}.png`), fullPage: true, caret: "initial" });
      }
    },
    async finish() {
      const unchecked = [...visited].filter((u) => !checked.has(u));
      if (unchecked.length) throw new Error(`pages visited without an accessibility check:\n${unchecked.join("\n")}`);
      if (problems.length) throw new Error(`the browser reported problems:\n${problems.join("\n")}`);
      await page.context().close();
    },
  };
}

/**
 * A journey's page for someone already signed in (`person`), or a signed-out browser (null).
 * `expected` skips console errors the journey provokes on purpose (Chromium logs each 4xx answer).
 */
export async function journey(ctx: Ctx, person: Person | null, expected?: RegExp): Promise<Journey> {
  const { page, problems } = person ? await signedInPage(ctx, person, expected) : await watchedPage(await ctx.browser.newContext(), expected);
  return journeyOf(page, problems);
}

/** The newest message to `to` whose subject matches, from the test app's mail outbox (MAIL_DIR). */
export async function mailTo(served: ServedApp, to: string, subject: RegExp): Promise<{ subject: string; text: string }> {
  const dir = served.config.mail.dir;
  return waitFor(`mail "${subject.source}" to ${to}`, async () => {
    const found = (await listDevMail(dir)).find((m) => m.to.includes(to) && subject.test(m.subject));
    return found ? readDevMail(dir, found.id) : null;
  }, 10_000);
}
