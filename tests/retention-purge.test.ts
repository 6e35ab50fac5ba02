// Retention, issue 8 part 2, against real PostgreSQL and Azurite: abandoned drafts cancelled by the
// system and job data purged from a fixed cutoff (exactly at the retention period, not a millisecond
// before), in batches, once; every blob of the job really gone from Azurite, the letter erased, the
// row kept PHI-free; a certificate of destruction per job (its PDF lists the hashes and the
// reference, rendered from its manifest) behind a signed, audited link for admins and auditors; nothing here for anyone to POST.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "kysely";
import { sha256Hex } from "../src/platform/crypto.ts";
import type { DestroyedItem } from "../src/platform/schema.ts";
import { createJob } from "../src/jobs/service.ts";
import { certificatePdf } from "../src/retention/certificate-pdf.ts";
import { certificatePath, renderCertificate } from "../src/retention/certificates.ts";
import { canonicalJson, openManifest } from "../src/retention/manifest.ts";
import { ABANDONED_REASON, sweepAbandonedDrafts } from "../src/retention/abandoned-drafts.ts";
import { PURGED_FILE_NAME, sweepJobPurge } from "../src/retention/job-purge.ts";
import { verifyAuditChains } from "../src/audit/verify.ts";
import { seedEndedJobs } from "../scripts/bench/purge.ts";
import { createTestApp, TEST_ORIGIN, type TestApp } from "./support/app.ts";
import { makeSignedPractice } from "./support/baa.ts";
import { actorOf, givePrintFile, jobReadyToSubmit, recipientsCsv } from "./support/jobs.ts";
import { makePerson, type Member, sessionToken } from "./support/people.ts";
import { runSweep, sweepEnv } from "./support/sweeps.ts";

const DAY = 86_400_000;
const CUTOFF = new Date("2030-03-01T12:00:00.000Z");
const daysBefore = (days: number, plusMs = 0) => new Date(CUTOFF.getTime() - days * DAY + plusMs);

let t: TestApp;
let admin: Member;
let staff: Member;
let auditor: Member;
beforeAll(async () => {
  t = await createTestApp();
  admin = await makeSignedPractice(t, "Purge Practice");
  staff = await makePerson(t, { practiceId: admin.practiceId, role: "staff" });
  auditor = await makePerson(t, { practiceId: admin.practiceId, role: "auditor" });
}, 60_000);
afterAll(() => t.close());

const get = async (who: Member, path: string) =>
  t.app.request(path, { headers: { cookie: `__Host-plh_session=${await sessionToken(t, who)}`, origin: TEST_ORIGIN } });
const jobRow = (id: string) => t.ownerDb.selectFrom("jobs").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
const events = (action: string, sweep?: string) => t.ownerDb.selectFrom("audit_events").selectAll().where("action", "=", action)
  .where("practice_id", "=", admin.practiceId).$if(Boolean(sweep), (q) => q.where(sql<boolean>`details->>'sweep' = ${sweep!}`)).orderBy("chain_seq").execute();

/** A finished job with real blobs: its verified list, a proof, a print file and one unrecorded blob. */
async function endedJob(status: "completed" | "cancelled", endedAt: Date) {
  const job = await jobReadyToSubmit(t, admin, recipientsCsv(3));
  await givePrintFile(t, job);
  const proof = await t.ownerDb.selectFrom("proofs").select(["blob_name"]).where("job_id", "=", job.id).executeTakeFirstOrThrow();
  const print = await t.ownerDb.selectFrom("production_files").select(["blob_name"]).where("job_id", "=", job.id).executeTakeFirstOrThrow();
  await t.blob.putPrivate(proof.blob_name!, new TextEncoder().encode("%PDF proof"), "application/pdf");
  await t.blob.putPrivate(print.blob_name!, new Uint8Array(1000), "application/pdf");
  await t.blob.putPrivate(`practices/${job.practice_id}/jobs/${job.id}/proofs/${crypto.randomUUID()}.pdf`, new Uint8Array(7), "application/pdf");
  await t.ownerDb.updateTable("jobs").set(status === "completed"
    ? { status, completed_at: endedAt } : { status, cancelled_at: endedAt, cancel_reason: "Wrong list for Jane Zyxwv" }).where("id", "=", job.id).execute();
  const files = await t.ownerDb.selectFrom("job_files").select(["blob_name", "sha256"]).where("job_id", "=", job.id).execute();
  return { job, blobs: [...files.map((f) => f.blob_name), proof.blob_name!, print.blob_name!], csvSha: files[0]!.sha256! };
}

