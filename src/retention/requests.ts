// Data requests (issue 8, items 4 and 5). An admin asks for:
// - an export: a queued worker (build-data-export, sent in the request's transaction) streams a ZIP
//   (practice profile, members, job metadata, the audit CSV, BAA signatures and executed PDFs, and
//   certificates of destruction when that table exists) into private blob storage, then emails the
//   admin a sign-in link (no PHI). The download is a signed link bound to that admin, valid until the
//   ZIP expires (7 days), checked again on use and redirected to a read SAS valid seconds; the sweep
//   `data-requests` purges the ZIP when it expires.
//   A build that fails is retried by pg-boss (EXPORT_ATTEMPTS in all, counted on the row); the last
//   failure, or a build whose worker died and left it queued past EXPORT_STALE_HOURS (the sweep),
//   ends it as `failed`, audited; an admin may then ask for it again (retryExport).
// - a deletion: typed confirmation (the practice's legal name), due 30 days later, withdrawable until
//   then. When due, the sweep closes the practice in one transaction: jobs not yet in production are
//   cancelled through the lifecycle, templates deleted, the letterhead cleared, members who belong to
//   no other practice anonymised (their email preferences and pending TOTP re-enrolment deleted, their
//   name and email on incident reports replaced: the reports are security records and stay), every membership and open invitation ended (kept members no longer see or reach
//   it), exports ended, sessions ended, the practice suspended; the request becomes `processing`.
//   Then, in bounded batches, every ended job's data is purged as the job-purge sweep does (blobs,
//   letters, a certificate of destruction per job). Jobs already in production or mailed cannot be
//   stopped: the print shop finishes them, and each is purged once completed (the hourly sweep).
//   When no job is left, whatever else the practice has in storage (logo, export ZIPs) is deleted,
//   the final certificate (PDF) stored and the request `completed`. The audit trail, the BAA record,
//   the certificates and the incident reports stay, as the law requires.
// Every step is audited in the practice's chain.
import PDFDocument from "pdfkit";
import { sql } from "kysely";
import type { Config } from "../config.ts";
import type { RequestMeta } from "../context.ts";
import { auditCsvStream } from "../audit/export.ts";
import { recordAudit } from "../audit/record.ts";
import { can, type Permission } from "../auth/permissions.ts";
import { findActiveMembership } from "../auth/repo.ts";
import type { BlobStore } from "../platform/blob.ts";
import { decryptField, sha256Hex, signLink, verifyLink } from "../platform/crypto.ts";
import { type Db, type Tx, withContext, withTenant } from "../platform/db.ts";
import type { Logger } from "../platform/log.ts";
import type { Mailer, ServiceMail } from "../platform/mail.ts";
import type { WorkSender } from "../platform/queue.ts";
import type { DataRequestsTable, Role } from "../platform/schema.ts";
import type { Selectable } from "kysely";
import { zipWriter } from "../platform/zip.ts";
import { findLetterhead } from "../practices/repo.ts";
import type { IncidentRow } from "../support/repo.ts";
import { incidentContext } from "../support/service.ts";
import { moveJobAs } from "../jobs/service.ts";
import { isCancellable, JOB_STATUSES } from "../jobs/lifecycle.ts";
import { type JobListing, listJobBlobs, purgeJobs } from "./job-purge.ts";
import { recordedSweep, type SweepOptions, type SweepResult } from "./runs.ts";

export const BUILD_DATA_EXPORT = "build-data-export";
export const EXPORT_DAYS = 7;
export const DELETION_DAYS = 30;
export const READ_SAS_SECONDS = 60;
/** Builds of one export: the first run and the queue's retries (BUILD_DATA_EXPORT's retryLimit + 1). */
export const EXPORT_ATTEMPTS = 3;
/** An export still queued this long after it was (re)queued lost its worker: the sweep fails it. */
export const EXPORT_STALE_HOURS = 6;
/** How long a certificate's download link on the page works. */
export const CERTIFICATE_LINK_MINUTES = 10;
const DAY = 86_400_000;
const SWEEP_ACTOR = "system:data-requests" as const;
const BUILD_ACTOR = "system:data-export" as const;

export type DataRequest = Selectable<DataRequestsTable>;
export type RequestActor = { userId: string; practiceId: string };

export class DataRequestError extends Error {
  constructor(
    readonly code: "not_allowed" | "confirmation" | "already_scheduled" | "not_found" | "not_withdrawable" | "not_retryable" | "link_invalid" | "not_ready",
    message: string,
  ) {
    super(message);
  }
}

function tenant(db: Db, actor: RequestActor) {
  return <T>(fn: (tx: Tx) => Promise<T>) => withContext(db, { actor: `user:${actor.userId}`, userId: actor.userId, practiceId: actor.practiceId }, fn);
}

async function roleFor(tx: Tx, actor: RequestActor, permission: Permission): Promise<Role> {
  const me = await findActiveMembership(tx, actor.practiceId, actor.userId);
  if (!me || !can(me.role, permission)) throw new DataRequestError("not_allowed", "Only a practice administrator can make data requests.");
  return me.role;
}

async function practiceRow(tx: Tx, practiceId: string) {
  return tx.selectFrom("practices").selectAll().where("id", "=", practiceId).executeTakeFirstOrThrow();
}

