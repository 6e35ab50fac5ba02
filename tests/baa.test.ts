// The BAA: the onboarding wizard through the real app, the evidence (append-only record, executed
// PDF in private storage, signed download links), the gate against the database itself, new
// versions published by the script, and the banner.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { inflatedText } from "./support/pdf.ts";
import { Hono } from "hono";
import { sql } from "kysely";
import type { HonoEnv } from "../src/context.ts";
import { isValidNpi } from "../src/baa/forms.ts";
import { respondBaaRequired } from "../src/baa/http.tsx";
import { assertCurrentBaa, BaaRequiredError, isBaaRequiredDbError } from "../src/baa/service.ts";
import { REQUIRED_PROVISIONS, validateBaaText } from "../src/baa/text.ts";
import { delegationKeyCache } from "../src/platform/blob.ts";
import { sha256Hex } from "../src/platform/crypto.ts";
import { withContext, withTenant } from "../src/platform/db.ts";
import { createTestApp, type TestApp } from "./support/app.ts";
import { Client, clientAs } from "./support/browserless.ts";
import { makePerson, type Member, sessionToken } from "./support/people.ts";

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ env: { TRUST_PROXY: "true" } });
});
afterAll(() => t.close());

const IP = "203.0.113.9";
const PROFILE = {
  legalName: "Lakeside Family Medicine, P.C.", dbaName: "Lakeside Clinic", addressLine1: "12 Harbor Street", addressLine2: "Suite 300",
  city: "Portland", state: "ME", postalCode: "04101", phone: "(207) 555-0142", npi: "1234567893",
  privacyOfficerName: "Pat Privacy", privacyOfficerEmail: "Privacy@Lakeside.example", timeZone: "America/New_York",
};

const clientFor = (person: Member) => clientAs(t, person, IP);

async function setName(userId: string, fullName: string) {
  await t.ownerDb.updateTable("users").set({ full_name: fullName }).where("id", "=", userId).execute();
}

async function currentVersionId(): Promise<string> {
  const { rows } = await sql<{ id: string }>`SELECT current_baa_version_id() AS id`.execute(t.ownerDb);
  return rows[0]!.id;
}

async function events(practiceId: string | null, action: string) {
  const q = t.ownerDb.selectFrom("audit_events").selectAll().where("action", "=", action).orderBy("occurred_at");
  return (practiceId ? q.where("practice_id", "=", practiceId) : q.where("practice_id", "is", null)).execute();
}

const hasBaa = (practiceId: string) =>
  withTenant(t.db, { practiceId, actor: "test" }, async (tx) => (await sql<{ ok: boolean }>`SELECT practice_has_current_baa(${practiceId}::uuid) AS ok`.execute(tx)).rows[0]!.ok);

/** An admin (named) whose practice has completed the profile and signed the BAA in force. */
async function signedPractice(name = "Avery Admin") {
  const admin = await makePerson(t, { practiceName: "Signed Clinic" });
  await setName(admin.userId, name);
  const client = await clientFor(admin);
  expect((await client.post("/baa/profile", PROFILE)).status).toBe(303);
  const res = await client.post("/baa/sign", { versionId: await currentVersionId(), typedName: name, title: "Practice Administrator", authorized: "yes", consent: "yes" });
  expect(res.status).toBe(303);
  return { admin, client };
}

describe("the NPI check digit (Luhn over 80840 + the first nine digits)", () => {
  test("accepts valid NPIs and refuses a wrong check digit or length", () => {
    expect(isValidNpi("1234567893")).toBe(true);
    expect(isValidNpi("1245319599")).toBe(true);
    expect(isValidNpi("1234567890")).toBe(false);
    expect(isValidNpi("123456789")).toBe(false);
    expect(isValidNpi("12345678931")).toBe(false);
  });
});

