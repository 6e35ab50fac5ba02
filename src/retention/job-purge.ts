// Sweep `job-purge`: RETENTION_JOB_DATA_DAYS after a job was completed or cancelled, every blob of
// the job (uploads, proofs, print file, anything else under its blob prefix) is deleted through Blob
// Batch, its encrypted letter and free-text fields are erased, its file rows become `purged`, and
// `purged_at` is set: the job row stays as a PHI-free record. Each purged job gets a certificate of
// destruction, recorded as an unchangeable manifest (manifest.ts: what was deleted, when, by which
// run) whose SHA-256 goes into its job.data.purged event; the PDF is rendered from it on download
// (ADR 0018), never inside the sweep. Each batch a retention.swept event. Practices are found by a
// SECURITY DEFINER function returning ids only; each batch runs in the practice's own tenant context.
import { sql } from "kysely";
import type { AuditAction } from "../audit/actions.ts";
import { recordAudit } from "../audit/record.ts";
import { jobTarget } from "../jobs/service.ts";
import type { BlobStore } from "../platform/blob.ts";
import { type Db, type Tx, withTenant } from "../platform/db.ts";
import type { Job } from "../platform/schema.ts";
import { findPractice } from "../practices/repo.ts";
import { proofBlobName } from "../proofs/render-proof.ts";
import { DAY_MS } from "./abandoned-drafts.ts";
import { type ManifestItem, sealManifest } from "./manifest.ts";
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
/** What storage holds under jobs' prefixes, by job id (listJobBlobs). */
export type JobListing = Map<string, { name: string; size: number }[]>;

/**
 * One listing of a practice's job blobs (`practices/{p}/jobs/`, 5,000 names a page) instead of one
 * per job: the safety net for blobs the database does not name. Keeps only the jobs `keep` accepts
 * (those due), so memory follows what the run will delete.
 */
export async function listJobBlobs(blob: BlobStore, practiceId: string, keep: (jobId: string) => boolean = () => true): Promise<JobListing> {
  const root = `practices/${practiceId}/jobs/`;
  const byJob: JobListing = new Map();
  for (const item of await blob.list(root)) {
    const jobId = item.name.slice(root.length).split("/", 1)[0]!;
    if (!keep(jobId)) continue;
    const list = byJob.get(jobId);
    if (list) list.push(item);
    else byJob.set(jobId, [item]);
  }
  return byJob;
}

const PURGED_ACTION: AuditAction = "job.data.purged";

/**
 * Purges a batch of ended jobs of the transaction's practice (locked by the caller), in bulk: one
 * query per table, all their blobs (those the rows name, and those `listing` found under each job's
 * prefix) deleted through Blob Batch across jobs, then one manifest row and one job.data.purged
 * event per job, each kind written by one statement. Storage first: should any of it fail, the
 * transaction rolls back and the next run deletes what is left (a blob already gone is not an
 * error), and its manifest still names every blob the rows say was stored, marked as already gone.
 */
