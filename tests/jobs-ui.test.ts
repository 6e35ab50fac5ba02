// The jobs UI through HTTP: the wizard end to end (create, attest, letter, resume, review, submit),
// the dashboard's search, filter and pages, the job page with its timeline and live status,
// cancelling, another practice's jobs (404), auditors (metadata, never the letter) and the BAA gate.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "kysely";
import { createJob } from "../src/jobs/service.ts";
import { decryptField, sha256Hex } from "../src/platform/crypto.ts";
import type { Job } from "../src/platform/schema.ts";
import { createTestApp, type TestApp } from "./support/app.ts";
import { makeSignedPractice, signedTeams } from "./support/baa.ts";
import { Client, clientAs } from "./support/browserless.ts";
import { makePerson, type Member, sessionToken } from "./support/people.ts";

let t: TestApp;
let admin: Member;
let staff: Member;
let auditor: Member;
let otherAdmin: Member;

beforeAll(async () => {
  t = await createTestApp();
  ({ admin, staff, auditor, otherAdmin } = await signedTeams(t, "Harbor Pediatrics"));
});
afterAll(() => t.close());

const clientFor = (person: Member) => clientAs(t, person);

const DETAILS = {
  title: "Dr. Lee retiring", letterType: "provider_departure", mailClass: "first_class", returnName: "Harbor Pediatrics",
  returnLine1: "12 Main Street", returnLine2: "", returnCity: "Springfield", returnState: "MA", returnZip: "01103",
};
const LETTER = "Dear {{first_name}} {{last_name}},\n\nDr. Lee is retiring on June 30. Our other providers are accepting patients.\n\nSincerely,\nHarbor Pediatrics";

/** Who signs the letter: required on the letter step since the letter editor (issue 7 item 1). */
const SIGNER = { signerName: "Dana Lee, MD", signerTitle: "Medical Director" };

const jobIdFrom = (location: string | null) => /^\/jobs\/([0-9a-f-]{36})\//.exec(location ?? "")![1]!;

async function events(reference: string, action?: string) {
  return t.ownerDb.selectFrom("audit_events").selectAll().where("target_id", "=", reference)
    .$if(Boolean(action), (q) => q.where("action", "=", action!)).orderBy("occurred_at").orderBy("chain_seq").execute();
}

async function jobRow(id: string): Promise<Job> {
  return (await t.ownerDb.selectFrom("jobs").selectAll().where("id", "=", id).executeTakeFirstOrThrow()) as Job;
}

/** A verified recipient list, put in place as the owner (uploads are tested with their own routes). */
async function verifiedCsv(job: { id: string; practice_id: string }, userId: string) {
  const id = crypto.randomUUID();
  await t.ownerDb.insertInto("job_files").values({
    id, practice_id: job.practice_id, job_id: job.id, kind: "recipients_csv", blob_name: `practices/${job.practice_id}/jobs/${job.id}/${id}`,
    declared_name: "recipients.csv", declared_size: 2048, declared_type: "text/csv", status: "verified", size: 2048, sha256: sha256Hex("csv"),
    verified_at: new Date(), upload_expires_at: new Date(Date.now() + 600_000), created_by: userId,
  }).execute();
}

async function attestedJob(owner: Member, title = "Attested job") {
  const client = await clientFor(owner);
  const created = await client.post("/jobs", { ...DETAILS, title });
  const id = jobIdFrom(created.headers.get("location"));
  expect((await client.post(`/jobs/${id}/attestation`, { statementVersion: "2026-11", confirm: "yes", initials: "AA" })).status).toBe(303);
  return { client, id, job: await jobRow(id) };
}