/** The name an admin must type to confirm a deletion: the legal name, else the practice's name. */
export const confirmationName = (p: { legal_name: string | null; name: string }) => p.legal_name ?? p.name;

// ---- the page -----------------------------------------------------------------------------------

export type RequestsOverview = {
  role: Role; canManage: boolean; practiceName: string; practiceStatus: string; confirmationName: string;
  requests: (DataRequest & { requesterName: string })[];
  /** Jobs in production or mailed now: a deletion falling due waits for each to be completed. */
  jobsInProduction: number;
};

export function requestsOverview(deps: { db: Db }, actor: RequestActor): Promise<RequestsOverview> {
  return tenant(deps.db, actor)(async (tx) => {
    const role = await roleFor(tx, actor, "audit.read");
    const practice = await practiceRow(tx, actor.practiceId);
    const requests = await tx.selectFrom("data_requests").selectAll().where("practice_id", "=", actor.practiceId)
      .orderBy("requested_at", "desc").limit(50).execute();
    const ids = [...new Set(requests.map((r) => r.requested_by))];
    const names = ids.length
      ? await tx.selectFrom("users").select(["id", "full_name"]).where("id", "in", ids).execute()
      : [];
    const nameOf = new Map(names.map((n) => [n.id, n.full_name]));
    const running = await tx.selectFrom("jobs").select((eb) => eb.fn.countAll<string>().as("n")).where("status", "in", ["in_production", "mailed"]).executeTakeFirstOrThrow();
    return {
      jobsInProduction: Number(running.n),
      role, canManage: can(role, "data_requests.manage"), practiceName: practice.legal_name ?? practice.name, practiceStatus: practice.status,
      confirmationName: confirmationName(practice), requests: requests.map((r) => ({ ...r, requesterName: nameOf.get(r.requested_by) ?? "A member" })),
    };
  });
}

// ---- export -------------------------------------------------------------------------------------

export async function requestExport(deps: { db: Db; queue?: WorkSender }, actor: RequestActor, request: RequestMeta): Promise<string> {
  const queue = deps.queue;
  if (!queue) throw new Error("this process has no background queue to send the export to");
  return tenant(deps.db, actor)(async (tx) => {
    const role = await roleFor(tx, actor, "data_requests.manage");
    const row = await tx.insertInto("data_requests")
      .values({ practice_id: actor.practiceId, kind: "export", status: "queued", requested_by: actor.userId, queued_at: sql`now()` })
      .returning("id").executeTakeFirstOrThrow();
    await queue.send(BUILD_DATA_EXPORT, { requestId: row.id, practiceId: actor.practiceId }, { key: row.id, tx });
    await recordAudit(tx, {
      practiceId: actor.practiceId, actor: { type: "user", id: actor.userId, role }, action: "data_request.export.requested",
      target: { type: "data_request", id: row.id }, request,
    });
    return row.id;
  });
}

export type ExportDeps = { db: Db; blob: BlobStore; mailer: Mailer; logger: Logger; config: Config };

