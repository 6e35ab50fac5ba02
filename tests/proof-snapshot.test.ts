// The practice letterhead as it was at submission (issue 7 item 7, issue 9 item 3): each proof
// version records the practice-level values its letters print (name, phone, signer, letterhead
// logo copied under the job's prefix), and the proof and the print file render from that record.
// Settings changed after approval no longer strand the print file; a resubmission takes the new
// letterhead. Also: logos and signature images are refused above 4000 pixels a side.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { saveLetter } from "../src/jobs/service.ts";
import type { Job, Proof } from "../src/platform/schema.ts";
import { imageSize, imageSizeProblem, MAX_IMAGE_SIDE } from "../src/proofs/image-size.ts";
import { createTestApp, TEST_ORIGIN, type TestApp } from "./support/app.ts";
import { makeSignedPractice, TEST_PROFILE } from "./support/baa.ts";
import { type Client, clientAs } from "./support/browserless.ts";
import { actorOf, jobReadyToSubmit, LETTER_BODY, recipientsCsv } from "./support/jobs.ts";
import { type Member, type Person, sessionToken } from "./support/people.ts";
import { inflatedText } from "./support/pdf.ts";
import { png } from "./support/png.ts";
import { waitFor } from "./support/wait.ts";

let t: TestApp;
let admin: Member;

beforeAll(async () => {
  t = await createTestApp({ background: true });
  admin = await makeSignedPractice(t, "Snapshot Clinic");
}, 60_000);
afterAll(() => t.close());

/** The profile form as posted: the test practice's profile (support/baa.ts) with a DBA name printed on the letters. */
const PROFILE = { ...TEST_PROFILE, dbaName: "Riverbend Old Name", addressLine2: "", npi: "" };
const LETTERHEAD = {
  returnName: "Riverbend Records Office", returnLine1: "77 Letterhead Lane", returnLine2: "", returnCity: "Portland", returnState: "ME", returnZip: "04101",
  signerName: "Robin Old, MD", signerTitle: "Chief Medical Officer",
};

const proofsOf = (jobId: string) => t.ownerDb.selectFrom("proofs").selectAll().where("job_id", "=", jobId).orderBy("version").execute();
const blobBytes = (name: string) => t.blob.container.getBlobClient(name).downloadToBuffer();
/** The width in pixels of the (single) image drawn in a pdfkit PDF. */
const imageWidths = (pdf: Buffer) => [...pdf.toString("latin1").matchAll(/\/Subtype \/Image[\s\S]{0,200}?\/Width (\d+)|\/Width (\d+)[\s\S]{0,200}?\/Subtype \/Image/g)].map((m) => Number(m[1] ?? m[2]));

async function postLogo(person: Person, bytes: Uint8Array): Promise<Response> {
  const form = new FormData();
  form.set("logo", new File([bytes as Uint8Array<ArrayBuffer>], "logo.png", { type: "image/png" }));
  return t.app.request(`${TEST_ORIGIN}/practice/settings/logo`, {
    method: "POST", body: form, headers: { origin: TEST_ORIGIN, cookie: `__Host-plh_session=${await sessionToken(t, person)}` },
  });
}

/** Submits through the app and waits until proof `version` is ready. */
async function submitAndWait(client: Client, jobId: string, version = 1) {
  expect((await client.post(`/jobs/${jobId}/submit`, {})).status).toBeLessThan(400);
  return waitFor(`proof ${version}`, async () => (await proofsOf(jobId)).find((p) => p.version === version && p.status === "ready"));
}

/** A job whose letter is signed by the letterhead's signer (as the letter step offers it) and has no logo of its own. */
async function letterheadJob() {
  const job = await jobReadyToSubmit(t, admin, recipientsCsv(3));
  return saveLetter({ db: t.db, keys: t.config.keys.encryption }, actorOf(admin), job.id, { body: LETTER_BODY, signerName: LETTERHEAD.signerName, signerTitle: LETTERHEAD.signerTitle });
}