describe("the wizard", () => {
  test("end to end: details, attestation, letter (unknown fields refused by name), resume, review, submit", async () => {
    const client = await clientFor(staff);

    // Details: the return address starts from the practice profile; the first step is current.
    const fresh = await (await client.get("/jobs/new")).text();
    expect(fresh).toContain('value="Riverbend Family Medicine, P.C."');
    expect(fresh).toContain('value="12 Main Street"');
    expect(fresh).toMatch(/<li class="current" aria-current="step"><span class="visually-hidden">Current: <\/span>Step 1\. Details/);

    // Refused: messages tied to their fields, what was typed kept.
    const refused = await client.post("/jobs", { ...DETAILS, title: "", letterType: "breach_notification", mailClass: "marketing" });
    expect(refused.status).toBe(422);
    const refusedHtml = await refused.text();
    expect(refusedHtml).toContain('aria-describedby="field-title-hint field-title-error"');
    expect(refusedHtml).toContain('id="field-title-error">Enter a title');
    expect(refusedHtml).toContain("Breach notifications must go First-Class Mail");
    expect(refusedHtml).toMatch(/<option value="breach_notification" selected="">/);
    expect(refusedHtml).toContain('value="Springfield"');
    expect(await t.ownerDb.selectFrom("jobs").select("id").where("practice_id", "=", admin.practiceId).execute()).toHaveLength(0);

    const created = await client.post("/jobs", DETAILS);
    expect(created.status).toBe(303);
    const id = jobIdFrom(created.headers.get("location"));
    expect(created.headers.get("location")).toBe(`/jobs/${id}/attestation`);
    const job = await jobRow(id);
    expect(job).toMatchObject({ title: "Dr. Lee retiring", letter_type: "provider_departure", mail_class: "first_class", status: "draft", created_by: staff.userId });

    // Resume at the first unfinished step: the attestation.
    expect((await client.get(`/jobs/${id}/edit`)).headers.get("location")).toBe(`/jobs/${id}/attestation`);

    // Attestation: the versioned statement, a checkbox and initials.
    const attestPage = await (await client.get(`/jobs/${id}/attestation`)).text();
    expect(attestPage).toContain("This job contains protected health information (PHI)");
    expect(attestPage).toContain('name="statementVersion" value="2026-11"');
    const unticked = await client.post(`/jobs/${id}/attestation`, { statementVersion: "2026-11", initials: "JQD" });
    expect(unticked.status).toBe(422);
    const untickedHtml = await unticked.text();
    expect(untickedHtml).toContain('id="field-confirm-error">Tick the box to confirm the statement');
    expect(untickedHtml).toContain('value="JQD"');
    const attested = await client.post(`/jobs/${id}/attestation`, { statementVersion: "2026-11", confirm: "yes", initials: "JQD" });
    expect(attested.status).toBe(303);
    expect(attested.headers.get("location")).toBe(`/jobs/${id}/uploads`);
    const attestation = await t.ownerDb.selectFrom("job_attestations").selectAll().where("job_id", "=", id).executeTakeFirstOrThrow();
    expect(attestation).toMatchObject({ user_id: staff.userId, statement_version: "2026-11", initials: "JQD", user_agent: "TestBrowser/1.0" });

    // No verified list yet: resume goes to the uploads step.
    expect((await client.get(`/jobs/${id}/edit`)).headers.get("location")).toBe(`/jobs/${id}/uploads`);

    // Letter: a starter for the letter type, in a labelled textarea.
    const letterPage = await (await client.get(`/jobs/${id}/letter`)).text();
    expect(letterPage).toContain('<label for="field-body">Letter text</label>');
    expect(letterPage).toContain("will be leaving Riverbend Family Medicine, P.C. on [last day]");
    expect(letterPage).toContain("{{first_name}}");

    const unknown = await client.post(`/jobs/${id}/letter`, { body: "Dear {{first_name}}, your {{diagnosis}} and {{ Account Number }} follow." });
    expect(unknown.status).toBe(422);
    const unknownHtml = await unknown.text();
    expect(unknownHtml).toContain("not in your recipient list: {{diagnosis}}, {{Account Number}}");
    expect(unknownHtml).toContain('aria-describedby="field-body-hint field-body-error"');
    expect(unknownHtml).toContain("your {{diagnosis}} and {{ Account Number }} follow.</textarea>");
    expect((await jobRow(id)).letter_body_enc).toBeNull();
    expect(await events(job.reference, "job.letter.saved")).toHaveLength(0);

    const saved = await client.post(`/jobs/${id}/letter`, { body: LETTER, ...SIGNER });
    expect(saved.status).toBe(303);
    expect(saved.headers.get("location")).toBe(`/jobs/${id}/review`);
    const withLetter = await jobRow(id);
    expect(withLetter.letter_body_enc).not.toContain("retiring");
    expect(withLetter.letter_key_id).toBe(t.config.keys.encryption[0]!.id);
    expect(decryptField(t.config.keys.encryption, withLetter.letter_body_enc!, `job-letter:${id}`)).toBe(LETTER);
    // Bound to this job: the same ciphertext does not open as another job's letter.
    expect(() => decryptField(t.config.keys.encryption, withLetter.letter_body_enc!, `job-letter:${crypto.randomUUID()}`)).toThrow();
    expect(withLetter.letter_fields).toEqual(["first_name", "last_name"]);
    const letterEvents = await events(job.reference, "job.letter.saved");
    expect(letterEvents.map((e) => e.details)).toEqual([{ length: LETTER.length, field_count: 2 }]);
    expect(JSON.stringify(letterEvents)).not.toContain("retiring");

    // Review lists what is missing, and offers no submit button yet; submitting is refused.
    const review = await (await client.get(`/jobs/${id}/review`)).text();
    expect(review).toContain("Before you can submit");
    expect(review).toContain("Upload the recipient list (CSV) and wait until it is verified.");
    expect(review).not.toContain("Write the letter and save it.");
    expect(review).not.toContain("Submit for proof");
    expect((await client.post(`/jobs/${id}/submit`, {})).status).toBe(422);
    expect((await jobRow(id)).status).toBe("draft");

    // With a verified list every step is done: resume lands on review, which can submit.
    await verifiedCsv(job, staff.userId);
    expect((await client.get(`/jobs/${id}/edit`)).headers.get("location")).toBe(`/jobs/${id}/review`);
    const ready = await (await client.get(`/jobs/${id}/review`)).text();
    expect(ready).toContain("Submit for proof");
    expect(ready).toContain("Recipient list (CSV): Verified, 2.0 KB");
    const submitted = await client.post(`/jobs/${id}/submit`, {});
    expect(submitted.status).toBe(303);
    expect(submitted.headers.get("location")).toBe(`/jobs/${id}`);
    expect((await jobRow(id)).status).toBe("submitted");

    // Past editing: the steps send to the job page, a change is refused (and audited), the letter is read-only.
    expect((await client.get(`/jobs/${id}/details`)).headers.get("location")).toBe(`/jobs/${id}`);
    const late = await client.post(`/jobs/${id}/details`, DETAILS);
    expect(late.status).toBe(409);
    expect((await events(job.reference, "job.updated")).map((e) => [e.outcome, e.details])).toEqual([["denied", { reason: "not_editable" }]]);
    const readOnly = await (await client.get(`/jobs/${id}/letter`)).text();
    expect(readOnly).toContain("Dr. Lee is retiring on June 30.");
    expect(readOnly).not.toContain("<textarea");
    expect(await events(job.reference, "job.letter.viewed")).toHaveLength(1);
  }, 30_000);

  test("a saved letter with no verified list yet: resume goes to uploads; with the list and no letter, to the letter", async () => {
    const { client, id, job } = await attestedJob(admin, "Resume check");
    expect((await client.get(`/jobs/${id}/edit`)).headers.get("location")).toBe(`/jobs/${id}/uploads`);
    await verifiedCsv(job, admin.userId);
    expect((await client.get(`/jobs/${id}/edit`)).headers.get("location")).toBe(`/jobs/${id}/letter`);
    const review = await (await client.get(`/jobs/${id}/review`)).text();
    expect(review).toContain("Write the letter and save it.");
    expect(review).not.toContain("Upload the recipient list");
  });

  test("htmx: a refused step comes back as the #job-wizard fragment, a saved one redirects the browser", async () => {
    const client = await clientFor(admin);
    const refused = await client.post("/jobs", { ...DETAILS, returnZip: "ABC" }, { "hx-request": "true" });
    expect(refused.status).toBe(422);
    const html = await refused.text();
    expect(html.startsWith('<section id="job-wizard"')).toBe(true);
    expect(html).toContain("Enter a ZIP code like 02139");
    expect(html).toMatch(/hx-post="\/jobs" hx-target="#job-wizard" hx-swap="outerHTML" hx-nonce="[^"]+"/);
    const saved = await client.post("/jobs", DETAILS, { "hx-request": "true" });
    expect(saved.status).toBe(200);
    expect(saved.headers.get("hx-redirect")).toMatch(/^\/jobs\/[0-9a-f-]{36}\/attestation$/);
  });

  test("the details step edits a draft and keeps the saved values", async () => {
    const { client, id, job } = await attestedJob(admin, "Before edit");
    const page = await (await client.get(`/jobs/${id}/details`)).text();
    expect(page).toContain('value="Before edit"');
    expect(page).toContain("Completed: </span>Step 2. PHI attestation");
    const res = await client.post(`/jobs/${id}/details`, { ...DETAILS, title: "After edit", mailClass: "marketing", letterType: "appointment_recall" });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`/jobs/${id}/uploads`);
    expect(await jobRow(id)).toMatchObject({ title: "After edit", mail_class: "marketing", letter_type: "appointment_recall" });
    expect((await events(job.reference, "job.updated")).map((e) => e.details)).toEqual([{ letter_type: "appointment_recall", mail_class: "marketing" }]);
  });
});