async function* iterate(stream: ReadableStream<Uint8Array>): AsyncIterable<Uint8Array> {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

/** The queued worker: builds the ZIP, stores it, marks the request ready, emails the admin. */
export async function buildDataExport(deps: ExportDeps, data: { requestId: string; practiceId: string }): Promise<{ entries: number } | null> {
  const { db, blob } = deps;
  const ctx = { practiceId: data.practiceId, actor: BUILD_ACTOR };
  // Counted before the work, so an attempt that crashes the process counts too.
  const req = await withTenant(db, ctx, async (tx) => {
    const found = await tx.selectFrom("data_requests").selectAll().where("id", "=", data.requestId).where("kind", "=", "export").forUpdate().executeTakeFirst();
    if (!found || found.status !== "queued") return null; // already built, failed, or purged
    return tx.updateTable("data_requests").set({ attempts: sql`attempts + 1` }).where("id", "=", found.id).returningAll().executeTakeFirstOrThrow();
  });
  if (!req) return null;
  const blobName = `practices/${data.practiceId}/data-requests/${req.id}/export-${Date.now()}.zip`;
  try {
    // What the ZIP holds, read in one tenant transaction (the audit CSV streams in its own).
    const parts = await withTenant(db, { ...ctx, userId: req.requested_by }, async (tx) => {
      const practice = await practiceRow(tx, data.practiceId);
      const members = await tx.selectFrom("memberships as m").innerJoin("users as u", "u.id", "m.user_id")
        .select(["m.user_id", "u.full_name", "u.email", "m.role", "m.created_at as joined_at", "m.ends_at", "u.status"])
        .where("m.practice_id", "=", data.practiceId).orderBy("m.created_at").execute();
      // Job metadata only: never the letter, the title's recipients or any file's content.
      const jobs = await tx.selectFrom("jobs").select([
        "id", "reference", "letter_type", "mail_class", "status", "created_by", "created_at", "submitted_at", "approved_at", "cancelled_at",
        "production_started_at", "mailed_on", "mailed_pieces", "completed_at", "purged_at",
      ]).where("practice_id", "=", data.practiceId).orderBy("created_at").execute();
      const signatures = await tx.selectFrom("baa_signatures").selectAll().where("practice_id", "=", data.practiceId).orderBy("signed_at").execute();
      const { rows: present } = await sql<{ exists: boolean }>`SELECT to_regclass('public.destruction_certificates') IS NOT NULL AS exists`.execute(tx);
      let certificates: Record<string, unknown>[] | null = null;
      if (present[0]?.exists) {
        // Another feature's table: read only if it is there and readable here.
        certificates = await sql<Record<string, unknown>>`SELECT * FROM destruction_certificates WHERE practice_id = ${data.practiceId}::uuid`.execute(tx)
          .then((r) => r.rows).catch(() => null);
      }
      // The practice's letterhead (return address, signer, logo) and its own incident reports: their
      // descriptions are decrypted, since the reports belong to the practice (the ZIP is private).
      const letterhead = (await findLetterhead(tx, data.practiceId)) ?? null;
      const incidents = (await sql<IncidentRow>`SELECT * FROM incident_reports WHERE practice_id = ${data.practiceId}::uuid ORDER BY reported_at`.execute(tx)).rows
        .map(({ description_enc, key_id: _key, ...r }) => ({ ...r, description: decryptField(deps.config.keys.encryption, description_enc, incidentContext(r.id)) }));
      return { practice, members, jobs, signatures, certificates, letterhead, incidents };
    });
    const { stream, done } = blob.writeStream(blobName, "application/zip");
    const hash = new Bun.CryptoHasher("sha256");
    const zip = zipWriter((chunk) => {
      hash.update(chunk);
      return new Promise<void>((resolve, reject) => {
        if (stream.write(chunk, (error) => (error ? reject(error) : undefined))) resolve();
        else stream.once("drain", resolve);
      });
    });
    const p = parts.practice;
    await zip.add("README.txt", [
      `Data export of ${p.legal_name ?? p.name}, requested ${new Date(req.requested_at).toISOString()}, built ${new Date().toISOString()}.`,
      "practice.json: the practice profile. members.json: members (names, emails, roles, dates).",
      "jobs.json: mailing job metadata (no letters, no recipients). audit-log.csv: the practice's audit trail.",
      "baa/signatures.json and baa/*.pdf: BAA signature records and executed agreements.",
      "letterhead.json and letterhead/logo.*: the practice's letterhead (return address, signer, logo), when one was saved.",
      "incident-reports.json: security and privacy incidents reported from the practice, descriptions included.",
      "destruction-certificates.json: certificates of destruction of purged job data (each with its manifest: every file deleted, its size and SHA-256).",
      "",
    ].join("\n"));
    await zip.add("practice.json", json({
      id: p.id, name: p.name, legal_name: p.legal_name, dba_name: p.dba_name, status: p.status, time_zone: p.time_zone,
      address_line1: (p as Record<string, unknown>).address_line1 ?? null, address_line2: (p as Record<string, unknown>).address_line2 ?? null,
      city: p.city, state: p.state, postal_code: p.postal_code, phone: p.phone, npi: p.npi,
      privacy_officer_name: p.privacy_officer_name, privacy_officer_email: p.privacy_officer_email, created_at: p.created_at,
    }));
    await zip.add("members.json", json(parts.members));
    await zip.add("jobs.json", json(parts.jobs));
    await zip.add("audit-log.csv", iterate(auditCsvStream(db, { practiceId: data.practiceId, userId: req.requested_by, timeZone: "UTC" }, {})));
    await zip.add("baa/signatures.json", json(parts.signatures));
    for (const s of parts.signatures) await zip.add(`baa/${s.verification_id}.pdf`, await blob.readStream(s.pdf_blob));
    if (parts.letterhead) {
      await zip.add("letterhead.json", json(parts.letterhead));
      const logo = parts.letterhead.logo_blob;
      if (logo) await zip.add(`letterhead/logo.${parts.letterhead.logo_content_type === "image/png" ? "png" : "jpg"}`, await blob.readStream(logo));
    }
    await zip.add("incident-reports.json", json(parts.incidents));
    if (parts.certificates) await zip.add("destruction-certificates.json", json(parts.certificates));
    const bytes = await zip.finish();
    stream.end();
    await done;
    const sha256 = hash.digest("hex");
    const entries = zip.entries.length;
    const ready = await withTenant(db, ctx, async (tx) => {
      const updated = await tx.updateTable("data_requests")
        .set({ status: "ready", blob_name: blobName, sha256, bytes: String(bytes), processed_at: sql`now()`, expires_at: sql`now() + make_interval(days => ${EXPORT_DAYS})`, counts: JSON.stringify({ entries, jobs: parts.jobs.length, signatures: parts.signatures.length }) })
        .where("id", "=", req.id).where("status", "=", "queued").returning(["id"]).executeTakeFirst();
      if (!updated) return false;
      await recordAudit(tx, {
        practiceId: data.practiceId, actor: { type: "system", id: BUILD_ACTOR }, action: "data_request.export.built",
        target: { type: "data_request", id: req.id }, details: { entries, bytes, sha256, jobs: parts.jobs.length, signatures: parts.signatures.length },
      });
      return true;
    });
    if (!ready) {
      await blob.remove(blobName);
      return null;
    }
    await notifyExportReady(deps, req.requested_by, data.practiceId, p.name);
    return { entries };
  } catch (error) {
    await blob.remove(blobName).catch(() => {});
    // The message only (our errors and storage's carry ids, never PHI), for ops; the page says "failed".
    const message = (error instanceof Error ? error.message : String(error)).slice(0, 300);
    const final = req.attempts >= EXPORT_ATTEMPTS;
    const failed = await withTenant(db, ctx, async (tx) => {
      const row = await tx.updateTable("data_requests").set({ error: message, ...(final ? { status: "failed" as const } : {}) })
        .where("id", "=", req.id).where("status", "=", "queued").returning("id").executeTakeFirst();
      if (!row || !final) return false;
      await recordAudit(tx, {
        practiceId: data.practiceId, actor: { type: "system", id: BUILD_ACTOR }, action: "data_request.export.failed", outcome: "error",
        target: { type: "data_request", id: req.id }, details: { attempts: req.attempts, reason: "build_failed" },
      });
      return true;
    }).catch(() => false);
    deps.logger.warn({ err: error, request: req.id, attempts: req.attempts, final: failed }, "data export build failed");
    // No attempt left: the request says so; nothing for the queue to retry.
    if (failed) return null;
    throw error;
  }
}

/** An admin asks again for an export that failed: same request, queued afresh, attempts from zero. */
export async function retryExport(deps: { db: Db; queue?: WorkSender }, actor: RequestActor, requestId: string, request: RequestMeta): Promise<void> {
  const queue = deps.queue;
  if (!queue) throw new Error("this process has no background queue to send the export to");
  await tenant(deps.db, actor)(async (tx) => {
    const role = await roleFor(tx, actor, "data_requests.manage");
    const r = await tx.selectFrom("data_requests").selectAll().where("id", "=", requestId).forUpdate().executeTakeFirst();
    if (!r || r.kind !== "export") throw new DataRequestError("not_found", "No such export in this practice.");
    if (r.status !== "failed") throw new DataRequestError("not_retryable", "Only an export that failed can be asked for again.");
    await tx.updateTable("data_requests").set({ status: "queued", attempts: 0, error: null, queued_at: sql`now()` }).where("id", "=", r.id).execute();
    await queue.send(BUILD_DATA_EXPORT, { requestId: r.id, practiceId: actor.practiceId }, { key: r.id, tx });
    await recordAudit(tx, {
      practiceId: actor.practiceId, actor: { type: "user", id: actor.userId, role }, action: "data_request.export.retried",
      target: { type: "data_request", id: r.id }, details: { attempts: r.attempts }, request,
    });
  });
}

/** A service email (sent whatever the admin's email preferences): it answers the admin's own request. */
export function exportReadyEmail(to: string, input: { practiceName: string; days: number; link: string }): ServiceMail {
  return {
    category: "service",
    to,
    subject: "Your data export is ready",
    text: [
      `The data export you requested for ${input.practiceName} is ready. It can be downloaded for ${input.days} days, by you only, after signing in:`,
      input.link,
      "",
      "You receive this email because you requested the export. It never contains patient information.",
    ].join("\n"),
  };
}

async function notifyExportReady(deps: ExportDeps, userId: string, practiceId: string, practiceName: string): Promise<void> {
  try {
    const to = await withContext(deps.db, { actor: BUILD_ACTOR, userId, practiceId }, (tx) =>
      tx.selectFrom("users").select(["email", "status"]).where("id", "=", userId).executeTakeFirst());
    if (!to || to.status !== "active") return;
    await deps.mailer.send(exportReadyEmail(to.email, { practiceName, days: EXPORT_DAYS, link: `${deps.config.appOrigin}/retention/requests` }));
  } catch (error) {
    deps.logger.error({ err: error }, "could not send the export-ready email");
  }
}

// ---- signed downloads -----------------------------------------------------------------------------

function linkResource(practiceId: string, requestId: string): string {
  return `data-request:${practiceId}:${requestId}`;
}

/** The export's link: for its requester only, until the ZIP expires. A certificate's: any reader, minutes. */
export function downloadPath(config: Config, actor: RequestActor, r: Pick<DataRequest, "id" | "kind" | "expires_at">, now = Date.now()): string {
  const expiresAt = r.kind === "export" && r.expires_at ? new Date(r.expires_at) : new Date(now + CERTIFICATE_LINK_MINUTES * 60_000);
  const token = signLink(config.keys.hmac, { resource: linkResource(actor.practiceId, r.id), userId: actor.userId, expiresAt });
  return `/retention/requests/${r.id}/download?token=${encodeURIComponent(token)}`;
}

/** Follows a download link: checked again (link, membership, requester, state), audited, then a read SAS. */
export async function openDownload(deps: { db: Db; blob: BlobStore; config: Config }, actor: RequestActor, requestId: string, token: string, request: RequestMeta): Promise<string> {
  const refuse = async (reason: string, error: DataRequestError) => {
    await tenant(deps.db, actor)((tx) => recordAudit(tx, {
      practiceId: actor.practiceId, actor: { type: "user", id: actor.userId }, action: "data_request.downloaded", outcome: "denied",
      target: { type: "data_request", id: requestId }, details: { reason }, request,
    }));
    return error;
  };
  const check = verifyLink(deps.config.keys.hmac, token, { resource: linkResource(actor.practiceId, requestId), userId: actor.userId });
  if (!check.ok) throw await refuse(check.reason, new DataRequestError("link_invalid", check.reason === "expired" ? "This download link has expired." : "This download link is not valid for you."));
  const found = await tenant(deps.db, actor)(async (tx) => {
    const role = await roleFor(tx, actor, "audit.read");
    const r = await tx.selectFrom("data_requests").selectAll().where("id", "=", requestId).executeTakeFirst();
    const no = (error: "not_found" | "not_requester" | "not_ready") => ({ row: null, error });
    if (!r) return no("not_found");
    if (r.kind === "export" && (r.requested_by !== actor.userId || !can(role, "data_requests.manage"))) return no("not_requester");
    if (!r.blob_name || (r.kind === "export" && (r.status !== "ready" || !r.expires_at || new Date(r.expires_at) <= new Date()))) return no("not_ready");
    await recordAudit(tx, {
      practiceId: actor.practiceId, actor: { type: "user", id: actor.userId, role }, action: "data_request.downloaded",
      target: { type: "data_request", id: r.id }, details: { kind: r.kind, sha256: r.sha256 }, request,
    });
    return { row: r, error: null };
  });
  if (found.error !== null) {
    if (found.error === "not_found") throw new DataRequestError("not_found", "No such data request in this practice.");
    throw await refuse(found.error, new DataRequestError(found.error === "not_ready" ? "not_ready" : "link_invalid",
      found.error === "not_ready" ? "This export is no longer available. Request a new one." : "This download link is not valid for you."));
  }
  const r = found.row!;
  const day = new Date(r.processed_at ?? r.requested_at).toISOString().slice(0, 10);
  return deps.blob.readUrl(r.blob_name!, {
    seconds: READ_SAS_SECONDS,
    downloadName: r.kind === "export" ? `data-export-${day}.zip` : `deletion-certificate-${day}.pdf`,
  });
}

// ---- deletion -----------------------------------------------------------------------------------

export async function requestDeletion(deps: { db: Db }, actor: RequestActor, typed: string, request: RequestMeta): Promise<{ id: string; dueAt: Date }> {
  type Outcome = { refused: "confirmation" | "already_scheduled"; role: Role } | { id: string; dueAt: Date; refused: null };
  const outcome = await tenant(deps.db, actor)(async (tx): Promise<Outcome> => {
    const role = await roleFor(tx, actor, "data_requests.manage");
    const practice = await practiceRow(tx, actor.practiceId);
    if (typed.trim() !== confirmationName(practice)) return { refused: "confirmation" as const, role };
    const open = await tx.selectFrom("data_requests").select("id").where("kind", "=", "deletion").where("status", "=", "scheduled").executeTakeFirst();
    if (open) return { refused: "already_scheduled" as const, role };
    const row = await tx.insertInto("data_requests")
      .values({ practice_id: actor.practiceId, kind: "deletion", status: "scheduled", requested_by: actor.userId, due_at: sql`now() + make_interval(days => ${DELETION_DAYS})` })
      .returning(["id", "due_at"]).executeTakeFirstOrThrow();
    await recordAudit(tx, {
      practiceId: actor.practiceId, actor: { type: "user", id: actor.userId, role }, action: "data_request.deletion.requested",
      target: { type: "data_request", id: row.id }, details: { due_at: new Date(row.due_at!).toISOString() }, request,
    });
    return { id: row.id, dueAt: new Date(row.due_at!), refused: null };
  });
  if (outcome.refused !== null) {
    await tenant(deps.db, actor)((tx) => recordAudit(tx, {
      practiceId: actor.practiceId, actor: { type: "user", id: actor.userId, role: outcome.role }, action: "data_request.deletion.requested",
      outcome: "denied", target: { type: "practice", id: actor.practiceId }, details: { reason: outcome.refused }, request,
    }));
    throw outcome.refused === "confirmation"
      ? new DataRequestError("confirmation", "The name you typed does not match the practice's legal name. Nothing was requested.")
      : new DataRequestError("already_scheduled", "A deletion is already scheduled for this practice.");
  }
  return outcome;
}

export async function withdrawDeletion(deps: { db: Db }, actor: RequestActor, requestId: string, request: RequestMeta): Promise<void> {
  await tenant(deps.db, actor)(async (tx) => {
    const role = await roleFor(tx, actor, "data_requests.manage");
    const r = await tx.selectFrom("data_requests").selectAll().where("id", "=", requestId).forUpdate().executeTakeFirst();
    if (!r || r.kind !== "deletion") throw new DataRequestError("not_found", "No such deletion request in this practice.");
    if (r.status !== "scheduled") throw new DataRequestError("not_withdrawable", "This deletion can no longer be withdrawn.");
    await tx.updateTable("data_requests").set({ status: "withdrawn", withdrawn_by: actor.userId, withdrawn_at: sql`now()` }).where("id", "=", r.id).execute();
    await recordAudit(tx, {
      practiceId: actor.practiceId, actor: { type: "user", id: actor.userId, role }, action: "data_request.deletion.withdrawn",
      target: { type: "data_request", id: r.id }, details: { due_at: new Date(r.due_at!).toISOString() }, request,
    });
  });
}

/** What a deletion cancels: every status the lifecycle still allows to be cancelled (before production). */
const CANCELLABLE = JOB_STATUSES.filter(isCancellable);
/** Kept when a practice is deleted, as the law requires: executed BAAs and certificates. */
const KEPT_PREFIXES = ["baa/", "certificates/"];

async function certificatePdf(input: { practiceName: string; practiceId: string; requestId: string; requestedAt: Date; dueAt: Date; processedAt: Date; counts: Record<string, number> }): Promise<Buffer> {
  const doc = new PDFDocument({ size: "LETTER", margin: 72, info: { Title: "Certificate of data deletion", Author: "PatientLetterHub", CreationDate: input.processedAt } });
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on("data", (c: Buffer) => chunks.push(c));
    doc.on("end", () => resolve(Buffer.concat(chunks)));
    doc.on("error", reject);
  });
  doc.fontSize(18).text("Certificate of data deletion").moveDown();
  doc.fontSize(11).text(`Practice: ${input.practiceName} (${input.practiceId})`);
  doc.text(`Request: ${input.requestId}, made ${input.requestedAt.toISOString()}, due ${input.dueAt.toISOString()}`);
  doc.text(`Processed: ${input.processedAt.toISOString()}`).moveDown();
  doc.text("PatientLetterHub deleted the practice's data as requested:");
  for (const [k, v] of Object.entries(input.counts)) doc.text(`  ${k.replaceAll("_", " ")}: ${v}`);
  doc.moveDown().text("Jobs already in production or mailed when the deletion fell due were finished by the print shop and deleted once completed (jobs waited for).");
  doc.moveDown().text("Kept, as the law requires: the audit trail (7 years), the Business Associate Agreement record (signatures and executed agreements) and the certificates of destruction. The practice is closed.");
  doc.end();
  return done;
}

