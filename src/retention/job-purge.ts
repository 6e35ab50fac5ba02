// Sweep `job-purge`: RETENTION_JOB_DATA_DAYS after a job was completed or cancelled, every blob of
// the job (uploads, proofs, print file, anything else under its blob prefix) is deleted through Blob
// Batch, its encrypted letter and free-text fields are erased, its file rows become `purged`, and
// `purged_at` is set: the job row stays as a PHI-free record. Each purged job gets a certificate of
// destruction (PDF in private blob storage, SHA-256 recorded in destruction_certificates) and a
// job.data.purged event; each batch a retention.swept event. Practices are found by a SECURITY
// DEFINER function returning ids only; each batch runs in the practice's own tenant context.
import { sql } from "kysely";
import { recordAudit } from "../audit/record.ts";
import { jobTarget } from "../jobs/service.ts";
import type { BlobStore } from "../platform/blob.ts";
import { sha256Hex } from "../platform/crypto.ts";
import { type Db, type Tx, withTenant } from "../platform/db.ts";
import type { DestroyedItem, Job } from "../platform/schema.ts";
import { findPractice } from "../practices/repo.ts";
import { DAY_MS } from "./abandoned-drafts.ts";
import { certificatePdf } from "./certificate-pdf.ts";
import { recordedSweep, type SweepOptions, type SweepResult } from "./runs.ts";

const ACTOR = "system:job-purge" as const;
/** What replaces an uploaded file's name (it may say who the letters are for) once purged. */
export const PURGED_FILE_NAME = "(deleted)";

/** A verification id people can read aloud: DC-XXXX-XXXX-XXXX (no 0/O, 1/I). */
export function certificateVerificationId(): string {
  const alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  const chars = [...bytes].map((b) => alphabet[b % 32]).join("");
  return `DC-${chars.slice(0, 4)}-${chars.slice(4, 8)}-${chars.slice(8, 12)}`;
}

export function jobBlobPrefix(practiceId: string, jobId: string): string {
  return `practices/${practiceId}/jobs/${jobId}/`;
}

/** Jobs of the transaction's practice whose data is due: ended at or before `endedBefore`, not purged. */
function dueJobs(tx: Tx, endedBefore: Date) {
  return tx.selectFrom("jobs").selectAll().where("purged_at", "is", null)
    .where((eb) => eb.or([
      eb.and([eb("status", "=", "completed"), eb("completed_at", "<=", endedBefore)]),
      eb.and([eb("status", "=", "cancelled"), eb("cancelled_at", "<=", endedBefore)]),
    ]))
    .orderBy("updated_at");
}

/** Listings and batch deletes in flight at once within a batch (Blob storage serves them in parallel). */
const STORAGE_CONCURRENCY = 8;
/** Blob Batch takes at most 256 sub-requests; removeMany splits larger lists into such requests. */
const DELETE_CHUNK = 256;

/** Runs `fn` over `items` with at most `limit` in flight; results in input order. */
async function inParallel<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  }));
  return out;
}

export type PurgeSweep = "job-purge" | "data-requests";
export type PurgedBatch = { jobs: number; blobs: number; bytes: number; single: number };

/**
 * Purges a batch of ended jobs of the transaction's practice (locked by the caller), in bulk: one
 * query per table, every job's prefix listed in parallel, all their blobs deleted through Blob Batch
 * across jobs, one certificate of destruction and one job.data.purged event per job. Storage first:
 * should any of it fail, the transaction rolls back and the next run lists and deletes what is left
 * (a blob already gone is not an error), so a run killed halfway is finished by the next one.
 */
