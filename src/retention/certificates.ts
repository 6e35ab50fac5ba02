// Certificates of destruction and the Data and retention page, for admins and auditors
// (audit.read): the policy, the sweep history, the practice's certificates, and a signed link per
// certificate. A certificate recorded as a manifest (ADR 0018) is rendered to PDF from it on each
// download (the same bytes each time; no PHI in it, so the app may serve it); one stored as a PDF
// before that redirects to a read SAS valid seconds (like the executed BAA). Every download is
// audited; a refused link is audited as denied.
import { sql } from "kysely";
import type { Config } from "../config.ts";
import type { RequestMeta } from "../context.ts";
import { recordAudit } from "../audit/record.ts";
import { can } from "../auth/permissions.ts";
import { findActiveMembership } from "../auth/repo.ts";
import type { BlobStore } from "../platform/blob.ts";
import { signLink, verifyLink } from "../platform/crypto.ts";
import { type Db, type Tx, withContext } from "../platform/db.ts";
import type { DestructionCertificate } from "../platform/schema.ts";
import { certificatePdf } from "./certificate-pdf.ts";
import { openManifest } from "./manifest.ts";

export type RetentionDeps = { db: Db; blob: BlobStore; config: Config };
export type RetentionActor = { userId: string; practiceId: string };

export const CERTIFICATE_LINK_MINUTES = 10;
export const CERTIFICATE_SAS_SECONDS = 60;
const SWEEP_HISTORY = 50;

export class RetentionError extends Error {
  constructor(readonly code: "forbidden" | "not_found" | "link_invalid", message: string) {
    super(message);
  }
}

function tenant<T>(deps: { db: Db }, actor: RetentionActor, fn: (tx: Tx) => Promise<T>) {
  return withContext(deps.db, { actor: `user:${actor.userId}`, userId: actor.userId, practiceId: actor.practiceId }, fn);
}

async function roleWith(tx: Tx, actor: RetentionActor) {
  const me = await findActiveMembership(tx, actor.practiceId, actor.userId);
  if (!me || !can(me.role, "audit.read")) throw new RetentionError("forbidden", "Your role in this practice does not allow this.");
  return me.role;
}

/**
 * A run with no finish time and no error is "running" until a later run of the same sweep starts or
 * RUN_BOUND_HOURS pass (every schedule is daily or more often, and a run takes minutes): then it was
 * interrupted (killed, the machine stopped). Its committed batches stay, each with its retention.swept
 * event; its totals were never written, so none are shown.
 */
export const RUN_BOUND_HOURS = 12;
export type SweepRunRow = { name: string; cutoff: Date; dryRun: boolean; startedAt: Date; finishedAt: Date | null; failed: boolean; interrupted: boolean };
export type RetentionOverview = { runs: SweepRunRow[]; certificates: DestructionCertificate[] };

/** The page's data: recent sweep runs (platform-wide, without counts) and this practice's certificates. */
export function retentionOverview(deps: { db: Db }, actor: RetentionActor): Promise<RetentionOverview> {
  return tenant(deps, actor, async (tx) => {
    await roleWith(tx, actor);
    const { rows: runs } = await sql<{ name: string; cutoff: Date; dry_run: boolean; started_at: Date; finished_at: Date | null; error: string | null; interrupted: boolean }>`
      SELECT r.name, r.cutoff, r.dry_run, r.started_at, r.finished_at, r.error,
             (r.finished_at IS NULL AND r.error IS NULL AND (r.started_at < now() - make_interval(hours => ${RUN_BOUND_HOURS})
               OR EXISTS (SELECT 1 FROM sweep_runs l WHERE l.name = r.name AND l.started_at > r.started_at))) AS interrupted
        FROM sweep_runs r ORDER BY r.started_at DESC LIMIT ${SWEEP_HISTORY}`.execute(tx);
    const certificates = await tx.selectFrom("destruction_certificates").selectAll().orderBy("purged_at", "desc").limit(500).execute();
    return {
      runs: runs.map((r) => ({ name: r.name, cutoff: r.cutoff, dryRun: r.dry_run, startedAt: r.started_at, finishedAt: r.finished_at, failed: r.error !== null, interrupted: r.interrupted })),
      certificates,
    };
  });
}

