// Journey: a staff member in a real Chromium. Their practice has not signed the BAA yet: they see
// who must sign, cannot sign it, cannot manage the team, and an idle session signs them out (the
// page's timer, run ahead with Playwright's clock, and the server's idle limit both say so; the
// warning itself is tested in session-timeout.test.ts). Every page is checked with axe-core.
import { expect, test } from "bun:test";
import { browserAndApp } from "../support/browser.ts";
import { journey } from "../support/journeys.ts";
import { makePerson } from "../support/people.ts";

const ctx = browserAndApp();

test("staff cannot sign the BAA or manage the team, and an idle session signs out", async () => {
  const origin = ctx.served.origin;
  const admin = await makePerson(ctx.served, { practiceName: "Hillside Pediatrics" });
  const staff = await makePerson(ctx.served, { practiceId: admin.practiceId, role: "staff" });
  // Chromium logs each refused request (403): those are the point here.
  const j = await journey(ctx, staff, /status of 403/);
  const { page } = j;
  // The page's clock, so the idle timer can be run ahead instead of waited for.
  await page.clock.install();

  await page.goto(`${origin}/app`);
  await j.check("staff-home");
  expect(await page.getByRole("link", { name: "Manage the team" }).count()).toBe(0);

  // The BAA: its state and who can sign, no signing form.
  await page.getByRole("link", { name: "BAA status" }).click();
  await page.waitForURL(`${origin}/baa`);
  await j.check("staff-baa");
  await expect(page.getByRole("status").textContent()).resolves.toContain("Who can sign: Test Person.");
  expect(await page.getByRole("button", { name: "Sign agreement" }).count()).toBe(0);
  // Posting the signature anyway, from this page, is refused and nothing is signed.
  const version = await ctx.served.ownerDb.selectFrom("baa_versions").select("id").orderBy("version", "desc").executeTakeFirstOrThrow();
  const signStatus = await page.evaluate(async (versionId) => (await fetch("/baa/sign", {
    method: "POST", body: new URLSearchParams({ versionId, typedName: "Sam Staff", title: "Front desk", authorized: "yes", consent: "yes" }),
  })).status, version.id);
  expect(signStatus).toBe(403);
  expect(await ctx.served.ownerDb.selectFrom("baa_signatures").select("id").where("practice_id", "=", admin.practiceId).execute()).toEqual([]);

  // The team page and its forms are refused.
  const team = await page.goto(`${origin}/team`);
  expect(team?.status()).toBe(403);
  await j.check();
  const inviteStatus = await page.evaluate(async () => (await fetch("/team/invitations", {
    method: "POST", body: new URLSearchParams({ email: "new.person@hillside.example", role: "admin" }),
  })).status);
  expect(inviteStatus).toBe(403);
  expect(await ctx.served.ownerDb.selectFrom("invitations").select("id").where("practice_id", "=", admin.practiceId).execute()).toEqual([]);

  // Idle: 16 minutes pass with nothing done (the server's record of the last activity is moved
  // back as time would have moved it, and the page's clock runs ahead). The page leaves for the
  // sign-in page, and the server has ended the session.
  await page.goto(`${origin}/app`);
  await j.check();
  const sixteenMinutes = 16 * 60_000;
  await ctx.served.ownerDb.updateTable("sessions").set({ last_seen_at: new Date(Date.now() - sixteenMinutes) }).where("user_id", "=", staff.userId).execute();
  await Promise.all([page.waitForURL(`${origin}/login`), page.clock.fastForward(sixteenMinutes)]);
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  await j.check();
  const session = await ctx.served.ownerDb.selectFrom("sessions").select(["revoked_at", "revoked_reason"]).where("user_id", "=", staff.userId).executeTakeFirstOrThrow();
  expect(session.revoked_reason).toBe("idle");
  // The cookie no longer opens anything.
  await page.goto(`${origin}/app`);
  expect(new URL(page.url()).pathname).toBe("/login");
  await j.check();
  await j.finish();
}, 60_000);

test("the journeys' accessibility check fails on a serious violation", async () => {
  const j = await journey(ctx, null);
  await j.page.goto(`${ctx.served.origin}/login`);
  await j.check();
  // An image without a text alternative (added through the DOM, which the CSP allows).
  await j.page.evaluate(() => document.querySelector("main")!.append(Object.assign(document.createElement("img"), { src: "/static/favicon.svg" })));
  await expect(j.check()).rejects.toThrow(/critical image-alt/);
  await j.page.context().close();
}, 30_000);
