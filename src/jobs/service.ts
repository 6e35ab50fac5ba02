// Job use cases: create, edit, attest, submit, cancel, and the moves operators and the system
// make. Each checks the permission and the BAA gate itself (not only the route), asks the lifecycle
// module before any status change, and audits in the same transaction. Job events name the job by
// its reference, so the audit trail can be filtered by it and the job's timeline read from it.
import type { RequestMeta } from "../context.ts";
import { recordAudit } from "../audit/record.ts";
import { can, type Permission } from "../auth/permissions.ts";
import { assertCurrentBaa } from "../baa/service.ts";
import { type Db, setContext, type Tx, withContext } from "../platform/db.ts";
import type { Job, Role } from "../platform/schema.ts";
import { attestationStatement, isAttestationVersion } from "./attestation.ts";
import type { AttestationInput, JobDetailsInput } from "./forms.ts";
import { checkTransition, isCancellable, isEditable, type JobStatus, type LifecycleActor } from "./lifecycle.ts";
import { findAttestation, findJob, findVerifiedFile, insertAttestation, insertJob, moveJob, updateJob } from "./repo.ts";

export type JobDeps = { db: Db };
/** A practice member acting in their session's practice. */
export type MemberActor = { userId: string; practiceId: string; role: Role; request?: RequestMeta };

export class JobError extends Error {
  constructor(
    readonly code: "not_found" | "forbidden" | "not_allowed" | "not_editable" | "not_ready" | "conflict" | "stale_statement",
    message: string,
  ) {
    super(message);
  }
}

export function jobTarget(job: Pick<Job, "reference">) {
  return { type: "job", id: job.reference };
}

function memberLifecycle(actor: MemberActor): LifecycleActor {
  return { kind: "member", can: (permission) => can(actor.role, permission) };
}

/** A transaction in the member's practice, after checking the permission. */
export function asMember<T>(deps: JobDeps, actor: MemberActor, permission: Permission, fn: (tx: Tx) => Promise<T>): Promise<T> {
  if (!can(actor.role, permission)) return Promise.reject(new JobError("forbidden", "Your role does not allow this."));
  return withContext(deps.db, { actor: `user:${actor.userId}`, userId: actor.userId, practiceId: actor.practiceId }, fn);
}

/** The job, locked, or not_found (another practice's job is simply not there: RLS). */
export async function lockJob(tx: Tx, jobId: string): Promise<Job> {
  const job = /^[0-9a-f-]{36}$/i.test(jobId) ? await findJob(tx, jobId, { forUpdate: true }) : undefined;
  if (!job) throw new JobError("not_found", "There is no such job in this practice.");
  return job;
}

function memberAudit(actor: MemberActor) {
  return { type: "user" as const, id: actor.userId, role: actor.role };
}

export async function createJob(deps: JobDeps, actor: MemberActor, input: JobDetailsInput): Promise<Job> {
  return asMember(deps, actor, "jobs.write", async (tx) => {
    await assertCurrentBaa(tx, actor.practiceId);
    const job = await insertJob(tx, {
      practice_id: actor.practiceId, created_by: actor.userId, title: input.title, letter_type: input.letterType, mail_class: input.mailClass,
      return_name: input.returnName, return_line1: input.returnLine1, return_line2: input.returnLine2, return_city: input.returnCity,
      return_state: input.returnState, return_zip: input.returnZip,
    });
    await recordAudit(tx, {
      practiceId: actor.practiceId, actor: memberAudit(actor), action: "job.created", target: jobTarget(job), request: actor.request,
      details: { letter_type: job.letter_type, mail_class: job.mail_class },
    });
    return job;
  });
}

/** Saves the details of a job that is still editable (a draft, or changes were requested). */
export async function updateJobDetails(deps: JobDeps, actor: MemberActor, jobId: string, input: JobDetailsInput): Promise<Job> {
  return asMember(deps, actor, "jobs.write", async (tx) => {
    const job = await lockJob(tx, jobId);
    if (!isEditable(job.status)) throw new JobError("not_editable", "This job can no longer be changed.");
    const updated = await updateJob(tx, job.id, {
      title: input.title, letter_type: input.letterType, mail_class: input.mailClass, return_name: input.returnName,
      return_line1: input.returnLine1, return_line2: input.returnLine2, return_city: input.returnCity, return_state: input.returnState, return_zip: input.returnZip,
    });
    await recordAudit(tx, {
      practiceId: actor.practiceId, actor: memberAudit(actor), action: "job.updated", target: jobTarget(job), request: actor.request,
      details: { letter_type: updated.letter_type, mail_class: updated.mail_class },
    });
    return updated;
  });
}

