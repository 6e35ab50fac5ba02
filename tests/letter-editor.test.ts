// The letter editor in the job wizard (issue 7 item 1), through HTTP against real Postgres and
// Azurite: the merge-field palette (standard fields and the verified list's extra columns), the live
// preview (a made-up recipient, never a real row; unknown fields named; not stored, not audited),
// the signer, practice templates (encrypted at rest, audited without text, another practice's are
// not there, auditors never open them) and what the letterhead will hold.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "kysely";
import { decryptField, sha256Hex } from "../src/platform/crypto.ts";
import { withTenant } from "../src/platform/db.ts";
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
  title: "Office move", letterType: "practice_closure", mailClass: "first_class", returnName: "Harbor Pediatrics",
  returnLine1: "12 Main Street", returnLine2: "", returnCity: "Boston", returnState: "MA", returnZip: "02110",
};
const SIGNER = { signerName: "Dana Lee, MD", signerTitle: "Medical Director" };
const HX = { "hx-request": "true" };

/** Real-looking recipients: none of these values may ever appear in a preview. */
const REAL_CSV = "first_name,last_name,address1,city,state,zip,Appointment Date\nZebulon,Quartermaine,42 Juniper Hollow Road,Worcester,MA,01608,2027-03-14\n";
const REAL_VALUES = ["Zebulon", "Quartermaine", "42 Juniper Hollow Road", "Worcester", "01608", "2027-03-14"];

async function attestedJob(owner: Member, title = "Office move") {
  const client = await clientFor(owner);
  const created = await client.post("/jobs", { ...DETAILS, title });
  const id = /^\/jobs\/([0-9a-f-]{36})\//.exec(created.headers.get("location") ?? "")![1]!;
  expect((await client.post(`/jobs/${id}/attestation`, { statementVersion: "2026-11", confirm: "yes", initials: "AA" })).status).toBe(303);
  const job = await t.ownerDb.selectFrom("jobs").select(["id", "reference", "practice_id"]).where("id", "=", id).executeTakeFirstOrThrow();
  return { client, id, job };
}

/**
 * A verified recipient list with real-looking rows in (real) blob storage, and the column names
 * the upload check records, put in place as the owner (uploads are tested with their own routes).
 */
async function verifiedList(job: { id: string; practice_id: string }, userId: string, fields: string[]) {
  const id = crypto.randomUUID();
  const blobName = `practices/${job.practice_id}/jobs/${job.id}/${id}`;
  await t.blob.container.getBlockBlobClient(blobName).upload(REAL_CSV, REAL_CSV.length, { blobHTTPHeaders: { blobContentType: "text/csv" } });
  await t.ownerDb.insertInto("job_files").values({
    id, practice_id: job.practice_id, job_id: job.id, kind: "recipients_csv", blob_name: blobName, declared_name: "recipients.csv",
    declared_size: REAL_CSV.length, declared_type: "text/csv", status: "verified", size: REAL_CSV.length, sha256: sha256Hex(REAL_CSV),
    verified_at: new Date(), upload_expires_at: new Date(Date.now() + 600_000), created_by: userId, csv_fields: fields,
  }).execute();
}

const STANDARD = ["first_name", "last_name", "address1", "address2", "city", "state", "zip"];

async function eventsOf(practiceId: string, action?: string) {
  return t.ownerDb.selectFrom("audit_events").selectAll().where("practice_id", "=", practiceId)
    .$if(Boolean(action), (q) => q.where("action", "=", action!)).orderBy("occurred_at").orderBy("chain_seq").execute();
}

