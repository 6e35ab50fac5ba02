// Direct uploads: the browser sends a job's files straight to private blob storage, never through
// the app. The server issues a create/write-only SAS for one server-named blob (after the
// permission, the BAA, the attestation, the job's state, the kind, size and type, and a per-user
// rate limit), then verifies what arrived (exists, size, content type, first bytes, SHA-256 streamed
// in memory) and marks the file verified, or deletes the blob and records the exact reason. Every
// use case audits in the transaction of its change.
import type { Config } from "../config.ts";
import type { RequestMeta } from "../context.ts";
import { type RecipientReport, validateRecipients } from "../proofs/recipients.ts";
import { recordAudit } from "../audit/record.ts";
import { can, type Permission } from "../auth/permissions.ts";
import { assertCurrentBaa, BaaRequiredError, isBaaRequiredDbError } from "../baa/service.ts";
import type { BlobStore } from "../platform/blob.ts";
import type { Db, Tx } from "../platform/db.ts";
import type { Job, JobFile, JobFileKind } from "../platform/schema.ts";
import { findAttestation, findJob, findVerifiedFile, updateJob } from "./repo.ts";
import { isEditable } from "./lifecycle.ts";
import { asMember, JobError, jobTarget, lockJob, type MemberActor } from "./service.ts";
import { filesOfJob, findJobFile, issueUploadRow, markFileRejected, markFileReplaced, markFileVerified } from "./uploads-repo.ts";
import { imageSizeProblem } from "../proofs/image-size.ts";

export type UploadDeps = { db: Db; blob: BlobStore; config: Config };

/** Files of this size or smaller go in one Put Blob; larger ones as blocks of BLOCK_BYTES. */
export const SINGLE_PUT_MAX_BYTES = 4 * 1024 * 1024;
export const BLOCK_BYTES = 4 * 1024 * 1024;

export const FILE_KINDS = ["recipients_csv", "logo", "signature"] as const satisfies readonly JobFileKind[];

export type KindRule = {
  label: string;
  required: boolean;
  /** Content types accepted (the browser's File.type). */
  types: readonly string[];
  /** File name endings accepted (lower case). */
  extensions: readonly string[];
  /** The file input's accept attribute. */
  accept: string;
  family: "csv" | "image";
  hint: string;
};

export const KIND_RULES: Readonly<Record<JobFileKind, KindRule>> = {
  recipients_csv: {
    label: "Recipient list (CSV)", required: true, family: "csv",
    types: ["text/csv", "application/vnd.ms-excel", "text/plain"], extensions: [".csv"], accept: ".csv,text/csv",
    hint: "A .csv file saved as UTF-8, one recipient per row, with a header row.",
  },
  logo: {
    label: "Logo (optional)", required: false, family: "image",
    types: ["image/png", "image/jpeg"], extensions: [".png", ".jpg", ".jpeg"], accept: ".png,.jpg,.jpeg,image/png,image/jpeg",
    hint: "A PNG or JPEG image printed at the top of each letter.",
  },
  signature: {
    label: "Signature (optional)", required: false, family: "image",
    types: ["image/png", "image/jpeg"], extensions: [".png", ".jpg", ".jpeg"], accept: ".png,.jpg,.jpeg,image/png,image/jpeg",
    hint: "A PNG or JPEG image of the signature printed under each letter.",
  },
};

export function isFileKind(value: unknown): value is JobFileKind {
  return typeof value === "string" && (FILE_KINDS as readonly string[]).includes(value);
}

export function maxBytesFor(config: Config, kind: JobFileKind): number {
  return KIND_RULES[kind].family === "csv" ? config.uploads.maxCsvBytes : config.uploads.maxImageBytes;
}

export function blobNameFor(practiceId: string, jobId: string, fileId: string): string {
  return `practices/${practiceId}/jobs/${jobId}/${fileId}`;
}

// ---- errors -------------------------------------------------------------------------------------

