// Fault: Blob storage (Azurite) stopped and started again. The app runs against an Azurite of this
// file's own that keeps its blobs on disk (the run's shared one is never stopped). While storage is
// down: /readyz answers 503 saying so; a request that needs storage gets a clear 503 page and
// changes nothing (an upload is not wrongly rejected, a BAA is not half-signed); a proof waiting to
// render is retried. Nothing is lost: when storage returns, readiness is 200, what was stored is
// intact, the waiting upload verifies, the proof renders, and new uploads work.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { TEST_PROFILE } from "./support/baa.ts";
import { saveProfile } from "../src/baa/service.ts";
import { attestationStatement } from "../src/jobs/attestation.ts";
import { attestJob, createJob } from "../src/jobs/service.ts";
import { sha256Hex } from "../src/platform/crypto.ts";
import { createTestApp, formPost, TEST_ORIGIN, type TestApp } from "./support/app.ts";
import { makeSignedPractice } from "./support/baa.ts";
import { expectAuditChainsIntact, type OwnAzurite, startOwnAzurite } from "./support/faults.ts";
import { actorOf, jobReadyToSubmit, recipientsCsv } from "./support/jobs.ts";
import { makePerson, type Member, sessionToken } from "./support/people.ts";
import { waitFor } from "./support/wait.ts";

let azurite: OwnAzurite;
let t: TestApp;
let admin: Member;
let cookie: string;

beforeAll(async () => {
  azurite = await startOwnAzurite();
  t = await createTestApp({ env: { AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString }, background: true });
  admin = await makeSignedPractice(t, "Storage Outage Practice");
  cookie = `__Host-plh_session=${await sessionToken(t, admin)}`;
}, 60_000);

afterAll(async () => {
  await azurite?.start().catch(() => {}); // back up, so the app's container can be removed
  await t?.close();
  await azurite?.destroy();
}, 30_000);

const send = (req: Request) => t.app.request(req);
const post = (path: string, body: Record<string, string>, headers: Record<string, string> = {}) => send(formPost(path, body, { cookie, ...headers }));
const csvBytes = (rows: number) => new TextEncoder().encode(recipientsCsv(rows));

/** Asks for an upload URL over HTTP and PUTs the list to storage; returns the pending file's id. */
async function uploadWithoutCompleting(jobId: string, bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const res = await post(`/jobs/${jobId}/files`, { kind: "recipients_csv", name: "list.csv", size: String(bytes.length), type: "text/csv", sha256: sha256Hex(bytes) }, { accept: "application/json" });
  expect(res.status).toBe(201);
  const issued = (await res.json()) as { fileId: string; uploadUrl: string };
  const put = await fetch(issued.uploadUrl, { method: "PUT", headers: { "x-ms-blob-type": "BlockBlob", "x-ms-blob-content-type": "text/csv" }, body: bytes });
  expect(put.status).toBe(201);
  return issued.fileId;
}

async function attestedDraft(): Promise<string> {
  const actor = actorOf(admin);
  const job = await createJob(t, actor, { title: "Outage list", letterType: "records_transfer", mailClass: "first_class", returnName: "Clinic", returnLine1: "1 Main St", returnLine2: null, returnCity: "Springfield", returnState: "MA", returnZip: "01103" });
  await attestJob(t, actor, job.id, { statementVersion: attestationStatement().version, confirm: "yes", initials: "AA" });
  return job.id;
}

const fileRow = (id: string) => t.ownerDb.selectFrom("job_files").select(["status", "sha256", "blob_name"]).where("id", "=", id).executeTakeFirstOrThrow();