describe("the dashboard", () => {
  test("search by reference or title, filter by status, pages of 20; New job only for jobs.write", async () => {
    const owner = await makeSignedPractice(t, "Busy Clinic");
    const actor = { userId: owner.userId, practiceId: owner.practiceId, role: "admin" as const };
    const made = [];
    for (let i = 1; i <= 23; i++) {
      made.push(await createJob({ db: t.db }, actor, {
        title: i === 7 ? "Flu shot recall" : `Mailing ${String(i).padStart(2, "0")}`, letterType: "other", mailClass: "first_class",
        returnName: "Busy Clinic", returnLine1: "1 Main St", returnLine2: null, returnCity: "Boston", returnState: "MA", returnZip: "02110",
      }));
    }
    for (const job of made.slice(0, 3)) {
      await t.ownerDb.updateTable("jobs").set({ status: "cancelled", cancelled_at: new Date() }).where("id", "=", job.id).execute();
    }
    const client = await clientFor(owner);
    const rowsOf = (html: string) => [...html.matchAll(/<th scope="row"><a href="\/jobs\/([0-9a-f-]{36})">/g)].map((m) => m[1]);

    const first = await (await client.get("/jobs")).text();
    expect(rowsOf(first)).toHaveLength(20);
    expect(first).toContain("23 jobs. Page 1 of 2.");
    expect(first).toContain('<a href="/jobs?page=2" rel="next">Next page</a>');
    expect(first).toContain('<a class="button" href="/jobs/new">New job</a>');
    expect(first).toContain('<span class="badge badge-draft">Draft</span>');
    const second = await (await client.get("/jobs?page=2")).text();
    expect(rowsOf(second)).toHaveLength(3);
    expect(new Set([...rowsOf(first), ...rowsOf(second)]).size).toBe(23);

    const byReference = await (await client.get(`/jobs?q=${made[11]!.reference}`)).text();
    expect(rowsOf(byReference)).toEqual([made[11]!.id]);
    const byTitle = await (await client.get("/jobs?q=flu%20SHOT")).text();
    expect(rowsOf(byTitle)).toEqual([made[6]!.id]);
    const cancelled = await (await client.get("/jobs?status=cancelled")).text();
    expect(rowsOf(cancelled).sort()).toEqual(made.slice(0, 3).map((j) => j.id).sort());
    expect(cancelled).toContain('<span class="badge badge-cancelled">Cancelled</span>');
    expect(cancelled).not.toContain("badge-draft");
    const none = await (await client.get("/jobs?q=nothing-like-this")).text();
    expect(none).toContain("No jobs match your search.");
    // The htmx search answers with the results region only.
    const fragment = await (await client.get("/jobs?status=cancelled", { "hx-request": "true" })).text();
    expect(fragment.startsWith('<div id="job-results">')).toBe(true);

    // Another practice's jobs are not listed; an auditor reads the list but gets no "New job".
    const elsewhere = await (await (await clientFor(otherAdmin)).get("/jobs?q=Mailing")).text();
    expect(rowsOf(elsewhere)).toEqual([]);
    const reader = await makePerson(t, { practiceId: owner.practiceId, role: "auditor" });
    const readerPage = await (await (await clientFor(reader)).get("/jobs")).text();
    expect(rowsOf(readerPage)).toHaveLength(20);
    expect(readerPage).not.toContain("New job");
  }, 30_000);

  test("members see Jobs in the navigation", async () => {
    const html = await (await (await clientFor(auditor)).get("/app")).text();
    expect(html).toContain('<li><a href="/jobs">Jobs</a></li>');
  });
});

