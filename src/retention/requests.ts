// Data requests (issue 8, items 4 and 5). An admin asks for:
// - an export: a queued worker (build-data-export, sent in the request's transaction) streams a ZIP
//   (practice profile, members, job metadata, the audit CSV, BAA signatures and executed PDFs, and
//   certificates of destruction when that table exists) into private blob storage, then emails the
//   admin a sign-in link (no PHI). The download is a signed link bound to that admin, valid until the
//   ZIP expires (7 days), checked again on use and redirected to a read SAS valid seconds; the sweep
//   `data-requests` purges the ZIP when it expires.
// - a deletion: typed confirmation (the practice's legal name), due 30 days later, withdrawable until
//   then. When due, the sweep cancels open jobs, purges job data (blobs, letters, templates),
//   anonymises members who belong to no other practice, ends sessions, suspends the practice and
//   stores a certificate (PDF). The audit trail and the BAA record stay, as the law requires.
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
import { sha256Hex, signLink, verifyLink } from "../platform/crypto.ts";
import { type Db, type Tx, withContext, withTenant } from "../platform/db.ts";
import type { Logger } from "../platform/log.ts";
import type { Mailer, MailMessage } from "../platform/mail.ts";
import type { WorkSender } from "../platform/queue.ts";
import type { DataRequestsTable, Role } from "../platform/schema.ts";
import type { Selectable } from "kysely";
import { zipWriter } from "../platform/zip.ts";
import { recordedSweep, type SweepOptions, type SweepResult } from "./runs.ts";

export const BUILD_DATA_EXPORT = "build-data-export";
export const EXPORT_DAYS = 7;
export const DELETION_DAYS = 30;
export const READ_SAS_SECONDS = 60;
/** How long a certificate's download link on the page works. */
export const CERTIFICATE_LINK_MINUTES = 10;
const DAY = 86_400_000;
const SWEEP_ACTOR = "system:data-requests" as const;
const BUILD_ACTOR = "system:data-export" as const;

export type DataRequest = Selectable<DataRequestsTable>;
export type RequestActor = { userId: string; practiceId: string };

