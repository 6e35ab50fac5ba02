// Support (issue 9 item 4) against real Postgres and the file mailer: the support page for every
// signed-in person; an incident report stored (description encrypted), audited without free text,
// emailed to SECURITY_CONTACT_EMAIL without the description; operators read reports across
// practices, practices never see another's; and the description never reaches a log line.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Writable } from "node:stream";
import { loadConfig } from "../src/config.ts";
import { listDevMail, readDevMail } from "../src/platform/mail.ts";
import { withContext } from "../src/platform/db.ts";
import { createLogger } from "../src/platform/log.ts";
import { zonedTimeToUtc } from "../src/support/forms.ts";
import { createTestApp, type TestApp, testEnv } from "./support/app.ts";
import { signedTeams } from "./support/baa.ts";
import { clientAs } from "./support/browserless.ts";
import { makeOperator, type Member, type Person } from "./support/people.ts";

const MARKER = "Qzxv-incident-text";
const logLines: string[] = [];
let t: TestApp;
let admin: Member;
let staff: Member;
let otherAdmin: Member;
let operator: Person;

beforeAll(async () => {
  // Debug-level logs, captured: the description must never be in them (as tests/phi-discipline.test.ts does).
  const destination = new Writable({ write(chunk, _encoding, done) { logLines.push(String(chunk)); done(); } });
  t = await createTestApp({ logger: createLogger({ level: "debug", destination }), env: { SUPPORT_EMAIL: "help@plh.example", SECURITY_CONTACT_EMAIL: "security-team@plh.example" } });
  ({ admin, staff, otherAdmin } = await signedTeams(t, "Support Clinic"));
  operator = await makeOperator(t);
}, 60_000);
afterAll(() => t.close());

const reports = () => t.ownerDb.selectFrom("incident_reports").selectAll().orderBy("reported_at").execute();
const incident = (extra: Record<string, string> = {}) => ({
  category: "misdirected_mail", description: `Twelve letters of job PLH-2026-000001 went to old addresses. ${MARKER}`, noticedAt: "2026-01-05T09:30", ...extra,
});

describe("the support page", () => {
  test("every signed-in person sees how to reach support and the incident form, which warns not to include PHI", async () => {
    for (const person of [admin, staff, operator]) {
      const res = await (await clientAs(t, person)).get("/support");
      expect(res.status).toBe(200);
      const html = await res.text();
      expect(html).toContain('href="mailto:help@plh.example"');
      expect(html).toContain("Do not include patient information.");
      // The warning is read with the description field; every field has a label.
      expect(html).toMatch(/<textarea id="field-description"[^>]*aria-describedby="incident-phi-warning field-description-hint"/);
      for (const id of ["field-category", "field-description", "field-noticedAt"]) expect(html).toContain(`for="${id}"`);
    }
    expect(await (await (await clientAs(t, admin)).get("/support")).text()).toContain("your practice&#39;s time zone (America/New_York)");
    expect(await (await (await clientAs(t, operator)).get("/support")).text()).toContain("in UTC");
    expect((await t.app.request("http://localhost:3000/support")).status).toBe(303);
  });
});

describe("reporting an incident", () => {
  test("stored with the description encrypted, audited without free text, the security contact emailed without the description, and never logged", async () => {
    const client = await clientAs(t, staff);
    const refused = await client.post("/support/incidents", incident({ category: "", noticedAt: "2999-01-01T00:00" }));
    expect(refused.status).toBe(422);
    const html = await refused.text();
    expect(html).toContain("Choose what kind of incident it is");
    expect(html).toContain(MARKER); // the person's own text comes back, so nothing is lost
    const future = await client.post("/support/incidents", incident({ noticedAt: "2999-01-01T00:00" }));
    expect(future.status).toBe(422);
    expect(await future.text()).toContain("cannot be in the future");
    expect(await reports()).toEqual([]);

    const res = await client.post("/support/incidents", incident());
    expect(res.status).toBe(303);
    const reference = /reported=(INC-[0-9A-Z]{4}-[0-9A-Z]{4})$/.exec(res.headers.get("location")!)![1]!;
    expect(await (await client.get(`/support?reported=${reference}`)).text()).toContain(`Report <strong>${reference}</strong> received`);

    const [row] = await reports();
    expect(row).toMatchObject({ reference, practice_id: admin.practiceId, practice_name: "Riverbend Family Medicine, P.C.", reported_by: staff.userId, category: "misdirected_mail" });
    // 09:30 in the practice's time zone (America/New_York, EST in January).
    expect(new Date(row!.noticed_at).toISOString()).toBe("2026-01-05T14:30:00.000Z");
    expect(row!.description_enc).not.toContain(MARKER);
    expect(row!.description_enc).toStartWith(`v1.${row!.key_id}.`);

    const events = await t.ownerDb.selectFrom("audit_events").selectAll().where("action", "=", "incident.reported").execute();
    expect(events.map((e) => ({ practice: e.practice_id, actor: e.actor_id, role: e.actor_role, target: e.target_id, details: e.details }))).toEqual([
      { practice: admin.practiceId, actor: staff.userId, role: "staff", target: row!.id, details: { reference, category: "misdirected_mail" } },
    ]);

    const mails = (await listDevMail(t.config.mail.dir)).filter((m) => m.to.includes("security-team@plh.example"));
    expect(mails.length).toBe(1);
    const mail = (await readDevMail(t.config.mail.dir, mails[0]!.id))!;
    expect(mail.subject).toBe(`Incident report ${reference}: Letters went to the wrong person or address`);
    expect(mail.text).toContain("Noticed: 2026-01-05 14:30 UTC");
    expect(mail.text).toContain(`${t.config.appOrigin}/operator/incidents/${row!.id}`);
    expect(mail.text).not.toContain(MARKER);
    expect(mail.text).not.toContain("Twelve letters");

    // The logs recorded the requests (debug level), never the text.
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.filter((l) => l.includes(MARKER) || l.includes("Twelve letters"))).toEqual([]);
  });

  test("an operator (no practice) can report too, in the platform chain", async () => {
    const res = await (await clientAs(t, operator)).post("/support/incidents", incident({ category: "phishing", description: "A phishing email claimed to be from the print shop." }));
    expect(res.status).toBe(303);
    const row = (await reports()).find((r) => r.category === "phishing")!;
    expect(row).toMatchObject({ practice_id: null, practice_name: null, reported_by: operator.userId });
    const event = await t.ownerDb.selectFrom("audit_events").selectAll().where("target_id", "=", row.id).executeTakeFirstOrThrow();
    expect(event).toMatchObject({ practice_id: null, action: "incident.reported", actor_role: "operator" });
  });

  test("another practice never sees a report; the app role can neither change nor delete one", async () => {
    const [row] = await reports();
    const seen = await withContext(t.db, { actor: "test", userId: otherAdmin.userId, practiceId: otherAdmin.practiceId }, (tx) =>
      tx.selectFrom("incident_reports" as never).selectAll().execute());
    expect(seen).toEqual([]);
    await expect(withContext(t.db, { actor: "test", userId: staff.userId, practiceId: admin.practiceId }, (tx) =>
      tx.updateTable("incident_reports" as never).set({ category: "other" } as never).where("id" as never, "=", row!.id as never).execute())).rejects.toThrow(/permission denied/);
  });
});