test("storage down: readiness 503, clear 503 pages, nothing changed or lost; storage back: everything works again", async () => {
  // Before: a job with a verified list (stored), and a list that reached storage but is not yet checked.
  const stored = await jobReadyToSubmit(t, admin, recipientsCsv(4));
  const storedFile = await t.ownerDb.selectFrom("job_files").select(["id", "blob_name", "sha256"]).where("job_id", "=", stored.id).executeTakeFirstOrThrow();
  const waitingJob = await attestedDraft();
  const waitingBytes = csvBytes(3);
  const waitingFile = await uploadWithoutCompleting(waitingJob, waitingBytes);
  // Another practice whose admin is about to sign the BAA.
  const other = await makePerson(t, { practiceName: "Second Practice" });
  const otherActor = { userId: other.userId, practiceId: other.practiceId, sessionId: crypto.randomUUID() };
  await saveProfile({ db: t.db }, otherActor, TEST_PROFILE, { requestId: "fault-az-01", ip: "127.0.0.1", userAgent: "test" });
  const otherCookie = `__Host-plh_session=${await sessionToken(t, other)}`;
  const version = await t.ownerDb.selectFrom("baa_versions").select("id").orderBy("effective_at", "desc").orderBy("version", "desc").executeTakeFirstOrThrow();
  const sign = () => send(formPost("/baa/sign", { versionId: version.id, typedName: "Sam Second", title: "Administrator", authorized: "yes", consent: "yes" }, { cookie: otherCookie }));

  await azurite.stop();

  // Readiness says what is down.
  const ready = await send(new Request(`${TEST_ORIGIN}/readyz`));
  expect(ready.status).toBe(503);
  expect(await ready.json()).toEqual({ status: "unavailable", checks: { postgres: "ok", blob: "unavailable" }, message: "Not ready: Blob storage is not answering." });

  // Requests that need storage, all at once (each waits out the storage client's own retries,
  // about 15 s): checking the waiting upload, signing the BAA (its executed PDF), and submitting a
  // job, which needs only the database, while its proof waits for storage.
  const [checkJson, checkPage, refused, submitted] = await Promise.all([
    post(`/jobs/${waitingJob}/files/${waitingFile}/complete`, {}, { accept: "application/json" }),
    post(`/jobs/${waitingJob}/files/${waitingFile}/complete`, {}),
    sign(),
    post(`/jobs/${stored.id}/submit`, {}),
  ]);
  // The upload check: a clear 503 (JSON for upload.js, a page otherwise), and the file stays
  // pending: a storage outage is not a reason to reject someone's list.
  expect(checkJson.status).toBe(503);
  expect(((await checkJson.json()) as { message: string }).message).toContain("Storage could not be reached");
  expect(checkPage.status).toBe(503);
  expect(await checkPage.text()).toContain("Storage could not be reached to check the file. Try again in a moment.");
  expect((await fileRow(waitingFile)).status).toBe("pending");
  // The BAA: the generic handler answers with the storage page, and no signature exists without its PDF.
  expect(refused.status).toBe(503);
  expect(refused.headers.get("retry-after")).toBe("30");
  const refusedPage = await refused.text();
  expect(refusedPage).toContain("File storage is not answering right now");
  expect(refusedPage).not.toContain("Something went wrong");
  expect(await t.ownerDb.selectFrom("baa_signatures").select("id").where("practice_id", "=", other.practiceId).execute()).toEqual([]);
  // The submission: done; its render fails against the outage and is retried.
  expect(submitted.status).toBe(303);
  await waitFor("a render attempt that met the outage", () =>
    t.ownerDb.selectFrom("proofs").select("id").where("job_id", "=", stored.id).where("status", "=", "failed").executeTakeFirst());

  await azurite.start();

  expect((await send(new Request(`${TEST_ORIGIN}/readyz`))).status).toBe(200);
  // Nothing lost: the stored list is intact, byte for byte.
  const chunks: Uint8Array[] = [];
  for await (const chunk of await t.blob.readStream(storedFile.blob_name, {})) chunks.push(chunk);
  expect(sha256Hex(Buffer.concat(chunks))).toBe(storedFile.sha256!);
  // The waiting upload verifies now.
  const checked = await post(`/jobs/${waitingJob}/files/${waitingFile}/complete`, {}, { accept: "application/json" });
  expect(checked.status).toBe(200);
  expect(await fileRow(waitingFile)).toMatchObject({ status: "verified", sha256: sha256Hex(waitingBytes) });
  // The BAA can be signed, once.
  expect((await sign()).status).toBe(303);
  expect((await t.ownerDb.selectFrom("baa_signatures").select("id").where("practice_id", "=", other.practiceId).execute()).length).toBe(1);
  // The proof's retry renders it: one version, ready.
  await waitFor("the proof rendered after storage returned", () =>
    t.ownerDb.selectFrom("proofs").select("id").where("job_id", "=", stored.id).where("status", "=", "ready").executeTakeFirst(), 45_000);
  expect((await t.ownerDb.selectFrom("proofs").select("version").where("job_id", "=", stored.id).execute()).map((p) => p.version)).toEqual([1]);
  // New uploads work end to end.
  const freshJob = await attestedDraft();
  const freshFile = await uploadWithoutCompleting(freshJob, csvBytes(2));
  expect((await post(`/jobs/${freshJob}/files/${freshFile}/complete`, {}, { accept: "application/json" })).status).toBe(200);

  await expectAuditChainsIntact(t.ownerDb);
}, 120_000);
