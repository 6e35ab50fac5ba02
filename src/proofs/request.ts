// Asking for a proof: a new version row and its render job, written in the caller's transaction
// (submit, resubmit, retry), so the work exists exactly when the change commits. The version
// records the practice letterhead as it is now (snapshotLetterhead): the proof and the print file
// both render from that record, so a settings change later affects only later versions.
import type { BlobStore } from "../platform/blob.ts";
import type { Tx } from "../platform/db.ts";
import type { WorkSender } from "../platform/queue.ts";
import type { Job, Proof, ProofsTable } from "../platform/schema.ts";
import { letterSigner } from "../practices/letterhead.ts";
import { findLetterhead, findPractice } from "../practices/repo.ts";
import { readBlob } from "../practices/settings.ts";
import { findVerifiedFile } from "../jobs/repo.ts";
import { insertProof, nextProofVersion } from "./repo.ts";
import type { Insertable } from "kysely";

export const RENDER_PROOF = "render-proof";
export const RENDER_PRINT_FILE = "render-print-file";

/** `blob` copies the letterhead logo into the job's own storage; needed only when the letters use it. */
export type ProofRequestDeps = { queue?: WorkSender; blob?: BlobStore };

/** Where a job keeps its copy of a letterhead logo: under the job's prefix, named by content (never overwritten with other bytes). */
export function letterheadLogoBlobName(job: Pick<Job, "practice_id" | "id">, sha256: string, contentType: string): string {
  return `practices/${job.practice_id}/jobs/${job.id}/letterhead/logo-${sha256}.${contentType === "image/png" ? "png" : "jpg"}`;
}

type Snapshot = Pick<Insertable<ProofsTable>,
  "letterhead_at" | "letterhead_name" | "letterhead_phone" | "letterhead_signer_name" | "letterhead_signer_title"
  | "letterhead_logo_blob" | "letterhead_logo_sha256" | "letterhead_logo_bytes" | "letterhead_logo_content_type">;

/**
 * The practice-level values the letters print, as they are now: the practice's name and phone, the
 * signer (the job's own, else the letterhead's) and, when the job has no logo of its own, the
 * letterhead logo, copied into the job's storage. The letterhead row is locked, so a logo replaced
 * at the same moment (uploadLogo locks the row too and deletes the old blob only after committing)
 * is either the one copied here or not yet saved.
 */
export async function snapshotLetterhead(tx: Tx, blob: BlobStore | undefined, job: Job): Promise<Snapshot> {
  const [practice, letterhead, jobLogo] = await Promise.all([
    findPractice(tx, job.practice_id), findLetterhead(tx, job.practice_id, { forUpdate: true }), findVerifiedFile(tx, job.id, "logo"),
  ]);
  if (!practice) throw new Error("the job's practice is not readable here");
  const name = practice.dba_name ?? practice.legal_name ?? practice.name;
  const signer = letterSigner(job, letterhead);
  const snapshot: Snapshot = {
    letterhead_at: new Date(), letterhead_name: name, letterhead_phone: practice.phone ?? null,
    letterhead_signer_name: signer.name, letterhead_signer_title: signer.title,
  };
  if (jobLogo || !letterhead?.logo_blob) return snapshot;
  if (!blob) throw new Error("this process has no blob storage to copy the letterhead logo to");
  const copy = letterheadLogoBlobName(job, letterhead.logo_sha256!, letterhead.logo_content_type!);
  // A resubmission with the same logo finds its copy already there: same name, same bytes.
  if (!(await blob.inspect(copy))) await blob.putPrivate(copy, await readBlob(blob, letterhead.logo_blob), letterhead.logo_content_type!);
  return {
    ...snapshot, letterhead_logo_blob: copy, letterhead_logo_sha256: letterhead.logo_sha256, letterhead_logo_bytes: letterhead.logo_bytes,
    letterhead_logo_content_type: letterhead.logo_content_type,
  };
}

export async function requestProof(tx: Tx, deps: ProofRequestDeps, job: Job, requestedBy: string): Promise<Proof> {
  if (!deps.queue) throw new Error("this process has no background queue to send the proof to");
  const snapshot = await snapshotLetterhead(tx, deps.blob, job);
  const proof = await insertProof(tx, { practice_id: job.practice_id, job_id: job.id, version: await nextProofVersion(tx, job.id), requested_by: requestedBy, ...snapshot });
  await deps.queue.send(RENDER_PROOF, { proofId: proof.id, practiceId: job.practice_id }, { key: proof.id, tx });
  return proof;
}