export class DataRequestError extends Error {
  constructor(
    readonly code: "not_allowed" | "confirmation" | "already_scheduled" | "not_found" | "not_withdrawable" | "link_invalid" | "not_ready",
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
    return {
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
      .values({ practice_id: actor.practiceId, kind: "export", status: "queued", requested_by: actor.userId })
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
  const req = await withTenant(db, ctx, (tx) => tx.selectFrom("data_requests").selectAll().where("id", "=", data.requestId).where("kind", "=", "export").executeTakeFirst());
  if (!req || req.status !== "queued") return null; // already built, or purged
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
      return { practice, members, jobs, signatures, certificates };
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
      "destruction-certificates.json: certificates of destruction of purged job data (when there are any).",
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
    await withTenant(db, ctx, (tx) => recordAudit(tx, {
      practiceId: data.practiceId, actor: { type: "system", id: BUILD_ACTOR }, action: "data_request.export.built", outcome: "error",
      target: { type: "data_request", id: req.id }, details: { error: (error instanceof Error ? error.message : String(error)).slice(0, 200) },
    })).catch(() => {});
    throw error;
  }
}

export function exportReadyEmail(to: string, input: { practiceName: string; days: number; link: string }): MailMessage {
  return {
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

const OPEN_JOB_STATUSES = ["draft", "submitted", "proof_ready", "changes_requested", "approved"] as const;

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
  doc.moveDown().text("Kept, as the law requires: the audit trail (7 years) and the Business Associate Agreement record (signatures and executed agreements). The practice is closed.");
  doc.end();
  return done;
}

async function processDeletion(deps: { db: Db; blob: BlobStore }, id: string, practiceId: string, cutoff: Date): Promise<Record<string, number>> {
  const { db, blob } = deps;
  return withTenant(db, { practiceId, actor: SWEEP_ACTOR }, async (tx) => {
    const r = await tx.selectFrom("data_requests").selectAll().where("id", "=", id).forUpdate().executeTakeFirst();
    if (!r || r.status !== "scheduled" || !r.due_at || new Date(r.due_at) > cutoff) return {};
    const cancelled = await tx.updateTable("jobs").set({ status: "cancelled", cancelled_at: sql`now()`, cancel_reason: "The practice's data was deleted at its request.", updated_at: sql`now()` })
      .where("status", "in", [...OPEN_JOB_STATUSES]).returning(["id", "reference", "status"]).execute();
    for (const job of cancelled) {
      await recordAudit(tx, {
        practiceId, actor: { type: "system", id: SWEEP_ACTOR }, action: "job.status.changed", target: { type: "job", id: job.reference },
        details: { to: "cancelled", reason_given: true },
      });
    }
    // Blobs first: should storage fail, the transaction rolls back and the next run tries again.
    const files = await tx.selectFrom("job_files").select(["id", "blob_name", "blob_lease_id", "status"]).where("status", "!=", "purged").execute();
    for (const f of files) await blob.remove(f.blob_name, f.blob_lease_id ? { leaseId: f.blob_lease_id } : {});
    const proofs = await tx.selectFrom("proofs").select(["blob_name"]).where("blob_name", "is not", null).execute();
    for (const p of proofs) await blob.remove(p.blob_name!);
    const prints = await tx.selectFrom("production_files").select(["blob_name"]).where("blob_name", "is not", null).execute();
    for (const p of prints) await blob.remove(p.blob_name!);
    if (files.length) await tx.updateTable("job_files").set({ status: "purged", updated_at: sql`now()` }).where("status", "!=", "purged").execute();
    const letters = await tx.updateTable("jobs").set({
      letter_body_enc: null, letter_key_id: null, letter_length: null, letter_fields: null, letter_saved_by: null, letter_saved_at: null,
      letter_signer_name: null, letter_signer_title: null, updated_at: sql`now()`,
    }).where("letter_body_enc", "is not", null).returning("id").execute();
    const jobs = await tx.updateTable("jobs").set({ purged_at: sql`now()` }).where("purged_at", "is", null).returning("id").execute();
    const templates = await tx.deleteFrom("letter_templates").where("practice_id", "=", practiceId).returning("id").execute();
    const { rows } = await sql<{ anonymised: number; kept: number; sessions: number }>`SELECT * FROM data_request_anonymise_users(${id}::uuid, ${cutoff})`.execute(tx);
    const people = rows[0]!;
    await tx.updateTable("practices").set({ status: "suspended", updated_at: sql`now()` }).where("id", "=", practiceId).execute();
    const counts = {
      jobs_cancelled: cancelled.length, jobs_purged: jobs.length, files_deleted: files.length, proofs_deleted: proofs.length, print_files_deleted: prints.length,
      letters_erased: letters.length, templates_deleted: templates.length, users_anonymised: people.anonymised, users_kept: people.kept, sessions_ended: people.sessions,
    };
    const practice = await practiceRow(tx, practiceId);
    const processedAt = new Date();
    const pdf = await certificatePdf({ practiceName: confirmationName(practice), practiceId, requestId: id, requestedAt: new Date(r.requested_at), dueAt: new Date(r.due_at), processedAt, counts });
    const blobName = `practices/${practiceId}/data-requests/${id}/deletion-certificate-${processedAt.getTime()}.pdf`;
    const sha256 = sha256Hex(pdf);
    await tx.updateTable("data_requests").set({ status: "completed", processed_at: processedAt, blob_name: blobName, sha256, bytes: String(pdf.length), counts: JSON.stringify(counts) })
      .where("id", "=", id).execute();
    await recordAudit(tx, {
      practiceId, actor: { type: "system", id: SWEEP_ACTOR }, action: "data_request.deletion.processed", target: { type: "data_request", id },
      details: { ...counts, cutoff: cutoff.toISOString(), certificate_sha256: sha256 },
    });
    // Last, so a failure before leaves no blob behind.
    await blob.putPrivate(blobName, pdf, "application/pdf");
    return counts;
  });
}

async function purgeExport(deps: { db: Db; blob: BlobStore }, id: string, practiceId: string, cutoff: Date): Promise<number> {
  return withTenant(deps.db, { practiceId, actor: SWEEP_ACTOR }, async (tx) => {
    const r = await tx.selectFrom("data_requests").selectAll().where("id", "=", id).forUpdate().executeTakeFirst();
    if (!r || r.status !== "ready" || !r.expires_at || new Date(r.expires_at) > cutoff) return 0;
    if (r.blob_name) await deps.blob.remove(r.blob_name);
    await tx.updateTable("data_requests").set({ status: "purged" }).where("id", "=", id).execute();
    await recordAudit(tx, {
      practiceId, actor: { type: "system", id: SWEEP_ACTOR }, action: "data_request.export.purged", target: { type: "data_request", id },
      details: { cutoff: cutoff.toISOString(), sha256: r.sha256 },
    });
    return 1;
  });
}

/** Sweep `data-requests`: exports past their 7 days are purged; deletions that are due are processed. */
export function sweepDataRequests(deps: { db: Db; blob: BlobStore }, options: SweepOptions): Promise<SweepResult> {
  return recordedSweep(deps.db, "data-requests", options, async (cutoff, dryRun) => {
    const { rows } = await sql<{ id: string; practice_id: string; kind: string }>`SELECT * FROM data_requests_pending(${cutoff})`.execute(deps.db);
    const counts = { exports_purged: 0, deletions_processed: 0 };
    for (const row of rows.slice(0, options.batchSize)) {
      if (row.kind === "export") counts.exports_purged += dryRun ? 1 : await purgeExport(deps, row.id, row.practice_id, cutoff);
      else if (dryRun) counts.deletions_processed++;
      else if (Object.keys(await processDeletion(deps, row.id, row.practice_id, cutoff)).length) counts.deletions_processed++;
    }
    return counts;
  });
}