describe("BAA versions", () => {
  test("version 1 is seeded with the SHA-256 of its text and covers every provision 164.504(e) requires", async () => {
    const v1 = await t.ownerDb.selectFrom("baa_versions").selectAll().where("version", "=", 1).executeTakeFirstOrThrow();
    expect(v1.sha256).toBe(sha256Hex(v1.body));
    expect(new Date(v1.effective_at).toISOString()).toBe("2026-11-01T00:00:00.000Z");
    expect(v1.id).toBe(await currentVersionId());
    const checked = validateBaaText(v1.body);
    expect(checked.ok).toBe(true);
    for (const { pattern } of REQUIRED_PROVISIONS) expect(pattern.test(v1.body)).toBe(true);
  });

  test("validation names what a text lacks", () => {
    const result = validateBaaText("# Agreement\n\n## Safeguards\n\n" + "words ".repeat(300));
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.problems.join("\n")).toContain("subcontractors");
      expect(result.problems.join("\n")).toContain("return or destruction");
      expect(result.problems.join("\n")).not.toContain("safeguards");
    }
    expect(validateBaaText(new Uint8Array([0xff, 0xfe, 0x00]))).toEqual({ ok: false, problems: ["the file is not valid UTF-8 text"] });
  });

  test("versions are immutable and the hash must match the text, even for the owner", async () => {
    await expect(t.ownerDb.updateTable("baa_versions").set({ title: "Changed" }).where("version", "=", 1).execute()).rejects.toThrow(/append-only/);
    await expect(t.ownerDb.deleteFrom("baa_versions").where("version", "=", 1).execute()).rejects.toThrow(/append-only/);
    await expect(t.ownerDb.insertInto("baa_versions").values({
      version: 99, title: "Forged", body: "x".repeat(1200), sha256: "0".repeat(64), effective_at: new Date("2030-01-01"), published_by: "test",
    }).execute()).rejects.toThrow(/check constraint/);
    // The app role may read versions, never write them.
    await expect(t.db.insertInto("baa_versions").values({ version: 98, title: "X", body: "y".repeat(1200), sha256: sha256Hex("y".repeat(1200)), effective_at: new Date(), published_by: "app" }).execute())
      .rejects.toThrow(/permission denied/);
  });
});

describe("the gate, directly against the database", () => {
  test("practice_has_current_baa, require_current_baa and assertCurrentBaa refuse a practice that has not signed, naming its admins", async () => {
    const admin = await makePerson(t, { practiceName: "Unsigned Clinic" });
    await setName(admin.userId, "Dana Doctor");
    const second = await makePerson(t, { practiceId: admin.practiceId, role: "admin" });
    await setName(second.userId, "Eli Admin");
    await makePerson(t, { practiceId: admin.practiceId, role: "staff" });
    expect(await hasBaa(admin.practiceId)).toBe(false);
    const error = await withTenant(t.db, { practiceId: admin.practiceId, actor: "test" }, (tx) => assertCurrentBaa(tx, admin.practiceId)).catch((e) => e);
    expect(error).toBeInstanceOf(BaaRequiredError);
    expect(error.status).toBe(403);
    expect(error.reason).toBe("never_signed");
    expect(error.admins).toEqual(["Dana Doctor", "Eli Admin"]);
    expect(error.message).toContain("Ask Dana Doctor or Eli Admin to sign it");
    const dbError = await withTenant(t.db, { practiceId: admin.practiceId, actor: "test" }, (tx) => sql`SELECT require_current_baa(${admin.practiceId}::uuid)`.execute(tx)).catch((e) => e);
    expect(isBaaRequiredDbError(dbError)).toBe(true);
    expect(String(dbError.message)).toContain("no executed current Business Associate Agreement");
  });

  test("after signing the gate opens, in the practice's own tenant context only (elsewhere: false, fail closed)", async () => {
    const { admin } = await signedPractice();
    const other = await makePerson(t);
    expect(await hasBaa(admin.practiceId)).toBe(true);
    await withTenant(t.db, { practiceId: admin.practiceId, actor: "test" }, async (tx) => {
      await assertCurrentBaa(tx, admin.practiceId);
      await sql`SELECT require_current_baa(${admin.practiceId}::uuid)`.execute(tx);
    });
    const elsewhere = await withTenant(t.db, { practiceId: other.practiceId, actor: "test" }, async (tx) =>
      (await sql<{ ok: boolean }>`SELECT practice_has_current_baa(${admin.practiceId}::uuid) AS ok`.execute(tx)).rows[0]!.ok);
    expect(elsewhere).toBe(false);
    const noTenant = await withContext(t.db, { actor: "test" }, async (tx) =>
      (await sql<{ ok: boolean }>`SELECT practice_has_current_baa(${admin.practiceId}::uuid) AS ok`.execute(tx)).rows[0]!.ok);
    expect(noTenant).toBe(false);
  });

  test("the refusal page: 403, who can sign, and a link to the BAA page", async () => {
    const app = new Hono<HonoEnv>();
    app.use(async (c, next) => {
      c.set("requestId", "req-1");
      await next();
    });
    app.get("/staff", (c) => {
      c.set("membership", { practiceId: crypto.randomUUID(), role: "staff" });
      return respondBaaRequired(c, new BaaRequiredError(crypto.randomUUID(), ["Dana Doctor", "Eli Admin"], "never_signed"));
    });
    app.get("/admin", (c) => {
      c.set("membership", { practiceId: crypto.randomUUID(), role: "admin" });
      return respondBaaRequired(c, new BaaRequiredError(crypto.randomUUID(), ["Dana Doctor"], "out_of_date"));
    });
    const staff = await app.request("/staff");
    expect(staff.status).toBe(403);
    const html = await staff.text();
    expect(html).toContain("Your practice must sign the current Business Associate Agreement before");
    expect(html).toContain("Ask Dana Doctor, Eli Admin to sign it");
    expect(html).toContain('href="/baa"');
    const admin = await (await app.request("/admin")).text();
    expect(admin).toContain("Go to the BAA page and sign");
    expect(admin).toContain("A new version of the agreement is in effect");
  });
});