export async function purgeJobs(tx: Tx, blob: BlobStore, jobs: readonly Job[], cutoff: Date, sweep: PurgeSweep): Promise<PurgedBatch> {
  if (jobs.length === 0) return { jobs: 0, blobs: 0, bytes: 0, single: 0 };
  const actor = `system:${sweep}` as const;
  const ids = jobs.map((j) => j.id);
  const practiceId = jobs[0]!.practice_id;
  const [files, proofs, prints, practice] = await Promise.all([
    tx.selectFrom("job_files").select(["job_id", "blob_name", "blob_lease_id", "kind", "size", "sha256", "status"]).where("job_id", "in", ids).execute(),
    tx.selectFrom("proofs").select(["job_id", "blob_name", "bytes", "sha256", "status"]).where("job_id", "in", ids).execute(),
    tx.selectFrom("production_files").select(["job_id", "blob_name", "bytes", "sha256", "status"]).where("job_id", "in", ids).execute(),
    findPractice(tx, practiceId),
  ]);
  // What is in storage under each job's prefix is what gets deleted; the rows say what each blob was.
  // `stored`: the rows say the blob was written (a verified upload, a ready proof or print file).
  type Known = DestroyedItem & { leaseId?: string | null; jobId: string; stored: boolean };
  const known = new Map<string, Known>();
  for (const f of files) known.set(f.blob_name, { kind: f.kind, bytes: f.size === null ? null : Number(f.size), sha256: f.sha256, leaseId: f.blob_lease_id, jobId: f.job_id, stored: f.status === "verified" });
  for (const p of proofs) if (p.blob_name) known.set(p.blob_name, { kind: "proof", bytes: p.bytes === null ? null : Number(p.bytes), sha256: p.sha256, jobId: p.job_id, stored: p.status === "ready" });
  for (const p of prints) if (p.blob_name) known.set(p.blob_name, { kind: "print_file", bytes: p.bytes === null ? null : Number(p.bytes), sha256: p.sha256, jobId: p.job_id, stored: p.status === "ready" });
  const listed = await inParallel(jobs, STORAGE_CONCURRENCY, (job) => blob.list(jobBlobPrefix(job.practice_id, job.id)));
  // A stored blob already gone was deleted by an earlier run of a purge that did not commit (killed
  // halfway): it still belongs on this job's certificate, once.
  const present = jobs.map((job, n) => {
    const names = new Set(listed[n]!.map((b) => b.name));
    const gone = [...known].filter(([name, k]) => k.jobId === job.id && k.stored && !names.has(name)).map(([name, k]) => ({ name, size: k.bytes ?? 0 }));
    return [...listed[n]!, ...gone];
  });
  const everything = listed.flat().map(({ name }) => ({ name, leaseId: known.get(name)?.leaseId ?? null }));
  const chunks: (typeof everything)[] = [];
  for (let i = 0; i < everything.length; i += DELETE_CHUNK) chunks.push(everything.slice(i, i + DELETE_CHUNK));
  const modes = await inParallel(chunks, STORAGE_CONCURRENCY, (chunk) => blob.removeMany(chunk));
  const single = modes.some((m) => m.mode === "single") ? 1 : 0;

  const purgedAt = new Date();
  await tx.updateTable("job_files").set({ status: "purged", declared_name: PURGED_FILE_NAME, csv_fields: null, csv_report: null, updated_at: sql`now()` })
    .where("job_id", "in", ids).execute();
  await tx.updateTable("proofs").set({ changes_comment: null }).where("job_id", "in", ids).where("changes_comment", "is not", null).execute();
  await tx.updateTable("jobs").set({
    letter_body_enc: null, letter_key_id: null, letter_length: null, letter_fields: null, letter_saved_by: null, letter_saved_at: null,
    letter_signer_name: null, letter_signer_title: null, cancel_reason: null, purged_at: purgedAt, updated_at: sql`now()`,
  }).where("id", "in", ids).execute();

  const certificates = [];
  let blobs = 0;
  let bytes = 0;
  for (const [n, job] of jobs.entries()) {
    const items: DestroyedItem[] = present[n]!.map(({ name, size }) => {
      const k = known.get(name);
      return k ? { kind: k.kind, bytes: k.bytes ?? size, sha256: k.sha256 } : { kind: "unrecorded", bytes: size, sha256: null };
    });
    const letterErased = job.letter_body_enc !== null;
    const certificateId = crypto.randomUUID();
    const verificationId = certificateVerificationId();
    const pdf = await certificatePdf({
      verificationId, certificateId, practiceId, practiceName: practice?.legal_name ?? practice?.name ?? "",
      jobReference: job.reference, jobStatus: job.status, endedAt: job.completed_at ?? job.cancelled_at, purgedAt, cutoff, items, letterErased, sweep,
    });
    const jobBytes = items.reduce((sum, i) => sum + (i.bytes ?? 0), 0);
    blobs += items.length;
    bytes += jobBytes;
    certificates.push({ job, items, letterErased, certificateId, verificationId, pdf, pdfSha256: sha256Hex(pdf), jobBytes });
  }
  await tx.insertInto("destruction_certificates").values(certificates.map((c) => ({
    id: c.certificateId, practice_id: practiceId, job_id: c.job.id, job_reference: c.job.reference, verification_id: c.verificationId,
    items: JSON.stringify(c.items), blobs: c.items.length, bytes: c.jobBytes, letter_erased: c.letterErased, purged_at: purgedAt,
    pdf_blob: certificateBlobName(practiceId, c.certificateId), pdf_sha256: c.pdfSha256, pdf_bytes: c.pdf.length,
  }))).execute();
  for (const c of certificates) {
    await recordAudit(tx, {
      practiceId, actor: { type: "system", id: actor }, action: "job.data.purged", target: jobTarget(c.job),
      details: { blobs: c.items.length, bytes: c.jobBytes, letter_erased: c.letterErased, verification_id: c.verificationId, certificate_sha256: c.pdfSha256 },
    });
  }
  // Last, so a refused insert leaves no blob (a failed commit after this leaves unreferenced ones).
  await inParallel(certificates, STORAGE_CONCURRENCY, (c) => blob.putPrivate(certificateBlobName(practiceId, c.certificateId), c.pdf, "application/pdf"));
  return { jobs: jobs.length, blobs, bytes, single };
}

