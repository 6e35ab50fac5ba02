// Jobs, attestations and files: SQL only. Every function takes the transaction first; RLS scopes
// every read and write to the transaction's practice (or, for operators, to the jobs they may see).
import { sql } from "kysely";
import type { Tx } from "../platform/db.ts";
import type { Insertable, Updateable } from "kysely";
import type { Job, JobAttestationsTable, JobFile, JobFileKind, JobsTable, JobStatus } from "../platform/schema.ts";

export async function insertJob(tx: Tx, values: Insertable<JobsTable>): Promise<Job> {
  return tx.insertInto("jobs").values(values).returningAll().executeTakeFirstOrThrow();
}

/** The job, locked for the rest of the transaction when `forUpdate` (every change takes the lock). */
export function findJob(tx: Tx, jobId: string, options: { forUpdate?: boolean } = {}): Promise<Job | undefined> {
  return tx.selectFrom("jobs").selectAll().where("id", "=", jobId).$if(Boolean(options.forUpdate), (q) => q.forUpdate()).executeTakeFirst();
}

export function updateJob(tx: Tx, jobId: string, values: Updateable<JobsTable>): Promise<Job> {
  return tx.updateTable("jobs").set({ ...values, updated_at: sql`now()` }).where("id", "=", jobId).returningAll().executeTakeFirstOrThrow();
}

/** Moves the job only if it is still in `from` (a concurrent change makes this return undefined). */
export function moveJob(tx: Tx, jobId: string, from: JobStatus, to: JobStatus, values: Updateable<JobsTable> = {}): Promise<Job | undefined> {
  return tx.updateTable("jobs").set({ ...values, status: to, updated_at: sql`now()` })
    .where("id", "=", jobId).where("status", "=", from).returningAll().executeTakeFirst();
}

export type JobListFilter = { q?: string; status?: JobStatus };
export type JobListItem = Pick<Job, "id" | "reference" | "title" | "letter_type" | "mail_class" | "status" | "updated_at" | "created_at">;

/** A page of the practice's jobs, most recently changed first, with the total for the pager. */
export async function listJobs(tx: Tx, f: JobListFilter, page: { offset: number; limit: number }): Promise<{ rows: JobListItem[]; total: number }> {
  const base = tx.selectFrom("jobs")
    .$if(Boolean(f.status), (q) => q.where("status", "=", f.status!))
    .$if(Boolean(f.q), (q) => q.where((eb) => eb.or([
      eb("reference", "ilike", `%${escapeLike(f.q!)}%`),
      eb("title", "ilike", `%${escapeLike(f.q!)}%`),
    ])));
  const [rows, total] = await Promise.all([
    base.select(["id", "reference", "title", "letter_type", "mail_class", "status", "updated_at", "created_at"])
      .orderBy("updated_at", "desc").orderBy("id").offset(page.offset).limit(page.limit).execute(),
    base.select(sql<string>`count(*)`.as("n")).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(total.n) };
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (m) => `\\${m}`);
}

export async function insertAttestation(tx: Tx, values: Insertable<JobAttestationsTable>) {
  return tx.insertInto("job_attestations").values(values).returningAll().executeTakeFirstOrThrow();
}

export function findAttestation(tx: Tx, jobId: string) {
  return tx.selectFrom("job_attestations as a").innerJoin("users as u", "u.id", "a.user_id")
    .select(["a.id", "a.user_id", "u.full_name", "a.statement_version", "a.statement_sha256", "a.initials", "a.ip", "a.attested_at"])
    .where("a.job_id", "=", jobId).executeTakeFirst();
}

/** The job's current files: pending and verified, newest first (rejected and replaced ones are history). */
export function listCurrentFiles(tx: Tx, jobId: string): Promise<JobFile[]> {
  return tx.selectFrom("job_files").selectAll().where("job_id", "=", jobId).where("status", "in", ["pending", "verified"])
    .orderBy("created_at", "desc").execute();
}

export function findVerifiedFile(tx: Tx, jobId: string, kind: JobFileKind): Promise<JobFile | undefined> {
  return tx.selectFrom("job_files").selectAll().where("job_id", "=", jobId).where("kind", "=", kind).where("status", "=", "verified").executeTakeFirst();
}

/** The audit events about one job (target = its reference), oldest first: its timeline. */
export function jobTimeline(tx: Tx, practiceId: string, reference: string) {
  return tx.selectFrom("audit_events as e")
    .leftJoin("users as u", (join) => join.on(sql<boolean>`u.id::text = e.actor_id`))
    .select(["e.id", "e.occurred_at", "e.action", "e.outcome", "e.actor_type", "e.actor_id", "e.actor_role", "e.details", "u.full_name as actor_name"])
    .where("e.practice_id", "=", practiceId).where("e.target_id", "=", reference).where("e.target_type", "=", "job")
    .orderBy("e.occurred_at", "asc").orderBy("e.chain_seq", "asc")
    .limit(500)
    .execute();
}

/** Display names of the given users (the job page names who created, submitted, cancelled, wrote the letter). */
export async function userNames(tx: Tx, userIds: readonly (string | null)[]): Promise<Map<string, string>> {
  const ids = [...new Set(userIds.filter((id): id is string => Boolean(id)))];
  if (!ids.length) return new Map();
  const rows = await tx.selectFrom("users").select(["id", "full_name"]).where("id", "in", ids).execute();
  return new Map(rows.map((r) => [r.id, r.full_name]));
}

/** The column names of the job's verified recipient list (job_files.csv_fields, recorded when the upload is verified), or []. */
export async function recipientCsvFields(tx: Tx, jobId: string): Promise<string[]> {
  const row = await tx.selectFrom("job_files").select("csv_fields")
    .where("job_id", "=", jobId).where("kind", "=", "recipients_csv").where("status", "=", "verified")
    .executeTakeFirst();
  return row?.csv_fields ?? [];
}