/** Records the PHI attestation (once per job): who, when, from where, and which statement. */
export async function attestJob(deps: JobDeps, actor: MemberActor, jobId: string, input: AttestationInput): Promise<void> {
  await asMember(deps, actor, "jobs.write", async (tx) => {
    await assertCurrentBaa(tx, actor.practiceId);
    const job = await lockJob(tx, jobId);
    if (!isEditable(job.status)) throw new JobError("not_editable", "This job can no longer be changed.");
    if (await findAttestation(tx, job.id)) throw new JobError("conflict", "This job has already been attested.");
    if (!isAttestationVersion(input.statementVersion) || input.statementVersion !== attestationStatement().version) {
      throw new JobError("stale_statement", "The statement has changed since the page was loaded. Read it again and confirm.");
    }
    const statement = attestationStatement(input.statementVersion);
    await insertAttestation(tx, {
      practice_id: actor.practiceId, job_id: job.id, user_id: actor.userId, statement_version: statement.version, statement_sha256: statement.sha256,
      initials: input.initials, ip: actor.request?.ip ?? null, user_agent: actor.request?.userAgent || null,
    });
    await updateJob(tx, job.id, {});
    await recordAudit(tx, {
      practiceId: actor.practiceId, actor: memberAudit(actor), action: "job.attested", target: jobTarget(job), request: actor.request,
      details: { statement_version: statement.version, statement_sha256: statement.sha256 },
    });
  });
}

/** What a job still needs before it can be submitted, in words (empty when ready). */
export async function submitBlockers(tx: Tx, job: Job): Promise<string[]> {
  const missing: string[] = [];
  if (!(await findAttestation(tx, job.id))) missing.push("Confirm the PHI attestation.");
  if (!(await findVerifiedFile(tx, job.id, "recipients_csv"))) missing.push("Upload the recipient list (CSV) and wait until it is verified.");
  return missing;
}

/** Moves a job, after the lifecycle module agrees, and audits the move. */
export async function moveJobAs(
  tx: Tx,
  job: Job,
  to: JobStatus,
  who: { lifecycle: LifecycleActor; audit: Parameters<typeof recordAudit>[1]["actor"]; request?: RequestMeta },
  values: Parameters<typeof moveJob>[4] = {},
  details: Record<string, string | number | boolean | null> = {},
): Promise<Job> {
  const check = checkTransition(job.status, to, who.lifecycle);
  if (!check.ok) throw new JobError(check.reason === "forbidden" ? "forbidden" : "not_allowed", check.message);
  const moved = await moveJob(tx, job.id, job.status, to, values);
  if (!moved) throw new JobError("conflict", "Someone else changed this job at the same moment. Reload the page.");
  // The event belongs to the job's practice chain. Members are already in that context; operators
  // and the system act outside any practice, so enter it for the write.
  await setContext(tx, { practiceId: job.practice_id });
  await recordAudit(tx, {
    practiceId: job.practice_id, actor: who.audit, action: "job.status.changed", target: jobTarget(job), request: who.request,
    details: { from: job.status, to, ...details },
  });
  return moved;
}

export async function submitJob(deps: JobDeps, actor: MemberActor, jobId: string): Promise<Job> {
  return asMember(deps, actor, "jobs.write", async (tx) => {
    await assertCurrentBaa(tx, actor.practiceId);
    const job = await lockJob(tx, jobId);
    const blockers = await submitBlockers(tx, job);
    if (isEditable(job.status) && blockers.length) throw new JobError("not_ready", blockers.join(" "));
    return moveJobAs(tx, job, "submitted", { lifecycle: memberLifecycle(actor), audit: memberAudit(actor), request: actor.request }, {
      submitted_by: actor.userId, submitted_at: new Date(),
    });
  });
}

/** Cancels a job before production. The reason is kept on the job, never in the audit trail (free text). */
export async function cancelJob(deps: JobDeps, actor: MemberActor, jobId: string, reason: string): Promise<Job> {
  return asMember(deps, actor, "jobs.write", async (tx) => {
    const job = await lockJob(tx, jobId);
    if (!isCancellable(job.status)) throw new JobError("not_allowed", "Production has started: this job can no longer be cancelled.");
    return moveJobAs(tx, job, "cancelled", { lifecycle: memberLifecycle(actor), audit: memberAudit(actor), request: actor.request }, {
      cancelled_by: actor.userId, cancelled_at: new Date(), cancel_reason: reason,
    }, { reason_given: true });
  });
}