const certificateBlobName = (practiceId: string, certificateId: string) => `practices/${practiceId}/certificates/${certificateId}.pdf`;

export function sweepJobPurge(deps: { db: Db; blob: BlobStore; days: number }, options: SweepOptions): Promise<SweepResult> {
  const { db, blob, days } = deps;
  return recordedSweep(db, "job-purge", options, async (cutoff, dryRun) => {
    const endedBefore = new Date(cutoff.getTime() - days * DAY_MS);
    const { rows } = await sql<{ practice_id: string }>`
      SELECT p AS practice_id FROM retention_purgeable_job_practices(${endedBefore}) AS p`.execute(db);
    const totals = { practices: 0, jobs: 0, blobs: 0, bytes: 0, single_deletes: 0 };
    for (const { practice_id: practiceId } of rows) {
      let inPractice = 0;
      for (;;) {
        const done = await withTenant(db, { practiceId, actor: ACTOR }, async (tx) => {
          if (dryRun) return (await dueJobs(tx, endedBefore).execute()).length;
          const batch = await dueJobs(tx, endedBefore).limit(options.batchSize).forUpdate().skipLocked().execute();
          if (batch.length === 0) return 0;
          const sum = await purgeJobs(tx, blob, batch, cutoff, "job-purge");
          await recordAudit(tx, {
            practiceId, actor: { type: "system", id: ACTOR }, action: "retention.swept",
            details: { sweep: "job-purge", cutoff: cutoff.toISOString(), jobs: batch.length, blobs: sum.blobs, bytes: sum.bytes, ...(sum.single ? { single_deletes: sum.single } : {}) },
          });
          totals.blobs += sum.blobs;
          totals.bytes += sum.bytes;
          totals.single_deletes += sum.single;
          return batch.length;
        });
        inPractice += done;
        if (dryRun || done < options.batchSize) break;
      }
      if (inPractice > 0) totals.practices++;
      totals.jobs += inPractice;
    }
    const { single_deletes, ...counts } = totals;
    return single_deletes ? totals : counts;
  });
}