describe("the wizard", () => {
  test("an admin resumes at the first unfinished step; the progress indicator marks the current step for screen readers", async () => {
    const admin = await makePerson(t, { practiceName: "Wizard Clinic" });
    const client = await clientFor(admin);
    const page = await (await client.get("/baa")).text();
    expect(page).toContain("Step 1 of 4: Practice profile");
    expect(page).toMatch(/<li class="current" aria-current="step">.*Step 1\. Practice profile/);
    expect(page).toContain('for="field-legalName"');
    expect(page).toContain('value="Wizard Clinic"'); // the legal name starts from the practice's name
    // Later steps cannot be opened before the profile is saved.
    expect(await (await client.get("/baa?step=sign")).text()).toContain("Step 1 of 4: Practice profile");
    // The practice home leads the admin into the wizard.
    expect(await (await client.get("/app")).text()).toContain("Start: practice profile");
  });

  test("the profile step validates each field with its own message tied to the field", async () => {
    const admin = await makePerson(t);
    const client = await clientFor(admin);
    const res = await client.post("/baa/profile", { ...PROFILE, legalName: "", npi: "1234567890", postalCode: "4101", phone: "555", privacyOfficerEmail: "nope", state: "ZZ", timeZone: "Mars/Olympus" });
    expect(res.status).toBe(422);
    const html = await res.text();
    expect(html).toContain("Enter the practice&#39;s legal name");
    expect(html).toContain("This NPI&#39;s check digit is wrong");
    expect(html).toContain("Enter a ZIP code like 02139");
    expect(html).toContain("Enter a 10-digit phone number");
    expect(html).toContain("Enter a valid email address");
    expect(html).toContain("Choose a state");
    expect(html).toContain("Choose a time zone");
    expect(html).toContain('aria-describedby="field-npi-hint field-npi-error"');
    expect(html).toContain('id="field-npi-error"');
    expect(html).toContain('aria-invalid="true"');
    const row = await t.ownerDb.selectFrom("practices").selectAll().where("id", "=", admin.practiceId).executeTakeFirstOrThrow();
    expect(row.profile_completed_at).toBeNull();
  });

  test("profile → review (audited view, PDF) → sign (validated) → done; the evidence is complete", async () => {
    const admin = await makePerson(t, { practiceName: "Harbor Clinic" });
    await setName(admin.userId, "Morgan Owner");
    const client = await clientFor(admin);

    const saved = await client.post("/baa/profile", PROFILE);
    expect(saved.status).toBe(303);
    expect(saved.headers.get("location")).toBe("/baa?step=review");
    const practice = await t.ownerDb.selectFrom("practices").selectAll().where("id", "=", admin.practiceId).executeTakeFirstOrThrow();
    expect(practice).toMatchObject({ legal_name: PROFILE.legalName, dba_name: "Lakeside Clinic", phone: "2075550142", npi: "1234567893", state: "ME", privacy_officer_email: "privacy@lakeside.example", status: "onboarding" });
    expect(practice.profile_completed_at).not.toBeNull();
    expect((await events(admin.practiceId, "practice.profile.updated")).length).toBe(1);

    // Coming back resumes at the review step, which shows the full text and is audited.
    const review = await (await client.get("/baa")).text();
    expect(review).toContain("Step 2 of 4: Review the agreement");
    expect(review).toContain("Return or Destruction of PHI at Termination");
    expect(review).toContain("Access by the Secretary");
    expect(review).toContain('href="/baa/agreement.pdf"');
    const viewed = await events(admin.practiceId, "baa.viewed");
    expect(viewed.at(-1)).toMatchObject({ actor_id: admin.userId, target_id: await currentVersionId(), ip: IP, outcome: "success" });
    expect(viewed.at(-1)!.details).toEqual({ view: "text", version: 1 });

    const pdf = await client.get("/baa/agreement.pdf");
    expect(pdf.status).toBe(200);
    expect(pdf.headers.get("content-type")).toBe("application/pdf");
    expect(pdf.headers.get("content-disposition")).toContain("attachment");
    expect(new TextDecoder().decode((await pdf.arrayBuffer()).slice(0, 5))).toBe("%PDF-");
    expect((await events(admin.practiceId, "baa.viewed")).at(-1)!.details).toEqual({ view: "pdf", version: 1 });

    const signPage = await (await client.get("/baa?step=sign")).text();
    expect(signPage).toContain("I am authorized to sign for Lakeside Family Medicine, P.C.");
    expect(signPage).toContain("I agree to sign this Business Associate Agreement electronically");
    expect(signPage).toContain(">Sign agreement</button>");
    const versionId = await currentVersionId();

    const refused = await client.post("/baa/sign", { versionId, typedName: "M", title: "", authorized: "yes" });
    expect(refused.status).toBe(422);
    const refusedHtml = await refused.text();
    expect(refusedHtml).toContain("Type your full legal name");
    expect(refusedHtml).toContain("Enter your title");
    expect(refusedHtml).toContain("Agree to sign electronically");
    expect(await t.ownerDb.selectFrom("baa_signatures").select("id").where("practice_id", "=", admin.practiceId).execute()).toEqual([]);

    const signed = await client.post("/baa/sign", { versionId, typedName: "Morgan A. Owner", title: "Managing Partner", authorized: "yes", consent: "yes" }, { "user-agent": "TestBrowser/1.0" });
    expect(signed.status).toBe(303);
    expect(signed.headers.get("location")).toBe("/baa?step=done");

    const sig = await t.ownerDb.selectFrom("baa_signatures").selectAll().where("practice_id", "=", admin.practiceId).executeTakeFirstOrThrow();
    const session = await t.ownerDb.selectFrom("sessions").select("id").where("user_id", "=", admin.userId).executeTakeFirstOrThrow();
    const v1 = await t.ownerDb.selectFrom("baa_versions").selectAll().where("id", "=", versionId).executeTakeFirstOrThrow();
    expect(sig).toMatchObject({
      baa_version_id: versionId, baa_version: 1, baa_sha256: v1.sha256, signer_user_id: admin.userId, signer_account_name: "Morgan Owner",
      typed_name: "Morgan A. Owner", signer_title: "Managing Partner", authority_statement: "I am authorized to sign this agreement on behalf of Lakeside Family Medicine, P.C.",
      practice_legal_name: PROFILE.legalName, practice_address: "12 Harbor Street, Suite 300, Portland, ME 04101", ip: IP, user_agent: "TestBrowser/1.0",
      session_id: session.id, pdf_blob: `practices/${admin.practiceId}/baa/${sig.id}.pdf`,
    });
    expect(sig.consent_text).toContain("ESIGN");
    expect(sig.verification_id).toMatch(/^BAA-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
    expect(Math.abs(new Date(sig.signed_at).getTime() - Date.now())).toBeLessThan(60_000);

    // The executed PDF is in the private container, with the recorded hash and size.
    const blob = t.blob.container.getBlobClient(sig.pdf_blob);
    const props = await blob.getProperties();
    expect(props.contentType).toBe("application/pdf");
    const stored = await blob.downloadToBuffer();
    expect(sha256Hex(stored)).toBe(sig.pdf_sha256);
    expect(stored.length).toBe(sig.pdf_bytes);
    const storedText = inflatedText(stored);
    for (const value of [sig.verification_id, sig.baa_sha256, sig.evidence_sha256, sig.id, sig.session_id, IP, "By: /s/ Morgan A. Owner"]) {
      expect({ value, found: storedText.includes(value) }).toEqual({ value, found: true });
    }

    const practiceAfter = await t.ownerDb.selectFrom("practices").select("status").where("id", "=", admin.practiceId).executeTakeFirstOrThrow();
    expect(practiceAfter.status).toBe("active");
    const signedEvent = (await events(admin.practiceId, "baa.signed")).at(-1)!;
    expect(signedEvent).toMatchObject({ actor_id: admin.userId, target_type: "baa_signature", target_id: sig.id, ip: IP, outcome: "success" });
    expect(signedEvent.details).toEqual({ version: 1, baa_sha256: v1.sha256, pdf_sha256: sig.pdf_sha256, verification_id: sig.verification_id });

    // Done: the executed agreement is ready to download through a signed link.
    const done = await (await client.get("/baa")).text();
    expect(done).toContain("Step 4 of 4: Done");
    expect(done).toContain(sig.verification_id);
    const href = /href="(\/baa\/signatures\/[0-9a-f-]{36}\/download\?token=[^"]+)"/.exec(done)![1]!.replace(/&amp;/g, "&");
    const download = await client.get(href);
    expect(download.status).toBe(303);
    const sasUrl = download.headers.get("location")!;
    expect(sasUrl).toContain(sig.pdf_blob);
    expect(sasUrl).toContain("sp=r");
    const expiry = new Date(decodeURIComponent(/[?&]se=([^&]+)/.exec(sasUrl)![1]!));
    expect(expiry.getTime() - Date.now()).toBeLessThanOrEqual(61_000);
    const fetched = await fetch(sasUrl);
    expect(fetched.status).toBe(200);
    expect(fetched.headers.get("content-disposition")).toContain(`BAA-v1-executed-`);
    expect(sha256Hex(new Uint8Array(await fetched.arrayBuffer()))).toBe(sig.pdf_sha256);
    const downloaded = (await events(admin.practiceId, "baa.downloaded")).at(-1)!;
    expect(downloaded).toMatchObject({ actor_id: admin.userId, target_id: sig.id, outcome: "success" });

    // Signing again is refused (audited), and the record cannot be changed, even by the owner.
    const again = await client.post("/baa/sign", { versionId, typedName: "Morgan A. Owner", title: "Managing Partner", authorized: "yes", consent: "yes" });
    expect(again.status).toBe(409);
    expect((await events(admin.practiceId, "baa.signed")).at(-1)).toMatchObject({ outcome: "denied", details: { reason: "already_signed" } });
    await expect(t.ownerDb.updateTable("baa_signatures").set({ typed_name: "Someone Else" }).where("id", "=", sig.id).execute()).rejects.toThrow(/append-only/);
    await expect(t.ownerDb.deleteFrom("baa_signatures").where("id", "=", sig.id).execute()).rejects.toThrow(/append-only/);
    await expect(sql`TRUNCATE baa_signatures`.execute(t.ownerDb)).rejects.toThrow(/append-only/);
  }, 20_000);

  test("htmx: steps are swapped as fragments carrying the nonce, and the address follows the step", async () => {
    const admin = await makePerson(t);
    const client = await clientFor(admin);
    const res = await client.get("/baa?step=profile", { "hx-request": "true" });
    expect(res.status).toBe(200);
    expect(res.headers.get("hx-push-url")).toBe("/baa?step=profile");
    const html = await res.text();
    expect(html).not.toContain("<html");
    expect(html).toMatch(/^<section id="baa-wizard"/);
    expect(html).toMatch(/hx-post="\/baa\/profile" hx-target="#baa-wizard" hx-swap="outerHTML" hx-nonce="[^"]+"/);
    const invalid = await client.post("/baa/profile", {}, { "hx-request": "true" });
    expect(invalid.status).toBe(422); // htmx 4 swaps error responses: the step comes back with its messages
    expect(await invalid.text()).toMatch(/^<section id="baa-wizard"[\s\S]*Enter the practice&#39;s legal name/);
  });
});

