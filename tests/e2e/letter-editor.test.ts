// The letter editor in a real Chromium under the strict CSP: the palette's buttons (keyboard too)
// insert merge fields at the cursor, the live preview follows the typing for the made-up recipient
// and names an unknown field, and "Start from a template" asks before replacing the text; no console
// error, CSP violation or stripped htmx element on the way.
import { expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { attestationStatement } from "../../src/jobs/attestation.ts";
import { attestJob, createJob } from "../../src/jobs/service.ts";
import { browserAndApp, signedInPage, SCREENSHOT_DIR } from "../support/browser.ts";
import { makeSignedPractice } from "../support/baa.ts";
import { sessionToken } from "../support/people.ts";

const ctx = browserAndApp();

test("palette, live preview and starting from a template in Chromium, with no console or CSP errors", async () => {
  const admin = await makeSignedPractice(ctx.served, "Browser Clinic");
  const actor = { userId: admin.userId, practiceId: admin.practiceId, role: "admin" as const };
  const job = await createJob({ db: ctx.served.db }, actor, {
    title: "Office move", letterType: "practice_closure", mailClass: "first_class", returnName: "Browser Clinic", returnLine1: "1 Main St",
    returnLine2: null, returnCity: "Boston", returnState: "MA", returnZip: "02110",
  });
  await attestJob({ db: ctx.served.db }, actor, job.id, { statementVersion: attestationStatement().version, confirm: "yes", initials: "AA" });

  // Chromium logs every 4xx answer; the refused form's 422 is the one this test expects.
  const { page, problems } = await signedInPage(ctx, admin, /status of 422/);

  await page.goto(`${ctx.served.origin}/jobs/${job.id}/letter`);
  await page.waitForFunction(() => (window as unknown as { htmx?: unknown }).htmx !== undefined && document.documentElement.classList.contains("has-script"));
  // With script the insert buttons replace the plain list.
  const insertFirst = page.getByRole("button", { name: "Insert {{first_name}}" });
  expect(await insertFirst.isVisible()).toBe(true);
  expect(await page.locator("code.palette-name").first().isVisible()).toBe(false);

  const text = page.getByLabel("Letter text");
  await text.fill("Dear ");
  await text.evaluate((el: HTMLTextAreaElement) => el.setSelectionRange(5, 5));
  const preview = () => page.waitForResponse((r) => r.url().endsWith(`/jobs/${job.id}/letter/preview`) && r.request().method() === "POST");
  const [first] = await Promise.all([preview(), insertFirst.click()]);
  expect(first.status()).toBe(200);
  expect(await text.inputValue()).toBe("Dear {{first_name}}");
  expect(await page.evaluate(() => document.activeElement?.id)).toBe("field-body");
  await page.waitForFunction(() => document.querySelector("#letter-preview .sheet-paragraph")?.textContent === "Dear Jordan");

  // The keyboard: Tab to a palette button, Enter inserts at the cursor (the end of the text).
  await text.press("End");
  await text.type(" ");
  await page.getByRole("button", { name: "Insert {{last_name}}" }).focus();
  await Promise.all([preview(), page.keyboard.press("Enter")]);
  expect(await text.inputValue()).toBe("Dear {{first_name}} {{last_name}}");

  // Typing an unknown field: the preview marks it and names it.
  await Promise.all([preview(), text.type(", about {{diagnosis}}.")]);
  await page.waitForSelector("#letter-preview mark.merge-unknown");
  expect(await page.locator("#letter-preview-problem").textContent()).toContain("not in your recipient list: {{diagnosis}}");
  await Promise.all([preview(), page.getByLabel("Name", { exact: true }).fill("Dana Lee, MD")]);
  await page.waitForFunction(() => document.querySelector("#letter-preview .sheet-signature strong")?.textContent === "Dana Lee, MD");
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: `${SCREENSHOT_DIR}/letter-editor.png`, fullPage: true });

  // Start from the starter: refused at the confirmation, nothing changes; accepted, the editor holds it.
  await page.getByLabel("Template", { exact: true }).selectOption("starter");
  page.once("dialog", (d) => d.dismiss());
  await page.getByRole("button", { name: "Use this template" }).click();
  await Bun.sleep(300);
  expect(await text.inputValue()).toBe("Dear {{first_name}} {{last_name}}, about {{diagnosis}}.");
  page.once("dialog", (d) => d.accept());
  await Promise.all([
    page.waitForResponse((r) => r.url().includes(`/jobs/${job.id}/letter/start`)),
    page.getByRole("button", { name: "Use this template" }).click(),
  ]);
  await page.waitForFunction(() => (document.getElementById("field-body") as HTMLTextAreaElement | null)?.value.includes("will close on [closing date]"));
  expect(await page.getByLabel("Name", { exact: true }).inputValue()).toBe("Dana Lee, MD");
  expect(await page.locator(".alert-success").textContent()).toContain("The editor now holds the starting text");
  // The swapped-in editor still works: the palette inserts into the new textarea.
  await page.getByLabel("Letter text").evaluate((el: HTMLTextAreaElement) => el.setSelectionRange(0, 0));
  await Promise.all([preview(), page.getByRole("button", { name: "Insert {{city}}" }).click()]);
  expect((await page.getByLabel("Letter text").inputValue()).startsWith("{{city}}Dear")).toBe(true);

  // Save as a practice template: the step comes back in place with the confirmation and the text kept.
  await page.getByLabel("Template name").fill("Closing notice");
  await Promise.all([
    page.waitForResponse((r) => r.url().endsWith(`/jobs/${job.id}/letter/templates`)),
    page.getByRole("button", { name: "Save as practice template" }).click(),
  ]);
  await page.waitForSelector("text=Saved as the practice template “Closing notice”");
  expect((await page.getByLabel("Letter text").inputValue()).startsWith("{{city}}Dear")).toBe(true);
  expect(await page.locator("#field-template option", { hasText: "Closing notice" }).count()).toBe(1);

  // A refused save comes back in place with the messages (the title is missing).
  await page.getByLabel("Name", { exact: true }).fill("Dana Lee, MD");
  await Promise.all([
    page.waitForResponse((r) => r.url().endsWith(`/jobs/${job.id}/letter`) && r.status() === 422),
    page.getByRole("button", { name: "Save and continue" }).click(),
  ]);
  await page.waitForSelector("#field-signerTitle-error");

  expect((await ctx.served.ownerDb.selectFrom("jobs").select("letter_body_enc").where("id", "=", job.id).executeTakeFirstOrThrow()).letter_body_enc).toBeNull();
  expect(problems).toEqual([]);
  await page.context().close();
}, 60_000);
