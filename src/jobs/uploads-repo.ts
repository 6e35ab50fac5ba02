// Job files and the upload-URL rate limit: SQL only. RLS scopes job_files to the transaction's
// practice and upload_url_throttle to its user.
import { type Insertable, sql } from "kysely";
import type { Tx } from "../platform/db.ts";
import type { Job, JobFile, JobFilesTable } from "../platform/schema.ts";

export function insertJobFile(tx: Tx, values: Insertable<JobFilesTable>): Promise<JobFile> {
  return tx.insertInto("job_files").values(values).returningAll().executeTakeFirstOrThrow();
}

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

/**
 * The job, locked (FOR UPDATE), with what issuing an upload URL checks first, in one statement:
 * whether the practice has an executed current BAA (the database's practice_has_current_baa, as
 * assertCurrentBaa asks it) and whether the job carries its PHI attestation. Undefined when the job
 * is not there (another practice's job is not visible: RLS).
 */
export async function lockJobForUpload(tx: Tx, jobId: string, practiceId: string): Promise<{ job: Job; hasCurrentBaa: boolean; attested: boolean } | undefined> {
  const row = await tx.selectFrom("jobs as j").selectAll("j")
    .select((eb) => [
      sql<boolean>`practice_has_current_baa(${practiceId}::uuid)`.as("has_current_baa"),
      eb.exists(eb.selectFrom("job_attestations as a").select("a.id").whereRef("a.job_id", "=", "j.id")).as("attested"),
    ])
    .where("j.id", "=", jobId).forUpdate().executeTakeFirst();
  if (!row) return undefined;
  const { has_current_baa, attested, ...job } = row;
  return { job, hasCurrentBaa: has_current_baa === true, attested: attested === true };
}

/**
 * Counts one upload URL for the user in a fixed one-minute window (the row is locked, so parallel
 * requests each see the count the one before left). Returns the count and the seconds left in the window.
 */
export async function bumpUploadUrlCount(tx: Tx, userId: string): Promise<{ issued: number; retryAfter: number }> {
  const { rows } = await sql<{ issued: number; retry_after: number }>`
    INSERT INTO upload_url_throttle AS t (user_id, window_started_at, issued) VALUES (${userId}, now(), 1)
    ON CONFLICT (user_id) DO UPDATE SET
      window_started_at = CASE WHEN t.window_started_at <= now() - interval '1 minute' THEN now() ELSE t.window_started_at END,
      issued = CASE WHEN t.window_started_at <= now() - interval '1 minute' THEN 1 ELSE t.issued + 1 END
    RETURNING issued, greatest(1, ceil(extract(epoch FROM (window_started_at + interval '1 minute' - now()))))::int AS retry_after`.execute(tx);
  const row = rows[0]!;
  return { issued: row.issued, retryAfter: row.retry_after };
}
