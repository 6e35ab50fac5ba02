// Proof use cases for practice members: the proof panel of a job, signed "view proof" links,
// approving (bound to the proof's SHA-256; the two-person rule), requesting changes, retrying a
// failed render, and the approval rule itself. Each checks the permission itself and audits in
// the same transaction; a refused link is audited as denied in its own.
import type { Config } from "../config.ts";
import type { RequestMeta } from "../context.ts";
import { recordAudit } from "../audit/record.ts";
import { can } from "../auth/permissions.ts";
import type { BlobStore } from "../platform/blob.ts";
import { signLink, verifyLink } from "../platform/crypto.ts";
import { type Db, type Tx, withContext } from "../platform/db.ts";
import type { WorkSender } from "../platform/queue.ts";
import type { Job, Practice, Proof } from "../platform/schema.ts";
import { findPractice } from "../practices/repo.ts";
import { asMember, JobError, jobTarget, lockJob, type MemberActor, moveJobAs } from "../jobs/service.ts";
import { findJob } from "../jobs/repo.ts";
import { PROOF_ATTEMPTS } from "./render-proof.ts";
import { findProof, insertProductionFile, latestProof, updateProof } from "./repo.ts";
import { RENDER_PRINT_FILE, requestProof } from "./request.ts";

export type ProofDeps = { db: Db; blob: BlobStore; config: Config; queue?: WorkSender };

/** A signed proof link lives this long; the read SAS it leads to, this many seconds. */
export const PROOF_LINK_MINUTES = 5;
export const PROOF_SAS_SECONDS = 60;

export class ProofError extends Error {
  constructor(readonly code: "link_invalid" | "not_found" | "stale" | "two_person" | "not_ready" | "forbidden", message: string) {
    super(message);
  }
}

const audited = (actor: MemberActor) => ({ type: "user" as const, id: actor.userId, role: actor.role });
const linkResource = (practiceId: string, proofId: string) => `proof:${practiceId}:${proofId}`;

export type ProofPanel = {
  job: Job;
  practice: Practice;
  proof: Proof | null;
  /** A fresh signed link to open the proof (proofs.view, ready proofs only). */
  viewPath: string | null;
  canReview: boolean;
  /** Why this person may not approve (the two-person rule), when that applies. */
  reviewBlocked: string | null;
  canRetry: boolean;
  attempts: number;
};

export function proofViewPath(config: Config, actor: { userId: string; practiceId: string }, jobId: string, proofId: string, now = Date.now()): string {
  const token = signLink(config.keys.hmac, { resource: linkResource(actor.practiceId, proofId), userId: actor.userId, expiresAt: new Date(now + PROOF_LINK_MINUTES * 60_000) });
  return `/jobs/${jobId}/proofs/${proofId}/view?token=${encodeURIComponent(token)}`;
}

function twoPersonBlock(practice: Practice, job: Job, actor: MemberActor): string | null {
  return practice.two_person_approval && job.submitted_by === actor.userId
    ? "Your practice uses the two-person rule: someone other than the person who submitted the job must approve its proof."
    : null;
}

/** What the job page shows about proofs (jobs.read: auditors see the state, never the PDF). */
export async function proofPanel(deps: ProofDeps, actor: MemberActor, jobId: string): Promise<ProofPanel> {
  return asMember(deps, actor, "jobs.read", async (tx) => {
    const job = /^[0-9a-f-]{36}$/i.test(jobId) ? await findJob(tx, jobId) : undefined;
    if (!job) throw new JobError("not_found", "There is no such job in this practice.");
    const [practice, proof] = await Promise.all([findPractice(tx, job.practice_id), latestProof(tx, job.id)]);
    const ready = proof?.status === "ready";
    return {
      job, practice: practice!, proof: proof ?? null,
      viewPath: ready && can(actor.role, "proofs.view") ? proofViewPath(deps.config, actor, job.id, proof!.id) : null,
      canReview: ready && job.status === "proof_ready" && can(actor.role, "proofs.approve"),
      reviewBlocked: ready && job.status === "proof_ready" ? twoPersonBlock(practice!, job, actor) : null,
      canRetry: job.status === "submitted" && proof?.status === "failed" && proof.attempts >= PROOF_ATTEMPTS && can(actor.role, "jobs.write"),
      attempts: proof?.attempts ?? 0,
    };
  });
}

/**
 * Follows a signed proof link: signature (constant time), expiry and key, then the session's user,
 * practice and role again; audits proof.viewed and returns a read URL valid PROOF_SAS_SECONDS,
 * shown inline and never cached. A bad link is audited as denied and refused.
 */
export async function openProof(deps: ProofDeps, actor: MemberActor, jobId: string, proofId: string, token: string, request: RequestMeta): Promise<string> {
  const check = verifyLink(deps.config.keys.hmac, token, { resource: linkResource(actor.practiceId, proofId), userId: actor.userId });
  const refuse = async (reason: string, message: string) => {
    await withContext(deps.db, { actor: `user:${actor.userId}`, userId: actor.userId, practiceId: actor.practiceId }, (tx) => recordAudit(tx, {
      practiceId: actor.practiceId, actor: audited(actor), action: "proof.viewed", outcome: "denied", target: { type: "route", id: "GET /jobs/:id/proofs/:proofId/view" },
      details: { reason }, request,
    }));
    return new ProofError("link_invalid", message);
  };
  if (!check.ok) {
    throw await refuse(check.reason, check.reason === "expired" ? "This proof link has expired. Open the job again for a fresh one." : "This proof link is not valid for you. Open the job and use the link there.");
  }
  if (!can(actor.role, "proofs.view")) throw await refuse("role", "Your role does not allow opening proofs.");
  const found = await asMember(deps, actor, "proofs.view", async (tx) => {
    const proof = /^[0-9a-f-]{36}$/i.test(proofId) ? await findProof(tx, proofId) : undefined;
    const job = proof && proof.job_id === jobId ? await findJob(tx, jobId) : undefined;
    if (!proof || !job || proof.status !== "ready" || !proof.blob_name) return null;
    await recordAudit(tx, {
      practiceId: actor.practiceId, actor: audited(actor), action: "proof.viewed", target: jobTarget(job), request,
      details: { proof_id: proof.id, version: proof.version },
    });
    return proof;
  });
  if (!found) throw await refuse("not_found", "There is no such proof for this job.");
  return deps.blob.readUrl(found.blob_name!, { seconds: PROOF_SAS_SECONDS, inline: true });
}

