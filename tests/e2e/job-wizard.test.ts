// The job wizard in a real Chromium under the strict CSP: the details step refuses an empty title
// in place (htmx swap, message tied to the field), saves and moves on to the attestation, which is
// recorded; no console error, CSP violation or stripped htmx element on the way.
import { expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { browserAndApp, signedInPage, SCREENSHOT_DIR } from "../support/browser.ts";
import { makeSignedPractice } from "../support/baa.ts";
import { sessionToken } from "../support/people.ts";

const ctx = browserAndApp();

test("details → attestation in Chromium, with no console or CSP errors", async () => {
  const admin = await makeSignedPractice(ctx.served, "Browser Clinic");
  // Chromium logs every 4xx answer; the refused form's 422 is the one this test expects.
  const { page, problems } = await signedInPage(ctx, admin, /status of 422/);

  await page.goto(`${ctx.served.origin}/jobs/new`);
  await page.waitForFunction(() => (window as unknown as { htmx?: unknown }).htmx !== undefined);
  expect(await page.locator('[aria-current="step"]').textContent()).toContain("Step 1. Details");
  // The return address comes from the practice profile.
  expect(await page.getByLabel("Street address", { exact: true }).inputValue()).toBe("12 Main Street");

  // An empty title is refused in place, by htmx, with the message tied to the field.
  await page.getByLabel("Kind of letter").selectOption("practice_closure");
  await page.getByLabel("First-Class Mail").check();
  const [refused] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/jobs") && r.request().method() === "POST"),
    page.getByRole("button", { name: "Save and continue" }).click(),
  ]);
  expect(refused.status()).toBe(422);
  expect(refused.request().headers()["hx-request"]).toBe("true");
  const title = page.getByLabel("Title");
  await expect(title.getAttribute("aria-invalid")).resolves.toBe("true");
  expect(await page.locator("#field-title-error").textContent()).toContain("Enter a title");
  expect(await title.getAttribute("aria-describedby")).toContain("field-title-error");
  expect(await page.getByLabel("Kind of letter").inputValue()).toBe("practice_closure");

  // Saved: the browser goes on to the attestation step of the new job.
  await title.fill("Office closing in June");
  await Promise.all([page.waitForURL(/\/jobs\/[0-9a-f-]{36}\/attestation$/), page.getByRole("button", { name: "Save and continue" }).click()]);
  const jobId = /\/jobs\/([0-9a-f-]{36})\//.exec(page.url())![1]!;
  expect(await page.locator('[aria-current="step"]').textContent()).toContain("Step 2. PHI attestation");
  expect(await page.locator("#attestation-statement").textContent()).toContain("This job contains protected health information (PHI)");

  // The attestation: the box and the initials.
  await page.getByLabel("I have read the statement above and it is true for this job").check();
  await page.getByLabel("Your initials").fill("AA");
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: `${SCREENSHOT_DIR}/job-wizard-attestation.png`, fullPage: true });
  expect(problems).toEqual([]);
  await Promise.all([page.waitForURL(new RegExp(`/jobs/${jobId}/uploads$`)), page.getByRole("button", { name: "Confirm and continue" }).click()]);
  const attestation = await ctx.served.ownerDb.selectFrom("job_attestations").select(["user_id", "initials", "statement_version"]).where("job_id", "=", jobId).executeTakeFirstOrThrow();
  expect(attestation).toEqual({ user_id: admin.userId, initials: "AA", statement_version: "2026-11" });
  await page.context().close();
}, 60_000);
