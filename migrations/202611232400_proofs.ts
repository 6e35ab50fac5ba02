// Proofs and production files. A proof is rendered (by a queued job) each time a job is submitted;
// each resubmission makes a new version. Approval binds to one proof's SHA-256. On approval the
// print-ready production file is rendered for the operators. Both PDFs live in private blob
// storage; the rows hold names, hashes and PHI-free counts and reports.
// Frozen in time: never import app code from a migration.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE proofs (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      practice_id uuid NOT NULL REFERENCES practices (id),
      job_id uuid NOT NULL REFERENCES jobs (id),
      version integer NOT NULL CHECK (version > 0),
      status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'rendering', 'ready', 'failed')),
      attempts integer NOT NULL DEFAULT 0,
      error text CHECK (length(error) <= 500),
      requested_by uuid NOT NULL REFERENCES users (id),
      blob_name text UNIQUE CHECK (blob_name ~ '^practices/[0-9a-f-]{36}/jobs/[0-9a-f-]{36}/proofs/[0-9a-f-]{36}\\.pdf$'),
      sha256 text CHECK (sha256 ~ '^[0-9a-f]{64}$'),
      bytes bigint,
      page_count integer,
      inputs_sha256 text CHECK (inputs_sha256 ~ '^[0-9a-f]{64}$'),
      recipients integer,
      valid integer,
      invalid integer,
      envelope_failures integer,
      pages_per_letter integer,
      total_sheets integer,
      -- Row numbers and reasons only (never values): what the proof's cover lists.
      report jsonb CHECK (report IS NULL OR (jsonb_typeof(report) = 'object' AND length(report::text) <= 200000)),
      changes_comment text CHECK (length(changes_comment) <= 2000),
      created_at timestamptz NOT NULL DEFAULT now(),
      started_at timestamptz,
      ready_at timestamptz,
      UNIQUE (job_id, version),
      CHECK (status <> 'ready' OR (blob_name IS NOT NULL AND sha256 IS NOT NULL AND ready_at IS NOT NULL))
    )`.execute(db);
  await sql`CREATE INDEX proofs_job ON proofs (job_id, version DESC)`.execute(db);

  await sql`
    ALTER TABLE jobs
      ADD COLUMN approved_proof_id uuid REFERENCES proofs (id),
      ADD COLUMN approved_proof_sha256 text CHECK (approved_proof_sha256 ~ '^[0-9a-f]{64}$'),
      ADD CONSTRAINT jobs_approval_bound CHECK ((approved_at IS NULL) = (approved_proof_sha256 IS NULL))`.execute(db);
  // What the upload check learned from a recipient list: its merge fields (column names, no values)
  // and its validation summary (counts; row numbers and reasons, never values).
  await sql`
    ALTER TABLE job_files
      ADD COLUMN csv_fields text[],
      ADD COLUMN csv_report jsonb CHECK (csv_report IS NULL OR (jsonb_typeof(csv_report) = 'object' AND length(csv_report::text) <= 200000))`.execute(db);
  // The two-person rule: whoever submitted a job cannot also approve its proof.
  await sql`ALTER TABLE practices ADD COLUMN two_person_approval boolean NOT NULL DEFAULT false`.execute(db);

  await sql`
    CREATE TABLE production_files (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      practice_id uuid NOT NULL REFERENCES practices (id),
      job_id uuid NOT NULL UNIQUE REFERENCES jobs (id),
      proof_id uuid NOT NULL REFERENCES proofs (id),
      status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'rendering', 'ready', 'failed')),
      attempts integer NOT NULL DEFAULT 0,
      error text CHECK (length(error) <= 500),
      blob_name text UNIQUE CHECK (blob_name ~ '^practices/[0-9a-f-]{36}/jobs/[0-9a-f-]{36}/production/[0-9a-f-]{36}\\.pdf$'),
      sha256 text CHECK (sha256 ~ '^[0-9a-f]{64}$'),
      bytes bigint,
      page_count integer,
      letters integer,
      created_at timestamptz NOT NULL DEFAULT now(),
      ready_at timestamptz,
      CHECK (status <> 'ready' OR (blob_name IS NOT NULL AND sha256 IS NOT NULL AND ready_at IS NOT NULL))
    )`.execute(db);

  for (const table of ["proofs", "production_files"]) {
    await sql`ALTER TABLE ${sql.table(table)} ENABLE ROW LEVEL SECURITY`.execute(db);
    await sql`ALTER TABLE ${sql.table(table)} FORCE ROW LEVEL SECURITY`.execute(db);
    await sql.raw(`
      CREATE POLICY ${table}_tenant ON ${table}
        USING (practice_id = app_current_practice())
        WITH CHECK (practice_id = app_current_practice())`).execute(db);
  }
  // Operators read the print file of the jobs in their hands (to download it), nothing else.
  await sql`
    CREATE POLICY production_files_operator_read ON production_files FOR SELECT
      USING (app_current_practice() IS NULL AND app_current_operator() AND EXISTS (
        SELECT 1 FROM jobs j WHERE j.id = production_files.job_id AND j.status IN ('approved', 'in_production', 'mailed')))`.execute(db);
  await sql`GRANT SELECT, INSERT, UPDATE ON proofs, production_files TO plh_app`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE production_files`.execute(db);
  await sql`ALTER TABLE practices DROP COLUMN two_person_approval`.execute(db);
  await sql`ALTER TABLE job_files DROP COLUMN csv_report, DROP COLUMN csv_fields`.execute(db);
  await sql`ALTER TABLE jobs DROP CONSTRAINT jobs_approval_bound, DROP COLUMN approved_proof_sha256, DROP COLUMN approved_proof_id`.execute(db);
  await sql`DROP TABLE proofs`.execute(db);
}