export async function purgeJobs(
  tx: Tx, blob: BlobStore, jobs: readonly Job[], run: { cutoff: Date; sweep: PurgeSweep; runId: string; listing: JobListing },
): Promise<PurgedBatch> {
  if (jobs.length === 0) return { jobs: 0, blobs: 0, bytes: 0, single: 0 };
  const actor = `system:${run.sweep}` as const;
  const ids = jobs.map((j) => j.id);
  const practiceId = jobs[0]!.practice_id;
  const [files, proofs, prints, practice] = await Promise.all([
    tx.selectFrom("job_files").select(["job_id", "blob_name", "blob_lease_id", "kind", "size", "sha256", "status"]).where("job_id", "in", ids).execute(),
    tx.selectFrom("proofs").select(["id", "practice_id", "job_id", "blob_name", "bytes", "sha256", "status", "letterhead_logo_blob", "letterhead_logo_bytes", "letterhead_logo_sha256"]).where("job_id", "in", ids).execute(),
    tx.selectFrom("production_files").select(["id", "job_id", "blob_name", "bytes", "sha256", "status"]).where("job_id", "in", ids).execute(),
    findPractice(tx, practiceId),
  ]);
  // What the rows say each blob was. `stored`: the rows say it was written (a verified upload, a
  // ready proof or print file), so it belongs on the certificate even if storage no longer has it.
  type Known = { kind: string; bytes: number | null; sha256: string | null; leaseId?: string | null; jobId: string; stored: boolean };
  const known = new Map<string, Known>();
  const num = (n: string | number | null) => (n === null ? null : Number(n));
  for (const f of files) known.set(f.blob_name, { kind: f.kind, bytes: num(f.size), sha256: f.sha256, leaseId: f.blob_lease_id, jobId: f.job_id, stored: f.status === "verified" });
  // A proof or print file names its blob once ready; a render that failed halfway may have left one
  // at the name its row's id gives (the renderers' naming), so that name is deleted too.
  for (const p of proofs) known.set(p.blob_name ?? proofBlobName(p), { kind: "proof", bytes: num(p.bytes), sha256: p.sha256, jobId: p.job_id, stored: p.status === "ready" && p.blob_name !== null });
  // A proof version's copy of the letterhead logo (src/proofs/request.ts), under the job's prefix.
  for (const p of proofs) if (p.letterhead_logo_blob) known.set(p.letterhead_logo_blob, { kind: "letterhead_logo", bytes: p.letterhead_logo_bytes, sha256: p.letterhead_logo_sha256, jobId: p.job_id, stored: true });
  for (const p of prints) known.set(p.blob_name ?? `practices/${practiceId}/jobs/${p.job_id}/production/${p.id}.pdf`, { kind: "print_file", bytes: num(p.bytes), sha256: p.sha256, jobId: p.job_id, stored: p.status === "ready" && p.blob_name !== null });

  // Deleted: every blob the rows name (one written after the listing included) and every blob listed.
  const items = new Map<string, ManifestItem[]>(ids.map((id) => [id, []]));
  const toDelete: { name: string; leaseId: string | null }[] = [];
  const listedNames = new Set<string>();
  for (const id of ids) {
    for (const { name, size } of run.listing.get(id) ?? []) {
      listedNames.add(name);
      const k = known.get(name);
      items.get(id)!.push(k ? { name, kind: k.kind, bytes: k.bytes ?? size, sha256: k.sha256, in_storage: true } : { name, kind: "unrecorded", bytes: size, sha256: null, in_storage: true });
      toDelete.push({ name, leaseId: k?.leaseId ?? null });
    }
  }
  for (const [name, k] of known) {
    if (listedNames.has(name)) continue;
    toDelete.push({ name, leaseId: k.leaseId ?? null });
    // A stored blob storage did not list was deleted by an earlier run that did not commit (killed
    // halfway): it still goes on the job's certificate, once, marked as already gone.
    if (k.stored) items.get(k.jobId)!.push({ name, kind: k.kind, bytes: k.bytes, sha256: k.sha256, in_storage: false });
  }
  const chunks: (typeof toDelete)[] = [];
  for (let i = 0; i < toDelete.length; i += DELETE_CHUNK) chunks.push(toDelete.slice(i, i + DELETE_CHUNK));
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

  const certificates = jobs.map((job) => {
    const sealed = sealManifest({
      certificate_id: crypto.randomUUID(), verification_id: certificateVerificationId(),
      practice: { id: practiceId, name: practice?.legal_name ?? practice?.name ?? "" },
      job: { id: job.id, reference: job.reference, status: job.status, ended_at: (job.completed_at ?? job.cancelled_at)?.toISOString() ?? null },
      purged_at: purgedAt.toISOString(), sweep: { name: run.sweep, run_id: run.runId, cutoff: run.cutoff.toISOString() },
      letter_erased: job.letter_body_enc !== null, items: items.get(job.id)!,
    });
    return { job, ...sealed };
  });
  await tx.insertInto("destruction_certificates").values(certificates.map(({ job, manifest: m, text, sha256 }) => ({
    id: m.certificate_id, practice_id: practiceId, job_id: job.id, job_reference: job.reference, verification_id: m.verification_id,
    items: JSON.stringify(m.items), blobs: m.blobs, bytes: m.bytes, letter_erased: m.letter_erased, purged_at: purgedAt,
    manifest: text, manifest_sha256: sha256, sweep_run_id: run.runId,
  }))).execute();
  // One statement for the batch's job.data.purged events: the chain trigger links row after row.
  // Every value is an id, a count, a flag or a hash (no free text), as recordAudit requires.
  await tx.insertInto("audit_events").values(certificates.map(({ job, manifest: m, sha256 }) => ({
    practice_id: practiceId, actor_type: "system", actor_id: actor, actor_role: null, ip: null, user_agent: null, request_id: null,
    action: PURGED_ACTION, target_type: jobTarget(job).type, target_id: jobTarget(job).id, outcome: "success",
    details: JSON.stringify({ blobs: m.blobs, bytes: m.bytes, letter_erased: m.letter_erased, verification_id: m.verification_id, manifest_sha256: sha256 }),
  }))).execute();
  return { jobs: jobs.length, blobs: certificates.reduce((n, c) => n + c.manifest.blobs, 0), bytes: certificates.reduce((n, c) => n + c.manifest.bytes, 0), single };
}

export function sweepJobPurge(deps: { db: Db; blob: BlobStore; days: number }, options: SweepOptions): Promise<SweepResult> {
  const { db, blob, days } = deps;
  return recordedSweep(db, "job-purge", options, async (cutoff, dryRun, runId) => {
    const endedBefore = new Date(cutoff.getTime() - days * DAY_MS);
    const { rows } = await sql<{ practice_id: string }>`
      SELECT p AS practice_id FROM retention_purgeable_job_practices(${endedBefore}) AS p`.execute(db);
    const totals = { practices: 0, jobs: 0, blobs: 0, bytes: 0, single_deletes: 0 };
    for (const { practice_id: practiceId } of rows) {
      let inPractice = 0;
      // The practice's job blobs listed once for the run, kept for the jobs due at the cutoff only.
      const due = dryRun ? new Set<string>() : new Set((await withTenant(db, { practiceId, actor: ACTOR }, (tx) =>
        dueJobs(tx, endedBefore).clearSelect().select("id").execute())).map((j) => j.id));
      const listing = dryRun ? new Map() : await listJobBlobs(blob, practiceId, (id) => due.has(id));
      for (;;) {
        const done = await withTenant(db, { practiceId, actor: ACTOR }, async (tx) => {
          if (dryRun) return (await dueJobs(tx, endedBefore).execute()).length;
          const batch = await dueJobs(tx, endedBefore).limit(options.batchSize).forUpdate().skipLocked().execute();
          if (batch.length === 0) return 0;
          const sum = await purgeJobs(tx, blob, batch, { cutoff, sweep: "job-purge", runId, listing });
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