/** The proof under review, checked against what the reviewer saw (its id and SHA-256). */
async function proofUnderReview(tx: Tx, job: Job, seen: { proofId: string; sha256?: string }): Promise<Proof> {
  if (job.status !== "proof_ready") throw new JobError("not_allowed", "This job has no proof waiting for review.");
  const proof = await latestProof(tx, job.id);
  if (!proof || proof.status !== "ready") throw new ProofError("not_ready", "The proof is not ready yet.");
  if (proof.id !== seen.proofId || (seen.sha256 !== undefined && proof.sha256 !== seen.sha256)) {
    throw new ProofError("stale", "The proof changed since you opened it. Review the current proof before deciding.");
  }
  return proof;
}

/** Approves exactly the proof reviewed (bound to its SHA-256) and queues the print file. */
export async function approveProof(deps: ProofDeps, actor: MemberActor, jobId: string, seen: { proofId: string; sha256: string }): Promise<Job> {
  if (!deps.queue) throw new Error("this process has no background queue to send the print file to");
  const queue = deps.queue;
  return asMember(deps, actor, "proofs.approve", async (tx) => {
    const job = await lockJob(tx, jobId);
    const proof = await proofUnderReview(tx, job, seen);
    const practice = (await findPractice(tx, job.practice_id))!;
    const blocked = twoPersonBlock(practice, job, actor);
    if (blocked) throw new ProofError("two_person", blocked);
    const approved = await moveJobAs(tx, job, "approved", { lifecycle: { kind: "member", can: (p) => can(actor.role, p) }, audit: audited(actor), request: actor.request }, {
      approved_by: actor.userId, approved_at: new Date(), approved_proof_id: proof.id, approved_proof_sha256: proof.sha256,
    });
    await recordAudit(tx, {
      practiceId: actor.practiceId, actor: audited(actor), action: "proof.approved", target: jobTarget(job), request: actor.request,
      details: { proof_id: proof.id, version: proof.version, sha256: proof.sha256! },
    });
    await insertProductionFile(tx, { practice_id: job.practice_id, job_id: job.id, proof_id: proof.id });
    await queue.send(RENDER_PRINT_FILE, { jobId: job.id, practiceId: job.practice_id }, { key: job.id, tx });
    return approved;
  });
}

/** Sends the job back for changes; the comment stays on the proof (free text: never audited). */
export async function requestChanges(deps: ProofDeps, actor: MemberActor, jobId: string, input: { proofId: string; comment: string }): Promise<Job> {
  return asMember(deps, actor, "proofs.approve", async (tx) => {
    const job = await lockJob(tx, jobId);
    const proof = await proofUnderReview(tx, job, { proofId: input.proofId });
    await updateProof(tx, proof.id, { changes_comment: input.comment });
    const moved = await moveJobAs(tx, job, "changes_requested", { lifecycle: { kind: "member", can: (p) => can(actor.role, p) }, audit: audited(actor), request: actor.request });
    await recordAudit(tx, {
      practiceId: actor.practiceId, actor: audited(actor), action: "proof.changes_requested", target: jobTarget(job), request: actor.request,
      details: { proof_id: proof.id, version: proof.version },
    });
    return moved;
  });
}

/**
 * After the renderer gave up: a new proof version for the same submission. It records the
 * letterhead as it is now (nothing was approved yet, and the new proof shows what it records).
 */
export async function retryProof(deps: ProofDeps, actor: MemberActor, jobId: string): Promise<Proof> {
  return asMember(deps, actor, "jobs.write", async (tx) => {
    const job = await lockJob(tx, jobId);
    const last = await latestProof(tx, job.id);
    if (job.status !== "submitted" || last?.status !== "failed" || last.attempts < PROOF_ATTEMPTS) {
      throw new JobError("not_allowed", "There is no failed proof to render again.");
    }
    const proof = await requestProof(tx, deps, job, actor.userId);
    await recordAudit(tx, {
      practiceId: actor.practiceId, actor: audited(actor), action: "proof.retry_requested", target: jobTarget(job), request: actor.request,
      details: { proof_id: proof.id, version: proof.version },
    });
    return proof;
  });
}

/** Turns the two-person approval rule on or off (practice.settings: admins). */
export async function setApprovalRule(deps: { db: Db }, actor: MemberActor, twoPerson: boolean): Promise<void> {
  await asMember(deps, actor, "practice.settings", async (tx) => {
    await tx.updateTable("practices").set({ two_person_approval: twoPerson }).where("id", "=", actor.practiceId).execute();
    await recordAudit(tx, {
      practiceId: actor.practiceId, actor: audited(actor), action: "practice.approval_rule.changed", target: { type: "practice", id: actor.practiceId }, request: actor.request,
      details: { two_person: twoPerson },
    });
  });
}