describe("abandoned drafts and job purge", () => {
  test("sweeps from a fixed cutoff, in batches, once: blobs gone, letter erased, row PHI-free, certificate issued", async () => {
    const due = await endedJob("completed", daysBefore(30));           // exactly at the period: due
    const dueCancelled = await endedJob("cancelled", daysBefore(45));
    const notYet = await endedJob("completed", daysBefore(30, 1));      // one millisecond short
    const idle = await createJob(t, actorOf(admin), { title: "Idle", letterType: "other", mailClass: "first_class", returnName: "Clinic", returnLine1: "1 Main St", returnLine2: null, returnCity: "Springfield", returnState: "MA", returnZip: "01103" });
    const active = await createJob(t, actorOf(admin), { title: "Active", letterType: "other", mailClass: "first_class", returnName: "Clinic", returnLine1: "1 Main St", returnLine2: null, returnCity: "Springfield", returnState: "MA", returnZip: "01103" });
    await t.ownerDb.updateTable("jobs").set({ updated_at: daysBefore(30) }).where("id", "=", idle.id).execute();
    await t.ownerDb.updateTable("jobs").set({ updated_at: daysBefore(30, 1) }).where("id", "=", active.id).execute();

    // Drafts: the idle one is cancelled by the system through the lifecycle, the other stays.
    const drafts = await sweepAbandonedDrafts({ db: t.db, days: 30 }, { now: CUTOFF, batchSize: 5 });
    expect(drafts.counts).toEqual({ practices: 1, jobs: 1 });
    expect(await jobRow(idle.id)).toMatchObject({ status: "cancelled", cancel_reason: ABANDONED_REASON, cancelled_by: null });
    expect((await jobRow(active.id)).status).toBe("draft");
    const moved = (await events("job.status.changed")).filter((e) => e.target_id === idle.reference);
    expect(moved.map((e) => [e.actor_id, e.details.to])).toEqual([["system:abandoned-drafts", "cancelled"]]);
    expect((await sweepAbandonedDrafts({ db: t.db, days: 30 }, { now: CUTOFF, batchSize: 5 })).counts).toEqual({ practices: 0, jobs: 0 });

    // Purge: the idle draft was cancelled just now (real time), long before this cutoff: due too.
    const dry = await sweepJobPurge({ db: t.db, blob: t.blob, days: 30 }, { now: CUTOFF, dryRun: true, batchSize: 1 });
    expect(dry.counts).toMatchObject({ practices: 1, jobs: 3 });
    for (const b of due.blobs) expect(await t.blob.inspect(b)).not.toBeNull();
    const run = await sweepJobPurge({ db: t.db, blob: t.blob, days: 30 }, { now: CUTOFF, batchSize: 1 });
    expect(run.counts).toMatchObject({ practices: 1, jobs: 3, blobs: 8 });
    expect((await jobRow(idle.id)).purged_at).not.toBeNull();

    for (const { job, blobs } of [due, dueCancelled]) {
      for (const b of blobs) expect(await t.blob.inspect(b)).toBeNull();
      expect(await t.blob.list(`practices/${job.practice_id}/jobs/${job.id}/`)).toEqual([]);
      const row = await jobRow(job.id);
      expect(row.purged_at).not.toBeNull();
      expect(row).toMatchObject({ letter_body_enc: null, letter_key_id: null, letter_length: null, letter_signer_name: null, cancel_reason: null, reference: job.reference });
      const files = await t.ownerDb.selectFrom("job_files").select(["status", "declared_name", "csv_fields"]).where("job_id", "=", job.id).execute();
      expect(files).toEqual([{ status: "purged", declared_name: PURGED_FILE_NAME, csv_fields: null }]);
    }
    for (const b of notYet.blobs) expect(await t.blob.inspect(b)).not.toBeNull();
    expect((await jobRow(notYet.job.id)).purged_at).toBeNull();
    expect((await jobRow(notYet.job.id)).letter_body_enc).not.toBeNull();

    // One retention.swept per batch (batch size 1), one job.data.purged per job, system actor.
    const swept = await events("retention.swept", "job-purge");
    expect(swept.map((e) => e.details.jobs)).toEqual([1, 1, 1]);
    expect(swept[0]).toMatchObject({ actor_type: "system", actor_id: "system:job-purge" });
    expect(swept[0]!.details.cutoff).toBe(CUTOFF.toISOString());
    expect((await events("job.data.purged")).map((e) => e.target_id).sort()).toEqual([due.job.reference, dueCancelled.job.reference, idle.reference].sort());

    // The certificate: an unchangeable manifest row naming every blob (kind, name, size, SHA-256),
    // the sweep run and the cutoff; its SHA-256 matches the text and is in the job's audit event.
    // No PDF is made or stored by the sweep.
    const cert = await t.ownerDb.selectFrom("destruction_certificates").selectAll().where("job_id", "=", due.job.id).executeTakeFirstOrThrow();
    expect(cert.blobs).toBe(4);
    expect(cert.items.map((i: DestroyedItem) => i.kind).sort()).toEqual(["print_file", "proof", "recipients_csv", "unrecorded"]);
    expect(cert.items.find((i: DestroyedItem) => i.kind === "recipients_csv")!.sha256).toBe(due.csvSha);
    expect(cert).toMatchObject({ pdf_blob: null, pdf_sha256: null, pdf_bytes: null });
    expect(sha256Hex(cert.manifest!)).toBe(cert.manifest_sha256!);
    const manifest = JSON.parse(cert.manifest!);
    expect(cert.manifest).toBe(canonicalJson(manifest));
    const runRow = await t.ownerDb.selectFrom("sweep_runs").select("id").where("name", "=", "job-purge").where("cutoff", "=", CUTOFF).where("dry_run", "=", false).orderBy("started_at").executeTakeFirstOrThrow();
    expect(cert.sweep_run_id).toBe(runRow.id);
    expect(manifest).toMatchObject({
      certificate_id: cert.id, verification_id: cert.verification_id, job: { id: due.job.id, reference: due.job.reference, status: "completed" },
      sweep: { name: "job-purge", run_id: runRow.id, cutoff: CUTOFF.toISOString() }, purged_at: cert.purged_at.toISOString(), blobs: 4,
    });
    const everyBlob = (await t.blob.list(`practices/${admin.practiceId}/certificates/`)).filter((b) => b.name.includes(cert.id));
    expect(everyBlob).toEqual([]);
    // The three recorded blobs by name, plus the unrecorded one found by the listing; all were in storage.
    expect(manifest.items.filter((i: { kind: string }) => i.kind !== "unrecorded").map((i: { name: string }) => i.name).sort()).toEqual([...due.blobs].sort());
    expect(manifest.items.every((i: { in_storage: boolean }) => i.in_storage)).toBe(true);
    const purgedEvent = (await events("job.data.purged")).find((e) => e.target_id === due.job.reference)!;
    expect(purgedEvent.details).toMatchObject({ blobs: 4, manifest_sha256: cert.manifest_sha256, verification_id: cert.verification_id });
    expect(await sql`UPDATE destruction_certificates SET manifest = manifest || ' ' WHERE id = ${cert.id}`.execute(t.ownerDb).catch((e) => e)).toBeInstanceOf(Error);
    // The PDF, rendered from the manifest, is the same bytes every time and shows hashes, names and the reference.
    const pdf = await renderCertificate({ manifest: cert.manifest, manifest_sha256: cert.manifest_sha256 });
    expect(sha256Hex(await renderCertificate({ manifest: cert.manifest, manifest_sha256: cert.manifest_sha256 }))).toBe(sha256Hex(pdf));
    const plain = (await certificatePdf(openManifest(cert.manifest!, cert.manifest_sha256!), cert.manifest_sha256!, { compress: false })).toString("latin1");
    // pdfkit writes text as hex strings; Courier (the hashes, ids, reference) has no kerning to split them.
    const hex = (text: string) => Buffer.from(text, "latin1").toString("hex");
    for (const text of [cert.job_reference, cert.verification_id, cert.manifest_sha256!, `SHA-256: ${due.csvSha}`, `SHA-256: ${"c".repeat(64)}`, `SHA-256: ${"b".repeat(64)}`, due.blobs[0]!.split("/").pop()!]) expect(plain).toContain(hex(text));
    expect(plain).not.toContain(hex("list.csv"));
    expect(() => openManifest(`${cert.manifest} `, cert.manifest_sha256!)).toThrow();

    // Idempotent.
    const again = await sweepJobPurge({ db: t.db, blob: t.blob, days: 30 }, { now: CUTOFF, batchSize: 1 });
    expect(again.counts).toMatchObject({ practices: 0, jobs: 0 });
    expect(await events("retention.swept", "job-purge")).toHaveLength(3);
    expect(await t.ownerDb.selectFrom("destruction_certificates").select("id").where("practice_id", "=", admin.practiceId).execute()).toHaveLength(3);

    // The job page: "Files deleted on", with the certificate link for admins and auditors only.
    const adminPage = await (await get(admin, `/jobs/${due.job.id}`)).text();
    expect(adminPage).toContain("Files deleted on");
    expect(adminPage).toContain(`/retention/certificates/${cert.id}/download?token=`);
    const staffPage = await (await get(staff, `/jobs/${due.job.id}`)).text();
    expect(staffPage).toContain("Files deleted on");
    expect(staffPage).not.toContain("/retention/certificates/");
    expect(await (await get(auditor, `/jobs/${due.job.id}`)).text()).toContain(`/retention/certificates/${cert.id}/download`);

    // The Data and retention page: the policy, the sweeps, the certificates.
    const page = await get(auditor, "/retention");
    expect(page.status).toBe(200);
    const html = await page.text();
    for (const text of ["Data and retention", "30 days", "job-purge", "abandoned-drafts", cert.verification_id, "data-requests-slot"]) expect(html).toContain(text);
    expect(html.indexOf("job-purge")).toBeLessThan(html.indexOf("abandoned-drafts")); // latest first
    expect((await get(staff, "/retention")).status).toBe(403);

    // Links: admin and auditor get the PDF rendered from the manifest (no PHI in it), not cached; refusals are audited.
    for (const who of [admin, auditor]) {
      const res = await get(who, certificatePath(t.config, { userId: who.userId, practiceId: admin.practiceId }, cert.id));
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("application/pdf");
      expect(res.headers.get("cache-control")).toBe("no-store");
      expect(res.headers.get("content-disposition")).toContain(`${cert.job_reference}-destruction-${cert.verification_id}.pdf`);
      expect(sha256Hex(new Uint8Array(await res.arrayBuffer()))).toBe(sha256Hex(pdf));
    }
    const adminLink = certificatePath(t.config, { userId: admin.userId, practiceId: admin.practiceId }, cert.id);
    expect((await get(auditor, adminLink)).status).toBe(403);                    // someone else's link
    expect((await get(admin, adminLink.replace(/token=.{4}/, "token=AAAA"))).status).toBe(403); // tampered
    expect((await get(admin, certificatePath(t.config, admin, cert.id, Date.now() - 11 * 60_000))).status).toBe(403); // expired
    expect((await get(staff, certificatePath(t.config, { userId: staff.userId, practiceId: admin.practiceId }, cert.id))).status).toBe(403);
    const downloads = await events("retention.certificate.downloaded");
    expect(downloads.filter((e) => e.outcome === "success")).toHaveLength(2);
    expect(downloads.filter((e) => e.outcome === "denied").length).toBeGreaterThanOrEqual(3);

    // Nobody purges by hand: every /retention route is a GET; the app role cannot change a certificate.
    // (Data requests, /retention/requests*, are another feature with their own rules.)
    const routes = t.app.routes.filter((r) => r.path.startsWith("/retention") && !r.path.startsWith("/retention/requests") && r.method !== "ALL");
    expect([...new Set(routes.map((r) => `${r.method} ${r.path}`))].sort()).toEqual(["GET /retention", "GET /retention/certificates/:id/download"]);
    await expect(sql`UPDATE destruction_certificates SET blobs = 0`.execute(t.db)).rejects.toThrow();
  }, 120_000);
});