const sweepActor = { type: "system" as const, id: SWEEP_ACTOR };

/** Adds to the request's running counts (a deletion's batches run in separate transactions). */
async function addCounts(tx: Tx, id: string, add: Record<string, number>): Promise<void> {
  const { counts } = await tx.selectFrom("data_requests").select("counts").where("id", "=", id).forUpdate().executeTakeFirstOrThrow();
  const next: Record<string, number> = { ...counts };
  for (const [k, v] of Object.entries(add)) next[k] = (next[k] ?? 0) + v;
  await tx.updateTable("data_requests").set({ counts: JSON.stringify(next) }).where("id", "=", id).execute();
}

/**
 * Step 1, one transaction, when a scheduled deletion is due: the practice is closed. Returns false
 * when there is nothing to do (withdrawn, not due, or done by another run).
 */
async function closePractice(deps: { db: Db; blob: BlobStore }, id: string, practiceId: string, cutoff: Date): Promise<boolean> {
  const { db, blob } = deps;
  return withTenant(db, { practiceId, actor: SWEEP_ACTOR }, async (tx) => {
    const r = await tx.selectFrom("data_requests").selectAll().where("id", "=", id).forUpdate().executeTakeFirst();
    if (!r || r.status !== "scheduled" || !r.due_at || new Date(r.due_at) > cutoff) return false;
    // Jobs not yet in production are cancelled through the lifecycle (audited as job.status.changed).
    const open = await tx.selectFrom("jobs").selectAll().where("status", "in", CANCELLABLE).orderBy("created_at").forUpdate().execute();
    const who = { lifecycle: { kind: "system" as const }, audit: sweepActor };
    for (const job of open) {
      await moveJobAs(tx, job, "cancelled", who, { cancelled_at: new Date(), cancel_reason: "The practice's data was deleted at its request." }, { reason: "practice_deleted" });
    }
    const waiting = await tx.selectFrom("jobs").select("id").where("status", "in", ["in_production", "mailed"]).execute();
    const templates = await tx.deleteFrom("letter_templates").where("practice_id", "=", practiceId).returning("id").execute();
    // The letterhead: its return address, signer and logo record cleared (the app role may not delete
    // the row); the logo blob goes with the rest of the practice's storage when the deletion completes.
    const letterheads = await sql`
      UPDATE practice_letterheads SET return_name = NULL, return_line1 = NULL, return_line2 = NULL, return_city = NULL, return_state = NULL,
             return_zip = NULL, signer_name = NULL, signer_title = NULL, logo_blob = NULL, logo_sha256 = NULL, logo_bytes = NULL,
             logo_content_type = NULL, updated_at = now()
       WHERE practice_id = ${practiceId}::uuid`.execute(tx);
    // Before the memberships go: the function finds the members who belong to no other practice.
    const { rows } = await sql<{ anonymised: number; kept: number; sessions: number }>`SELECT * FROM data_request_anonymise_users(${id}::uuid, ${cutoff})`.execute(tx);
    const people = rows[0]!;
    // Nobody is a member any more: the practice leaves every switcher, page and link of kept members.
    const members = await tx.deleteFrom("memberships").where("practice_id", "=", practiceId).returning("id").execute();
    const invitations = await tx.updateTable("invitations").set({ revoked_at: sql`now()` })
      .where("practice_id", "=", practiceId).where("accepted_at", "is", null).where("revoked_at", "is", null).returning("id").execute();
    // Exports end: a ready ZIP is deleted now, a build still queued will find nothing to do.
    const exports = await tx.selectFrom("data_requests").selectAll().where("kind", "=", "export").where("status", "in", ["ready", "queued"]).forUpdate().execute();
    await blob.removeMany(exports.filter((e) => e.status === "ready" && e.blob_name).map((e) => ({ name: e.blob_name! })));
    for (const e of exports) {
      const ready = e.status === "ready";
      await tx.updateTable("data_requests").set(ready ? { status: "purged" } : { status: "failed", error: "the practice's data was deleted" }).where("id", "=", e.id).execute();
      await recordAudit(tx, {
        practiceId, actor: sweepActor, action: ready ? "data_request.export.purged" : "data_request.export.failed", ...(ready ? {} : { outcome: "error" as const }),
        target: { type: "data_request", id: e.id }, details: ready ? { cutoff: cutoff.toISOString(), sha256: e.sha256, reason: "practice_deleted" } : { attempts: e.attempts, reason: "practice_deleted" },
      });
    }
    await tx.updateTable("practices").set({ status: "suspended", updated_at: sql`now()` }).where("id", "=", practiceId).execute();
    const counts = {
      jobs_cancelled: open.length, jobs_waited_for: waiting.length, templates_deleted: templates.length,
      letterheads_cleared: Number(letterheads.numAffectedRows ?? 0), users_anonymised: people.anonymised,
      users_kept: people.kept, sessions_ended: people.sessions, memberships_ended: members.length, invitations_revoked: invitations.length, exports_ended: exports.length,
    };
    await tx.updateTable("data_requests").set({ status: "processing", counts: JSON.stringify(counts) }).where("id", "=", id).execute();
    await recordAudit(tx, {
      practiceId, actor: sweepActor, action: "data_request.deletion.started", target: { type: "data_request", id },
      details: { ...counts, cutoff: cutoff.toISOString() },
    });
    return true;
  });
}

