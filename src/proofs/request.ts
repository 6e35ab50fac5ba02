// Asking for a proof: a new version row and its render job, written in the caller's transaction
// (submit, resubmit, retry), so the work exists exactly when the change commits.
import type { Tx } from "../platform/db.ts";
import type { WorkSender } from "../platform/queue.ts";
import type { Job, Proof } from "../platform/schema.ts";
import { insertProof, nextProofVersion } from "./repo.ts";

export const RENDER_PROOF = "render-proof";
export const RENDER_PRINT_FILE = "render-print-file";

export async function requestProof(tx: Tx, queue: WorkSender | undefined, job: Job, requestedBy: string): Promise<Proof> {
  if (!queue) throw new Error("this process has no background queue to send the proof to");
  const proof = await insertProof(tx, { practice_id: job.practice_id, job_id: job.id, version: await nextProofVersion(tx, job.id), requested_by: requestedBy });
  await queue.send(RENDER_PROOF, { proofId: proof.id, practiceId: job.practice_id }, { key: proof.id, tx });
  return proof;
}