/** The certificate of one job, if it was purged (audit.read); null otherwise or without the permission. */
export function jobCertificate(deps: { db: Db }, actor: RetentionActor & { role: string }, jobId: string) {
  if (!can(actor.role as never, "audit.read")) return Promise.resolve(null);
  return tenant(deps, actor, (tx) => tx.selectFrom("destruction_certificates").select(["id", "verification_id"]).where("job_id", "=", jobId).executeTakeFirst().then((r) => r ?? null));
}

const linkResource = (practiceId: string, certificateId: string) => `destruction-certificate:${practiceId}:${certificateId}`;

export function certificatePath(config: Config, actor: RetentionActor, certificateId: string, now = Date.now()): string {
  const token = signLink(config.keys.hmac, { resource: linkResource(actor.practiceId, certificateId), userId: actor.userId, expiresAt: new Date(now + CERTIFICATE_LINK_MINUTES * 60_000) });
  return `/retention/certificates/${certificateId}/download?token=${encodeURIComponent(token)}`;
}

export type CertificateDownload = { redirect: string } | { pdf: Buffer; fileName: string };

/** The PDF of a certificate recorded as a manifest, rendered from it (checked against its SHA-256). */
export function renderCertificate(cert: Pick<DestructionCertificate, "manifest" | "manifest_sha256">): Promise<Buffer> {
  if (!cert.manifest || !cert.manifest_sha256) throw new Error("this certificate was stored as a PDF, not recorded as a manifest");
  return certificatePdf(openManifest(cert.manifest, cert.manifest_sha256), cert.manifest_sha256);
}

/** Follows a certificate link: the link, then the membership and permission, then the record; audited. */
export async function openCertificate(deps: RetentionDeps, actor: RetentionActor, certificateId: string, token: string, request: RequestMeta): Promise<CertificateDownload> {
  const check = verifyLink(deps.config.keys.hmac, token, { resource: linkResource(actor.practiceId, certificateId), userId: actor.userId });
  const refuse = async (reason: string, error: RetentionError) => {
    await tenant(deps, actor, (tx) => recordAudit(tx, {
      practiceId: actor.practiceId, actor: { type: "user", id: actor.userId }, action: "retention.certificate.downloaded", outcome: "denied",
      target: { type: "destruction_certificate", id: certificateId }, details: { reason }, request,
    }));
    return error;
  };
  if (!check.ok) {
    throw await refuse(check.reason, new RetentionError("link_invalid", check.reason === "expired"
      ? "This download link has expired. Open the Data and retention page again for a fresh one."
      : "This download link is not valid for you. Open the Data and retention page and use the link there."));
  }
  const found = await tenant(deps, actor, async (tx) => {
    const role = await roleWith(tx, actor);
    const cert = await tx.selectFrom("destruction_certificates").selectAll().where("id", "=", certificateId).executeTakeFirst();
    if (!cert) return null;
    await recordAudit(tx, {
      practiceId: actor.practiceId, actor: { type: "user", id: actor.userId, role }, action: "retention.certificate.downloaded",
      target: { type: "destruction_certificate", id: certificateId }, details: { verification_id: cert.verification_id, job: cert.job_reference, ...(cert.manifest_sha256 ? { manifest_sha256: cert.manifest_sha256 } : {}) }, request,
    });
    return cert;
  });
  if (!found) throw await refuse("not_found", new RetentionError("not_found", "No such certificate in this practice."));
  const fileName = `${found.job_reference}-destruction-${found.verification_id}.pdf`;
  if (found.pdf_blob) return { redirect: await deps.blob.readUrl(found.pdf_blob, { seconds: CERTIFICATE_SAS_SECONDS, downloadName: fileName }) };
  return { pdf: await renderCertificate(found), fileName };
}
