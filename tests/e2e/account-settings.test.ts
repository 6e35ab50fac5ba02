// Account settings in a real Chromium: reached from the header, its own navigation, forms filled by
// their labels (as a screen reader names them), under the strict CSP, usable on a phone.
import { expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { hashPassword } from "../../src/auth/password.ts";
import { browserAndApp, SCREENSHOT_DIR, signedInPage } from "../support/browser.ts";
import { makePerson } from "../support/people.ts";

const ctx = browserAndApp();
const PASSWORD = "correct horse battery staple";

test("a member renames themself, turns off the weekly summary and changes their password from account settings", async () => {
  const person = await makePerson(ctx.served, { practiceName: "Browser Settings Clinic" });
  await ctx.served.ownerDb.updateTable("users").set({ password_hash: await hashPassword(PASSWORD) }).where("id", "=", person.userId).execute();
  const { page, problems } = await signedInPage(ctx, person, /422/);
  const origin = ctx.served.origin;

  await page.goto(`${origin}/app`);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Account settings" }).click();
  await page.waitForURL(`${origin}/account`);
  expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("Account settings");

  // Name: saved, and the header says the new name.
  await page.getByLabel("Full name").fill("Jordan Browser");
  await page.getByRole("button", { name: "Save name" }).click();
  await page.waitForURL(`${origin}/account?saved=name`);
  expect(await page.getByRole("status").first().textContent()).toContain("Your name is saved.");
  expect(await page.locator(".nav-user").textContent()).toContain("Jordan Browser");

  // Email preferences, through the settings area's own navigation.
  const settingsNav = page.getByRole("navigation", { name: "Account settings" });
  await settingsNav.getByRole("link", { name: "Email preferences" }).click();
  await page.waitForURL(`${origin}/account/preferences`);
  expect(await settingsNav.getByRole("link", { name: "Email preferences" }).getAttribute("aria-current")).toBe("page");
  const summary = page.getByLabel("Weekly job summary");
  expect(await summary.isChecked()).toBe(true);
  await summary.uncheck();
  await page.getByRole("button", { name: "Save preferences" }).click();
  await page.waitForURL(`${origin}/account/preferences?saved=1`);
  expect(await page.getByLabel("Weekly job summary").isChecked()).toBe(false);
  expect(await page.getByText("Emails we always send").count()).toBe(1);

  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: `${SCREENSHOT_DIR}/account-preferences.png`, fullPage: true });

  // Password: a wrong current password is refused on the field; the right one changes it.
  await settingsNav.getByRole("link", { name: "Password" }).click();
  await page.waitForURL(`${origin}/account/password`);
  await page.getByLabel("Current password").fill("not my password");
  await page.getByLabel("New password", { exact: true }).fill("a brand new passphrase");
  await page.getByLabel("New password again").fill("a brand new passphrase");
  await page.getByRole("button", { name: "Change password" }).click();
  expect(await page.getByText("That is not your current password").count()).toBe(1);
  expect(await page.getByLabel("Current password").getAttribute("aria-invalid")).toBe("true");
  await page.getByLabel("Current password").fill(PASSWORD);
  await page.getByLabel("New password", { exact: true }).fill("a brand new passphrase");
  await page.getByLabel("New password again").fill("a brand new passphrase");
  await page.getByRole("button", { name: "Change password" }).click();
  expect(await page.getByRole("status").filter({ hasText: "Password changed." }).count()).toBe(1);

  // Still signed in (the session's token rotated): the sessions page opens from the settings navigation.
  await settingsNav.getByRole("link", { name: "Sessions" }).click();
  await page.waitForURL(`${origin}/account/sessions`);
  expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("Your sessions");

  await page.goto(`${origin}/account`);
  await page.screenshot({ path: `${SCREENSHOT_DIR}/account-settings.png`, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  expect(await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth)).toBe(false);
  await page.screenshot({ path: `${SCREENSHOT_DIR}/account-settings-phone.png`, fullPage: true });

  const stored = await ctx.served.ownerDb.selectFrom("users").select("full_name").where("id", "=", person.userId).executeTakeFirstOrThrow();
  expect(stored.full_name).toBe("Jordan Browser");
  expect(problems).toEqual([]);
  await page.context().close();
}, 60_000);
