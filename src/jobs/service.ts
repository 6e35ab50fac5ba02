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
import type { WorkSender } from "../platform/queue.ts";
import type { BlobStore } from "../platform/blob.ts";
import { requestProof } from "../proofs/request.ts";
import { attestationStatement, isAttestationVersion } from "./attestation.ts";
import type { AttestationInput, JobDetailsInput } from "./forms.ts";
import { checkTransition, isCancellable, isEditable, type JobStatus, type LifecycleActor } from "./lifecycle.ts";
import { findAttestation, findJob, findVerifiedFile, insertAttestation, insertJob, moveJob, updateJob } from "./repo.ts";
import { decryptField, encryptField, type KeyRing } from "../platform/crypto.ts";
import type { JobFile, Practice } from "../platform/schema.ts";
import { findLetterhead, findPractice } from "../practices/repo.ts";
import { letterheadReturnAddress, type PracticeLetterhead } from "../practices/letterhead.ts";
import type { JobListQuery, LetterInput, LetterPreviewInput } from "./forms.ts";
import { allowedFields, checkLetter, type LetterPreview, letterProblem, previewLetter, starterLetter } from "./letters.ts";
import { type JobListItem, jobTimeline, listCurrentFiles, listJobs, recipientCsvFields, userNames } from "./repo.ts";
import { listTemplates, type TemplateSummary } from "./template-repo.ts";

/**
 * `queue` sends background work (a submitted job's proof); only submitting needs it, and `blob`
 * when the letters use the practice letterhead's logo (copied into the job's storage on submit).
 */
export type JobDeps = { db: Db; queue?: WorkSender; blob?: BlobStore };
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

export function memberAudit(actor: MemberActor) {
  return { type: "user" as const, id: actor.userId, role: actor.role };
}

/** The details step's answers as job columns. */
function detailColumns(input: JobDetailsInput) {
  return {
    title: input.title, letter_type: input.letterType, mail_class: input.mailClass, return_name: input.returnName, return_line1: input.returnLine1,
    return_line2: input.returnLine2, return_city: input.returnCity, return_state: input.returnState, return_zip: input.returnZip,
  };
}

