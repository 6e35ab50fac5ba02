// Data requests (issue 8, items 4 and 5) against real Postgres, Azurite and pg-boss: an admin's
// export is built in the background into a ZIP (checked with Python's zipfile and unzip), offered
// through a signed link bound to that admin for 7 days, then purged by the sweep; a deletion needs
// the practice's legal name typed, can be withdrawn, and is processed when due (fixed `now`).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { encryptField, signLink } from "../src/platform/crypto.ts";
import { incidentContext } from "../src/support/service.ts";
import { listDevMail, readDevMail } from "../src/platform/mail.ts";
import { zipWriter } from "../src/platform/zip.ts";
import { saveTemplateFromJob } from "../src/jobs/templates.ts";
import { sql } from "kysely";
import { createLogger } from "../src/platform/log.ts";
import { BUILD_DATA_EXPORT, buildDataExport, DELETION_DAYS, EXPORT_ATTEMPTS, EXPORT_STALE_HOURS, exportReadyEmail, sweepDataRequests } from "../src/retention/requests.ts";
import { queueWorkers } from "../src/schedules.ts";
import { waitFor } from "./support/wait.ts";
import { createTestApp, type TestApp } from "./support/app.ts";
import { makeSignedPractice, TEST_PROFILE } from "./support/baa.ts";
import { Client, clientAs } from "./support/browserless.ts";
import { givePrintFile, jobReadyToSubmit, LETTER_BODY, recipientsCsv } from "./support/jobs.ts";
import { makePerson, type Member } from "./support/people.ts";

let t: TestApp;
let dir: string;
beforeAll(async () => {
  t = await createTestApp({ background: true });
  dir = mkdtempSync(path.join(os.tmpdir(), "plh-zip-"));
}, 30_000);
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await t.close();
});

const DAY = 86_400_000;
/** A letterhead with a logo in storage, as the practice settings page saves it. */
async function giveLetterhead(practiceId: string, userId: string): Promise<{ logo: string; bytes: Uint8Array }> {
  const logo = `practices/${practiceId}/letterhead/${crypto.randomUUID()}.png`;
  const bytes = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3, 4]);
  await t.blob.putPrivate(logo, bytes, "image/png");
  await sql`INSERT INTO practice_letterheads (practice_id, return_name, return_line1, return_city, return_state, return_zip, signer_name, signer_title,
              logo_blob, logo_sha256, logo_bytes, logo_content_type, updated_by)
            VALUES (${practiceId}::uuid, 'Letterhead Clinic', '9 Harbor Rd', 'Salem', 'MA', '01970', 'Dr Lettersigner', 'Director',
              ${logo}, ${"a".repeat(64)}, ${bytes.length}, 'image/png', ${userId}::uuid)`.execute(t.ownerDb);
  return { logo, bytes };
}
/** An incident report from a member of the practice, its description encrypted as the support form stores it. */
async function giveIncident(practiceId: string, reporter: { userId: string; name: string; email: string }, description: string): Promise<string> {
  const id = crypto.randomUUID();
  const enc = encryptField(t.config.keys.encryption, description, incidentContext(id));
  await sql`INSERT INTO incident_reports (id, reference, practice_id, practice_name, reported_by, reporter_name, reporter_email, category,
              description_enc, key_id, description_length, noticed_at)
            VALUES (${id}::uuid, ${`INC-${id.slice(0, 4).toUpperCase().replace(/[^0-9A-Z]/g, "A")}-${id.slice(9, 13).toUpperCase().replace(/[^0-9A-Z]/g, "B")}`},
              ${practiceId}::uuid, 'Some Clinic', ${reporter.userId}::uuid, ${reporter.name}, ${reporter.email}, 'phishing',
              ${enc}, ${enc.split(".")[1]!}, ${description.length}, now() - interval '1 hour')`.execute(t.ownerDb);
  return id;
}
const requestsOf = (practiceId: string) => t.ownerDb.selectFrom("data_requests").selectAll().where("practice_id", "=", practiceId).orderBy("requested_at").execute();
const eventsOf = (practiceId: string, prefix = "data_request.") =>
  t.ownerDb.selectFrom("audit_events").select(["action", "outcome", "actor_id", "details", "target_id"]).where("practice_id", "=", practiceId)
    .where("action", "like", `${prefix}%`).orderBy("chain_seq").execute();

/** The ZIP's entries and their contents, read by Python's zipfile (which checks every CRC-32). */
async function unzip(bytes: Uint8Array): Promise<Record<string, string>> {
  const file = path.join(dir, `${crypto.randomUUID()}.zip`);
  writeFileSync(file, bytes);
  const listed = Bun.spawnSync(["python3", "-m", "zipfile", "-t", file]);
  expect(listed.exitCode).toBe(0);
  const read = Bun.spawnSync(["python3", "-c", "import zipfile,sys,json\nz=zipfile.ZipFile(sys.argv[1])\nprint(json.dumps({n: z.read(n).decode('latin1') for n in z.namelist()}))", file]);
  expect(read.exitCode).toBe(0);
  return JSON.parse(read.stdout.toString());
}

