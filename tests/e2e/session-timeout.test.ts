// The idle warning in a real Chromium: it appears before the session ends, is announced to screen
// readers, counts down, and "Stay signed in" marks the session active on the server.
import { expect, test } from "bun:test";
import { browserAndApp } from "../support/browser.ts";
import { makePerson, sessionToken } from "../support/people.ts";

// One idle minute: the two-minute warning window is already open when the page loads.
const ctx = browserAndApp({ SESSION_IDLE_MINUTES: "1" });

test("the warning shows before idle sign-out and 'Stay signed in' keeps the session", async () => {
  const person = await makePerson(ctx.served, { practiceName: "Idle Clinic" });
  const token = await sessionToken(ctx.served, person);
  const context = await ctx.browser.newContext();
  await context.addCookies([{ name: "__Host-plh_session", value: token, domain: "localhost", path: "/", secure: true, httpOnly: true, sameSite: "Lax" }]);
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
  page.on("pageerror", (e) => problems.push(e.message));

  await page.goto(`${ctx.served.origin}/app`);
  expect(await page.locator("h1").textContent()).toBe("Idle Clinic");
  const dialog = page.getByRole("alertdialog", { name: "You will be signed out soon" });
  await dialog.waitFor({ state: "visible", timeout: 5_000 });
  await expect(dialog.locator("[data-countdown]").textContent()).resolves.toMatch(/Time left: [01] min \d+ s\./);

  const before = await ctx.served.ownerDb.selectFrom("sessions").select("last_seen_at").where("user_id", "=", person.userId).executeTakeFirstOrThrow();
  await Bun.sleep(1_100); // so "now" on the server is visibly later than the page load
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/session/extend")),
    dialog.getByRole("button", { name: "Stay signed in" }).click(),
  ]);
  expect(response.status()).toBe(200);
  expect(((await response.json()) as { idleSeconds: number }).idleSeconds).toBeGreaterThan(55);
  const after = await ctx.served.ownerDb.selectFrom("sessions").select("last_seen_at").where("user_id", "=", person.userId).executeTakeFirstOrThrow();
  expect(after.last_seen_at.getTime()).toBeGreaterThan(before.last_seen_at.getTime());
  expect(problems).toEqual([]);
  await context.close();
}, 30_000);

test("pages of people who are not signed in carry no idle timer", async () => {
  const page = await ctx.browser.newPage();
  await page.goto(`${ctx.served.origin}/`);
  expect(await page.locator('meta[name="plh-session-idle-seconds"]').count()).toBe(0);
  expect(await page.locator("#session-warning").count()).toBe(0);
  await page.close();
});