describe("the job page", () => {
  test("details, files, attestation and the job's timeline in the practice's time zone; the status polls while moving", async () => {
    const { client, id, job } = await attestedJob(admin, "Timeline job");
    await client.post(`/jobs/${id}/letter`, { body: LETTER, ...SIGNER });
    await verifiedCsv(job, admin.userId);
    await client.post(`/jobs/${id}/submit`, {});
    await t.ownerDb.updateTable("practices").set({ time_zone: "Pacific/Honolulu" }).where("id", "=", admin.practiceId).execute();
    try {
      const page = await (await client.get(`/jobs/${id}`)).text();
      expect(page).toContain(`${job.reference}: Timeline job`);
      expect(page).toContain("<td>Recipient list (CSV)</td><td>Verified</td><td>2.0 KB</td>");
      expect(page).toContain("<dt>Statement version</dt><dd>2026-11");
      expect(page).toContain("Times in Pacific/Honolulu.");
      const timeline = await events(job.reference);
      expect(timeline.map((e) => e.action)).toEqual(["job.created", "job.attested", "job.letter.saved", "job.status.changed"]);
      const hawaii = new Intl.DateTimeFormat("en-US", { timeZone: "Pacific/Honolulu", dateStyle: "medium", timeStyle: "short" });
      for (const e of timeline) expect(page).toContain(`<time datetime="${new Date(e.occurred_at).toISOString()}">${hawaii.format(new Date(e.occurred_at))}</time>`);
      const ol = page.slice(page.indexOf('<ol class="timeline"'));
      expect([...ol.matchAll(/<strong>([^<]+)<\/strong>/g)].map((m) => m[1])).toEqual([
        "Job created", "PHI attestation confirmed", "Letter saved", "Status: Draft → Submitted",
      ]);
      expect(page).toContain('<a href="/jobs/' + id + '/letter">Read the letter</a>');
      expect(page).not.toContain("Dr. Lee is retiring");

      // Live status: a moving job polls every 5 s; a final one answers without a trigger.
      expect(page).toContain(`hx-get="/jobs/${id}/status" hx-trigger="every 5s" hx-swap="outerMorph"`);
      const moving = await (await client.get(`/jobs/${id}/status`, { "hx-request": "true" })).text();
      expect(moving.startsWith('<div id="job-status"')).toBe(true);
      expect(moving).toContain('hx-trigger="every 5s"');
      expect(moving).toContain('<span class="badge badge-submitted">Submitted</span>');
      await t.ownerDb.updateTable("jobs").set({ status: "completed", completed_at: new Date() }).where("id", "=", id).execute();
      const done = await (await client.get(`/jobs/${id}/status`, { "hx-request": "true" })).text();
      expect(done).toContain('<span class="badge badge-completed">Completed</span>');
      expect(done).not.toContain("hx-trigger");
      expect(done).not.toContain("hx-get");
    } finally {
      await t.ownerDb.updateTable("practices").set({ time_zone: "America/New_York" }).where("id", "=", admin.practiceId).execute();
    }
  });

  test("a draft does not poll", async () => {
    const { client, id } = await attestedJob(admin, "Quiet draft");
    const status = await (await client.get(`/jobs/${id}/status`, { "hx-request": "true" })).text();
    expect(status).toContain("Draft");
    expect(status).not.toContain("hx-trigger");
  });

  test("cancel needs a reason, records it on the job and one event; not once production started", async () => {
    const { client, id, job } = await attestedJob(staff, "To cancel");
    const empty = await client.post(`/jobs/${id}/cancel`, { reason: "  " });
    expect(empty.status).toBe(422);
    const emptyHtml = await empty.text();
    expect(emptyHtml).toContain('id="field-reason-error"');
    expect(emptyHtml).toContain('aria-describedby="field-reason-hint field-reason-error"');
    expect((await jobRow(id)).status).toBe("draft");
    const done = await client.post(`/jobs/${id}/cancel`, { reason: "Duplicate of an earlier mailing" });
    expect(done.status).toBe(303);
    expect(await jobRow(id)).toMatchObject({ status: "cancelled", cancel_reason: "Duplicate of an earlier mailing", cancelled_by: staff.userId });
    expect((await events(job.reference, "job.status.changed")).map((e) => e.details)).toEqual([{ from: "draft", to: "cancelled", reason_given: true }]);
    const page = await (await client.get(`/jobs/${id}`)).text();
    expect(page).toContain("Reason: Duplicate of an earlier mailing");
    expect(page).not.toContain("Cancel this job");

    const printing = await attestedJob(staff, "In production");
    await t.ownerDb.updateTable("jobs").set({ status: "in_production" }).where("id", "=", printing.id).execute();
    expect((await printing.client.post(`/jobs/${printing.id}/cancel`, { reason: "Too late" })).status).toBe(409);
    expect((await jobRow(printing.id)).status).toBe("in_production");
  });

  test("another practice's job answers 404 everywhere", async () => {
    const { id } = await attestedJob(admin, "Private job");
    const other = await clientFor(otherAdmin);
    for (const path of [`/jobs/${id}`, `/jobs/${id}/status`, `/jobs/${id}/letter`, `/jobs/${id}/attestation`, `/jobs/${id}/review`, `/jobs/${id}/edit`, "/jobs/not-a-uuid"]) {
      expect({ path, status: (await other.get(path)).status }).toEqual({ path, status: 404 });
    }
    expect((await other.post(`/jobs/${id}/cancel`, { reason: "mine now" })).status).toBe(404);
    expect((await other.post(`/jobs/${id}/letter`, { body: "Hello" })).status).toBe(404);
    expect((await jobRow(id)).status).toBe("draft");
  });

  test("auditors read job metadata but never the letter, and change nothing", async () => {
    const { client, id } = await attestedJob(admin, "Audited job");
    await client.post(`/jobs/${id}/letter`, { body: LETTER, ...SIGNER });
    const reader = await clientFor(auditor);
    const page = await (await reader.get(`/jobs/${id}`)).text();
    expect(page).toContain("Audited job");
    expect(page).toContain("The letter text is shown to practice admins and staff only.");
    expect(page).not.toContain("Read the letter");
    expect(page).not.toContain("Dr. Lee is retiring");
    expect(page).not.toContain("Cancel this job");
    expect((await reader.get(`/jobs/${id}/letter`)).status).toBe(403);
    expect((await reader.get("/jobs/new")).status).toBe(403);
    expect((await reader.post(`/jobs/${id}/cancel`, { reason: "no" })).status).toBe(403);
    expect((await reader.post(`/jobs/${id}/letter`, { body: "Hello" })).status).toBe(403);
  });
});