describe("who may do what", () => {
  test("staff see who must sign and cannot sign or skip; auditors read the text and history; both are refused the wizard's changes", async () => {
    const admin = await makePerson(t, { practiceName: "Roles Clinic" });
    await setName(admin.userId, "Robin Admin");
    const staff = await clientFor(await makePerson(t, { practiceId: admin.practiceId, role: "staff" }));
    const auditorPerson = await makePerson(t, { practiceId: admin.practiceId, role: "auditor" });
    const auditor = await clientFor(auditorPerson);

    const staffPage = await (await staff.get("/baa")).text();
    expect(staffPage).toContain("Who can sign: Robin Admin.");
    expect(staffPage).toContain("this step cannot be skipped");
    expect(staffPage).not.toContain('action="/baa/sign"');
    expect(staffPage).not.toContain("Permitted Uses and Disclosures"); // no baa.read
    expect(await (await staff.get("/app")).text()).toContain("Who can sign: Robin Admin.");
    expect((await staff.post("/baa/sign", { versionId: await currentVersionId(), typedName: "Sam Staff", title: "Nurse", authorized: "yes", consent: "yes" })).status).toBe(403);
    expect((await staff.post("/baa/profile", PROFILE)).status).toBe(403);
    expect((await staff.get("/baa/signatures")).status).toBe(403);
    expect(await hasBaa(admin.practiceId)).toBe(false);

    const auditorPage = await (await auditor.get("/baa")).text();
    expect(auditorPage).toContain("Permitted Uses and Disclosures");
    expect(auditorPage).toContain("Who can sign: Robin Admin.");
    expect((await auditor.get("/baa/signatures")).status).toBe(200);
    expect((await auditor.post("/baa/sign", { versionId: await currentVersionId(), typedName: "Alex Auditor", title: "Auditor", authorized: "yes", consent: "yes" })).status).toBe(403);
    const denied = (await events(admin.practiceId, "access.denied")).filter((e) => e.actor_id === auditorPerson.userId);
    expect(denied.at(-1)!.details).toEqual({ permission: "baa.sign", role: "auditor" });
  });

  test("the database refuses a signature by someone who is not an admin, or of a version not in force", async () => {
    const staff = await makePerson(t, { role: "staff" });
    const v = await t.ownerDb.selectFrom("baa_versions").selectAll().where("id", "=", await currentVersionId()).executeTakeFirstOrThrow();
    const id = crypto.randomUUID();
    const row = {
      id, practice_id: staff.practiceId, baa_version_id: v.id, baa_version: v.version, baa_sha256: v.sha256, signer_user_id: staff.userId,
      signer_email: "s@x.example", signer_account_name: "S", typed_name: "Sam Staff", signer_title: "Nurse", authority_statement: "I am authorized",
      consent_text: "consent", practice_legal_name: "P", practice_address: "A", session_id: crypto.randomUUID(), verification_id: "BAA-AAAA-BBBB-CCCC",
      evidence_sha256: "0".repeat(64), pdf_blob: `practices/${staff.practiceId}/baa/${id}.pdf`, pdf_sha256: "0".repeat(64), pdf_bytes: 1,
    };
    await expect(withTenant(t.db, { practiceId: staff.practiceId, actor: "test" }, (tx) => tx.insertInto("baa_signatures").values(row).execute()))
      .rejects.toThrow(/only an administrator/);
    // An admin of the practice, but a version that is not in force (v1 itself, once a v2 is: in a database of its own).
    const admin = await makePerson(t, { practiceId: staff.practiceId, role: "admin" });
    const t2 = await createTestApp();
    try {
      const admin2 = await makePerson(t2);
      await t2.ownerDb.insertInto("baa_versions").values({
        version: 2, title: "Next", body: v.body + "\nNext.\n", sha256: sha256Hex(v.body + "\nNext.\n"), effective_at: new Date(Date.now() - 1000), published_by: "test",
      }).execute();
      await expect(withTenant(t2.db, { practiceId: admin2.practiceId, actor: "test" }, (tx) =>
        tx.insertInto("baa_signatures").values({ ...row, practice_id: admin2.practiceId, pdf_blob: `practices/${admin2.practiceId}/baa/${id}.pdf`, signer_user_id: admin2.userId }).execute()))
        .rejects.toThrow(/only the BAA version in force/);
    } finally {
      await t2.close();
    }
    // Nor from another practice's tenant context: the signer is no admin there, and RLS refuses the row.
    const other = await makePerson(t);
    await expect(withTenant(t.db, { practiceId: other.practiceId, actor: "test" }, (tx) => tx.insertInto("baa_signatures").values({ ...row, signer_user_id: admin.userId }).execute()))
      .rejects.toThrow(/only an administrator|row-level security/);
    // The row itself is valid: written in its own practice by its admin, it is accepted.
    await withTenant(t.db, { practiceId: staff.practiceId, actor: "test" }, (tx) => tx.insertInto("baa_signatures").values({ ...row, signer_user_id: admin.userId }).execute());
  });

  test("download links: only for the user they were issued to, untampered, in their own practice; refusals are audited", async () => {
    const { admin, client } = await signedPractice("Quinn Admin");
    const sig = await t.ownerDb.selectFrom("baa_signatures").select(["id"]).where("practice_id", "=", admin.practiceId).executeTakeFirstOrThrow();
    const history = await (await client.get("/baa/signatures")).text();
    expect(history).toContain("Quinn Admin, Practice Administrator");
    expect((await events(admin.practiceId, "baa.viewed")).at(-1)!.details).toEqual({ view: "history", version: 1 });
    const href = /href="(\/baa\/signatures\/[0-9a-f-]{36}\/download\?token=[^"]+)"/.exec(history)![1]!.replace(/&amp;/g, "&");

    // Another member of the same practice cannot use the admin's link.
    const auditor = await clientFor(await makePerson(t, { practiceId: admin.practiceId, role: "auditor" }));
    expect((await auditor.get(href)).status).toBe(403);
    // A tampered token.
    expect((await client.get(href.replace(/token=([^.]+)\.(\d+)\./, (_m, k, exp) => `token=${k}.${Number(exp) + 60}.`))).status).toBe(403);
    const denied = (await events(admin.practiceId, "baa.downloaded")).filter((e) => e.outcome === "denied");
    expect(denied.map((e) => e.details)).toEqual([{ reason: "bad-signature" }, { reason: "bad-signature" }]);
    // Another practice's admin: not found (their own link for that id cannot exist either).
    const stranger = await clientFor(await makePerson(t));
    expect((await stranger.get(href)).status).toBe(403);
    expect((await stranger.get(`/baa/signatures/${sig.id}/download?token=x`)).status).toBe(403);
    expect((await client.get(href)).status).toBe(303);
  }, 20_000);
});