describe("operators read incident reports in their console", () => {
  test("the list across practices (no descriptions); opening one shows the description and is audited in the report's practice chain; practice members are refused", async () => {
    const client = await clientAs(t, operator);
    expect(await (await client.get("/operator")).text()).toContain('href="/operator/incidents"');
    const list = await client.get("/operator/incidents");
    expect(list.status).toBe(200);
    const html = await list.text();
    const [row] = await reports();
    expect(html).toContain(row!.reference);
    expect(html).toContain("Riverbend Family Medicine, P.C.");
    expect(html).not.toContain(MARKER);

    const detail = await client.get(`/operator/incidents/${row!.id}`);
    expect(detail.status).toBe(200);
    expect(await detail.text()).toContain(MARKER);
    const viewed = await t.ownerDb.selectFrom("audit_events").selectAll().where("action", "=", "incident.viewed").executeTakeFirstOrThrow();
    expect(viewed).toMatchObject({ practice_id: admin.practiceId, actor_id: operator.userId, actor_type: "operator", target_id: row!.id, details: { reference: row!.reference } });

    expect((await client.get(`/operator/incidents/${crypto.randomUUID()}`)).status).toBe(404);
    for (const member of [admin, staff]) expect((await (await clientAs(t, member)).get("/operator/incidents")).status).toBe(403);
    expect(logLines.filter((l) => l.includes(MARKER))).toEqual([]);
  });
});

describe("configuration", () => {
  test("SECURITY_CONTACT_EMAIL is required in production; SUPPORT_EMAIL defaults to it there, and both have dev defaults", () => {
    const production = { NODE_ENV: "production", APP_ORIGIN: "https://plh.example", DATABASE_URL: "postgres://a:b@db/plh?sslmode=verify-full", AZURE_STORAGE_ACCOUNT_URL: "https://x.blob.core.windows.net", SMTP_URL: "smtps://u:p@smtp.example:465" };
    expect(() => loadConfig(testEnv({ ...production, AZURE_STORAGE_CONNECTION_STRING: undefined }))).toThrow(/SECURITY_CONTACT_EMAIL: required in production/);
    const prod = loadConfig(testEnv({ ...production, AZURE_STORAGE_CONNECTION_STRING: undefined, SECURITY_CONTACT_EMAIL: "security@plh.example" }));
    expect(prod.support).toEqual({ email: "security@plh.example", securityContact: "security@plh.example" });
    const dev = loadConfig(testEnv({ DATABASE_URL: "postgres://a:b@localhost/plh" }));
    expect(dev.support).toEqual({ email: "support@localhost", securityContact: "security@localhost" });
    expect(() => loadConfig(testEnv({ DATABASE_URL: "postgres://a:b@localhost/plh", SECURITY_CONTACT_EMAIL: "not an address" }))).toThrow(/SECURITY_CONTACT_EMAIL: must be an email address/);
  });

  test("a wall-clock time is read in the given time zone", () => {
    expect(zonedTimeToUtc("2026-07-01T00:00", "America/Los_Angeles")!.toISOString()).toBe("2026-07-01T07:00:00.000Z");
    expect(zonedTimeToUtc("2026-02-30T10:00", "UTC")).toBeNull();
  });
});
