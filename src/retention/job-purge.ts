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

type Purged = { blobs: number; bytes: number; mode: "batch" | "single" };

async function purgeJob(tx: Tx, blob: BlobStore, job: Job, cutoff: Date): Promise<Purged> {
  const [files, proofs, prints, practice] = await Promise.all([
    tx.selectFrom("job_files").select(["blob_name", "blob_lease_id", "kind", "size", "sha256"]).where("job_id", "=", job.id).execute(),
    tx.selectFrom("proofs").select(["blob_name", "bytes", "sha256"]).where("job_id", "=", job.id).execute(),
    tx.selectFrom("production_files").select(["blob_name", "bytes", "sha256"]).where("job_id", "=", job.id).execute(),
    findPractice(tx, job.practice_id),
  ]);
  // What is in storage under the job's prefix is what gets deleted; the rows say what each blob was.
  const known = new Map<string, DestroyedItem & { leaseId?: string | null }>();
  for (const f of files) known.set(f.blob_name, { kind: f.kind, bytes: f.size === null ? null : Number(f.size), sha256: f.sha256, leaseId: f.blob_lease_id });
  for (const p of proofs) if (p.blob_name) known.set(p.blob_name, { kind: "proof", bytes: p.bytes === null ? null : Number(p.bytes), sha256: p.sha256 });
  for (const p of prints) if (p.blob_name) known.set(p.blob_name, { kind: "print_file", bytes: p.bytes === null ? null : Number(p.bytes), sha256: p.sha256 });
  const present = await blob.list(jobBlobPrefix(job.practice_id, job.id));
  const items: DestroyedItem[] = present.map(({ name, size }) => {
    const k = known.get(name);
    return k ? { kind: k.kind, bytes: k.bytes ?? size, sha256: k.sha256 } : { kind: "unrecorded", bytes: size, sha256: null };
  });
  // Storage first: should it fail, the transaction rolls back and the next run tries again.
  const { mode } = await blob.removeMany(present.map(({ name }) => ({ name, leaseId: known.get(name)?.leaseId ?? null })));

  const purgedAt = new Date();
  const letterErased = job.letter_body_enc !== null;
  await tx.updateTable("job_files").set({ status: "purged", declared_name: PURGED_FILE_NAME, csv_fields: null, csv_report: null, updated_at: sql`now()` })
    .where("job_id", "=", job.id).execute();
  await tx.updateTable("proofs").set({ changes_comment: null }).where("job_id", "=", job.id).execute();
  await tx.updateTable("jobs").set({
    letter_body_enc: null, letter_key_id: null, letter_length: null, letter_fields: null, letter_saved_by: null, letter_saved_at: null,
    letter_signer_name: null, letter_signer_title: null, cancel_reason: null, purged_at: purgedAt, updated_at: sql`now()`,
  }).where("id", "=", job.id).execute();

  const certificateId = crypto.randomUUID();
  const verificationId = certificateVerificationId();
  const pdf = await certificatePdf({
    verificationId, certificateId, practiceId: job.practice_id, practiceName: practice?.legal_name ?? practice?.name ?? "",
    jobReference: job.reference, jobStatus: job.status, endedAt: job.completed_at ?? job.cancelled_at, purgedAt, cutoff, items, letterErased,
    sweep: "job-purge",
  });
  const pdfBlob = `practices/${job.practice_id}/certificates/${certificateId}.pdf`;
  const pdfSha256 = sha256Hex(pdf);
  const bytes = items.reduce((n, i) => n + (i.bytes ?? 0), 0);
  await tx.insertInto("destruction_certificates").values({
    id: certificateId, practice_id: job.practice_id, job_id: job.id, job_reference: job.reference, verification_id: verificationId,
    items: JSON.stringify(items), blobs: items.length, bytes, letter_erased: letterErased, purged_at: purgedAt,
    pdf_blob: pdfBlob, pdf_sha256: pdfSha256, pdf_bytes: pdf.length,
  }).execute();
  await recordAudit(tx, {
    practiceId: job.practice_id, actor: { type: "system", id: ACTOR }, action: "job.data.purged", target: jobTarget(job),
    details: { blobs: items.length, bytes, letter_erased: letterErased, verification_id: verificationId, certificate_sha256: pdfSha256 },
  });
  // Last, so a refused insert leaves no blob (a failed commit after this leaves an unreferenced one).
  await blob.putPrivate(pdfBlob, pdf, "application/pdf");
  return { blobs: items.length, bytes, mode };
}

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
          const sum = { blobs: 0, bytes: 0, single: 0 };
          for (const job of batch) {
            const r = await purgeJob(tx, blob, job, cutoff);
            sum.blobs += r.blobs;
            sum.bytes += r.bytes;
            if (r.mode === "single") sum.single++;
          }
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