export type UploadErrorCode =
  | "invalid" | "too_large" | "wrong_type" | "not_attested" | "not_editable" | "throttled" | "not_found" | "not_uploaded" | "already_decided"
  | "storage_error";

const STATUS: Record<UploadErrorCode, number> = {
  invalid: 422, too_large: 413, wrong_type: 415, not_attested: 403, not_editable: 409, throttled: 429, not_found: 404, not_uploaded: 409,
  already_decided: 409, storage_error: 503,
};

/** A refused upload step; `message` is written for the person, `status` is the HTTP answer. */
export class UploadError extends Error {
  readonly status: number;
  constructor(readonly code: UploadErrorCode, message: string, readonly retryAfterSeconds?: number) {
    super(message);
    this.name = "UploadError";
    this.status = STATUS[code];
  }
}

function memberAudit(actor: MemberActor) {
  return { type: "user" as const, id: actor.userId, role: actor.role };
}

/** SQLSTATEs the job_files guard trigger raises (migration 202611232300_jobs). */
function fromTrigger(error: unknown): never {
  const code = typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined;
  if (code === "JOB01") throw new UploadError("not_attested", ATTESTATION_FIRST);
  if (code === "JOB02") throw new UploadError("not_editable", NOT_EDITABLE);
  throw error;
}

const ATTESTATION_FIRST = "Confirm the PHI attestation for this job before uploading files (step 2 of the job).";
const NOT_EDITABLE = "This job can no longer be changed, so its files cannot be uploaded or replaced.";

// ---- issuing an upload URL ------------------------------------------------------------------------

export type UploadRequest = { kind: JobFileKind; name: string; size: number; type: string; sha256: string };

export type IssuedUpload = {
  fileId: string;
  kind: JobFileKind;
  uploadUrl: string;
  expiresAt: string;
  /** What the browser must send as x-ms-blob-content-type. */
  contentType: string;
  completeUrl: string;
  singlePutMaxBytes: number;
  blockBytes: number;
};