async function downloadHref(client: Client): Promise<string | null> {
  const html = await (await client.get("/retention/requests")).text();
  const match = /href="(\/retention\/requests\/[^"]+\/download\?token=[^"]+)"/.exec(html);
  return match ? match[1]!.replace(/&amp;/g, "&") : null;
}

describe("the ZIP writer", () => {
  test("STORE entries with data descriptors that unzip and Python read back byte for byte", async () => {
    const chunks: Uint8Array[] = [];
    const zip = zipWriter(async (c) => void chunks.push(c.slice()));
    await zip.add("a.txt", "hello\n");
    await zip.add("dir/b.bin", (async function* () { yield new Uint8Array([0, 1, 2]); yield new Uint8Array(70_000).fill(7); })());
    await zip.add("empty.json", "");
    const size = await zip.finish();
    const bytes = Buffer.concat(chunks);
    expect(bytes.length).toBe(size);
    const file = path.join(dir, "small.zip");
    writeFileSync(file, bytes);
    const list = Bun.spawnSync(["unzip", "-l", file]);
    expect(list.exitCode).toBe(0);
    expect(list.stdout.toString()).toMatch(/70000\s+\S+\s+\S+\s+dir\/b\.bin|70003\s+\S+\s+\S+\s+dir\/b\.bin/);
    const entries = await unzip(bytes);
    expect(Object.keys(entries)).toEqual(["a.txt", "dir/b.bin", "empty.json"]);
    expect(entries["a.txt"]).toBe("hello\n");
    expect(entries["dir/b.bin"]!.length).toBe(70_003);
    await expect(zip.add("../escape", "x")).rejects.toThrow(/unsafe/);
  });
});

