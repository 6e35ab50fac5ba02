// Practice settings (issue 9 item 3) against real Postgres, Azurite and pg-boss: admins only (a
// staff member or an auditor gets a 403 page saying why); the profile with the BAA wizard's checks;
// the letterhead and its logo (magic bytes, size, served to the practice only); the approval rule
// moved here from the Team page; the retention policy and the BAA in force, read-only; every change
// audited with the names of what changed, never the values; and the letterhead in a rendered proof.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { crc32, deflateSync } from "node:zlib";
import { attestationStatement } from "../src/jobs/attestation.ts";
import { attestJob } from "../src/jobs/service.ts";
import type { Job } from "../src/platform/schema.ts";
import { createTestApp, TEST_ORIGIN, type TestApp } from "./support/app.ts";
import { signedTeams } from "./support/baa.ts";
import { type Client, clientAs } from "./support/browserless.ts";
import { actorOf, LETTER_BODY, recipientsCsv, uploadCsv } from "./support/jobs.ts";
import { makeOperator, type Member, type Person, sessionToken } from "./support/people.ts";
import { inflatedText } from "./support/pdf.ts";
import { waitFor } from "./support/wait.ts";

const MAX_LOGO = 20_000;
let t: TestApp;
let admin: Member;
let staff: Member;
let auditor: Member;
let otherAdmin: Member;
let operator: Person;

beforeAll(async () => {
  t = await createTestApp({ background: true, env: { UPLOAD_MAX_IMAGE_BYTES: String(MAX_LOGO) } });
  ({ admin, staff, auditor, otherAdmin } = await signedTeams(t, "Settings Clinic"));
  operator = await makeOperator(t);
}, 60_000);
afterAll(() => t.close());

const clientFor = (person: Person) => clientAs(t, person);
const events = (practiceId: string, action: string) =>
  t.ownerDb.selectFrom("audit_events").selectAll().where("practice_id", "=", practiceId).where("action", "=", action).orderBy("chain_seq").execute();
const letterheadOf = async (practiceId: string) =>
  (await t.ownerDb.selectFrom("practice_letterheads").selectAll().where("practice_id", "=", practiceId).executeTakeFirst()) as Record<string, unknown> | undefined;

