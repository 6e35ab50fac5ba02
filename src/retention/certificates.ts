// Certificates of destruction and the Data and retention page, for admins and auditors
// (audit.read): the policy, the sweep history, the practice's certificates, and a signed link per
// certificate that redirects to a read SAS valid seconds (like the executed BAA). Every download is
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

export type SweepRunRow = { name: string; cutoff: Date; dryRun: boolean; startedAt: Date; finishedAt: Date | null; failed: boolean };
export type RetentionOverview = { runs: SweepRunRow[]; certificates: DestructionCertificate[] };

/** The page's data: recent sweep runs (platform-wide, without counts) and this practice's certificates. */
export function retentionOverview(deps: { db: Db }, actor: RetentionActor): Promise<RetentionOverview> {
  return tenant(deps, actor, async (tx) => {
    await roleWith(tx, actor);
    const { rows: runs } = await sql<{ name: string; cutoff: Date; dry_run: boolean; started_at: Date; finished_at: Date | null; error: string | null }>`
      SELECT name, cutoff, dry_run, started_at, finished_at, error FROM sweep_runs ORDER BY started_at DESC LIMIT ${SWEEP_HISTORY}`.execute(tx);
    const certificates = await tx.selectFrom("destruction_certificates").selectAll().orderBy("purged_at", "desc").limit(500).execute();
    return {
      runs: runs.map((r) => ({ name: r.name, cutoff: r.cutoff, dryRun: r.dry_run, startedAt: r.started_at, finishedAt: r.finished_at, failed: r.error !== null })),
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

/** Follows a certificate link: the link, then the membership and permission, then the record; audited. */
export async function openCertificate(deps: RetentionDeps, actor: RetentionActor, certificateId: string, token: string, request: RequestMeta): Promise<string> {
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
      target: { type: "destruction_certificate", id: certificateId }, details: { verification_id: cert.verification_id, job: cert.job_reference }, request,
    });
    return cert;
  });
  if (!found) throw await refuse("not_found", new RetentionError("not_found", "No such certificate in this practice."));
  return deps.blob.readUrl(found.pdf_blob, { seconds: CERTIFICATE_SAS_SECONDS, downloadName: `${found.job_reference}-destruction-${found.verification_id}.pdf` });
}