describe("data export", () => {
  let admin: Member;
  let otherAdmin: Member;
  let jobReference: string;
  let href: string;
  let letterhead: { logo: string; bytes: Uint8Array };
  let incidentId: string;

  beforeAll(async () => {
    admin = await makeSignedPractice(t, "Export Clinic");
    otherAdmin = await makePerson(t, { practiceId: admin.practiceId, role: "admin" });
    const job = await jobReadyToSubmit(t, admin, recipientsCsv(3, "Qwxyzrecipient"));
    jobReference = job.reference;
    letterhead = await giveLetterhead(admin.practiceId, admin.userId);
    incidentId = await giveIncident(admin.practiceId, { userId: admin.userId, name: "Test Person", email: `${admin.userId}@people.example` }, "A phishing email asked staff for their password.");
    // Another practice's report is not this practice's to export.
    const stranger = await makeSignedPractice(t, "Stranger Clinic");
    await giveIncident(stranger.practiceId, { userId: stranger.userId, name: "Test Person", email: "s@people.example" }, "Zqstrangerreport lost a laptop.");
  }, 30_000);

  test("staff and auditors cannot request one (403, audited as denied)", async () => {
    for (const role of ["staff", "auditor"] as const) {
      const person = await makePerson(t, { practiceId: admin.practiceId, role });
      const client = await clientAs(t, person);
      expect((await client.post("/retention/requests/export", {})).status).toBe(403);
      expect((await client.post("/retention/requests/deletion", { confirmation: TEST_PROFILE.legalName })).status).toBe(403);
    }
    expect(await requestsOf(admin.practiceId)).toHaveLength(0);
    const denied = await t.ownerDb.selectFrom("audit_events").select("details").where("practice_id", "=", admin.practiceId).where("action", "=", "access.denied").execute();
    expect(denied.filter((d) => (d.details as { permission?: string }).permission === "data_requests.manage").length).toBe(4);
  });

  test("an admin's request builds the ZIP in the background: entries and contents, no letters or recipients; the admin is emailed", async () => {
    const client = await clientAs(t, admin);
    const res = await client.post("/retention/requests/export", {});
    expect(res.status).toBe(303);
    const ready = await waitFor("the export", async () => (await requestsOf(admin.practiceId)).find((r) => r.status === "ready"));
    expect(ready.kind).toBe("export");
    expect(new Date(ready.expires_at).getTime() - new Date(ready.processed_at).getTime()).toBe(7 * DAY);
    const bytes = await t.blob.container.getBlobClient(ready.blob_name).downloadToBuffer();
    expect(new Bun.CryptoHasher("sha256").update(bytes).digest("hex")).toBe(ready.sha256);
    const entries = await unzip(bytes);
    const signature = await t.ownerDb.selectFrom("baa_signatures").selectAll().where("practice_id", "=", admin.practiceId).executeTakeFirstOrThrow();
    expect(Object.keys(entries)).toEqual([
      "README.txt", "practice.json", "members.json", "jobs.json", "audit-log.csv", "baa/signatures.json", `baa/${signature.verification_id}.pdf`,
      "letterhead.json", "letterhead/logo.png", "incident-reports.json", "destruction-certificates.json",
    ]);
    // The letterhead and its logo, byte for byte; the practice's own incident reports with their
    // descriptions decrypted (never the ciphertext or key id), and no other practice's.
    expect(JSON.parse(entries["letterhead.json"]!)).toMatchObject({ return_name: "Letterhead Clinic", signer_name: "Dr Lettersigner", logo_blob: letterhead.logo });
    expect(Buffer.from(entries["letterhead/logo.png"]!, "latin1")).toEqual(Buffer.from(letterhead.bytes));
    const incidents = JSON.parse(entries["incident-reports.json"]!) as Record<string, unknown>[];
    expect(incidents.map((i) => [i.id, i.category, i.description])).toEqual([[incidentId, "phishing", "A phishing email asked staff for their password."]]);
    expect(Object.keys(incidents[0]!)).not.toContain("description_enc");
    expect(entries["incident-reports.json"]).not.toContain("Zqstrangerreport");
    expect(JSON.parse(entries["practice.json"]!).legal_name).toBe(TEST_PROFILE.legalName);
    const members = JSON.parse(entries["members.json"]!) as { user_id: string; email: string; role: string }[];
    expect(members.map((m) => m.user_id).sort()).toContain(admin.userId);
    expect(members.find((m) => m.user_id === admin.userId)).toMatchObject({ email: `${admin.userId}@people.example`, role: "admin" });
    const jobs = JSON.parse(entries["jobs.json"]!) as Record<string, unknown>[];
    expect(jobs.map((j) => j.reference)).toEqual([jobReference]);
    expect(Object.keys(jobs[0]!)).not.toContain("title");
    expect(entries["audit-log.csv"]).toContain("data_request.export.requested");
    expect(entries["audit-log.csv"]!.split("\n")[0]).toStartWith("occurred_at_utc,");
    const pdf = await t.blob.container.getBlobClient(signature.pdf_blob).downloadToBuffer();
    expect(entries[`baa/${signature.verification_id}.pdf`]).toBe(pdf.toString("latin1"));
    // No letter, no recipient, no file name anywhere in the archive.
    const all = Object.values(entries).join("\n");
    expect(all).not.toContain("Qwxyzrecipient");
    expect(all).not.toContain(LETTER_BODY.slice(20, 60));
    expect(all).not.toContain("Elm Street");
    const mails = await waitFor("the email", async () => {
      for (const m of await listDevMail(t.config.mail.dir)) if (m.to.includes(`${admin.userId}@people.example`) && m.subject.includes("data export")) return readDevMail(t.config.mail.dir, m.id);
      return null;
    });
    expect(mails.text).toContain(`${t.config.appOrigin}/retention/requests`);
    // A service email: it answers the admin's own request, so no preference can silence it and it
    // carries no unsubscribe footer.
    expect(exportReadyEmail("a@b.example", { practiceName: "X", days: 7, link: "https://x.example" }).category).toBe("service");
    expect(mails.text).not.toContain("unsubscribe");
    expect(mails.text).not.toContain("token=");
    const events = await eventsOf(admin.practiceId);
    expect(events.map((e) => e.action)).toEqual(["data_request.export.requested", "data_request.export.built"]);
    expect(events[1]).toMatchObject({ actor_id: "system:data-export", outcome: "success" });
  }, 60_000);

  test("the link: the requester is redirected to a seconds-long SAS; another admin, a tampered or an expired link → 403, audited", async () => {
    const client = await clientAs(t, admin);
    href = (await downloadHref(client))!;
    expect(href).toBeTruthy();
    const ok = await client.get(href);
    expect(ok.status).toBe(303);
    const sas = new URL(ok.headers.get("location")!);
    const expiry = new Date(sas.searchParams.get("se")!).getTime();
    expect(expiry - Date.now()).toBeLessThanOrEqual(70_000);
    // Another admin of the same practice sees no link, and the requester's link is not theirs.
    const other = await clientAs(t, otherAdmin);
    expect(await downloadHref(other)).toBeNull();
    expect((await other.get(href)).status).toBe(403);
    const tampered = href.replace(/token=([^&]{10})/, (_, p) => `token=${p.split("").reverse().join("")}`);
    expect((await client.get(tampered)).status).toBe(403);
    const [ready] = (await requestsOf(admin.practiceId)).filter((r) => r.status === "ready");
    const expired = signLink(t.config.keys.hmac, { resource: `data-request:${admin.practiceId}:${ready!.id}`, userId: admin.userId, expiresAt: new Date(Date.now() - 1000) });
    expect((await client.get(`/retention/requests/${ready!.id}/download?token=${encodeURIComponent(expired)}`)).status).toBe(403);
    const downloads = (await eventsOf(admin.practiceId)).filter((e) => e.action === "data_request.downloaded");
    expect(downloads.map((e) => e.outcome)).toEqual(["success", "denied", "denied", "denied"]);
    expect(downloads.map((e) => (e.details as { reason?: string }).reason ?? null)).toEqual([null, "bad-signature", expect.any(String), "expired"]);
  }, 30_000);

  test("the sweep purges the ZIP after 7 days (not before); the link then answers 403", async () => {
    const [ready] = (await requestsOf(admin.practiceId)).filter((r) => r.status === "ready");
    const before = await sweepDataRequests({ db: t.db, blob: t.blob }, { now: new Date(new Date(ready!.expires_at).getTime() - 60_000), batchSize: 10 });
    expect(before.counts.exports_purged).toBe(0);
    const after = await sweepDataRequests({ db: t.db, blob: t.blob }, { now: new Date(new Date(ready!.expires_at).getTime() + 1000), batchSize: 10 });
    expect(after.counts.exports_purged).toBe(1);
    expect(await t.blob.inspect(ready!.blob_name)).toBeNull();
    expect((await requestsOf(admin.practiceId)).find((r) => r.id === ready!.id)!.status).toBe("purged");
    expect((await (await clientAs(t, admin)).get(href)).status).toBe(403);
    expect((await eventsOf(admin.practiceId)).filter((e) => e.action === "data_request.export.purged")).toHaveLength(1);
  }, 30_000);
});

