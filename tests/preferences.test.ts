// Communication preferences (src/account/preferences.ts) and the mailer that honours them
// (src/platform/mail.ts): the page, skipping opted-out non-essential mail while service mail still
// goes out, the footer every email carries, and the signed one-click unsubscribe link (RFC 8058).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { unsubscribePath, UNSUBSCRIBE_LINK_DAYS } from "../src/account/preferences.ts";
import { passwordChangedEmail } from "../src/auth/emails.ts";
import { proofReadyEmail } from "../src/jobs/notifications.ts";
import { signLink } from "../src/platform/crypto.ts";
import { createMailer, listDevMail, type NonEssentialMail, readDevMail, readDevMailHeader } from "../src/platform/mail.ts";
import { createTestApp, randomKeyRing, TEST_ORIGIN, type TestApp } from "./support/app.ts";
import { Client, clientAs } from "./support/browserless.ts";
import { makePerson, type Member } from "./support/people.ts";

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

const addressOf = (p: Member) => `${p.userId}@people.example`;
const summary = (p: Member): NonEssentialMail => ({
  category: "job_summary", userId: p.userId, to: addressOf(p), subject: "Your weekly job summary", text: "3 jobs in production, 1 waiting for your review.",
});

/** The newest mail to the person whose subject matches, with the unsubscribe headers. */
async function newestMail(p: Member, subject: string) {
  const found = (await listDevMail(t.config.mail.dir)).find((m) => m.to.includes(addressOf(p)) && m.subject === subject);
  if (!found) return null;
  return {
    text: (await readDevMail(t.config.mail.dir, found.id))!.text,
    listUnsubscribe: await readDevMailHeader(t.config.mail.dir, found.id, "List-Unsubscribe"),
    listUnsubscribePost: await readDevMailHeader(t.config.mail.dir, found.id, "List-Unsubscribe-Post"),
  };
}
const countMail = async (p: Member, subject: string) => (await listDevMail(t.config.mail.dir)).filter((m) => m.to.includes(addressOf(p)) && m.subject === subject).length;
const preferenceRows = (userId: string) => t.ownerDb.selectFrom("email_preferences").select(["category", "subscribed"]).where("user_id", "=", userId).orderBy("category").execute();
const eventsOf = (userId: string, action: string) =>
  t.ownerDb.selectFrom("audit_events").select(["outcome", "details", "actor_id", "practice_id"]).where("action", "=", action).where("target_id", "=", userId).orderBy("occurred_at").execute();

/** An RFC 8058 one-click POST, as a mail provider sends it: no cookie, no Origin, no Sec-Fetch-Site. */
function oneClick(url: string): Promise<Response> {
  return Promise.resolve(t.app.request(url, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "List-Unsubscribe=One-Click" }));
}

describe("the preferences page", () => {
  test("the weekly summary starts on and is the only optional email; saving changes it and is audited; service mail is explained", async () => {
    const p = await makePerson(t);
    const client = await clientAs(t, p);
    const html = await (await client.get("/account/preferences")).text();
    expect(html).toContain('<input type="checkbox" id="pref-job_summary" name="job_summary" checked="" aria-describedby="pref-job_summary-hint"');
    expect(html).toContain('<label for="pref-job_summary">Weekly job summary</label>');
    expect(html).toContain("Once a week (Monday mornings by default), one email per practice you belong to");
    // Nothing sends product news, so the page does not offer it (issue 9 review).
    expect(html).not.toContain("product_news");
    expect(html).not.toContain("Product news");
    expect(html).toContain("PatientLetterHub sends no newsletters, marketing or other optional email.");
    expect(html).toContain("Emails we always send");
    for (const service of ["Security notices", "Proof ready", "Job mailed", "Data export ready"]) expect(html).toContain(`<dt>${service}</dt>`);
    expect(html).toContain("cannot be turned off");

    const saved = await client.post("/account/preferences", {}); // summary unticked
    expect(saved.status).toBe(303);
    expect(await preferenceRows(p.userId)).toEqual([{ category: "job_summary", subscribed: false }]);
    expect((await eventsOf(p.userId, "account.preferences.changed")).map((e) => e.details)).toEqual([{ job_summary: false }]);
    expect(await (await client.get("/account/preferences?saved=1")).text()).toContain("Your email preferences are saved.");

    // Saving the same choices again changes nothing and records nothing.
    await client.post("/account/preferences", {});
    expect(await eventsOf(p.userId, "account.preferences.changed")).toHaveLength(1);
  });
});

