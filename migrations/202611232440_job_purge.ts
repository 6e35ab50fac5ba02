// Retention, issue 8 part 2: job data purged 30 days after completion or cancellation, drafts left
// without activity cancelled, and a certificate of destruction per purged job.
// - destruction_certificates: one per purged job (a tenant table: ENABLE + FORCE RLS). The PDF holds
//   no PHI (file kinds, sizes, SHA-256s, the job reference and the practice); the row keeps its blob
//   name, SHA-256 and the same list of what was deleted. The app role may read and insert, never
//   change or delete (evidence).
// - retention_purgeable_job_practices() / retention_abandoned_draft_practices(): which practices have
//   jobs due (ids only); the sweeps then work inside each practice's own tenant context, so RLS
//   still decides what they see.
// Frozen in time: never import app code from a migration.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE destruction_certificates (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      practice_id uuid NOT NULL REFERENCES practices (id),
      job_id uuid NOT NULL UNIQUE REFERENCES jobs (id),
      job_reference text NOT NULL CHECK (job_reference ~ '^PLH-[0-9]{4}-[0-9]{6,}$'),
      verification_id text NOT NULL UNIQUE CHECK (verification_id ~ '^DC-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$'),
      -- What was deleted: [{kind, bytes, sha256}] (kinds, never names).
      items jsonb NOT NULL CHECK (jsonb_typeof(items) = 'array' AND length(items::text) <= 200000),
      blobs integer NOT NULL CHECK (blobs >= 0),
      bytes bigint NOT NULL CHECK (bytes >= 0),
      letter_erased boolean NOT NULL,
      purged_at timestamptz NOT NULL,
      pdf_blob text NOT NULL UNIQUE CHECK (pdf_blob ~ '^practices/[0-9a-f-]{36}/certificates/[0-9a-f-]{36}\\.pdf$'),
      pdf_sha256 text NOT NULL CHECK (pdf_sha256 ~ '^[0-9a-f]{64}$'),
      pdf_bytes integer NOT NULL CHECK (pdf_bytes > 0),
      created_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`CREATE INDEX destruction_certificates_practice ON destruction_certificates (practice_id, purged_at DESC)`.execute(db);
  await sql`
    CREATE TRIGGER destruction_certificates_no_change BEFORE UPDATE OR DELETE ON destruction_certificates
    FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change()`.execute(db);
  await sql`ALTER TABLE destruction_certificates ENABLE ROW LEVEL SECURITY`.execute(db);
  await sql`ALTER TABLE destruction_certificates FORCE ROW LEVEL SECURITY`.execute(db);
  await sql`
    CREATE POLICY destruction_certificates_tenant ON destruction_certificates
      USING (practice_id = app_current_practice())
      WITH CHECK (practice_id = app_current_practice())`.execute(db);
  await sql`GRANT SELECT, INSERT ON destruction_certificates TO plh_app`.execute(db);

  await sql`CREATE INDEX jobs_purge_due ON jobs (status, coalesce(completed_at, cancelled_at)) WHERE purged_at IS NULL AND status IN ('completed', 'cancelled')`.execute(db);

  // Jobs completed or cancelled at or before `ended_before`, not purged yet.
  await sql`
    CREATE FUNCTION retention_purgeable_job_practices(ended_before timestamptz) RETURNS SETOF uuid
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
      SELECT DISTINCT practice_id FROM jobs
      WHERE purged_at IS NULL AND (
        (status = 'completed' AND completed_at <= ended_before) OR (status = 'cancelled' AND cancelled_at <= ended_before))
    $$`.execute(db);
  // Drafts whose last activity (the job or any of its files changing) is at or before `idle_before`.
  await sql`
    CREATE FUNCTION retention_abandoned_draft_practices(idle_before timestamptz) RETURNS SETOF uuid
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
      SELECT DISTINCT j.practice_id FROM jobs j
      WHERE j.status = 'draft' AND j.updated_at <= idle_before
        AND NOT EXISTS (SELECT 1 FROM job_files f WHERE f.job_id = j.id AND f.updated_at > idle_before)
    $$`.execute(db);
  for (const fn of ["retention_purgeable_job_practices(timestamptz)", "retention_abandoned_draft_practices(timestamptz)"]) {
    await sql.raw(`REVOKE ALL ON FUNCTION ${fn} FROM PUBLIC`).execute(db);
    await sql.raw(`GRANT EXECUTE ON FUNCTION ${fn} TO plh_app`).execute(db);
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP FUNCTION retention_abandoned_draft_practices(timestamptz)`.execute(db);
  await sql`DROP FUNCTION retention_purgeable_job_practices(timestamptz)`.execute(db);
  await sql`DROP INDEX jobs_purge_due`.execute(db);
  await sql`DROP TABLE destruction_certificates`.execute(db);
}