describe("an export that fails", () => {
  // A process that only sends work: the test runs each build itself, as the queue's attempts would.
  let f: TestApp;
  let admin: Member;
  let build: (requestId: string) => ReturnType<typeof buildDataExport>;
  beforeAll(async () => {
    f = await createTestApp();
    admin = await makeSignedPractice(f, "Failing Clinic");
    const deps = { db: f.db, blob: f.blob, mailer: f.mailer, config: f.config, logger: createLogger({ level: "silent" }) };
    build = (requestId) => buildDataExport(deps, { requestId, practiceId: admin.practiceId });
  }, 30_000);
  afterAll(() => f.close());
  const rows = () => f.ownerDb.selectFrom("data_requests").selectAll().where("practice_id", "=", admin.practiceId).orderBy("requested_at").execute();

  test("the queue makes EXPORT_ATTEMPTS attempts in all", () => {
    const workers = queueWorkers({ config: f.config, db: f.db, blob: f.blob, mailer: f.mailer, logger: createLogger({ level: "silent" }) });
    expect(workers.find((w) => w.name === BUILD_DATA_EXPORT)!.retryLimit).toBe(EXPORT_ATTEMPTS - 1);
  });

  test("every attempt failing ends it as failed (shown, audited, no partial ZIP); an admin asks again and it is built", async () => {
    const client = await clientAs(f, admin);
    expect((await client.post("/retention/requests/export", {})).status).toBe(303);
    const [queued] = await rows();
    expect(queued).toMatchObject({ status: "queued", attempts: 0, queued_at: expect.any(Date) });
    // This test plays the worker: it takes the queued job, runs the builds, and completes it at the end.
    const [job] = await f.queue.boss.fetch<{ requestId: string }>(BUILD_DATA_EXPORT);
    expect(job!.data.requestId).toBe(queued!.id);
    // A real fault: the executed BAA the ZIP must carry is missing from storage.
    const signature = await f.ownerDb.selectFrom("baa_signatures").selectAll().where("practice_id", "=", admin.practiceId).executeTakeFirstOrThrow();
    const pdf = await f.blob.container.getBlobClient(signature.pdf_blob).downloadToBuffer();
    await f.blob.remove(signature.pdf_blob);
    for (let attempt = 1; attempt < EXPORT_ATTEMPTS; attempt++) {
      await expect(build(queued!.id)).rejects.toThrow();  // thrown: the queue retries
      expect((await rows())[0]).toMatchObject({ status: "queued", attempts: attempt, error: expect.any(String) });
    }
    expect(await build(queued!.id)).toBeNull();          // the last: nothing left to retry
    await f.queue.boss.complete(BUILD_DATA_EXPORT, job!.id);
    expect((await rows())[0]).toMatchObject({ status: "failed", attempts: EXPORT_ATTEMPTS });
    expect(await f.blob.list(`practices/${admin.practiceId}/data-requests/`)).toEqual([]);
    const failed = await f.ownerDb.selectFrom("audit_events").selectAll().where("practice_id", "=", admin.practiceId).where("action", "=", "data_request.export.failed").execute();
    expect(failed).toMatchObject([{ outcome: "error", actor_id: "system:data-export", target_id: queued!.id, details: { attempts: EXPORT_ATTEMPTS, reason: "build_failed" } }]);

    // The page says so and offers a retry to admins; auditors see the state only.
    const page = await (await client.get("/retention")).text();
    expect(page).toContain(`the export could not be built (${EXPORT_ATTEMPTS} of ${EXPORT_ATTEMPTS} attempts)`);
    expect(page).toContain(`action="/retention/requests/${queued!.id}/retry"`);
    const auditor = await clientAs(f, await makePerson(f, { practiceId: admin.practiceId, role: "auditor" }));
    const auditorPage = await (await auditor.get("/retention/requests")).text();
    expect(auditorPage).toContain("could not be built");
    expect(auditorPage).not.toContain("/retry");
    expect((await auditor.post(`/retention/requests/${queued!.id}/retry`, {})).status).toBe(403);

    // Fixed, asked again: queued afresh (a new pg-boss job), then built.
    await f.blob.putPrivate(signature.pdf_blob, pdf, "application/pdf");
    expect((await client.post(`/retention/requests/${queued!.id}/retry`, {})).status).toBe(303);
    expect((await rows())[0]).toMatchObject({ status: "queued", attempts: 0, error: null });
    const { rows: sent } = await sql<{ state: string }>`SELECT state FROM pgboss.job WHERE name = ${BUILD_DATA_EXPORT} AND singleton_key = ${queued!.id} ORDER BY created_on`.execute(f.ownerDb);
    expect(sent.map((j) => j.state)).toEqual(["completed", "created"]);
    expect(await build(queued!.id)).toMatchObject({ entries: expect.any(Number) });
    expect((await rows())[0]).toMatchObject({ status: "ready", attempts: 1 });
    expect((await client.post(`/retention/requests/${queued!.id}/retry`, {})).status).toBe(409);
    const trail = await f.ownerDb.selectFrom("audit_events").select("action").where("practice_id", "=", admin.practiceId).where("action", "like", "data_request.export.%").orderBy("chain_seq").execute();
    expect(trail.map((e) => e.action)).toEqual(["data_request.export.requested", "data_request.export.failed", "data_request.export.retried", "data_request.export.built"]);
  }, 60_000);

  test("a build whose worker died (still queued after EXPORT_STALE_HOURS) is failed by the sweep; a younger one is left", async () => {
    const now = new Date("2030-05-01T12:00:00Z");
    const other = await makePerson(f, { practiceName: "Stalled Clinic" });
    const stale = await f.ownerDb.insertInto("data_requests").values({ practice_id: other.practiceId, kind: "export", status: "queued", requested_by: other.userId, attempts: 1, queued_at: new Date(now.getTime() - (EXPORT_STALE_HOURS * 3_600_000 + 1000)) }).returning("id").executeTakeFirstOrThrow();
    const young = await f.ownerDb.insertInto("data_requests").values({ practice_id: other.practiceId, kind: "export", status: "queued", requested_by: other.userId, attempts: 1, queued_at: new Date(now.getTime() - (EXPORT_STALE_HOURS * 3_600_000 - 60_000)) }).returning("id").executeTakeFirstOrThrow();
    const dry = await sweepDataRequests({ db: f.db, blob: f.blob }, { now, dryRun: true, batchSize: 10 });
    expect(dry.counts.exports_failed).toBe(1);
    const run = await sweepDataRequests({ db: f.db, blob: f.blob }, { now, batchSize: 10 });
    expect(run.counts.exports_failed).toBe(1);
    const byId = new Map((await f.ownerDb.selectFrom("data_requests").selectAll().where("practice_id", "=", other.practiceId).execute()).map((r) => [r.id, r]));
    expect(byId.get(stale.id)).toMatchObject({ status: "failed", error: expect.stringContaining("still queued") });
    expect(byId.get(young.id)!.status).toBe("queued");
    const events = await f.ownerDb.selectFrom("audit_events").selectAll().where("target_id", "=", stale.id).execute();
    expect(events).toMatchObject([{ action: "data_request.export.failed", outcome: "error", actor_id: "system:data-requests", details: { reason: "stalled", attempts: 1 } }]);
    expect((await sweepDataRequests({ db: f.db, blob: f.blob }, { now, batchSize: 10 })).counts.exports_failed).toBe(0);
  }, 30_000);
});