/** Checks a declared file against its kind's rules; the message says what to do. */
export function checkDeclaredFile(config: Config, input: UploadRequest): void {
  const rule = KIND_RULES[input.kind];
  const max = maxBytesFor(config, input.kind);
  const name = input.name.toLowerCase();
  if (!rule.types.includes(input.type) || !rule.extensions.some((e) => name.endsWith(e))) {
    throw new UploadError("wrong_type", rule.family === "csv"
      ? "The recipient list must be a .csv file (text/csv). Save the spreadsheet as \"CSV UTF-8\" and choose that file."
      : "The image must be a PNG or JPEG file (.png, .jpg or .jpeg).");
  }
  if (input.size > max) {
    throw new UploadError("too_large", `This file is ${formatBytes(input.size)}; the limit for ${rule.family === "csv" ? "a recipient list" : "an image"} is ${formatBytes(max)}.`);
  }
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 102.4) / 10} KB`;
  return `${Math.round(bytes / (1024 * 104.8576)) / 10} MB`;
}

const NO_SUCH_JOB = "There is no such job in this practice.";

/** What app_issue_upload_url raised, as the service's own errors. */
async function issuanceRefused(deps: UploadDeps, actor: MemberActor, error: unknown): Promise<never> {
  const e = (typeof error === "object" && error !== null ? error : {}) as { code?: unknown; detail?: unknown };
  if (e.code === "UPL04") throw new JobError("not_found", NO_SUCH_JOB);
  if (e.code === "UPL29") {
    const retryAfter = Math.max(1, Number(e.detail) || 60);
    throw new UploadError("throttled", `Too many upload attempts in a short time. Wait ${retryAfter} seconds, then try again.`, retryAfter);
  }
  // No current BAA: the service's gate names the admins to ask.
  if (isBaaRequiredDbError(error)) return assertBaaAgain(deps, actor);
  return fromTrigger(error);
}

/**
 * Records a pending file and returns a create/write-only SAS URL for its blob. `sasSeconds` is an
 * internal option (tests of expiry); the route always uses UPLOAD_SAS_MINUTES. The checks, the
 * rate limit, the file and its audit event are one database statement (uploads-repo
 * issueUploadRow): the refusals come in the order not found, BAA, not editable, not attested,
 * declared file, rate limit.
 */
export async function issueUploadUrl(
  deps: UploadDeps, actor: MemberActor, jobId: string, input: UploadRequest, options: { sasSeconds?: number } = {},
): Promise<IssuedUpload> {
  const seconds = options.sasSeconds ?? deps.config.uploads.sasMinutes * 60;
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 600) throw new RangeError("issueUploadUrl: sasSeconds must be 1-600");
  if (!can(actor.role, "jobs.write")) throw new JobError("forbidden", "Your role does not allow this.");
  if (!/^[0-9a-f-]{36}$/i.test(jobId)) throw new JobError("not_found", NO_SUCH_JOB);
  jobId = jobId.toLowerCase(); // as the database spells it: the blob name and links are built from it
  let declaredProblem: unknown = null;
  try {
    checkDeclaredFile(deps.config, input);
  } catch (error) {
    declaredProblem = error;
  }
  const fileId = crypto.randomUUID();
  const expiresAt = new Date(Date.now() + seconds * 1000);
  const blobName = blobNameFor(actor.practiceId, jobId, fileId);
  const issued = await issueUploadRow(deps.db, {
    actor: `user:${actor.userId}`, practiceId: actor.practiceId, userId: actor.userId, role: actor.role, jobId, checkOnly: declaredProblem !== null,
    file: {
      id: fileId, kind: input.kind, blob_name: blobName, declared_name: input.name, declared_size: input.size, declared_type: input.type,
      declared_sha256: input.sha256, upload_expires_at: expiresAt, blob_lease_id: crypto.randomUUID(),
    },
    perMinute: deps.config.uploads.urlsPerMinute,
    audit: { action: "job.upload_url.issued", ip: actor.request?.ip ?? null, userAgent: actor.request?.userAgent || null, requestId: actor.request?.requestId ?? null },
  }).catch((error) => issuanceRefused(deps, actor, error));
  if (declaredProblem !== null) throw declaredProblem;
  // Signed after the commit: a URL exists only for a recorded file.
  const uploadUrl = await deps.blob.uploadUrl(blobName, { seconds });
  return {
    fileId, kind: input.kind, uploadUrl, expiresAt: new Date(issued!.upload_expires_at).toISOString(),
    contentType: input.type, completeUrl: `/jobs/${jobId}/files/${fileId}/complete`,
    singlePutMaxBytes: SINGLE_PUT_MAX_BYTES, blockBytes: BLOCK_BYTES,
  };
}

// ---- verifying an upload --------------------------------------------------------------------------

export type CsvSummary = Extract<RecipientReport, { ok: true }>;

async function checkRecipientList(blob: BlobStore, file: JobFile, maxRows: number): Promise<{ rejection: Rejection | null; report: CsvSummary | null }> {
  const report = await validateRecipients(await blob.readStream(file.blob_name, { leaseId: file.blob_lease_id ?? undefined }), { maxRows });
  if (!report.ok) return { rejection: { code: "csv_unusable", message: report.fatal }, report: null };
  if (report.valid === 0) return { rejection: { code: "csv_no_valid_rows", message: `None of the ${report.rows} rows can be mailed. Fix the rows listed and upload the list again.` }, report };
  return { rejection: null, report };
}

export type Rejection = { code: string; message: string };

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG_MAGIC = [0xff, 0xd8, 0xff];
const startsWith = (bytes: Uint8Array, magic: number[]) => bytes.length >= magic.length && magic.every((b, i) => bytes[i] === b);

/** The image format by magic number, or null. */
export function imageFormat(head: Uint8Array): "image/png" | "image/jpeg" | null {
  if (startsWith(head, PNG_MAGIC)) return "image/png";
  if (startsWith(head, JPEG_MAGIC)) return "image/jpeg";
  return null;
}

/**
 * Reads the blob once, in memory: SHA-256 of every byte, the first bytes, and for a CSV whether it
 * is UTF-8 text without NUL bytes. Returns the first reason to refuse it, or null.
 */
async function inspectContent(blob: BlobStore, file: JobFile): Promise<{ rejection: Rejection | null; sha256: string }> {
  const family = KIND_RULES[file.kind].family;
  const hash = new Bun.CryptoHasher("sha256");
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const head = new Uint8Array(16);
  let headLength = 0;
  let utf8 = true;
  let nul = false;
  // An image is kept whole (at most the image size limit) to read its pixel size from its header.
  const imageChunks: Uint8Array[] = [];
  await blob.readChunks(file.blob_name, (chunk) => {
    hash.update(chunk);
    if (family === "image") imageChunks.push(chunk);
    if (headLength < head.length) {
      const take = Math.min(head.length - headLength, chunk.length);
      head.set(chunk.subarray(0, take), headLength);
      headLength += take;
    }
    if (family === "csv") {
      if (!nul && chunk.includes(0)) nul = true;
      if (utf8) {
        try {
          decoder.decode(chunk, { stream: true });
        } catch {
          utf8 = false;
        }
      }
    }
  }, { leaseId: file.blob_lease_id ?? undefined });
  if (family === "csv" && utf8) {
    try {
      decoder.decode();
    } catch {
      utf8 = false;
    }
  }
  const sha256 = hash.digest("hex");
  const first = head.subarray(0, headLength);
  if (family === "csv") {
    const image = imageFormat(first);
    if (image) return { sha256, rejection: { code: "not_csv_image", message: `This file is a ${image === "image/png" ? "PNG" : "JPEG"} image, not a CSV recipient list.` } };
    if (nul) return { sha256, rejection: { code: "not_csv_binary", message: "This is not a CSV text file: it contains NUL bytes (a spreadsheet or other binary file?). Save it as \"CSV UTF-8\" and upload that." } };
    if (!utf8) return { sha256, rejection: { code: "not_utf8", message: "This CSV file is not UTF-8 text. Save it as \"CSV UTF-8\" and upload it again." } };
  } else {
    const image = imageFormat(first);
    if (!image) return { sha256, rejection: { code: "not_image", message: "This file is not a PNG or JPEG image." } };
    if (image !== file.declared_type) {
      return { sha256, rejection: { code: "image_type_mismatch", message: `This file is a ${image === "image/png" ? "PNG" : "JPEG"} image, but it was sent as ${file.declared_type}.` } };
    }
    const pixels = imageSizeProblem(Buffer.concat(imageChunks), "The image");
    if (pixels) return { sha256, rejection: { code: "image_dimensions", message: pixels } };
  }
  if (file.declared_sha256 && sha256 !== file.declared_sha256) {
    return { sha256, rejection: { code: "checksum_mismatch", message: "The file in storage is not the file you chose (its SHA-256 checksum differs). Upload it again." } };
  }
  return { sha256, rejection: null };
}

/** What the server finds in storage for a pending file: null when it passes, else why not. */
async function checkBlob(blob: BlobStore, file: JobFile, maxBytes: number, maxRows: number): Promise<{ rejection: Rejection | null; size: number | null; sha256: string | null; csv?: CsvSummary | null }> {
  // The lease first: from here on the browser's URL cannot change the bytes being checked.
  if (!file.blob_lease_id || !(await blob.lease(file.blob_name, file.blob_lease_id))) {
    throw new UploadError("not_uploaded", "The file has not arrived in storage. Upload it again.");
  }
  const facts = await blob.inspect(file.blob_name);
  if (!facts) throw new UploadError("not_uploaded", "The file has not arrived in storage. Upload it again.");
  const declared = Number(file.declared_size);
  if (facts.size !== declared) {
    return { size: facts.size, sha256: null, rejection: { code: "size_mismatch", message: `The file in storage is ${facts.size} bytes, but ${declared} bytes were declared. Upload it again.` } };
  }
  if (facts.size > maxBytes) {
    return { size: facts.size, sha256: null, rejection: { code: "too_large", message: `The file is larger than the limit of ${formatBytes(maxBytes)}.` } };
  }
  if ((facts.contentType ?? "") !== file.declared_type) {
    return {
      size: facts.size, sha256: null,
      rejection: { code: "content_type_mismatch", message: `The file was stored as "${(facts.contentType ?? "no type").slice(0, 60)}", but "${file.declared_type.slice(0, 60)}" was declared. Upload it again.` },
    };
  }
  const content = await inspectContent(blob, file);
  if (content.rejection || KIND_RULES[file.kind].family !== "csv") return { size: facts.size, sha256: content.sha256, rejection: content.rejection };
  // A recipient list is also read as one: the columns it offers the letter and what is wrong with
  // which rows (row numbers and reasons, never values), or why it cannot be used at all.
  const csv = await checkRecipientList(blob, file, maxRows);
  return { size: facts.size, sha256: content.sha256, rejection: csv.rejection, csv: csv.report };
}

export type CompletedUpload =
  | { outcome: "verified"; file: JobFile; replaced: JobFile | null }
  | { outcome: "rejected"; file: JobFile; reason: string };

/** The job and its pending file, before any storage work (no lock held while reading the blob). */
async function pendingFile(tx: Tx, actor: MemberActor, jobId: string, fileId: string): Promise<{ job: Job; file: JobFile }> {
  const job = await lockJob(tx, jobId);
  const file = /^[0-9a-f-]{36}$/i.test(fileId) ? await findJobFile(tx, job.id, fileId, { forUpdate: true }) : undefined;
  if (!file) throw new UploadError("not_found", "There is no such upload for this job.");
  if (file.status !== "pending") {
    throw new UploadError("already_decided", file.status === "verified" ? "This file has already been verified." : `This upload is ${file.status}; choose the file again to upload it.`);
  }
  if (!isEditable(job.status)) throw new UploadError("not_editable", NOT_EDITABLE);
  await assertCurrentBaa(tx, actor.practiceId);
  return { job, file };
}

/**
 * Verifies an uploaded blob and decides the file: verified (replacing the job's previous verified
 * file of that kind, whose blob is then deleted) or rejected (its blob deleted, the reason kept).
 * Throws UploadError, without changing anything, when the request itself is refused.
 */
export async function completeUpload(deps: UploadDeps, actor: MemberActor, jobId: string, fileId: string): Promise<CompletedUpload> {
  const { file } = await asMember(deps, actor, "jobs.write", (tx) => pendingFile(tx, actor, jobId, fileId));
  let check: Awaited<ReturnType<typeof checkBlob>>;
  try {
    check = await checkBlob(deps.blob, file, maxBytesFor(deps.config, file.kind), deps.config.uploads.maxRecipients);
  } catch (error) {
    if (error instanceof UploadError) throw error;
    throw new UploadError("storage_error", "Storage could not be reached to check the file. Try again in a moment.");
  }
  const decided = await asMember(deps, actor, "jobs.write", async (tx) => {
    const { job, file: current } = await pendingFile(tx, actor, jobId, fileId);
    const details = { file_id: current.id, kind: current.kind };
    if (check.rejection) {
      const rejected = await markFileRejected(tx, current.id, { reason: check.rejection.message, size: check.size });
      await recordAudit(tx, {
        practiceId: actor.practiceId, actor: memberAudit(actor), action: "job.file.rejected", outcome: "denied", target: jobTarget(job), request: actor.request,
        details: { ...details, reason: check.rejection.code },
      });
      return { outcome: "rejected" as const, file: rejected, reason: check.rejection.message };
    }
    const previous = await findVerifiedFile(tx, job.id, current.kind);
    let replaced: JobFile | null = null;
    if (previous) {
      replaced = await markFileReplaced(tx, previous.id);
      await recordAudit(tx, {
        practiceId: actor.practiceId, actor: memberAudit(actor), action: "job.file.replaced", target: jobTarget(job), request: actor.request,
        details: { file_id: previous.id, replaced_by: current.id, kind: current.kind },
      });
    }
    const verified = await markFileVerified(tx, current.id, { size: check.size!, sha256: check.sha256!, csv: check.csv ?? null });
    await updateJob(tx, job.id, {});
    await recordAudit(tx, {
      practiceId: actor.practiceId, actor: memberAudit(actor), action: "job.file.verified", target: jobTarget(job), request: actor.request,
      details: { ...details, size: check.size!, ...(check.csv ? { rows: check.csv.rows, invalid: check.csv.invalid } : {}) },
    });
    return { outcome: "verified" as const, file: verified, replaced };
  }).catch((error) => {
    if (isBaaRequiredDbError(error)) return assertBaaAgain(deps, actor);
    throw error;
  });
  // After the commit: the blob that lost is deleted (it stays leased to us until then).
  const loser = decided.outcome === "rejected" ? decided.file : decided.replaced;
  if (loser) await deps.blob.remove(loser.blob_name, { leaseId: loser.blob_lease_id ?? undefined }).catch(() => {});
  return decided;
}

/** The database's BAA gate fired (a race with a new BAA version): answer as the service's gate does. */
async function assertBaaAgain(deps: UploadDeps, actor: MemberActor): Promise<never> {
  await asMember(deps, actor, "jobs.read", (tx) => assertCurrentBaa(tx, actor.practiceId));
  throw new BaaRequiredError(actor.practiceId, [], "out_of_date");
}

// ---- reading ------------------------------------------------------------------------------------

/** What one kind's panel shows: the verified file, and the latest attempt when it is newer. */
export type KindFiles = { kind: JobFileKind; verified: JobFile | null; latest: JobFile | null };

export type UploadsOverview = {
  job: Job;
  attested: boolean;
  editable: boolean;
  kinds: KindFiles[];
};

export async function uploadsOverview(deps: Pick<UploadDeps, "db">, actor: MemberActor, jobId: string, permission: Permission = "jobs.write"): Promise<UploadsOverview> {
  return asMember(deps, actor, permission, async (tx) => {
    const job = /^[0-9a-f-]{36}$/i.test(jobId) ? await findJob(tx, jobId) : undefined;
    if (!job) throw new UploadError("not_found", "There is no such job in this practice.");
    const files = await filesOfJob(tx, job.id);
    const kinds = FILE_KINDS.map((kind) => {
      const ofKind = files.filter((f) => f.kind === kind);
      const verified = ofKind.find((f) => f.status === "verified") ?? null;
      const newest = ofKind.find((f) => f.status === "pending" || f.status === "rejected") ?? null;
      const latest = newest && (!verified || newest.created_at > verified.created_at) ? newest : null;
      return { kind, verified, latest };
    });
    return { job, attested: Boolean(await findAttestation(tx, job.id)), editable: isEditable(job.status), kinds };
  });
}

/** The job's reference for a refusal's audit target, or null (another practice's job: not there). */
export async function jobReferenceOf(deps: Pick<UploadDeps, "db">, actor: MemberActor, jobId: string): Promise<string | null> {
  if (!/^[0-9a-f-]{36}$/i.test(jobId)) return null;
  return asMember(deps, actor, "jobs.read", async (tx) =>
    (await tx.selectFrom("jobs").select("reference").where("id", "=", jobId).executeTakeFirst())?.reference ?? null,
  ).catch(() => null);
}
