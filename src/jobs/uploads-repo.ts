// Job files and upload-URL issuance: SQL only. RLS scopes job_files to the transaction's practice
// and upload_url_throttle to its user.
import { type Insertable, sql } from "kysely";
import type { AuditAction } from "../audit/actions.ts";
import type { Db, Tx } from "../platform/db.ts";
import type { JobFile, JobFilesTable } from "../platform/schema.ts";

/** One file of one job (a file id of another job is not found), locked when `forUpdate`. */
export function findJobFile(tx: Tx, jobId: string, fileId: string, options: { forUpdate?: boolean } = {}): Promise<JobFile | undefined> {
  return tx.selectFrom("job_files").selectAll().where("id", "=", fileId).where("job_id", "=", jobId)
    .$if(Boolean(options.forUpdate), (q) => q.forUpdate()).executeTakeFirst();
}

/** Every file of the job that is not purged, newest first. */
export function filesOfJob(tx: Tx, jobId: string): Promise<JobFile[]> {
  return tx.selectFrom("job_files").selectAll().where("job_id", "=", jobId).where("status", "!=", "purged")
    .orderBy("created_at", "desc").orderBy("id").execute();
}

export function markFileVerified(tx: Tx, fileId: string, facts: { size: number; sha256: string; csv: { fields: string[] } | null }): Promise<JobFile> {
  return tx.updateTable("job_files").set({
    status: "verified", size: facts.size, sha256: facts.sha256, verified_at: sql`now()`,
    csv_fields: facts.csv?.fields ?? null, csv_report: facts.csv ? JSON.stringify(facts.csv) : null,
  })
    .where("id", "=", fileId).where("status", "=", "pending").returningAll().executeTakeFirstOrThrow();
}

export function markFileRejected(tx: Tx, fileId: string, facts: { reason: string; size: number | null }): Promise<JobFile> {
  return tx.updateTable("job_files").set({ status: "rejected", rejected_reason: facts.reason.slice(0, 300), size: facts.size })
    .where("id", "=", fileId).where("status", "=", "pending").returningAll().executeTakeFirstOrThrow();
}

export function markFileReplaced(tx: Tx, fileId: string): Promise<JobFile> {
  return tx.updateTable("job_files").set({ status: "replaced" }).where("id", "=", fileId).where("status", "=", "verified")
    .returningAll().executeTakeFirstOrThrow();
}

export type IssueUploadRow = {
  actor: string; practiceId: string; userId: string; role: string; jobId: string;
  /** Only the job's checks (they raise), nothing recorded: a refused declared file answers after them. */
  checkOnly: boolean;
  file: Pick<Insertable<JobFilesTable>, "id" | "kind" | "blob_name" | "declared_name" | "declared_size" | "declared_type" | "declared_sha256" | "upload_expires_at" | "blob_lease_id">;
  perMinute: number;
  audit: { action: AuditAction; ip: string | null; userAgent: string | null; requestId: string | null };
};

/**
 * One statement, its own transaction (migration 202611232540_issue_upload_url): the job locked, the
 * BAA gate, the job's state and attestation, the per-user rate limit, the pending file and its audit
 * event. Refusals raise SQLSTATE UPL04 (no such job), BAA01, JOB02, JOB01 or UPL29 (the rate limit;
 * DETAIL holds the seconds to wait); nothing is kept then. Undefined with `checkOnly`.
 */
export async function issueUploadRow(db: Db, r: IssueUploadRow): Promise<{ job_reference: string; upload_expires_at: Date } | undefined> {
  const f = r.file;
  const { rows } = await sql<{ job_reference: string; upload_expires_at: Date }>`
    SELECT * FROM app_issue_upload_url(
      ${r.actor}, ${r.practiceId}::uuid, ${r.userId}::uuid, ${r.role}, ${r.jobId}::uuid, ${r.checkOnly},
      ${f.id}::uuid, ${f.kind}, ${f.blob_name}, ${f.declared_name}, ${f.declared_size}::bigint, ${f.declared_type}, ${f.declared_sha256},
      ${f.upload_expires_at}::timestamptz, ${f.blob_lease_id}::uuid, ${r.perMinute}::int,
      ${r.audit.action}, ${r.audit.ip}, ${r.audit.userAgent}, ${r.audit.requestId})`.execute(db);
  return rows[0];
}