describe("deletion", () => {
  let admin: Member;
  let shared: Member;
  let alone: Member;

  beforeAll(async () => {
    admin = await makeSignedPractice(t, "Closing Clinic");
    alone = await makePerson(t, { practiceId: admin.practiceId, role: "staff" });
    // An auditor of this practice who is also the admin of another practice: kept as is.
    shared = await makePerson(t, { practiceName: "Other Clinic" });
    await t.ownerDb.insertInto("memberships").values({ practice_id: admin.practiceId, user_id: shared.userId, role: "auditor" }).execute();
  }, 30_000);

  test("a wrong typed confirmation is refused (422), nothing scheduled, audited as denied", async () => {
    const client = await clientAs(t, admin);
    const res = await client.post("/retention/requests/deletion", { confirmation: "Riverbend Family Medicine" });
    expect(res.status).toBe(422);
    expect(await res.text()).toContain("does not match");
    expect(await requestsOf(admin.practiceId)).toHaveLength(0);
    expect(await eventsOf(admin.practiceId)).toMatchObject([{ action: "data_request.deletion.requested", outcome: "denied", details: { reason: "confirmation" } }]);
  });

  test("requested with the legal name, due in 30 days, withdrawn before it is due: nothing is deleted", async () => {
    const client = await clientAs(t, admin);
    expect((await client.post("/retention/requests/deletion", { confirmation: TEST_PROFILE.legalName })).status).toBe(303);
    const [r] = await requestsOf(admin.practiceId);
    expect(r).toMatchObject({ kind: "deletion", status: "scheduled", requested_by: admin.userId });
    // The Data and retention page carries the same section, with the scheduled deletion and its withdraw button.
    const retention = await (await client.get("/retention")).text();
    expect(retention).toContain('id="data-requests"');
    expect(retention).toContain(`/retention/requests/${r!.id}/withdraw`);
    expect(Math.round((new Date(r!.due_at).getTime() - new Date(r!.requested_at).getTime()) / DAY)).toBe(DELETION_DAYS);
    expect((await client.post("/retention/requests/deletion", { confirmation: TEST_PROFILE.legalName })).status).toBe(409);
    expect((await client.post(`/retention/requests/${r!.id}/withdraw`, {})).status).toBe(303);
    expect((await requestsOf(admin.practiceId))[0]).toMatchObject({ status: "withdrawn", withdrawn_by: admin.userId });
    expect((await client.post(`/retention/requests/${r!.id}/withdraw`, {})).status).toBe(409);
    const swept = await sweepDataRequests({ db: t.db, blob: t.blob }, { now: new Date(Date.now() + 40 * DAY), batchSize: 10 });
    expect(swept.counts.deletions_started).toBe(0);
    expect((await t.ownerDb.selectFrom("practices").select("status").where("id", "=", admin.practiceId).executeTakeFirstOrThrow()).status).toBe("active");
  });

  test("when due: the practice closes (open jobs cancelled, members alone anonymised, kept members locked out); a job in production is waited for, then purged; a final certificate", async () => {
    const draft = await jobReadyToSubmit(t, admin, recipientsCsv(2));
    await saveTemplateFromJob({ db: t.db, keys: t.config.keys.encryption }, { userId: admin.userId, practiceId: admin.practiceId, role: "admin" }, draft.id, { templateName: "Closing", body: "Dear {{first_name}}, goodbye." });
    const draftFiles = (await t.ownerDb.selectFrom("job_files").select("blob_name").where("job_id", "=", draft.id).execute()).map((f) => f.blob_name);
    expect(draftFiles.length).toBeGreaterThan(0);
    // A job the print shop is producing when the deletion falls due, with its print file in storage.
    const printing = await jobReadyToSubmit(t, admin, recipientsCsv(2));
    await givePrintFile(t, printing);
    const print = await t.ownerDb.selectFrom("production_files").select("blob_name").where("job_id", "=", printing.id).executeTakeFirstOrThrow();
    await t.blob.putPrivate(print.blob_name!, new Uint8Array(100), "application/pdf");
    await t.ownerDb.updateTable("jobs").set({ status: "in_production", production_started_at: new Date() }).where("id", "=", printing.id).execute();
    const printingFiles = [...(await t.ownerDb.selectFrom("job_files").select("blob_name").where("job_id", "=", printing.id).execute()).map((f) => f.blob_name), print.blob_name!];
    // Practice storage outside jobs (a logo) goes too; the executed BAA stays.
    const logo = `practices/${admin.practiceId}/letterhead/logo-test.png`;
    await t.blob.putPrivate(logo, new Uint8Array(10), "image/png");
    // The letterhead (saved with a logo) is cleared and its logo deleted; incident reports stay, the
    // reporter's name and email replaced when the reporter is anonymised. Anonymised members lose
    // their email preferences and pending TOTP re-enrolments; the kept member keeps theirs.
    const saved = await giveLetterhead(admin.practiceId, admin.userId);
    const adminReport = await giveIncident(admin.practiceId, { userId: admin.userId, name: "Test Person", email: `${admin.userId}@people.example` }, "Mail went to the wrong house.");
    const sharedReport = await giveIncident(admin.practiceId, { userId: shared.userId, name: "Test Person", email: `${shared.userId}@people.example` }, "A laptop was lost.");
    for (const m of [admin, alone, shared]) {
      await t.ownerDb.insertInto("email_preferences").values({ user_id: m.userId, category: "job_summary", subscribed: false }).execute();
    }
    for (const m of [alone, shared]) {
      await t.ownerDb.insertInto("totp_reenrolments").values({ user_id: m.userId, secret: "v1.k1.iv.aad.ct", expires_at: new Date(Date.now() + 600_000) }).execute();
    }
    // A pending invitation to the practice is revoked.
    await t.ownerDb.insertInto("invitations").values({ practice_id: admin.practiceId, email: "late@people.example", role: "staff", token_hash: "f".repeat(64), invited_by: admin.userId, expires_at: new Date(Date.now() + 7 * DAY) }).execute();

    const client = await clientAs(t, admin);
    expect((await client.post("/retention/requests/deletion", { confirmation: ` ${TEST_PROFILE.legalName} ` })).status).toBe(303);
    // The page says what happens to jobs in production, and that this practice has one now.
    const before = await (await client.get("/retention/requests")).text();
    expect(before).toContain("Jobs already in production or mailed when the deletion falls due cannot be stopped");
    expect(before).toContain("1 job in production or mailed");
    expect(before).toContain("Incident reports made from the practice are security records and are kept too");
    const r = (await requestsOf(admin.practiceId)).find((x) => x.status === "scheduled")!;
    const sharedOldSession = await clientAs(t, { ...shared, practiceId: admin.practiceId });
    expect((await sharedOldSession.get("/retention/requests")).status).toBe(200);
    const auditBefore = await t.ownerDb.selectFrom("audit_events").selectAll().where("practice_id", "=", admin.practiceId).orderBy("chain_seq").execute();

    // Not yet due: nothing happens.
    const early = await sweepDataRequests({ db: t.db, blob: t.blob }, { now: new Date(new Date(r.due_at).getTime() - 1000), batchSize: 10 });
    expect(early.counts).toMatchObject({ deletions_started: 0, deletions_completed: 0 });
    expect(await t.blob.inspect(draftFiles[0]!)).not.toBeNull();

    // Due: the practice closes; the draft is cancelled and purged; the job in production is left alone.
    const due = new Date(new Date(r.due_at).getTime() + 1000);
    const first = await sweepDataRequests({ db: t.db, blob: t.blob }, { now: due, batchSize: 10 });
    expect(first.counts).toMatchObject({ deletions_started: 1, jobs_purged: 1, deletions_waiting: 1, deletions_completed: 0 });
    const processing = (await requestsOf(admin.practiceId)).find((x) => x.id === r.id)!;
    expect(processing.status).toBe("processing");
    expect(processing.counts).toMatchObject({ jobs_cancelled: 1, jobs_waited_for: 1, templates_deleted: 1, letterheads_cleared: 1, users_anonymised: 2, users_kept: 1, memberships_ended: 3, invitations_revoked: 1, jobs_purged: 1, letters_erased: 1 });
    const draftAfter = await t.ownerDb.selectFrom("jobs").selectAll().where("id", "=", draft.id).executeTakeFirstOrThrow();
    expect(draftAfter).toMatchObject({ status: "cancelled", letter_body_enc: null });
    expect(draftAfter.purged_at).not.toBeNull();
    const cancelled = await t.ownerDb.selectFrom("audit_events").select(["actor_id", "details"]).where("action", "=", "job.status.changed").where("target_id", "=", draft.reference).where("actor_id", "=", "system:data-requests").execute();
    expect(cancelled.map((e) => e.details)).toEqual([expect.objectContaining({ to: "cancelled", reason: "practice_deleted" })]);
    for (const name of draftFiles) expect(await t.blob.inspect(name)).toBeNull();
    for (const name of printingFiles) expect(await t.blob.inspect(name)).not.toBeNull();
    const printingNow = await t.ownerDb.selectFrom("jobs").selectAll().where("id", "=", printing.id).executeTakeFirstOrThrow();
    expect(printingNow.status).toBe("in_production");
    expect(printingNow.purged_at).toBeNull();
    expect(await t.ownerDb.selectFrom("letter_templates").select("id").where("practice_id", "=", admin.practiceId).execute()).toHaveLength(0);
    expect(await t.ownerDb.selectFrom("invitations").select("revoked_at").where("token_hash", "=", "f".repeat(64)).executeTakeFirstOrThrow()).toMatchObject({ revoked_at: expect.any(Date) });
    for (const m of [admin, alone]) {
      const u = await t.ownerDb.selectFrom("users").selectAll().where("id", "=", m.userId).executeTakeFirstOrThrow();
      expect(u).toMatchObject({ full_name: "Deleted user", email: `deleted-${m.userId}@deleted.invalid`, password_hash: null, totp_secret: null, status: "deactivated" });
    }
    const { rows: [cleared] } = await sql<Record<string, unknown>>`SELECT * FROM practice_letterheads WHERE practice_id = ${admin.practiceId}::uuid`.execute(t.ownerDb);
    expect(cleared).toMatchObject({ return_name: null, return_line1: null, signer_name: null, signer_title: null, logo_blob: null, logo_sha256: null });
    const { rows: reports } = await sql<{ id: string; reporter_name: string; reporter_email: string; description_enc: string }>`
      SELECT id, reporter_name, reporter_email, description_enc FROM incident_reports WHERE practice_id = ${admin.practiceId}::uuid`.execute(t.ownerDb);
    expect(new Map(reports.map((r) => [r.id, [r.reporter_name, r.reporter_email]]))).toEqual(new Map([
      [adminReport, ["Deleted user", `deleted-${admin.userId}@deleted.invalid`]], [sharedReport, ["Test Person", `${shared.userId}@people.example`]],
    ]));
    const prefs = await t.ownerDb.selectFrom("email_preferences").select("user_id").where("user_id", "in", [admin.userId, alone.userId, shared.userId]).execute();
    expect(prefs.map((p) => p.user_id)).toEqual([shared.userId]);
    const reenrolments = await t.ownerDb.selectFrom("totp_reenrolments").select("user_id").where("user_id", "in", [alone.userId, shared.userId]).execute();
    expect(reenrolments.map((p) => p.user_id)).toEqual([shared.userId]);
    const kept = await t.ownerDb.selectFrom("users").selectAll().where("id", "=", shared.userId).executeTakeFirstOrThrow();
    expect(kept).toMatchObject({ full_name: "Test Person", email: `${shared.userId}@people.example`, status: "active" });
    expect(await t.ownerDb.selectFrom("sessions").select("id").where("user_id", "=", admin.userId).where("revoked_at", "is", null).execute()).toHaveLength(0);
    expect((await client.get("/retention/requests")).status).toBe(303); // signed out
    expect((await t.ownerDb.selectFrom("practices").select("status").where("id", "=", admin.practiceId).executeTakeFirstOrThrow()).status).toBe("suspended");

    // The kept member no longer sees or reaches the closed practice: their session there ended; in
    // their own practice the switcher, /app, the job and the switch itself know nothing of it.
    expect((await sharedOldSession.get("/app")).status).toBe(303);
    expect(await t.ownerDb.selectFrom("memberships").select("id").where("practice_id", "=", admin.practiceId).execute()).toHaveLength(0);
    const own = await clientAs(t, shared);
    const home = await own.get("/app");
    expect(home.status).toBe(200);
    const homeHtml = await home.text();
    expect(homeHtml).toContain("Other Clinic");
    expect(homeHtml).not.toContain(admin.practiceId);
    expect(homeHtml).not.toContain("Closing Clinic");
    expect((await own.post("/practice/switch", { practiceId: admin.practiceId })).status).toBe(404);
    expect((await own.get(`/jobs/${printing.id}`)).status).toBe(404);
    expect(await (await own.get("/jobs")).text()).not.toContain(printing.reference);
    const stray = await clientAs(t, { ...shared, practiceId: admin.practiceId }); // a session naming the closed practice
    for (const path of ["/jobs", `/jobs/${printing.id}`, "/retention", "/retention/requests"]) expect([303, 403, 404]).toContain((await stray.get(path)).status);

    // A second run while the job is still in production: nothing new, still waiting.
    const waiting = await sweepDataRequests({ db: t.db, blob: t.blob }, { now: new Date(due.getTime() + 3_600_000), batchSize: 10 });
    expect(waiting.counts).toMatchObject({ deletions_started: 0, jobs_purged: 0, deletions_waiting: 1 });

    // The print shop mails and completes it: the next run purges it and completes the deletion.
    await t.ownerDb.updateTable("jobs").set({ status: "completed", mailed_on: "2030-01-02", mailed_pieces: 2, completed_at: new Date() }).where("id", "=", printing.id).execute();
    const last = await sweepDataRequests({ db: t.db, blob: t.blob }, { now: new Date(due.getTime() + 7_200_000), batchSize: 10 });
    expect(last.counts).toMatchObject({ jobs_purged: 1, deletions_waiting: 0, deletions_completed: 1 });
    for (const name of [...printingFiles, logo, saved.logo]) expect(await t.blob.inspect(name)).toBeNull();
    expect((await t.ownerDb.selectFrom("jobs").select("purged_at").where("id", "=", printing.id).executeTakeFirstOrThrow()).purged_at).not.toBeNull();
    const done = (await requestsOf(admin.practiceId)).find((x) => x.id === r.id)!;
    expect(done.status).toBe("completed");
    expect(done.counts).toMatchObject({ jobs_cancelled: 1, jobs_waited_for: 1, jobs_purged: 2, other_blobs_deleted: 2, users_anonymised: 2, users_kept: 1 });
    // Each purged job has its certificate of destruction.
    expect(await t.ownerDb.selectFrom("destruction_certificates").select("job_id").where("practice_id", "=", admin.practiceId).execute()).toHaveLength(2);

    // The audit trail stays (every earlier event unchanged, new ones appended) and so does the BAA record.
    const auditAfter = await t.ownerDb.selectFrom("audit_events").selectAll().where("practice_id", "=", admin.practiceId).orderBy("chain_seq").execute();
    expect(auditAfter.slice(0, auditBefore.length)).toEqual(auditBefore);
    expect(auditAfter.length).toBeGreaterThan(auditBefore.length);
    const signature = await t.ownerDb.selectFrom("baa_signatures").selectAll().where("practice_id", "=", admin.practiceId).executeTakeFirstOrThrow();
    expect(await t.blob.inspect(signature.pdf_blob)).not.toBeNull();
    const steps = (await eventsOf(admin.practiceId)).map((e) => [e.action, e.actor_id]);
    expect(steps.slice(-2)).toEqual([["data_request.deletion.started", "system:data-requests"], ["data_request.deletion.processed", "system:data-requests"]]);
    // The final certificate: stored beside the certificates of destruction, its SHA-256 in the trail.
    expect(done.blob_name).toStartWith(`practices/${admin.practiceId}/certificates/`);
    const cert = await t.blob.container.getBlobClient(done.blob_name).downloadToBuffer();
    expect(cert.subarray(0, 5).toString()).toBe("%PDF-");
    expect(new Bun.CryptoHasher("sha256").update(cert).digest("hex")).toBe(done.sha256);
    expect((await eventsOf(admin.practiceId)).at(-1)!.details).toMatchObject({ certificate_sha256: done.sha256 });
    // Running again changes nothing.
    const again = await sweepDataRequests({ db: t.db, blob: t.blob }, { now: new Date(due.getTime() + 2 * DAY), batchSize: 10 });
    expect(again.counts).toMatchObject({ deletions_started: 0, jobs_purged: 0, deletions_waiting: 0, deletions_completed: 0 });
  }, 120_000);
});