describe("the letterhead at submission", () => {
  test("changing the logo, signer, practice name and phone after approval: the print file still renders, from the approved proof's inputs; a resubmission uses the new letterhead", async () => {
    const client = await clientAs(t, admin);
    expect((await client.post("/practice/settings/profile", PROFILE)).status).toBe(303);
    expect((await client.post("/practice/settings/letterhead", LETTERHEAD)).status).toBe(303);
    expect((await postLogo(admin, png(37, 11))).status).toBe(303);
    const oldLogo = (await t.ownerDb.selectFrom("practice_letterheads").selectAll().where("practice_id", "=", admin.practiceId).executeTakeFirstOrThrow());

    const approvedJob = await letterheadJob();
    const revisedJob = await letterheadJob();
    const proof = await submitAndWait(client, approvedJob.id);
    const first = await submitAndWait(client, revisedJob.id);
    // The version records what the letters print; the logo is the job's own copy, not the settings' blob.
    expect(proof).toMatchObject({
      letterhead_name: "Riverbend Old Name", letterhead_phone: "4135550100", letterhead_signer_name: "Robin Old, MD", letterhead_signer_title: "Chief Medical Officer",
      letterhead_logo_sha256: oldLogo.logo_sha256, letterhead_logo_blob: `practices/${admin.practiceId}/jobs/${approvedJob.id}/letterhead/logo-${oldLogo.logo_sha256}.png`,
    });
    expect(proof.letterhead_at).toBeInstanceOf(Date);
    expect(imageWidths(await blobBytes(proof.blob_name!))).toContain(37);
    expect((await client.post(`/jobs/${approvedJob.id}/proofs/${proof.id}/approve`, { sha256: proof.sha256! })).status).toBe(303);
    // The print file waits for the queue; the settings change lands first or meanwhile, either way.
    expect((await client.post(`/jobs/${revisedJob.id}/proofs/${first.id}/changes`, { comment: "Wait for the new letterhead" })).status).toBe(303);

    // The admin changes everything practice-level the letters print.
    expect((await client.post("/practice/settings/profile", { ...PROFILE, dbaName: "Riverbend New Name", phone: "2075550199" })).status).toBe(303);
    expect((await client.post("/practice/settings/letterhead", { ...LETTERHEAD, signerName: "Casey New, DO", signerTitle: "Medical Director" })).status).toBe(303);
    expect((await postLogo(admin, png(53, 17))).status).toBe(303);
    // The settings' old logo blob is gone (replaced): the job's copy is what the print file reads.
    expect(await t.blob.inspect(oldLogo.logo_blob!)).toBeNull();

    const file = await waitFor("the print file", async () => {
      const row = await t.ownerDb.selectFrom("production_files").selectAll().where("job_id", "=", approvedJob.id).executeTakeFirst();
      return row?.status === "ready" || row?.status === "failed" ? row : null;
    }, 60_000);
    expect(file.error).toBeNull();
    expect(file.status).toBe("ready");
    expect(file.proof_id).toBe(proof.id);
    const pdf = await blobBytes(file.blob_name!);
    const text = inflatedText(pdf);
    for (const old of ["Robin Old, MD", "Riverbend Old Name"]) expect(text).toContain(old);
    for (const changed of ["Casey New, DO", "Riverbend New Name", "Medical Director"]) expect(text).not.toContain(changed);
    expect(new Set(imageWidths(pdf))).toEqual(new Set([37]));
    // The job page says so.
    const page = await (await client.get(`/jobs/${approvedJob.id}`)).text();
    expect(page).toMatch(/id="proof-letterhead"[^>]*>\s*This proof, and the print file made from it, use the practice letterhead \(practice name, phone, signer and logo\) as it was on /);
    // Rendered from the approved proof's inputs (print-file.ts refuses anything else): the same hash.
    const rendered = await t.ownerDb.selectFrom("audit_events").select(["outcome", "details"]).where("action", "=", "job.print_file.rendered").where("target_id", "=", approvedJob.reference).executeTakeFirstOrThrow();
    expect(rendered.outcome).toBe("success");
    const { gatherInputs } = await import("../src/proofs/inputs.ts");
    const { withContext } = await import("../src/platform/db.ts");
    const recomputed = await withContext(t.db, { actor: "system:test", practiceId: admin.practiceId }, async (tx) => {
      const job = await tx.selectFrom("jobs").selectAll().where("id", "=", approvedJob.id).executeTakeFirstOrThrow() as Job;
      return (await gatherInputs(tx, t, job, (await proofsOf(approvedJob.id))[0] as Proof)).inputsSha256;
    });
    expect(recomputed).toBe(proof.inputs_sha256!);

    // The job sent back for changes is resubmitted after the change: version 2 takes the new letterhead.
    const newLogo = (await t.ownerDb.selectFrom("practice_letterheads").select("logo_sha256").where("practice_id", "=", admin.practiceId).executeTakeFirstOrThrow()).logo_sha256!;
    await saveLetter({ db: t.db, keys: t.config.keys.encryption }, actorOf(admin), revisedJob.id, { body: LETTER_BODY, signerName: "Casey New, DO", signerTitle: "Medical Director" });
    const second = await submitAndWait(client, revisedJob.id, 2);
    expect(second).toMatchObject({ letterhead_name: "Riverbend New Name", letterhead_phone: "2075550199", letterhead_signer_name: "Casey New, DO", letterhead_logo_sha256: newLogo });
    expect(second.inputs_sha256).not.toBe(first.inputs_sha256);
    const secondPdf = await blobBytes(second.blob_name!);
    expect(inflatedText(secondPdf)).toContain("Riverbend New Name");
    expect(new Set(imageWidths(secondPdf))).toEqual(new Set([53]));
    // Version 1 still records the letterhead it was made from.
    expect((await proofsOf(revisedJob.id))[0]).toMatchObject({ letterhead_name: "Riverbend Old Name", letterhead_logo_sha256: oldLogo.logo_sha256 });
  }, 150_000);
});