describe("the BAA gate", () => {
  test("a practice without the BAA gets the page saying what to do, and the refusal is audited", async () => {
    const unsigned = await makePerson(t, { practiceName: "Unsigned Clinic" });
    const client = await clientFor(unsigned);
    const page = await client.get("/jobs/new");
    expect(page.status).toBe(403);
    const html = await page.text();
    expect(html).toContain("Sign the Business Associate Agreement first");
    expect(html).toContain('href="/baa"');
    const post = await client.post("/jobs", DETAILS);
    expect(post.status).toBe(403);
    const denied = await t.ownerDb.selectFrom("audit_events").selectAll().where("practice_id", "=", unsigned.practiceId).where("action", "=", "job.created").execute();
    expect(denied.map((e) => [e.outcome, e.details])).toEqual([["denied", { reason: "baa_required", baa: "never_signed" }]]);
    expect(await t.ownerDb.selectFrom("jobs").select("id").where("practice_id", "=", unsigned.practiceId).execute()).toEqual([]);
  });

  test("when a newer BAA is in force, the steps of an existing draft refuse until it is signed", async () => {
    const { client, id, job } = await attestedJob(admin, "Gate closes");
    const v1 = await t.ownerDb.selectFrom("baa_versions").select("body").where("version", "=", 1).executeTakeFirstOrThrow();
    const body = `${v1.body}\n\nRevision 98.`;
    await t.ownerDb.insertInto("baa_versions").values({
      version: 98, title: "Business Associate Agreement", body, sha256: sha256Hex(body), effective_at: new Date(Date.now() - 1000), published_by: "test",
    } as never).execute();
    try {
      const step = await client.get(`/jobs/${id}/letter`);
      expect(step.status).toBe(403);
      expect(await step.text()).toContain("A new version of the agreement is in effect");
      const save = await client.post(`/jobs/${id}/letter`, { body: LETTER }, { "hx-request": "true" });
      expect(save.status).toBe(403);
      expect(await save.text()).toContain("Sign the Business Associate Agreement first");
      expect((await jobRow(id)).letter_body_enc).toBeNull();
      expect((await events(job.reference, "job.letter.saved")).map((e) => e.outcome)).toEqual(["denied"]);
      expect((await client.post(`/jobs/${id}/details`, DETAILS)).status).toBe(403);
      // Reading the job's page still works: jobs in progress carry on.
      expect((await client.get(`/jobs/${id}`)).status).toBe(200);
    } finally {
      await t.ownerDb.connection().execute(async (conn) => {
        await sql`SET session_replication_role = replica`.execute(conn);
        await sql`DELETE FROM baa_versions WHERE version = 98`.execute(conn);
        await sql`SET session_replication_role = origin`.execute(conn);
      });
    }
  });
});