/** Step 2, bounded batches: the data of every ended job still unpurged, as the job-purge sweep purges it. */
async function purgeEndedJobs(deps: { db: Db; blob: BlobStore }, id: string, practiceId: string, run: { cutoff: Date; runId: string }, batchSize: number): Promise<number> {
  const { cutoff } = run;
  let total = 0;
  // Every job of the practice goes: one listing of its job blobs for this run (see job-purge), made
  // when there is a batch to purge (an hourly run waiting on jobs in production lists nothing).
  let listing: JobListing | null = null;
  for (;;) {
    const done = await withTenant(deps.db, { practiceId, actor: SWEEP_ACTOR }, async (tx) => {
      const r = await tx.selectFrom("data_requests").select("status").where("id", "=", id).forUpdate().executeTakeFirst();
      if (r?.status !== "processing") return 0;
      const batch = await tx.selectFrom("jobs").selectAll().where("purged_at", "is", null).where("status", "in", ["completed", "cancelled"])
        .orderBy("updated_at").limit(batchSize).forUpdate().skipLocked().execute();
      if (batch.length === 0) return 0;
      const letters = batch.filter((j) => j.letter_body_enc !== null).length;
      listing ??= await listJobBlobs(deps.blob, practiceId);
      const sum = await purgeJobs(tx, deps.blob, batch, { cutoff, sweep: "data-requests", runId: run.runId, listing });
      await addCounts(tx, id, { jobs_purged: sum.jobs, blobs_deleted: sum.blobs, bytes_deleted: sum.bytes, letters_erased: letters });
      await recordAudit(tx, {
        practiceId, actor: sweepActor, action: "retention.swept",
        details: { sweep: "data-requests", cutoff: cutoff.toISOString(), jobs: sum.jobs, blobs: sum.blobs, bytes: sum.bytes, ...(sum.single ? { single_deletes: sum.single } : {}) },
      });
      return batch.length;
    });
    total += done;
    if (done < batchSize) return total;
  }
}