describe("new versions", () => {
  async function publish(...args: string[]) {
    const proc = Bun.spawn([process.execPath, "scripts/baa-publish.ts", ...args], {
      cwd: `${import.meta.dir}/..`, env: { PATH: process.env.PATH ?? "", DATABASE_OWNER_URL: t.database.ownerUrl }, stdout: "pipe", stderr: "pipe",
    });
    const code = await proc.exited;
    return { code, out: (await new Response(proc.stdout).text()) + (await new Response(proc.stderr).text()) };
  }

  test("bun run baa:publish refuses an incomplete text, publishes a new one (audited), and practices must sign it again", async () => {
    const dir = `${process.env.TMPDIR ?? "/tmp"}/plh-baa-${crypto.randomUUID()}`;
    await Bun.write(`${dir}/bad.txt`, "# Too short\n\n## Safeguards\n\nWe are careful.\n");
    const bad = await publish(`${dir}/bad.txt`);
    expect(bad.code).toBe(1);
    expect(bad.out).toContain("Not published");
    expect(bad.out).toContain("subcontractors");

    const { admin, client } = await signedPractice("Casey Admin");
    expect(await hasBaa(admin.practiceId)).toBe(true);
    const v1 = await t.ownerDb.selectFrom("baa_versions").select("body").where("version", "=", 1).executeTakeFirstOrThrow();
    const v2Text = v1.body.replace("## 10. Miscellaneous", "## 10. Miscellaneous\n\n10.0 Notices. Notices under this Agreement go to the privacy officer named in the practice profile.");
    await Bun.write(`${dir}/v2.txt`, v2Text);
    const published = await publish(`${dir}/v2.txt`, "--effective", new Date(Date.now() - 1000).toISOString());
    expect(published.out).toContain("Published BAA version 2");
    expect(published.code).toBe(0);
    const v2 = await t.ownerDb.selectFrom("baa_versions").selectAll().where("version", "=", 2).executeTakeFirstOrThrow();
    expect(v2.sha256).toBe(sha256Hex(v2Text.trim() + "\n"));
    const event = (await events(null, "baa.version.published")).at(-1)!;
    expect(event).toMatchObject({ actor_type: "system", actor_id: "system:baa-publish", target_id: v2.id });
    expect(event.details).toMatchObject({ version: 2, sha256: v2.sha256 });
    expect((await publish(`${dir}/v2.txt`)).out).toContain("already published as version 2");

    // The gate closes until the new version is signed; admins see a banner on practice pages.
    expect(await hasBaa(admin.practiceId)).toBe(false);
    const error = await withTenant(t.db, { practiceId: admin.practiceId, actor: "test" }, (tx) => assertCurrentBaa(tx, admin.practiceId)).catch((e) => e);
    expect(error.reason).toBe("out_of_date");
    const home = await (await client.get("/app")).text();
    expect(home).toContain("A new version of the Business Associate Agreement is in effect");
    expect(await (await client.get("/account/sessions")).text()).toContain('class="alert alert-info baa-banner"');
    const staff = await clientFor(await makePerson(t, { practiceId: admin.practiceId, role: "staff" }));
    expect(await (await staff.get("/account/sessions")).text()).not.toContain("baa-banner");
    const review = await (await client.get("/baa")).text();
    expect(review).toContain("Step 2 of 4: Review the agreement");
    expect(review).toContain("10.0 Notices.");
    expect(review).toContain(v2.sha256);

    // Signing the old version is refused; signing the new one reopens the gate, and history keeps both.
    const stale = await client.post("/baa/sign", { versionId: (await t.ownerDb.selectFrom("baa_versions").select("id").where("version", "=", 1).executeTakeFirstOrThrow()).id, typedName: "Casey Admin", title: "Owner", authorized: "yes", consent: "yes" });
    expect(stale.status).toBe(409);
    expect(await stale.text()).toContain("A new version of the agreement is now in effect");
    expect((await client.post("/baa/sign", { versionId: v2.id, typedName: "Casey Admin", title: "Owner", authorized: "yes", consent: "yes" })).status).toBe(303);
    expect(await hasBaa(admin.practiceId)).toBe(true);
    expect(await (await client.get("/account/sessions")).text()).not.toContain("baa-banner");
    const history = await (await client.get("/baa/signatures")).text();
    expect(history).toContain("2 (in effect)");
    expect((history.match(/Casey Admin, Owner|Casey Admin, Practice Administrator/g) ?? []).length).toBe(2);
  }, 30_000);
});

describe("read SAS in account-URL mode", () => {
  test("the user delegation key is fetched once, shared, and renewed before it expires", async () => {
    let now = Date.parse("2026-11-23T12:00:00Z");
    const fetched: [Date, Date][] = [];
    const key = (n: number) => ({ signedObjectId: `k${n}` }) as never;
    const cache = delegationKeyCache(async (startsOn, expiresOn) => {
      fetched.push([startsOn, expiresOn]);
      return key(fetched.length);
    }, { lifetimeMs: 60 * 60_000, renewBeforeMs: 10 * 60_000, now: () => now });
    const [a, b] = await Promise.all([cache(), cache()]);
    expect(fetched.length).toBe(1);
    expect(a).toBe(b);
    expect(fetched[0]![1].getTime() - now).toBe(60 * 60_000);
    now += 49 * 60_000;
    expect(await cache()).toBe(a);
    now += 2 * 60_000; // 9 minutes left: renewed
    const c = await cache();
    expect(fetched.length).toBe(2);
    expect(c).not.toBe(a);
  });
});