describe("the palette and the fields a letter may use", () => {
  test("the standard fields, then the verified list's extra columns; both as insert buttons and a plain list; the editor script loads with the nonce", async () => {
    const { client, id } = await attestedJob(staff);
    const before = await (await client.get(`/jobs/${id}/letter`)).text();
    expect(before).toContain('data-insert-field="first_name"');
    expect(before).not.toContain('data-insert-field="appointment_date"');
    // Before the list is verified, its extra column is not a field the letter may use.
    const early = await client.post(`/jobs/${id}/letter`, { body: "Dear {{first_name}}, see you on {{appointment_date}}.", ...SIGNER });
    expect(early.status).toBe(422);
    expect(await early.text()).toContain("not in your recipient list: {{appointment_date}}");

    const job = await t.ownerDb.selectFrom("jobs").select(["id", "practice_id"]).where("id", "=", id).executeTakeFirstOrThrow();
    await verifiedList(job, staff.userId, [...STANDARD, "appointment_date"]);
    const res = await client.get(`/jobs/${id}/letter`);
    const html = await res.text();
    for (const field of [...STANDARD, "appointment_date"]) {
      expect(html).toContain(`<code class="palette-name">{{${field}}}</code>`);
      expect(html).toContain(`<button type="button" class="palette-insert" data-insert-field="${field}" aria-controls="field-body"><span class="visually-hidden">Insert </span>{{${field}}}</button>`);
    }
    const nonce = /script-src[^;]*'nonce-([^']+)'/.exec(res.headers.get("content-security-policy") ?? "")![1]!;
    expect(html).toContain(`<script src="/static/letter-editor.js" nonce="${nonce}" defer=""></script>`);
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline script
    expect((await t.app.request("http://localhost:3000/static/letter-editor.js")).status).toBe(200);

    const saved = await client.post(`/jobs/${id}/letter`, { body: "Dear {{first_name}}, see you on {{appointment_date}}.", ...SIGNER });
    expect(saved.status).toBe(303);
    const row = await t.ownerDb.selectFrom("jobs").select(["letter_fields"]).where("id", "=", id).executeTakeFirstOrThrow();
    expect(row.letter_fields).toEqual(["first_name", "appointment_date"]);
  });
});

describe("the live preview", () => {
  test("made-up values only (never a real row), unknown fields highlighted and named, the signer and letterhead; not stored, not audited, no-store", async () => {
    const { client, id, job } = await attestedJob(staff, "Preview job");
    await verifiedList(job, staff.userId, [...STANDARD, "appointment_date"]);
    const eventsBefore = (await eventsOf(admin.practiceId)).length;
    const body = "Dear {{first_name}} {{last_name}},\n\nYour visit on {{appointment_date}} is in {{exam_room}}.\n\nWe moved to {{address1}}.";
    const res = await client.post(`/jobs/${id}/letter/preview`, { body, ...SIGNER }, HX);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const html = await res.text();
    expect(html.startsWith('<div id="letter-preview"')).toBe(true); // the fragment alone, for htmx
    expect(html).toContain('<span class="merge-value" title="{{first_name}}">Jordan</span> <span class="merge-value" title="{{last_name}}">Sample</span>');
    expect(html).toContain('<span class="merge-value" title="{{appointment_date}}">Sample appointment_date</span>');
    expect(html).toContain('<mark class="merge-unknown">{{exam_room}}<span class="visually-hidden"> (not in your recipient list)</span></mark>');
    expect(html).toContain("This field is not in your recipient list: {{exam_room}}.");
    expect(html).toContain("Jordan Sample<br/>100 Example Street<br/>Apt 1<br/>Springfield, IL 62701");
    expect(html).toContain("<strong>Dana Lee, MD</strong><br/>Medical Director");
    expect(html).toContain('<p class="sheet-practice">Riverbend Family Medicine, P.C.</p>');
    expect(html).toContain("Harbor Pediatrics<br/>12 Main Street<br/>Boston, MA 02110");
    for (const value of REAL_VALUES) expect(html).not.toContain(value);

    // Nothing stored, nothing audited.
    const row = await t.ownerDb.selectFrom("jobs").select(["letter_body_enc", "letter_signer_name"]).where("id", "=", id).executeTakeFirstOrThrow();
    expect(row).toEqual({ letter_body_enc: null, letter_signer_name: null });
    expect((await eventsOf(admin.practiceId)).length).toBe(eventsBefore);

    // Without script ("Update the preview" posts the form): the whole step again, as typed, with the preview.
    const page = await (await client.post(`/jobs/${id}/letter/preview`, { body, ...SIGNER })).text();
    expect(page).toContain("<!doctype html>");
    expect(page).toContain("is in {{exam_room}}.\n\nWe moved to {{address1}}.</textarea>");
    expect(page).toContain('value="Dana Lee, MD"');
    expect(page).toContain('<mark class="merge-unknown">{{exam_room}}');
    for (const value of REAL_VALUES) expect(page).not.toContain(value);
  });

  test("the editor wires the preview: the textarea posts to it as the person types (debounced), CSRF-protected", async () => {
    const { client, id } = await attestedJob(staff, "Wiring job");
    const html = await (await client.get(`/jobs/${id}/letter`)).text();
    const textarea = /<textarea id="field-body"[^>]*>/.exec(html)![0];
    expect(textarea).toContain(`hx-post="/jobs/${id}/letter/preview"`);
    expect(textarea).toContain('hx-trigger="input changed delay:400ms"');
    expect(textarea).toContain('hx-target="#letter-preview"');
    expect(textarea).toMatch(/hx-nonce="[^"]+"/);
    // The first render already shows a preview of the starter text.
    expect(html).toContain('<div id="letter-preview" class="letter-preview">');
    // A cross-site post is refused.
    const forged = await t.app.request(`http://localhost:3000/jobs/${id}/letter/preview`, {
      method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", origin: "https://evil.example", cookie: `__Host-plh_session=${client.cookies.get("__Host-plh_session")}` },
      body: "body=hi",
    });
    expect(forged.status).toBe(403);
  });
});