/**
 * Step 3, one transaction, once no job is left unpurged: the rest of the practice's storage is
 * deleted, the final certificate stored, the request completed. "waiting" while jobs in production
 * or mailed remain (they are purged by step 2 once completed).
 */
async function finishDeletion(deps: { db: Db; blob: BlobStore }, id: string, practiceId: string, cutoff: Date): Promise<"completed" | "waiting" | null> {
  const { db, blob } = deps;
  return withTenant(db, { practiceId, actor: SWEEP_ACTOR }, async (tx) => {
    const r = await tx.selectFrom("data_requests").selectAll().where("id", "=", id).forUpdate().executeTakeFirst();
    if (!r || r.status !== "processing") return null;
    const left = await tx.selectFrom("jobs").select("id").where("purged_at", "is", null).limit(1).execute();
    if (left.length) return "waiting";
    const root = `practices/${practiceId}/`;
    const rest = (await blob.list(root)).filter(({ name }) => !KEPT_PREFIXES.some((k) => name.startsWith(root + k)));
    await blob.removeMany(rest.map(({ name }) => ({ name })));
    await addCounts(tx, id, { other_blobs_deleted: rest.length });
    const { counts } = await tx.selectFrom("data_requests").select("counts").where("id", "=", id).executeTakeFirstOrThrow();
    const practice = await practiceRow(tx, practiceId);
    const processedAt = new Date();
    const pdf = await certificatePdf({ practiceName: confirmationName(practice), practiceId, requestId: id, requestedAt: new Date(r.requested_at), dueAt: new Date(r.due_at!), processedAt, counts });
    const blobName = `practices/${practiceId}/certificates/deletion-${id}-${processedAt.getTime()}.pdf`;
    const sha256 = sha256Hex(pdf);
    await tx.updateTable("data_requests").set({ status: "completed", processed_at: processedAt, blob_name: blobName, sha256, bytes: String(pdf.length) })
      .where("id", "=", id).execute();
    await recordAudit(tx, {
      practiceId, actor: sweepActor, action: "data_request.deletion.processed", target: { type: "data_request", id },
      details: { ...counts, cutoff: cutoff.toISOString(), certificate_sha256: sha256 },
    });
    // Last, so a failure before leaves no blob behind.
    await blob.putPrivate(blobName, pdf, "application/pdf");
    return "completed";
  });
}

