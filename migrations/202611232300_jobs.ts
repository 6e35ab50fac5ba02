// Mailing jobs: the job, its PHI attestation and its files (blobs named by the server). No PHI
// moves before a BAA: creating a job, attesting, registering an upload and verifying one all call
// require_current_baa() (migration 202611232200_baa) in triggers, whatever the app does.
// Frozen in time: never import app code from a migration.
import { type Kysely, sql } from "kysely";

const TENANT_TABLES = ["jobs", "job_attestations", "job_files"] as const;

export async function up(db: Kysely<any>): Promise<void> {
  // References read PLH-<year>-<number>; the number is global, so a reference names one job.
  await sql`CREATE SEQUENCE job_reference_seq`.execute(db);
  await sql`GRANT USAGE ON SEQUENCE job_reference_seq TO plh_app`.execute(db);

  await sql`
    CREATE TABLE jobs (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      practice_id uuid NOT NULL REFERENCES practices (id),
      reference text NOT NULL UNIQUE
        DEFAULT 'PLH-' || to_char(now() AT TIME ZONE 'UTC', 'YYYY') || '-' || lpad(nextval('job_reference_seq')::text, 6, '0')
        CHECK (reference ~ '^PLH-[0-9]{4}-[0-9]{6,}$'),
      title text NOT NULL CHECK (length(btrim(title)) BETWEEN 1 AND 120),
      letter_type text NOT NULL CHECK (letter_type IN
        ('practice_closure', 'provider_departure', 'records_transfer', 'appointment_recall', 'breach_notification', 'other')),
      mail_class text NOT NULL CHECK (mail_class IN ('first_class', 'marketing')),
      return_name text NOT NULL CHECK (length(btrim(return_name)) BETWEEN 1 AND 100),
      return_line1 text NOT NULL CHECK (length(btrim(return_line1)) BETWEEN 1 AND 100),
      return_line2 text CHECK (length(return_line2) <= 100),
      return_city text NOT NULL CHECK (length(btrim(return_city)) BETWEEN 1 AND 60),
      return_state text NOT NULL CHECK (return_state ~ '^[A-Z]{2}$'),
      return_zip text NOT NULL CHECK (return_zip ~ '^[0-9]{5}(-[0-9]{4})?$'),
      status text NOT NULL DEFAULT 'draft' CHECK (status IN
        ('draft', 'submitted', 'proof_ready', 'changes_requested', 'approved', 'in_production', 'mailed', 'completed', 'cancelled')),
      created_by uuid NOT NULL REFERENCES users (id),
      submitted_by uuid REFERENCES users (id),
      submitted_at timestamptz,
      approved_by uuid REFERENCES users (id),
      approved_at timestamptz,
      cancelled_by uuid REFERENCES users (id),
      cancelled_at timestamptz,
      cancel_reason text CHECK (length(cancel_reason) <= 500),
      production_started_at timestamptz,
      mailed_on date,
      mailed_pieces integer CHECK (mailed_pieces > 0),
      completed_at timestamptz,
      purged_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CHECK ((status = 'cancelled') = (cancelled_at IS NOT NULL))
    )`.execute(db);
  await sql`CREATE INDEX jobs_practice_recent ON jobs (practice_id, updated_at DESC)`.execute(db);
  await sql`CREATE INDEX jobs_practice_status ON jobs (practice_id, status, updated_at DESC)`.execute(db);
  await sql`CREATE INDEX jobs_operator_queue ON jobs (status, approved_at) WHERE status IN ('approved', 'in_production', 'mailed')`.execute(db);

  // Who attested, when, from where, and to exactly which statement (its version and SHA-256).
  await sql`
    CREATE TABLE job_attestations (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      practice_id uuid NOT NULL REFERENCES practices (id),
      job_id uuid NOT NULL UNIQUE REFERENCES jobs (id),
      user_id uuid NOT NULL REFERENCES users (id),
      statement_version text NOT NULL CHECK (length(statement_version) BETWEEN 1 AND 20),
      statement_sha256 text NOT NULL CHECK (statement_sha256 ~ '^[0-9a-f]{64}$'),
      initials text NOT NULL CHECK (initials ~ '^[A-Za-z][A-Za-z.''-]{0,5}$'),
      ip text CHECK (length(ip) <= 64),
      user_agent text CHECK (length(user_agent) <= 512),
      attested_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`
    CREATE TRIGGER job_attestations_no_change BEFORE UPDATE OR DELETE ON job_attestations
    FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change()`.execute(db);

  // A file the browser uploads straight to blob storage. The server names the blob; the row is
  // pending until the server has checked what arrived, then verified, rejected or replaced.
  await sql`
    CREATE TABLE job_files (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      practice_id uuid NOT NULL REFERENCES practices (id),
      job_id uuid NOT NULL REFERENCES jobs (id),
      kind text NOT NULL CHECK (kind IN ('recipients_csv', 'logo', 'signature')),
      blob_name text NOT NULL UNIQUE CHECK (blob_name ~ '^practices/[0-9a-f-]{36}/jobs/[0-9a-f-]{36}/[0-9a-f-]{36}$'),
      declared_name text NOT NULL CHECK (length(declared_name) BETWEEN 1 AND 255),
      declared_size bigint NOT NULL CHECK (declared_size > 0),
      declared_type text NOT NULL CHECK (length(declared_type) BETWEEN 1 AND 100),
      declared_sha256 text CHECK (declared_sha256 ~ '^[0-9a-f]{64}$'),
      status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'verified', 'rejected', 'replaced', 'purged')),
      upload_expires_at timestamptz NOT NULL,
      size bigint,
      sha256 text CHECK (sha256 ~ '^[0-9a-f]{64}$'),
      rejected_reason text CHECK (length(rejected_reason) <= 300),
      verified_at timestamptz,
      created_by uuid NOT NULL REFERENCES users (id),
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CHECK ((status = 'verified') = (verified_at IS NOT NULL) OR status IN ('replaced', 'purged'))
    )`.execute(db);
  await sql`CREATE INDEX job_files_job ON job_files (job_id, kind, created_at DESC)`.execute(db);
  // At most one verified file of each kind per job: a new upload replaces the old.
  await sql`CREATE UNIQUE INDEX job_files_one_verified ON job_files (job_id, kind) WHERE status = 'verified'`.execute(db);
  await sql`CREATE INDEX job_files_pending ON job_files (upload_expires_at) WHERE status = 'pending'`.execute(db);

  // ---- the BAA gate, in the database --------------------------------------------------------------
  await sql`
    CREATE FUNCTION jobs_require_baa() RETURNS trigger
    LANGUAGE plpgsql
    AS $$ BEGIN
      PERFORM require_current_baa(NEW.practice_id);
      RETURN NEW;
    END $$`.execute(db);
  await sql`CREATE TRIGGER jobs_require_baa BEFORE INSERT ON jobs FOR EACH ROW EXECUTE FUNCTION jobs_require_baa()`.execute(db);
  await sql`CREATE TRIGGER job_attestations_require_baa BEFORE INSERT ON job_attestations FOR EACH ROW EXECUTE FUNCTION jobs_require_baa()`.execute(db);
  // A file may be registered (an upload URL issued) only for an attested job that is still editable,
  // and verified only while the practice's BAA is in force.
  await sql`
    CREATE FUNCTION job_files_guard() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
    DECLARE
      job_status text;
    BEGIN
      IF TG_OP = 'INSERT' THEN
        PERFORM require_current_baa(NEW.practice_id);
        IF NOT EXISTS (SELECT 1 FROM job_attestations a WHERE a.job_id = NEW.job_id) THEN
          RAISE EXCEPTION 'job % has no PHI attestation', NEW.job_id USING ERRCODE = 'JOB01';
        END IF;
        SELECT status INTO job_status FROM jobs WHERE id = NEW.job_id;
        IF job_status IS NULL OR job_status NOT IN ('draft', 'changes_requested') THEN
          RAISE EXCEPTION 'job % is not open for uploads (status %)', NEW.job_id, job_status USING ERRCODE = 'JOB02';
        END IF;
      ELSIF NEW.status = 'verified' AND OLD.status IS DISTINCT FROM 'verified' THEN
        PERFORM require_current_baa(NEW.practice_id);
      END IF;
      NEW.updated_at := now();
      RETURN NEW;
    END $$`.execute(db);
  await sql`CREATE TRIGGER job_files_guard BEFORE INSERT OR UPDATE ON job_files FOR EACH ROW EXECUTE FUNCTION job_files_guard()`.execute(db);

  // ---- tenant isolation ----------------------------------------------------------------------------
  for (const table of TENANT_TABLES) {
    await sql`ALTER TABLE ${sql.table(table)} ENABLE ROW LEVEL SECURITY`.execute(db);
    await sql`ALTER TABLE ${sql.table(table)} FORCE ROW LEVEL SECURITY`.execute(db);
    await sql.raw(`
      CREATE POLICY ${table}_tenant ON ${table}
        USING (practice_id = app_current_practice())
        WITH CHECK (practice_id = app_current_practice())`).execute(db);
  }
  await sql`GRANT SELECT, INSERT, UPDATE ON jobs, job_files TO plh_app`.execute(db);
  await sql`GRANT SELECT, INSERT ON job_attestations TO plh_app`.execute(db);

  // ---- platform operators (the print shop) -----------------------------------------------------------
  // True when the transaction's user is a platform operator. SECURITY DEFINER so policies can ask
  // without the app role reading anything more.
  await sql`
    CREATE FUNCTION app_current_operator() RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
      SELECT EXISTS (
        SELECT 1 FROM platform_operators o
        WHERE o.user_id = nullif(current_setting('app.user_id', true), '')::uuid
      )
    $$`.execute(db);
  await sql`REVOKE ALL ON FUNCTION app_current_operator() FROM PUBLIC`.execute(db);
  await sql`GRANT EXECUTE ON FUNCTION app_current_operator() TO plh_app`.execute(db);
  // Operators see approved jobs and the ones they are producing, across practices, outside any
  // tenant context, and move them on to mailed and completed; never drafts, never files.
  await sql`
    CREATE POLICY jobs_operator_read ON jobs FOR SELECT
      USING (app_current_practice() IS NULL AND app_current_operator()
             AND status IN ('approved', 'in_production', 'mailed', 'completed'))`.execute(db);
  await sql`
    CREATE POLICY jobs_operator_update ON jobs FOR UPDATE
      USING (app_current_practice() IS NULL AND app_current_operator() AND status IN ('approved', 'in_production', 'mailed'))
      WITH CHECK (app_current_practice() IS NULL AND app_current_operator() AND status IN ('in_production', 'mailed', 'completed'))`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE job_files`.execute(db);
  await sql`DROP FUNCTION job_files_guard()`.execute(db);
  await sql`DROP TABLE job_attestations`.execute(db);
  await sql`DROP TABLE jobs`.execute(db);
  await sql`DROP FUNCTION jobs_require_baa()`.execute(db);
  await sql`DROP FUNCTION app_current_operator()`.execute(db);
  await sql`DROP SEQUENCE job_reference_seq`.execute(db);
}