describe("the signer and the letterhead", () => {
  test("signer name and title are required, stored on the job, shown again; the letterhead says what prints and links to the uploads step", async () => {
    const { client, id } = await attestedJob(staff, "Signer job");
    const missing = await client.post(`/jobs/${id}/letter`, { body: "Dear {{first_name}}, your {{diagnosis}} is fine." });
    expect(missing.status).toBe(422);
    const missingHtml = await missing.text();
    expect(missingHtml).toContain('id="field-signerName-error">Enter the name of the person who signs the letter');
    expect(missingHtml).toContain('id="field-signerTitle-error">Enter the signer');
    // Every problem at once: the unknown field is named too.
    expect(missingHtml).toContain("not in your recipient list: {{diagnosis}}");

    expect((await client.post(`/jobs/${id}/letter`, { body: "Dear {{first_name}}, we are moving.", signerName: "  Dana Lee, MD ", signerTitle: "Medical Director" })).status).toBe(303);
    const row = await t.ownerDb.selectFrom("jobs").select(["letter_signer_name", "letter_signer_title"]).where("id", "=", id).executeTakeFirstOrThrow();
    expect(row).toEqual({ letter_signer_name: "Dana Lee, MD", letter_signer_title: "Medical Director" });
    const page = await (await client.get(`/jobs/${id}/letter`)).text();
    expect(page).toContain('id="field-signerName" name="signerName" type="text" value="Dana Lee, MD"');
    expect(page).toContain("<strong>Dana Lee, MD</strong><br/>Medical Director");
    // The letterhead: practice name from the profile, the job's return address, no images yet, a link to add them.
    expect(page).toContain("<dt>Letterhead</dt><dd>Riverbend Family Medicine, P.C.");
    expect(page).toContain("None: the letterhead shows the practice name only.");
    expect(page).toContain(`<a href="/jobs/${id}/uploads">Add or change the logo and signature image</a>`);
    // A database refuses an over-long signer.
    await expect(t.ownerDb.updateTable("jobs").set({ letter_signer_name: "x".repeat(101) }).where("id", "=", id).execute()).rejects.toThrow();
  });
});