/** A solid PNG of the given size (pdfkit must be able to open it). */
function png(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const typed = Buffer.concat([Buffer.from(type, "latin1"), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    typed.copy(out, 4);
    out.writeUInt32BE(crc32(typed), 8 + data.length);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const pixels = Buffer.concat(Array.from({ length: height }, () => Buffer.concat([Buffer.from([0]), Buffer.alloc(width * 3, 0x22)])));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", header), chunk("IDAT", deflateSync(pixels)), chunk("IEND", Buffer.alloc(0))]);
}

/** The logo form as a browser sends it: multipart, one file. */
async function postLogo(person: Person, bytes: Uint8Array, type: string, name = "logo.png"): Promise<Response> {
  const form = new FormData();
  form.set("logo", new File([bytes as Uint8Array<ArrayBuffer>], name, { type }));
  return t.app.request(`${TEST_ORIGIN}/practice/settings/logo`, {
    method: "POST", body: form, headers: { origin: TEST_ORIGIN, cookie: `__Host-plh_session=${await sessionToken(t, person)}` },
  });
}

/** An input's value as the page renders it (Field puts value after name). */
function inputValue(html: string, name: string): string {
  const match = new RegExp(`name="${name}"[^>]*?value="([^"]*)"`).exec(html);
  return (match?.[1] ?? "").replace(/&amp;/g, "&").replace(/&#39;/g, "'").replace(/&quot;/g, '"');
}
function selected(html: string, name: string): string {
  return new RegExp(`name="${name}"[\\s\\S]*?<option value="([^"]*)" selected`).exec(html)?.[1] ?? "";
}

const PROFILE = {
  legalName: "Riverbend Family Medicine, P.C.", dbaName: "", addressLine1: "12 Main Street", addressLine2: "", city: "Springfield", state: "MA",
  postalCode: "01103", phone: "4135550100", npi: "", privacyOfficerName: "Pat Privacy", privacyOfficerEmail: "privacy@riverbend.example", timeZone: "America/New_York",
};
const LETTERHEAD = {
  returnName: "Riverbend Records Office", returnLine1: "77 Letterhead Lane", returnLine2: "Suite 5", returnCity: "Portland", returnState: "ME", returnZip: "04101",
  signerName: "Robin Settings, MD", signerTitle: "Chief Medical Officer",
};

describe("who may open practice settings", () => {
  test("a staff member or an auditor gets a 403 page saying why, and the refusal is audited; they cannot change anything", async () => {
    for (const person of [staff, auditor]) {
      const client = await clientFor(person);
      const res = await client.get("/practice/settings");
      expect(res.status).toBe(403);
      const html = await res.text();
      expect(html).toContain("Practice settings are for the practice&#39;s administrators");
      expect(html).not.toContain('action="/practice/settings/profile"');
      expect((await client.post("/practice/settings/letterhead", LETTERHEAD)).status).toBe(403);
      expect((await client.post("/practice/approval-rule", { twoPerson: "on" })).status).toBe(403);
      expect((await postLogo(person, png(4, 4), "image/png")).status).toBe(403);
    }
    const denied = (await events(admin.practiceId, "access.denied")).filter((e) => e.actor_id === staff.userId);
    expect(denied.map((e) => e.target_id)).toContain("GET /practice/settings");
    expect(denied[0]!.details).toMatchObject({ permission: "practice.settings", role: "staff" });
    expect(await letterheadOf(admin.practiceId)).toBeUndefined();
    expect((await t.ownerDb.selectFrom("practices").select("two_person_approval").where("id", "=", admin.practiceId).executeTakeFirstOrThrow()).two_person_approval).toBe(false);
    // Operators belong to no practice.
    expect((await (await clientFor(operator)).get("/practice/settings")).status).toBe(403);
  });

  test("admins find it from the practice home; others do not", async () => {
    expect(await (await (await clientFor(admin)).get("/app")).text()).toContain('href="/practice/settings"');
    expect(await (await (await clientFor(staff)).get("/app")).text()).not.toContain('href="/practice/settings"');
  });
});

describe("the settings page (admins)", () => {
  test("shows the profile, the letterhead, the approval rule, the retention periods from config and the BAA in force with its signed download", async () => {
    const client = await clientFor(admin);
    const res = await client.get("/practice/settings");
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(inputValue(html, "legalName")).toBe(PROFILE.legalName);
    expect(selected(html, "timeZone")).toBe("America/New_York");
    // Until a letterhead is saved, its return address starts from the profile.
    expect(inputValue(html, "returnLine1")).toBe("12 Main Street");
    expect(html).toContain('action="/practice/approval-rule"');
    expect(html).toContain(`Deleted ${t.config.retention.jobDataDays} days after a job is completed or cancelled`);
    expect(html).toContain(`Kept ${t.config.retention.auditYears} years`);
    const signature = await t.ownerDb.selectFrom("baa_signatures").selectAll().where("practice_id", "=", admin.practiceId).executeTakeFirstOrThrow();
    expect(html).toContain("Avery Admin, Practice Administrator");
    expect(html).toMatch(new RegExp(`<dt>Version</dt><dd>${signature.baa_version}</dd>`));
    const link = new RegExp(`href="(/baa/signatures/${signature.id}/download\\?token=[^"]+)"`).exec(html)![1]!.replace(/&amp;/g, "&");
    const download = await client.get(link);
    expect(download.status).toBe(303);
    expect(download.headers.get("location")).toContain(signature.pdf_blob.split("/").pop()!);
    // The page has labels for every field (screen readers).
    for (const id of ["field-legalName", "field-npi", "field-timeZone", "field-returnLine1", "field-signerName", "field-logo"]) expect(html).toContain(`for="${id}"`);
  });

  test("profile: the NPI check digit and the time zone are checked as in the BAA wizard; a change is audited by field names only; an unchanged save records nothing", async () => {
    const client = await clientFor(admin);
    const refused = await client.post("/practice/settings/profile", { ...PROFILE, npi: "1234567890", timeZone: "Mars/Olympus" });
    expect(refused.status).toBe(422);
    const html = await refused.text();
    expect(html).toContain("This NPI&#39;s check digit is wrong");
    expect(html).toContain("Choose a time zone");
    const before = (await events(admin.practiceId, "practice.profile.updated")).length;

    const saved = await client.post("/practice/settings/profile", { ...PROFILE, phone: "(413) 555-0199", npi: "1234567893", timeZone: "America/Chicago" });
    expect(saved.status).toBe(303);
    expect(saved.headers.get("location")).toBe("/practice/settings?done=profile#profile");
    const row = await t.ownerDb.selectFrom("practices").selectAll().where("id", "=", admin.practiceId).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ phone: "4135550199", npi: "1234567893", time_zone: "America/Chicago" });
    const audited = await events(admin.practiceId, "practice.profile.updated");
    expect(audited.length).toBe(before + 1);
    expect(audited.at(-1)).toMatchObject({ actor_id: admin.userId, target_type: "practice", target_id: admin.practiceId, details: { changed: "phone,npi,time_zone", npi: true } });
    expect(JSON.stringify(audited.at(-1)!.details)).not.toMatch(/4135550199|1234567893|Chicago/);

    const again = await client.post("/practice/settings/profile", { ...PROFILE, phone: "4135550199", npi: "1234567893", timeZone: "America/Chicago" });
    expect(again.headers.get("location")).toBe("/practice/settings?done=unchanged#profile");
    expect((await events(admin.practiceId, "practice.profile.updated")).length).toBe(before + 1);
    await client.post("/practice/settings/profile", PROFILE); // back to the profile the other tests expect
  });

  test("letterhead: return address and signer saved, audited by part (never the values), and checked like a job's return address", async () => {
    const client = await clientFor(admin);
    const bad = await client.post("/practice/settings/letterhead", { ...LETTERHEAD, returnZip: "4101", signerTitle: "" });
    expect(bad.status).toBe(422);
    const html = await bad.text();
    expect(html).toContain("Enter a ZIP code like 02139");
    expect(html).toContain("Enter the signer&#39;s title too");
    expect(await letterheadOf(admin.practiceId)).toBeUndefined();

    expect((await client.post("/practice/settings/letterhead", LETTERHEAD)).status).toBe(303);
    expect(await letterheadOf(admin.practiceId)).toMatchObject({ return_line1: "77 Letterhead Lane", return_zip: "04101", signer_name: "Robin Settings, MD", updated_by: admin.userId });
    let audited = await events(admin.practiceId, "practice.letterhead.updated");
    expect(audited.map((e) => e.details)).toEqual([{ changed: "return_address,signer" }]);
    expect(JSON.stringify(audited)).not.toMatch(/Letterhead Lane|Robin/);

    // Only the signer changes: only the signer is named.
    await client.post("/practice/settings/letterhead", { ...LETTERHEAD, signerTitle: "Medical Director" });
    audited = await events(admin.practiceId, "practice.letterhead.updated");
    expect(audited.at(-1)!.details).toEqual({ changed: "signer" });
    await client.post("/practice/settings/letterhead", LETTERHEAD);
    const page = await (await client.get("/practice/settings")).text();
    expect(inputValue(page, "returnLine1")).toBe("77 Letterhead Lane");
    expect(inputValue(page, "signerName")).toBe("Robin Settings, MD");
  });

  test("logo: PNG or JPEG by magic bytes, size-limited, readable; stored privately, audited, served to the practice's members only; a replaced logo's blob is deleted", async () => {
    const gif = new Uint8Array([0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 1, 0, 1, 0, 0, 0, 0]);
    const cases: [Uint8Array, string, string, number, string][] = [
      [gif, "image/png", "logo.png", 422, "must be a PNG or JPEG"],
      [png(4, 4), "image/jpeg", "logo.jpg", 422, "is a PNG image, but it was sent as image/jpeg"],
      [png(4, 4).subarray(0, 20), "image/png", "logo.png", 422, "could not be read"],
      [new Uint8Array(MAX_LOGO + 1).fill(7), "image/png", "logo.png", 413, "too large"],
    ];
    for (const [bytes, type, name, status, words] of cases) {
      const res = await postLogo(admin, bytes, type, name);
      expect({ words, status: res.status }).toEqual({ words, status });
      expect(await res.text()).toContain(words);
    }
    expect((await letterheadOf(admin.practiceId))!.logo_blob).toBeNull();
    expect((await events(admin.practiceId, "practice.logo.uploaded")).map((e) => e.outcome)).toEqual(["denied", "denied", "denied", "denied"]);

    const first = png(9, 9);
    expect((await postLogo(admin, first, "image/png")).status).toBe(303);
    const firstBlob = String((await letterheadOf(admin.practiceId))!.logo_blob);
    expect(firstBlob).toStartWith(`practices/${admin.practiceId}/letterhead/`);
    expect(await t.blob.container.getBlobClient(firstBlob).exists()).toBe(true);

    const logo = png(37, 11); // an unusual size, found again in the rendered proof below
    expect((await postLogo(admin, logo, "image/png")).status).toBe(303);
    const row = (await letterheadOf(admin.practiceId))!;
    expect(row).toMatchObject({ logo_content_type: "image/png", logo_bytes: logo.length, logo_sha256: new Bun.CryptoHasher("sha256").update(logo).digest("hex") });
    expect(await t.blob.container.getBlobClient(firstBlob).exists()).toBe(false);
    const uploaded = (await events(admin.practiceId, "practice.logo.uploaded")).filter((e) => e.outcome === "success");
    expect(uploaded.map((e) => e.details)).toEqual([
      { content_type: "image/png", bytes: first.length, sha256: new Bun.CryptoHasher("sha256").update(first).digest("hex"), replaced: false },
      { content_type: "image/png", bytes: logo.length, sha256: row.logo_sha256, replaced: true },
    ]);

    // Any member of the practice sees it; another practice has none; operators are refused.
    const served = await (await clientFor(staff)).get("/practice/logo");
    expect(served.status).toBe(200);
    expect(served.headers.get("content-type")).toBe("image/png");
    expect(Buffer.from(await served.arrayBuffer()).equals(logo)).toBe(true);
    expect((await (await clientFor(otherAdmin)).get("/practice/logo")).status).toBe(404);
    expect((await (await clientFor(operator)).get("/practice/logo")).status).toBe(403);
    expect((await (await clientFor(admin)).get("/practice/settings")).ok).toBe(true);
  });

  test("the two-person approval rule is set here (moved from the Team page, which links to it)", async () => {
    const client = await clientFor(admin);
    const res = await client.post("/practice/approval-rule", { twoPerson: "on" });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/practice/settings?done=approval-rule#approval-rule");
    expect((await t.ownerDb.selectFrom("practices").select("two_person_approval").where("id", "=", admin.practiceId).executeTakeFirstOrThrow()).two_person_approval).toBe(true);
    expect((await events(admin.practiceId, "practice.approval_rule.changed")).at(-1)!.details).toEqual({ two_person: true });
    const page = await (await client.get("/practice/settings?done=approval-rule")).text();
    expect(page).toContain("The proof approval rule is saved.");
    expect(page).toContain("Turn the two-person rule off");
    const team = await (await client.get("/team")).text();
    expect(team).toContain('href="/practice/settings"');
    expect(team).not.toContain('action="/practice/approval-rule"');
    await client.post("/practice/approval-rule", { twoPerson: "off" });
  });
});

describe("the letterhead in letters", () => {
  test("a new job starts with the letterhead's return address and signer, and the rendered proof prints them with the practice logo", async () => {
    const client: Client = await clientFor(staff);
    // The wizard's first step is filled from the letterhead; the job is made from what the page offers.
    const form = await (await client.get("/jobs/new")).text();
    const details = Object.fromEntries(["returnName", "returnLine1", "returnLine2", "returnCity", "returnZip"].map((n) => [n, inputValue(form, n)]));
    expect(details).toEqual({ returnName: "Riverbend Records Office", returnLine1: "77 Letterhead Lane", returnLine2: "Suite 5", returnCity: "Portland", returnZip: "04101" });
    const created = await client.post("/jobs", { ...details, returnState: selected(form, "returnState"), title: "Office move", letterType: "practice_closure", mailClass: "first_class" });
    expect(created.status).toBe(303);
    const jobId = /^\/jobs\/([0-9a-f-]{36})\//.exec(created.headers.get("location")!)![1]!;
    const job = (await t.ownerDb.selectFrom("jobs").selectAll().where("id", "=", jobId).executeTakeFirstOrThrow()) as Job;
    expect(job).toMatchObject({ return_line1: "77 Letterhead Lane", return_state: "ME" });
    await attestJob(t, actorOf(staff, "staff"), jobId, { statementVersion: attestationStatement().version, confirm: "yes", initials: "SS" });
    await uploadCsv(t, actorOf(staff, "staff"), job, recipientsCsv(3));

    // The letter step starts with the letterhead's signer; the job has no logo of its own.
    const letter = await (await client.get(`/jobs/${jobId}/letter`)).text();
    expect(inputValue(letter, "signerName")).toBe("Robin Settings, MD");
    expect(letter).toContain("The practice logo from practice settings");
    expect((await client.post(`/jobs/${jobId}/letter`, { body: LETTER_BODY, signerName: inputValue(letter, "signerName"), signerTitle: inputValue(letter, "signerTitle") })).status).toBe(303);
    expect((await client.post(`/jobs/${jobId}/submit`, {})).status).toBeLessThan(400);
    const proof = await waitFor("the proof", () => t.ownerDb.selectFrom("proofs").selectAll().where("job_id", "=", jobId).where("status", "=", "ready").executeTakeFirst());

    const pdf = await t.blob.container.getBlobClient(proof.blob_name!).downloadToBuffer();
    const text = inflatedText(pdf);
    for (const line of ["Riverbend Records Office", "77 Letterhead Lane", "Suite 5", "Portland, ME 04101", "Robin Settings, MD", "Chief Medical Officer"]) expect(text).toContain(line);
    // The practice logo (37 × 11 pixels) is the image on the letters.
    expect(pdf.toString("latin1")).toMatch(/\/Subtype \/Image[\s\S]{0,200}\/Width 37[\s\S]{0,60}\/Height 11|\/Width 37[\s\S]{0,200}\/Height 11/);
  }, 90_000);
});