describe("the job purge", () => {
  test("deletes a job's copy of the letterhead logo with its other blobs and names it on the certificate", async () => {
    const { cancelJob } = await import("../src/jobs/service.ts");
    const { sweepJobPurge } = await import("../src/retention/job-purge.ts");
    const client = await clientAs(t, admin);
    if (!(await t.ownerDb.selectFrom("practice_letterheads").select("logo_blob").where("practice_id", "=", admin.practiceId).executeTakeFirst())?.logo_blob) {
      expect((await postLogo(admin, png(37, 11))).status).toBe(303);
    }
    const job = await letterheadJob();
    const proof = await submitAndWait(client, job.id);
    const copy = proof.letterhead_logo_blob!;
    expect(copy).toStartWith(`practices/${admin.practiceId}/jobs/${job.id}/letterhead/`);
    expect(await t.blob.inspect(copy)).not.toBeNull();
    await cancelJob(t, actorOf(admin), job.id, "Not needed");
    await sweepJobPurge({ db: t.db, blob: t.blob, days: 30 }, { now: new Date("2031-01-01T00:00:00Z"), batchSize: 50 });
    expect(await t.blob.inspect(copy)).toBeNull();
    const certificate = await t.ownerDb.selectFrom("destruction_certificates").select("items").where("job_id", "=", job.id).executeTakeFirstOrThrow();
    expect(certificate.items).toContainEqual({ name: copy, kind: "letterhead_logo", bytes: proof.letterhead_logo_bytes, sha256: proof.letterhead_logo_sha256, in_storage: true });
  }, 60_000);
});

describe("image pixel limits", () => {
  /** A JPEG's first bytes: SOI, an APP0 segment, then a baseline start-of-frame with the given size. */
  function jpegHeader(width: number, height: number): Uint8Array {
    const app0 = [0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00];
    const sof = [0xff, 0xc0, 0x00, 0x11, 0x08, height >> 8, height & 0xff, width >> 8, width & 0xff, 0x03, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1];
    return new Uint8Array([0xff, 0xd8, ...app0, 0xff, 0xc4, 0x00, 0x04, 0x00, 0x00, ...sof]);
  }

  test("PNG and JPEG sizes are read from their headers; more than 4000 pixels a side is refused in words", () => {
    expect(imageSize(png(37, 11))).toEqual({ width: 37, height: 11 });
    expect(imageSize(jpegHeader(640, 480))).toEqual({ width: 640, height: 480 });
    expect(imageSize(new Uint8Array([1, 2, 3]))).toBeNull();
    expect(imageSizeProblem(png(MAX_IMAGE_SIDE, 1))).toBeNull();
    expect(imageSizeProblem(png(MAX_IMAGE_SIDE + 1, 1), "The logo")).toBe(
      "The logo is 4001 × 1 pixels; the limit is 4000 × 4000. Save a smaller copy (a letterhead logo needs no more than about 1200 pixels wide) and upload that.");
    expect(imageSizeProblem(jpegHeader(1, 60_000))).toContain("1 × 60000 pixels");
  });

  test("a letterhead logo of a few KB declaring 4001 pixels is refused with the reason; the letterhead keeps its logo", async () => {
    const before = await t.ownerDb.selectFrom("practice_letterheads").select("logo_sha256").where("practice_id", "=", admin.practiceId).executeTakeFirst();
    const wide = png(MAX_IMAGE_SIDE + 1, 2);
    expect(wide.length).toBeLessThan(20_000);
    const res = await postLogo(admin, wide);
    expect(res.status).toBe(422);
    expect(await res.text()).toContain("4001 × 2 pixels; the limit is 4000 × 4000");
    const after = await t.ownerDb.selectFrom("practice_letterheads").select("logo_sha256").where("practice_id", "=", admin.practiceId).executeTakeFirst();
    expect(after?.logo_sha256 ?? null).toBe(before?.logo_sha256 ?? null);
  }, 30_000);

  test("a job's logo upload declaring 4001 pixels is rejected when verified, with the reason", async () => {
    const { issueUploadUrl, completeUpload } = await import("../src/jobs/uploads.ts");
    const { sha256Hex } = await import("../src/platform/crypto.ts");
    const job = await jobReadyToSubmit(t, admin, recipientsCsv(1));
    const bytes = png(2, MAX_IMAGE_SIDE + 1);
    const issued = await issueUploadUrl(t, actorOf(admin), job.id, { kind: "logo", name: "logo.png", size: bytes.length, type: "image/png", sha256: sha256Hex(bytes) });
    const put = await fetch(issued.uploadUrl, { method: "PUT", headers: { "x-ms-blob-type": "BlockBlob", "x-ms-blob-content-type": "image/png" }, body: new Uint8Array(bytes) });
    expect(put.status).toBe(201);
    const done = await completeUpload(t, actorOf(admin), job.id, issued.fileId);
    expect(done.outcome).toBe("rejected");
    expect(done.outcome === "rejected" ? done.reason : "").toContain("2 × 4001 pixels; the limit is 4000 × 4000");
  }, 30_000);
});