describe("practice templates", () => {
  test("saved encrypted (key id, bound to its row), audited without text; names unique; unknown fields refused by name", async () => {
    const { client, id } = await attestedJob(staff, "Template source");
    const text = "Dear {{first_name}},\n\nOur office moves to 9 Harbor Way on May 1.";
    const res = await client.post(`/jobs/${id}/letter/templates`, { body: text, templateName: "Relocation 2027", ...SIGNER }, HX);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain("Saved as the practice template “Relocation 2027”");
    expect(html).toContain("9 Harbor Way on May 1.</textarea>"); // the editor keeps what was typed

    const row = await t.ownerDb.selectFrom("letter_templates").selectAll().where("practice_id", "=", admin.practiceId).where("name", "=", "Relocation 2027").executeTakeFirstOrThrow();
    expect(row.body_enc).not.toContain("Harbor Way");
    expect(row.body_enc.startsWith(`v1.${t.config.keys.encryption[0]!.id}.`)).toBe(true);
    expect(row.key_id).toBe(t.config.keys.encryption[0]!.id);
    expect(row).toMatchObject({ letter_type: "practice_closure", body_length: text.length, body_fields: ["first_name"], created_by: staff.userId });
    expect(decryptField(t.config.keys.encryption, row.body_enc, `letter-template:${row.id}`)).toBe(text);
    expect(() => decryptField(t.config.keys.encryption, row.body_enc, `letter-template:${crypto.randomUUID()}`)).toThrow();
    expect(() => decryptField(t.config.keys.encryption, row.body_enc, `job-letter:${id}`)).toThrow();
    const saved = await eventsOf(admin.practiceId, "letter_template.saved");
    expect(saved.at(-1)).toMatchObject({ target_type: "letter_template", target_id: row.id, actor_id: staff.userId, outcome: "success",
      details: { length: text.length, field_count: 1, letter_type: "practice_closure" } });
    expect(JSON.stringify(saved)).not.toContain("Harbor Way");
    expect(JSON.stringify(saved)).not.toContain("Relocation 2027");

    const again = await client.post(`/jobs/${id}/letter/templates`, { body: text, templateName: " relocation 2027 ", ...SIGNER });
    expect(again.status).toBe(409);
    expect(await again.text()).toContain('id="field-templateName-error">Your practice already has a template with this name.');
    const unknown = await client.post(`/jobs/${id}/letter/templates`, { body: "Dear {{first_name}}, your {{ssn}}.", templateName: "Bad", ...SIGNER });
    expect(unknown.status).toBe(422);
    expect(await unknown.text()).toContain("not in your recipient list: {{ssn}}");
    const unnamed = await client.post(`/jobs/${id}/letter/templates`, { body: text, templateName: "  ", ...SIGNER });
    expect(unnamed.status).toBe(422);
    expect(await t.ownerDb.selectFrom("letter_templates").select("id").where("practice_id", "=", admin.practiceId).where("name", "in", ["Bad", "  "]).execute()).toEqual([]);
    // Saving a template saves nothing on the job.
    expect((await t.ownerDb.selectFrom("jobs").select("letter_body_enc").where("id", "=", id).executeTakeFirstOrThrow()).letter_body_enc).toBeNull();
  });

  test("start from a saved template or the starter: the editor is filled after a confirmation, nothing saved; opening a saved one is audited", async () => {
    const source = await attestedJob(admin, "Template maker");
    const text = "Dear {{first_name}} {{last_name}},\n\nWe are moving across the street.";
    await source.client.post(`/jobs/${source.id}/letter/templates`, { body: text, templateName: "Across the street", ...SIGNER });
    const template = await t.ownerDb.selectFrom("letter_templates").select("id").where("name", "=", "Across the street").executeTakeFirstOrThrow();

    const { client, id, job } = await attestedJob(staff, "Template user");
    const step = await (await client.get(`/jobs/${id}/letter`)).text();
    expect(step).toContain(`<option value="${template.id}">Across the street (practice closure)</option>`);
    expect(step).toContain('<option value="starter">Starting text for a practice closure letter</option>');
    const picker = /<form method="get" action="\/jobs\/[^"]+\/letter\/start"[^>]*>/.exec(step)![0];
    expect(picker).toContain('hx-confirm="Replace the text in the editor with this template?');
    expect(picker).toContain('hx-target="#job-wizard"');

    const viewedBefore = (await eventsOf(admin.practiceId, "letter_template.viewed")).length;
    const applied = await client.get(`/jobs/${id}/letter/start?template=${template.id}&signerName=Pat+Doe&signerTitle=Owner`, HX);
    expect(applied.status).toBe(200);
    const html = await applied.text();
    expect(html).toContain("We are moving across the street.</textarea>");
    expect(html).toContain("The editor now holds the template “Across the street”.");
    expect(html).toContain('value="Pat Doe"');
    const viewed = await eventsOf(admin.practiceId, "letter_template.viewed");
    expect(viewed.length).toBe(viewedBefore + 1);
    expect(viewed.at(-1)).toMatchObject({ target_type: "letter_template", target_id: template.id, actor_id: staff.userId,
      details: { length: text.length, field_count: 2, job: job.reference } });
    expect((await t.ownerDb.selectFrom("jobs").select("letter_body_enc").where("id", "=", id).executeTakeFirstOrThrow()).letter_body_enc).toBeNull();

    const starter = await (await client.get(`/jobs/${id}/letter/start?template=starter`)).text();
    expect(starter).toContain("Riverbend Family Medicine, P.C. will close on [closing date]");
    expect(starter).not.toContain("Sincerely,\n"); // the closing prints in the signature block, not in the text
    expect((await eventsOf(admin.practiceId, "letter_template.viewed")).length).toBe(viewedBefore + 1);
    expect((await client.get(`/jobs/${id}/letter/start?template=${crypto.randomUUID()}`)).status).toBe(404);
  });

  test("the template list: rename and delete (audited, names never in the trail)", async () => {
    const { client, id } = await attestedJob(staff, "List source");
    await client.post(`/jobs/${id}/letter/templates`, { body: "Dear {{first_name}}, hello.", templateName: "Greeting", ...SIGNER });
    await client.post(`/jobs/${id}/letter/templates`, { body: "Dear {{first_name}}, goodbye.", templateName: "Farewell", ...SIGNER });
    const greeting = await t.ownerDb.selectFrom("letter_templates").select("id").where("name", "=", "Greeting").executeTakeFirstOrThrow();
    const list = await (await client.get("/letter-templates")).text();
    expect(list).toContain('<h2 class="template-name">Greeting</h2>');
    expect(list).toContain('<h2 class="template-name">Farewell</h2>');
    expect(list).not.toContain("hello."); // names and facts, never the text

    const taken = await client.post(`/letter-templates/${greeting.id}/rename`, { name: "farewell" });
    expect(taken.status).toBe(409);
    expect(await taken.text()).toContain("Your practice already has a template with this name.");
    expect((await client.post(`/letter-templates/${greeting.id}/rename`, { name: "" })).status).toBe(422);
    const renamed = await client.post(`/letter-templates/${greeting.id}/rename`, { name: "Warm greeting" });
    expect(renamed.status).toBe(303);
    expect(renamed.headers.get("location")).toBe("/letter-templates");
    expect(await t.ownerDb.selectFrom("letter_templates").select(["name", "updated_by"]).where("id", "=", greeting.id).executeTakeFirstOrThrow())
      .toEqual({ name: "Warm greeting", updated_by: staff.userId });
    const renameEvent = (await eventsOf(admin.practiceId, "letter_template.renamed")).at(-1)!;
    expect(renameEvent).toMatchObject({ target_id: greeting.id, details: { length: "Dear {{first_name}}, hello.".length, field_count: 1 } });
    expect(JSON.stringify(renameEvent)).not.toContain("greeting");

    const deleted = await client.post(`/letter-templates/${greeting.id}/delete`, {});
    expect(deleted.status).toBe(303);
    expect(await t.ownerDb.selectFrom("letter_templates").select("id").where("id", "=", greeting.id).execute()).toEqual([]);
    expect((await eventsOf(admin.practiceId, "letter_template.deleted")).at(-1)).toMatchObject({ target_id: greeting.id, outcome: "success" });
    expect((await client.post(`/letter-templates/${greeting.id}/delete`, {})).status).toBe(404);
  });

  test("another practice can neither see, apply, rename nor delete a template; auditors cannot open templates at all", async () => {
    const { client, id } = await attestedJob(admin, "Private template");
    await client.post(`/jobs/${id}/letter/templates`, { body: "Dear {{first_name}}, private text.", templateName: "Private one", ...SIGNER });
    const template = await t.ownerDb.selectFrom("letter_templates").select("id").where("name", "=", "Private one").executeTakeFirstOrThrow();

    const other = await attestedJob(otherAdmin, "Other practice job");
    expect(await (await other.client.get("/letter-templates")).text()).not.toContain("Private one");
    expect(await (await other.client.get(`/jobs/${other.id}/letter`)).text()).not.toContain("Private one");
    expect((await other.client.get(`/jobs/${other.id}/letter/start?template=${template.id}`)).status).toBe(404);
    expect((await other.client.post(`/letter-templates/${template.id}/rename`, { name: "Stolen" })).status).toBe(404);
    expect((await other.client.post(`/letter-templates/${template.id}/delete`, {})).status).toBe(404);
    expect((await other.client.get(`/jobs/${id}/letter/start?template=${template.id}`)).status).toBe(404);
    expect((await other.client.post(`/jobs/${id}/letter/templates`, { body: "x", templateName: "Into theirs", ...SIGNER })).status).toBe(404);
    // The database agrees: in the other practice's context the row is not there.
    const seen = await withTenant(t.db, { practiceId: otherAdmin.practiceId, actor: "test" }, (tx) => tx.selectFrom("letter_templates").select("id").execute());
    expect(seen.map((r) => r.id)).not.toContain(template.id);
    expect(await t.ownerDb.selectFrom("letter_templates").select("name").where("id", "=", template.id).executeTakeFirstOrThrow()).toEqual({ name: "Private one" });

    const reader = await clientFor(auditor);
    expect((await reader.get("/letter-templates")).status).toBe(403);
    expect((await reader.get(`/jobs/${id}/letter/start?template=${template.id}`)).status).toBe(403);
    expect((await reader.post(`/jobs/${id}/letter/preview`, { body: "Dear {{first_name}}" })).status).toBe(403);
    expect((await reader.post(`/letter-templates/${template.id}/delete`, {})).status).toBe(403);
    expect((await eventsOf(admin.practiceId, "letter_template.viewed")).filter((e) => e.actor_id === auditor.userId)).toEqual([]);
  });

  test("with a newer BAA in force and not yet signed, saving a template is refused (audited denied), starting from one too", async () => {
    const { client, id } = await attestedJob(staff, "Gate job");
    await client.post(`/jobs/${id}/letter/templates`, { body: "Dear {{first_name}}, gate.", templateName: "Before the gate", ...SIGNER });
    const template = await t.ownerDb.selectFrom("letter_templates").select("id").where("name", "=", "Before the gate").executeTakeFirstOrThrow();
    const v1 = await t.ownerDb.selectFrom("baa_versions").select("body").where("version", "=", 1).executeTakeFirstOrThrow();
    const text = `${v1.body}\n\nRevision 97.`;
    await t.ownerDb.insertInto("baa_versions").values({
      version: 97, title: "Business Associate Agreement", body: text, sha256: sha256Hex(text), effective_at: new Date(Date.now() - 1000), published_by: "test",
    } as never).execute();
    try {
      const save = await client.post(`/jobs/${id}/letter/templates`, { body: "Dear {{first_name}}, after.", templateName: "After the gate", ...SIGNER }, HX);
      expect(save.status).toBe(403);
      expect(await save.text()).toContain("Sign the Business Associate Agreement first");
      expect(await t.ownerDb.selectFrom("letter_templates").select("id").where("name", "=", "After the gate").execute()).toEqual([]);
      const denied = (await eventsOf(admin.practiceId, "letter_template.saved")).at(-1)!;
      expect([denied.outcome, denied.actor_id, denied.details]).toEqual(["denied", staff.userId, { reason: "baa_required", baa: "out_of_date" }]);
      expect((await client.get(`/jobs/${id}/letter/start?template=${template.id}`)).status).toBe(403);
      expect((await client.post(`/jobs/${id}/letter/preview`, { body: "Dear {{first_name}}" })).status).toBe(403);
    } finally {
      await t.ownerDb.connection().execute(async (conn) => {
        await sql`SET session_replication_role = replica`.execute(conn);
        await sql`DELETE FROM baa_versions WHERE version = 97`.execute(conn);
        await sql`SET session_replication_role = origin`.execute(conn);
      });
    }
  });

  test("the database stores no template for a practice without the BAA in force", async () => {
    const unsigned = await makePerson(t, { practiceName: "Unsigned Clinic" });
    const insert = withTenant(t.db, { practiceId: unsigned.practiceId, actor: "test" }, (tx) => tx.insertInto("letter_templates").values({
      id: crypto.randomUUID(), practice_id: unsigned.practiceId, name: "Sneaky", letter_type: "other", body_enc: "v1.k1.AAAAAAAAAAAAAAAA.AA.AAAAAAAAAAAAAAAAAAAAAA",
      key_id: "k1", body_length: 1, body_fields: [], created_by: unsigned.userId,
    }).execute());
    await expect(insert).rejects.toThrow(/no executed current Business Associate Agreement/);
  });
});