// ---------------------------------------------------------------------------------------------
// Issue 8 item 7 through the command people run: `bun run sweep --only job-purge --now …` as a
// process (the controllable clock), against the same Azurite.
describe("bun run sweep --only job-purge, as a process", () => {
  let practice: Member;
  let env: Record<string, string>;
  beforeAll(async () => {
    practice = await makeSignedPractice(t, "Clock Practice");
    // Jobs of the tests above that a later clock would find due are purged first: the lines printed below count this practice's only.
    await sweepJobPurge({ db: t.db, blob: t.blob, days: 30 }, { now: new Date("2031-01-01T00:00:00Z"), batchSize: 50 });
    env = sweepEnv(t, { RETENTION_BATCH_SIZE: "4" });
  }, 60_000);

  const sweep = (now: Date) => runSweep(env, now);
  const inPractice = (action: string) => t.ownerDb.selectFrom("audit_events").selectAll().where("practice_id", "=", practice.practiceId)
    .where("action", "=", action).orderBy("chain_seq").execute();

  test("day 29 keeps, day 31 purges: the blobs are really gone from Azurite; the audit trail is only appended to", async () => {
    const completed = new Date("2030-06-01T09:00:00.000Z");
    const { jobIds, blobs } = await seedEndedJobs(t.ownerDb, t.blob, { practiceId: practice.practiceId, userId: practice.userId, count: 3, endedAt: completed });
    const trailBefore = await t.ownerDb.selectFrom("audit_events").selectAll().where("practice_id", "=", practice.practiceId).orderBy("chain_seq").execute();

    const day29 = await sweep(new Date(completed.getTime() + 29 * DAY));
    expect(day29).toMatchObject({ code: 0, stderr: "" });
    expect(day29.stdout).toContain("job-purge: swept practices=0, jobs=0, blobs=0, bytes=0");
    for (const name of blobs) expect(await t.blob.inspect(name)).not.toBeNull();

    const day31 = await sweep(new Date(completed.getTime() + 31 * DAY));
    expect(day31).toMatchObject({ code: 0, stderr: "" });
    expect(day31.stdout).toContain(`job-purge: swept practices=1, jobs=3, blobs=9, bytes=${9 * 64}`);
    for (const name of blobs) expect(await t.blob.inspect(name)).toBeNull();
    for (const id of jobIds) expect(await t.blob.list(`practices/${practice.practiceId}/jobs/${id}/`)).toEqual([]);
    expect(await t.ownerDb.selectFrom("jobs").select("id").where("id", "in", jobIds).where("purged_at", "is", null).execute()).toEqual([]);

    // The job purge never touches the audit trail: every earlier event is byte for byte the same,
    // the new ones are appended to the chain, and the chain still verifies.
    const trailAfter = await t.ownerDb.selectFrom("audit_events").selectAll().where("practice_id", "=", practice.practiceId).orderBy("chain_seq").execute();
    expect(trailAfter.slice(0, trailBefore.length)).toEqual(trailBefore);
    expect(trailAfter.slice(trailBefore.length).map((e) => e.action).sort()).toEqual(["job.data.purged", "job.data.purged", "job.data.purged", "retention.swept"]);
    expect((await verifyAuditChains(t.ownerDb, { practiceId: practice.practiceId })).breaks).toEqual([]);
  }, 120_000);

});
