// The Data and retention page in a real Chromium under the strict CSP: an admin reads the policy,
// requests a data export, sees it "Being prepared", and once the background worker has built it,
// "Ready" with its download link; the policy names what happens to jobs in production. No console
// error or CSP violation on the way.
import { expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { browserAndApp, SCREENSHOT_DIR, signedInPage } from "../support/browser.ts";
import { makeSignedPractice } from "../support/baa.ts";
import { waitFor } from "../support/wait.ts";

const ctx = browserAndApp({}, { background: true });

test("an admin requests a data export on the Data and retention page and sees it ready there", async () => {
  const admin = await makeSignedPractice(ctx.served, "Retention Browser Clinic");
  const { page, problems } = await signedInPage(ctx, admin);
  await page.goto(`${ctx.served.origin}/retention`);
  expect(await page.getByRole("heading", { name: "Data and retention", level: 1 }).isVisible()).toBe(true);
  expect(await page.locator("#retention-policy").textContent()).toContain("30 days");
  expect(await page.locator("#deletion-production-rule").textContent()).toContain("cannot be stopped");
  expect(await page.getByText("No data requests yet.").isVisible()).toBe(true);

  await page.getByRole("button", { name: "Request a data export" }).click();
  await page.waitForURL(/\/retention\/requests\?done=export$/);
  expect(await page.getByRole("status").first().textContent()).toContain("Your export is being prepared");
  const table = page.getByRole("table", { name: "Requests, newest first" });
  expect(await table.textContent()).toContain("Export");

  // The worker builds it; the page, reloaded, shows it ready with the requester's download link.
  await waitFor("the export to be built", async () => {
    const r = await ctx.served.ownerDb.selectFrom("data_requests").select("status").where("practice_id", "=", admin.practiceId).executeTakeFirst();
    return r?.status === "ready" ? r : null;
  }, 60_000);
  await page.goto(`${ctx.served.origin}/retention`);
  const row = page.locator("#data-requests table tbody tr").first();
  expect(await row.textContent()).toContain("Ready");
  const link = page.getByRole("link", { name: "Download ZIP" });
  expect(await link.getAttribute("href")).toMatch(/^\/retention\/requests\/[0-9a-f-]{36}\/download\?token=/);
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: `${SCREENSHOT_DIR}/retention-export-ready.png`, fullPage: true });
  expect(problems).toEqual([]);
  await page.context().close();
}, 120_000);
