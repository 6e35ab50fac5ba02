// Data requests (issue 8, items 4 and 5) against real Postgres, Azurite and pg-boss: an admin's
// export is built in the background into a ZIP (checked with Python's zipfile and unzip), offered
// through a signed link bound to that admin for 7 days, then purged by the sweep; a deletion needs
// the practice's legal name typed, can be withdrawn, and is processed when due (fixed `now`).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { signLink } from "../src/platform/crypto.ts";
import { listDevMail, readDevMail } from "../src/platform/mail.ts";
import { zipWriter } from "../src/platform/zip.ts";
import { saveTemplateFromJob } from "../src/jobs/templates.ts";
import { DELETION_DAYS, sweepDataRequests } from "../src/retention/requests.ts";
import { waitFor } from "./support/wait.ts";
import { createTestApp, type TestApp } from "./support/app.ts";
import { makeSignedPractice, TEST_PROFILE } from "./support/baa.ts";
import { Client, clientAs } from "./support/browserless.ts";
import { jobReadyToSubmit, LETTER_BODY, recipientsCsv } from "./support/jobs.ts";
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

  beforeAll(async () => {
    admin = await makeSignedPractice(t, "Export Clinic");
    otherAdmin = await makePerson(t, { practiceId: admin.practiceId, role: "admin" });
    const job = await jobReadyToSubmit(t, admin, recipientsCsv(3, "Qwxyzrecipient"));
    jobReference = job.reference;
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
      ...(Object.keys(entries).includes("destruction-certificates.json") ? ["destruction-certificates.json"] : []),
    ]);
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
    expect(swept.counts.deletions_processed).toBe(0);
    expect((await t.ownerDb.selectFrom("practices").select("status").where("id", "=", admin.practiceId).executeTakeFirstOrThrow()).status).toBe("active");
  });

  test("processed when due (fixed now): jobs cancelled and purged, members alone anonymised, the audit trail and BAA stay, a certificate is listed", async () => {
    const job = await jobReadyToSubmit(t, admin, recipientsCsv(2));
    await saveTemplateFromJob({ db: t.db, keys: t.config.keys.encryption }, { userId: admin.userId, practiceId: admin.practiceId, role: "admin" }, job.id, { templateName: "Closing", body: "Dear {{first_name}}, goodbye." });
    const files = await t.ownerDb.selectFrom("job_files").select("blob_name").where("job_id", "=", job.id).execute();
    expect(files.length).toBeGreaterThan(0);
    const client = await clientAs(t, admin);
    expect((await client.post("/retention/requests/deletion", { confirmation: ` ${TEST_PROFILE.legalName} ` })).status).toBe(303);
    const r = (await requestsOf(admin.practiceId)).find((x) => x.status === "scheduled")!;
    const auditBefore = await t.ownerDb.selectFrom("audit_events").select((eb) => eb.fn.countAll<string>().as("n")).where("practice_id", "=", admin.practiceId).executeTakeFirstOrThrow();
    // Not yet due: nothing happens.
    const early = await sweepDataRequests({ db: t.db, blob: t.blob }, { now: new Date(new Date(r.due_at).getTime() - 1000), batchSize: 10 });
    expect(early.counts.deletions_processed).toBe(0);
    const due = await sweepDataRequests({ db: t.db, blob: t.blob }, { now: new Date(new Date(r.due_at).getTime() + 1000), batchSize: 10 });
    expect(due.counts.deletions_processed).toBe(1);

    const done = (await requestsOf(admin.practiceId)).find((x) => x.id === r.id)!;
    expect(done.status).toBe("completed");
    expect(done.counts).toMatchObject({ jobs_cancelled: 1, templates_deleted: 1, letters_erased: 1, users_anonymised: 2, users_kept: 1 });
    const after = await t.ownerDb.selectFrom("jobs").selectAll().where("id", "=", job.id).executeTakeFirstOrThrow();
    expect(after.status).toBe("cancelled");
    expect(after.letter_body_enc).toBeNull();
    expect(after.purged_at).not.toBeNull();
    for (const f of files) expect(await t.blob.inspect(f.blob_name)).toBeNull();
    expect(await t.ownerDb.selectFrom("letter_templates").select("id").where("practice_id", "=", admin.practiceId).execute()).toHaveLength(0);
    // Members in no other practice are anonymised; the one in another practice is not.
    for (const m of [admin, alone]) {
      const u = await t.ownerDb.selectFrom("users").selectAll().where("id", "=", m.userId).executeTakeFirstOrThrow();
      expect(u).toMatchObject({ full_name: "Deleted user", email: `deleted-${m.userId}@deleted.invalid`, password_hash: null, totp_secret: null, status: "deactivated" });
    }
    const kept = await t.ownerDb.selectFrom("users").selectAll().where("id", "=", shared.userId).executeTakeFirstOrThrow();
    expect(kept).toMatchObject({ full_name: "Test Person", email: `${shared.userId}@people.example`, status: "active" });
    const liveSessions = await t.ownerDb.selectFrom("sessions").select("id").where("user_id", "=", admin.userId).where("revoked_at", "is", null).execute();
    expect(liveSessions).toHaveLength(0);
    expect((await client.get("/retention/requests")).status).toBe(303); // signed out
    expect((await t.ownerDb.selectFrom("practices").select("status").where("id", "=", admin.practiceId).executeTakeFirstOrThrow()).status).toBe("suspended");
    // The audit trail and the BAA record stay.
    const auditAfter = await t.ownerDb.selectFrom("audit_events").select((eb) => eb.fn.countAll<string>().as("n")).where("practice_id", "=", admin.practiceId).executeTakeFirstOrThrow();
    expect(Number(auditAfter.n)).toBeGreaterThan(Number(auditBefore.n));
    const signature = await t.ownerDb.selectFrom("baa_signatures").selectAll().where("practice_id", "=", admin.practiceId).executeTakeFirstOrThrow();
    expect(await t.blob.inspect(signature.pdf_blob)).not.toBeNull();
    expect((await eventsOf(admin.practiceId)).at(-1)).toMatchObject({ action: "data_request.deletion.processed", actor_id: "system:data-requests" });
    // The certificate: stored, listed for the remaining auditor, downloadable through its link.
    const cert = await t.blob.container.getBlobClient(done.blob_name).downloadToBuffer();
    expect(cert.subarray(0, 5).toString()).toBe("%PDF-");
    expect(new Bun.CryptoHasher("sha256").update(cert).digest("hex")).toBe(done.sha256);
    const auditor = await clientAs(t, { ...shared, practiceId: admin.practiceId });
    const page = await (await auditor.get("/retention/requests")).text();
    expect(page).toContain("audit trail and the Business Associate Agreement record are kept");
    const link = await downloadHref(auditor);
    expect(link).toBeTruthy();
    expect((await auditor.get(link!)).status).toBe(303);
    // Running again changes nothing.
    const again = await sweepDataRequests({ db: t.db, blob: t.blob }, { now: new Date(new Date(r.due_at).getTime() + 2 * DAY), batchSize: 10 });
    expect(again.counts.deletions_processed).toBe(0);
  }, 60_000);
});