export async function createJob(deps: JobDeps, actor: MemberActor, input: JobDetailsInput): Promise<Job> {
  return asMember(deps, actor, "jobs.write", async (tx) => {
    await assertCurrentBaa(tx, actor.practiceId);
    const job = await insertJob(tx, { practice_id: actor.practiceId, created_by: actor.userId, ...detailColumns(input) });
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
    await assertCurrentBaa(tx, actor.practiceId);
    if (!isEditable(job.status)) throw new JobError("not_editable", "This job can no longer be changed.");
    const updated = await updateJob(tx, job.id, detailColumns(input));
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
  if (!job.letter_body_enc) missing.push("Write the letter and save it.");
  else if (!job.letter_signer_name || !job.letter_signer_title) missing.push("Add the name and title of the person who signs the letter, and save it.");
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
    const submitted = await moveJobAs(tx, job, "submitted", { lifecycle: memberLifecycle(actor), audit: memberAudit(actor), request: actor.request }, {
      submitted_by: actor.userId, submitted_at: new Date(),
    });
    // Every submission (and resubmission after changes) renders a new proof version, from the
    // practice letterhead as it is now (recorded on the version: later settings changes do not reach it).
    await requestProof(tx, deps, submitted, actor.userId);
    return submitted;
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

// ---- the wizard, the letter, the dashboard and the job page (issue 6) ----------------------------

export type WizardStep = "details" | "attestation" | "uploads" | "letter" | "review";
export const WIZARD_STEPS: readonly WizardStep[] = ["details", "attestation", "uploads", "letter", "review"];

/** Letter use cases also need the column-encryption key ring (config.keys.encryption). */
export type LetterDeps = JobDeps & { keys: KeyRing };

/** Where a job's letter lives: bound into the ciphertext, so a body copied to another job fails to decrypt. */
export function letterContext(jobId: string): string {
  return `job-letter:${jobId}`;
}

/** A refused letter: unknown merge fields (named) or stray braces. */
export class LetterError extends Error {
  constructor(message: string, readonly unknown: string[]) {
    super(message);
  }
}

export type ReturnAddress = { returnName: string; returnLine1: string; returnLine2: string; returnCity: string; returnState: string; returnZip: string };

/** The return address a new job starts with: the letterhead's (practice settings), else the practice profile's. */
export function practiceReturnAddress(p: Practice, letterhead?: PracticeLetterhead | null): ReturnAddress {
  const a = letterheadReturnAddress(p, letterhead);
  return { returnName: a.name, returnLine1: a.line1, returnLine2: a.line2 ?? "", returnCity: a.city, returnState: a.state, returnZip: a.zip };
}

export type WizardState = {
  job: Job;
  practice: Practice;
  attestation: Awaited<ReturnType<typeof findAttestation>>;
  files: JobFile[];
  /** Steps that are finished, and the first one that is not (where "resume" goes). */
  done: Set<WizardStep>;
  resume: WizardStep;
  /** What submitting still needs, in words. */
  blockers: string[];
  /** Merge fields the letter may use. */
  fields: string[];
  /** The practice letterhead (practice settings): its logo and the signer letters start with. */
  letterhead: PracticeLetterhead | null;
};

export async function findInPractice(tx: Tx, jobId: string): Promise<Job> {
  const job = /^[0-9a-f-]{36}$/i.test(jobId) ? await findJob(tx, jobId) : undefined;
  if (!job) throw new JobError("not_found", "There is no such job in this practice.");
  return job;
}

export async function wizardState(tx: Tx, job: Job): Promise<WizardState> {
  const [practice, attestation, files, csvFields, letterhead] = await Promise.all([
    findPractice(tx, job.practice_id), findAttestation(tx, job.id), listCurrentFiles(tx, job.id), recipientCsvFields(tx, job.id), findLetterhead(tx, job.practice_id),
  ]);
  const done = new Set<WizardStep>(["details"]);
  if (attestation) done.add("attestation");
  if (files.some((f) => f.kind === "recipients_csv" && f.status === "verified")) done.add("uploads");
  if (job.letter_body_enc) done.add("letter");
  if (!isEditable(job.status)) done.add("review");
  return {
    job, practice: practice!, attestation, files, done,
    resume: WIZARD_STEPS.find((s) => !done.has(s)) ?? "review",
    blockers: isEditable(job.status) ? await submitBlockers(tx, job) : [],
    // The standard recipient columns and the verified list's extra columns, by the names the upload
    // check recorded (job_files.csv_fields): the list itself is never read here.
    fields: allowedFields(csvFields),
    letterhead: letterhead ?? null,
  };
}

/** A new job's starting values (jobs.write, BAA in force): the return address from the letterhead or profile. */
export async function newJobDefaults(deps: JobDeps, actor: MemberActor): Promise<ReturnAddress> {
  return asMember(deps, actor, "jobs.write", async (tx) => {
    await assertCurrentBaa(tx, actor.practiceId);
    return practiceReturnAddress((await findPractice(tx, actor.practiceId))!, await findLetterhead(tx, actor.practiceId));
  });
}

/**
 * The job as a wizard step needs it (jobs.write). Another practice's job is not_found; with `gate`
 * an editable job also needs the BAA in force (BaaRequiredError), checked after the job is found.
 */
export async function jobWizard(deps: JobDeps, actor: MemberActor, jobId: string, options: { gate?: boolean } = {}): Promise<WizardState> {
  return asMember(deps, actor, "jobs.write", async (tx) => {
    const job = await findInPractice(tx, jobId);
    if (options.gate && isEditable(job.status)) await assertCurrentBaa(tx, actor.practiceId);
    return wizardState(tx, job);
  });
}

/**
 * The letter, for reading or editing (proofs.view: the body may carry PHI, so auditors never get
 * it). A saved body is decrypted and the view audited; before that, the starter for the letter type.
 */
export async function readLetter(
  deps: LetterDeps, actor: MemberActor, jobId: string,
): Promise<{ state: WizardState; body: string; saved: boolean; templates: TemplateSummary[] }> {
  return asMember(deps, actor, "proofs.view", async (tx) => {
    const job = await findInPractice(tx, jobId);
    if (isEditable(job.status)) await assertCurrentBaa(tx, actor.practiceId);
    const state = await wizardState(tx, job);
    // The practice's saved templates (names only) for "Start from a template": for those who may edit.
    const templates = isEditable(job.status) && can(actor.role, "jobs.write") ? await listTemplates(tx) : [];
    if (!job.letter_body_enc) {
      return { state, body: starterLetter(job.letter_type, practiceName(state.practice)), saved: false, templates };
    }
    const body = decryptField(deps.keys, job.letter_body_enc, letterContext(job.id));
    await recordAudit(tx, {
      practiceId: actor.practiceId, actor: memberAudit(actor), action: "job.letter.viewed", target: jobTarget(job), request: actor.request,
      details: { length: body.length },
    });
    return { state, body, saved: true, templates };
  });
}

/** The name the practice signs with: its DBA, else its legal name, else its account name. */
export function practiceName(p: Practice): string {
  return p.dba_name ?? p.legal_name ?? p.name;
}

/**
 * The live preview of the letter being typed (jobs.write): the body filled from the made-up sample
 * recipient, never a real row. Nothing is stored and nothing is audited: the text comes from the
 * person's own editor and no PHI is read.
 */
export async function letterPreview(deps: JobDeps, actor: MemberActor, jobId: string, input: LetterPreviewInput): Promise<{ state: WizardState; preview: LetterPreview }> {
  return asMember(deps, actor, "jobs.write", async (tx) => {
    const job = await findInPractice(tx, jobId);
    if (isEditable(job.status)) await assertCurrentBaa(tx, actor.practiceId);
    const state = await wizardState(tx, job);
    return { state, preview: previewLetter(input.body, state.fields) };
  });
}

/** Saves the letter of an editable job, encrypted; refuses unknown merge fields by name. */
export async function saveLetter(deps: LetterDeps, actor: MemberActor, jobId: string, input: LetterInput): Promise<Job> {
  return asMember(deps, actor, "jobs.write", async (tx) => {
    const job = await lockJob(tx, jobId);
    await assertCurrentBaa(tx, actor.practiceId);
    if (!isEditable(job.status)) throw new JobError("not_editable", "This job can no longer be changed.");
    const allowed = allowedFields(await recipientCsvFields(tx, job.id));
    const check = checkLetter(input.body, allowed);
    const problem = letterProblem(check, allowed);
    if (problem) throw new LetterError(problem, check.unknown);
    const encrypted = encryptField(deps.keys, input.body, letterContext(job.id));
    const saved = await updateJob(tx, job.id, {
      letter_body_enc: encrypted, letter_key_id: encrypted.split(".")[1]!, letter_length: input.body.length, letter_fields: check.fields,
      letter_saved_by: actor.userId, letter_saved_at: new Date(), letter_signer_name: input.signerName, letter_signer_title: input.signerTitle,
    });
    await recordAudit(tx, {
      practiceId: actor.practiceId, actor: memberAudit(actor), action: "job.letter.saved", target: jobTarget(job), request: actor.request,
      details: { length: input.body.length, field_count: check.fields.length },
    });
    return saved;
  });
}

export const JOBS_PER_PAGE = 20;

/** A page of the practice's jobs for the dashboard (jobs.read: metadata only). */
export async function listPracticeJobs(deps: JobDeps, actor: MemberActor, query: JobListQuery): Promise<{ rows: JobListItem[]; total: number; page: number; pages: number; timeZone: string }> {
  return asMember(deps, actor, "jobs.read", async (tx) => {
    const practice = (await findPractice(tx, actor.practiceId))!;
    const { rows, total } = await listJobs(tx, { q: query.q, status: query.status }, { offset: (query.page - 1) * JOBS_PER_PAGE, limit: JOBS_PER_PAGE });
    return { rows, total, page: query.page, pages: Math.max(1, Math.ceil(total / JOBS_PER_PAGE)), timeZone: practice.time_zone };
  });
}

export type JobPageData = WizardState & {
  timeline: Awaited<ReturnType<typeof jobTimeline>>;
  names: Map<string, string>;
};

/** Everything the job page shows (jobs.read): details, files, attestation and the job's own audit events. Never the letter body. */
export async function jobPage(deps: JobDeps, actor: MemberActor, jobId: string): Promise<JobPageData> {
  return asMember(deps, actor, "jobs.read", async (tx) => {
    const job = await findInPractice(tx, jobId);
    const state = await wizardState(tx, job);
    const [timeline, names] = await Promise.all([
      jobTimeline(tx, actor.practiceId, job.reference),
      userNames(tx, [job.created_by, job.submitted_by, job.cancelled_by, job.approved_by, job.letter_saved_by]),
    ]);
    return { ...state, timeline, names };
  });
}

/** The job's status, for the live status fragment (jobs.read). */
export async function jobStatus(deps: JobDeps, actor: MemberActor, jobId: string): Promise<Pick<Job, "id" | "reference" | "status" | "updated_at"> & { timeZone: string }> {
  return asMember(deps, actor, "jobs.read", async (tx) => {
    const job = await findInPractice(tx, jobId);
    const practice = (await findPractice(tx, actor.practiceId))!;
    return { id: job.id, reference: job.reference, status: job.status, updated_at: job.updated_at, timeZone: practice.time_zone };
  });
}