async function purgeExport(deps: { db: Db; blob: BlobStore }, id: string, practiceId: string, cutoff: Date): Promise<number> {
  return withTenant(deps.db, { practiceId, actor: SWEEP_ACTOR }, async (tx) => {
    const r = await tx.selectFrom("data_requests").selectAll().where("id", "=", id).forUpdate().executeTakeFirst();
    if (!r || r.status !== "ready" || !r.expires_at || new Date(r.expires_at) > cutoff) return 0;
    if (r.blob_name) await deps.blob.remove(r.blob_name);
    await tx.updateTable("data_requests").set({ status: "purged" }).where("id", "=", id).execute();
    await recordAudit(tx, {
      practiceId, actor: sweepActor, action: "data_request.export.purged", target: { type: "data_request", id },
      details: { cutoff: cutoff.toISOString(), sha256: r.sha256 },
    });
    return 1;
  });
}

/** An export still queued since before `staleBefore`: its worker died with no retry left. */
async function failStaleExport(deps: { db: Db }, id: string, practiceId: string, staleBefore: Date): Promise<number> {
  return withTenant(deps.db, { practiceId, actor: SWEEP_ACTOR }, async (tx) => {
    const r = await tx.selectFrom("data_requests").selectAll().where("id", "=", id).forUpdate().executeTakeFirst();
    if (!r || r.status !== "queued" || !r.queued_at || new Date(r.queued_at) > staleBefore) return 0;
    await tx.updateTable("data_requests").set({ status: "failed", error: r.error ?? `still queued after ${EXPORT_STALE_HOURS} hours` }).where("id", "=", id).execute();
    await recordAudit(tx, {
      practiceId, actor: sweepActor, action: "data_request.export.failed", outcome: "error", target: { type: "data_request", id },
      details: { attempts: r.attempts, reason: "stalled" },
    });
    return 1;
  });
}