describe("the mailer honours preferences", () => {
  test("non-essential mail is skipped after opting out; service mail still goes out", async () => {
    const p = await makePerson(t);
    expect(await t.mailer.send(summary(p))).toBe("sent");
    const first = (await newestMail(p, "Your weekly job summary"))!;
    expect(first.listUnsubscribe).toMatch(new RegExp(`^<${TEST_ORIGIN}/unsubscribe\\?u=${p.userId}&c=job_summary&t=[^>]+>$`));
    expect(first.listUnsubscribePost).toBe("List-Unsubscribe=One-Click");
    expect(first.text).toContain(`Unsubscribe with one click: ${first.listUnsubscribe!.slice(1, -1)}`);
    expect(first.text).toContain(`Choose which emails you receive: ${TEST_ORIGIN}/account/preferences`);

    await (await clientAs(t, p)).post("/account/preferences", {}); // everything off
    expect(await t.mailer.send(summary(p))).toBe("skipped");
    expect(await countMail(p, "Your weekly job summary")).toBe(1);

    // Service mail (security, proofs) is sent regardless, with the preferences link but no unsubscribe header.
    expect(await t.mailer.send(passwordChangedEmail(t.config.appOrigin, addressOf(p)))).toBe("sent");
    expect(await t.mailer.send(proofReadyEmail(addressOf(p), { practiceName: "Test Practice", reference: "PLH-2026-000001", version: 1, link: `${TEST_ORIGIN}/jobs/x` }))).toBe("sent");
    const security = (await newestMail(p, "Your PatientLetterHub password was changed"))!;
    expect(security.text).toContain("It is sent whatever your email preferences.");
    expect(security.text).toContain(`${TEST_ORIGIN}/account/preferences`);
    expect(security.listUnsubscribe).toBeNull();
    expect(await countMail(p, "Proof 1 of PLH-2026-000001 is ready for review")).toBe(1);
  });

  test("turning the summary back on sends it again, and nobody whose account is deactivated gets non-essential mail", async () => {
    const p = await makePerson(t);
    const client = await clientAs(t, p);
    await client.post("/account/preferences", {});
    expect(await t.mailer.send(summary(p))).toBe("skipped");
    await client.post("/account/preferences", { job_summary: "on" });
    expect(await t.mailer.send(summary(p))).toBe("sent");
    await t.ownerDb.updateTable("users").set({ status: "deactivated" }).where("id", "=", p.userId).execute();
    expect(await t.mailer.send(summary(p))).toBe("skipped");
  });

  test("a mailer that cannot check preferences refuses non-essential mail, and callers cannot set the unsubscribe headers", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "plh-mail-"));
    try {
      const bare = createMailer({ from: "PatientLetterHub <no-reply@plh.test>", dir });
      const p = await makePerson(t);
      await expect(bare.send(summary(p))).rejects.toThrow(/audience/);
      await expect(t.mailer.send({ ...summary(p), userId: "" })).rejects.toThrow(/user id/);
      await expect(t.mailer.send({ to: addressOf(p), subject: "s", text: "t", headers: { "List-Unsubscribe": "<https://evil.example>" } })).rejects.toThrow(/not allowed/);
      expect(await listDevMail(dir)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("one-click unsubscribe", () => {
  test("GET shows a button and changes nothing; the RFC 8058 POST (no cookie, no Origin) unsubscribes; audited", async () => {
    const p = await makePerson(t);
    await t.mailer.send(summary(p));
    const url = (await newestMail(p, "Your weekly job summary"))!.listUnsubscribe!.slice(1, -1);

    const page = await new Client(t).get(url.slice(TEST_ORIGIN.length));
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain("Unsubscribe from weekly job summary");
    expect(html).toContain('<button type="submit" class="button">Unsubscribe</button>');
    expect(await preferenceRows(p.userId)).toEqual([]);
    expect(await eventsOf(p.userId, "account.unsubscribed")).toEqual([]);

    const res = await oneClick(url);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("You will no longer receive weekly job summary emails.");
    expect(await preferenceRows(p.userId)).toEqual([{ category: "job_summary", subscribed: false }]);
    expect(await t.mailer.send(summary(p))).toBe("skipped");

    // The button on the page does the same (a same-origin form post); using the link again is harmless.
    const again = await new Client(t).post(url.slice(TEST_ORIGIN.length), {});
    expect(await again.text()).toContain("You were already not receiving weekly job summary emails.");
    const events = await eventsOf(p.userId, "account.unsubscribed");
    expect(events.map((e) => [e.outcome, e.actor_id, e.practice_id, e.details])).toEqual([
      ["success", p.userId, null, { category: "job_summary", changed: true, method: "one_click" }],
      ["success", p.userId, null, { category: "job_summary", changed: false, method: "confirm_page" }],
    ]);
  });

  test("the link cannot be forged, altered, moved to another user or category, or used after it expires", async () => {
    const victim = await makePerson(t);
    const attacker = await makePerson(t);
    const own = unsubscribePath(t.config, attacker.userId, "job_summary");
    const token = new URLSearchParams(own.split("?")[1]).get("t")!;
    const link = (u: string, c: string, tok: string) => `${TEST_ORIGIN}/unsubscribe?${new URLSearchParams({ u, c, t: tok })}`;
    const anotherRing = [{ id: "k1", key: Buffer.from(randomKeyRing().split(":")[1]!, "base64") }];
    const attempts = {
      "the attacker's token for the victim": link(victim.userId, "job_summary", token),
      "a category that does not exist (product news was removed)": link(attacker.userId, "product_news", token),
      "a token signed with another key": link(victim.userId, "job_summary", signLink(anotherRing, { resource: "unsubscribe:job_summary", userId: victim.userId, expiresAt: new Date(Date.now() + 86_400_000) })),
      "a token with its signature altered": link(attacker.userId, "job_summary", `${token.slice(0, -2)}${token.endsWith("AA") ? "BA" : "AA"}`),
      "a token with its expiry moved": link(attacker.userId, "job_summary", token.replace(/\.(\d+)\./, (_, s: string) => `.${Number(s) + 86_400}.`)),
      "an expired token": `${TEST_ORIGIN}${unsubscribePath(t.config, victim.userId, "job_summary", Date.now() - (UNSUBSCRIBE_LINK_DAYS + 1) * 86_400_000)}`,
      "no token": link(victim.userId, "job_summary", ""),
    };
    for (const [name, url] of Object.entries(attempts)) {
      expect({ name, get: (await new Client(t).get(url.slice(TEST_ORIGIN.length))).status }).toEqual({ name, get: 400 });
      expect({ name, post: (await oneClick(url)).status }).toEqual({ name, post: 400 });
    }
    expect(await preferenceRows(victim.userId)).toEqual([]);
    expect(await preferenceRows(attacker.userId)).toEqual([]);
    expect(await t.mailer.send(summary(victim))).toBe("sent");
    const denied = await t.ownerDb.selectFrom("audit_events").select(["outcome", "actor_type", "details"])
      .where("action", "=", "account.unsubscribed").where("outcome", "=", "denied").execute();
    expect(denied.length).toBeGreaterThanOrEqual(Object.keys(attempts).length);
    expect(new Set(denied.map((e) => (e.details as { reason: string }).reason))).toEqual(new Set(["bad-signature", "expired", "malformed"]));
    expect(denied.every((e) => e.actor_type === "anonymous")).toBe(true);

    // The attacker's own token still works for the attacker (it was never the token that was wrong).
    expect((await oneClick(`${TEST_ORIGIN}${own}`)).status).toBe(200);
  });

  test("the one-click path alone is exempt from the same-origin check", async () => {
    const crossSite = { "content-type": "application/x-www-form-urlencoded", origin: "https://evil.example" };
    expect((await t.app.request(`${TEST_ORIGIN}/account/preferences`, { method: "POST", headers: crossSite, body: "" })).status).toBe(403);
    expect((await t.app.request(`${TEST_ORIGIN}/unsubscribe/x`, { method: "POST", headers: crossSite, body: "" })).status).toBe(403);
  });
});