/**
 * Sweep `data-requests`: exports past their 7 days are purged, exports whose build stalled fail,
 * deletions that fell due close their practice, and deletions in progress purge what has ended and
 * complete once nothing is left (at most batchSize requests a run; jobs in batches of batchSize).
 */
export function sweepDataRequests(deps: { db: Db; blob: BlobStore }, options: SweepOptions): Promise<SweepResult> {
  return recordedSweep(deps.db, "data-requests", options, async (cutoff, dryRun, runId) => {
    const staleBefore = new Date(cutoff.getTime() - EXPORT_STALE_HOURS * 3_600_000);
    const { rows } = await sql<{ id: string; practice_id: string; kind: string; status: string }>`
      SELECT * FROM data_requests_due(${cutoff}, ${staleBefore})`.execute(deps.db);
    const counts = { exports_purged: 0, exports_failed: 0, deletions_started: 0, jobs_purged: 0, deletions_waiting: 0, deletions_completed: 0 };
    for (const row of rows.slice(0, options.batchSize)) {
      if (row.kind === "export") {
        if (row.status === "ready") counts.exports_purged += dryRun ? 1 : await purgeExport(deps, row.id, row.practice_id, cutoff);
        else counts.exports_failed += dryRun ? 1 : await failStaleExport(deps, row.id, row.practice_id, staleBefore);
        continue;
      }
      if (dryRun) {
        if (row.status === "scheduled") counts.deletions_started++;
        continue;
      }
      if (row.status === "scheduled" && await closePractice(deps, row.id, row.practice_id, cutoff)) counts.deletions_started++;
      counts.jobs_purged += await purgeEndedJobs(deps, row.id, row.practice_id, { cutoff, runId }, options.batchSize);
      const end = await finishDeletion(deps, row.id, row.practice_id, cutoff);
      if (end === "completed") counts.deletions_completed++;
      else if (end === "waiting") counts.deletions_waiting++;
    }
    return counts;
  });
}
