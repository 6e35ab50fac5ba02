// Support (issue 9 item 4): security and privacy incident reports.
// - incident_reports: append-only for the app role (SELECT and INSERT only). practice_id is the
//   reporter's practice at the time, or NULL for someone signed in without one (an operator, a
//   person between practices). The description is free text that may carry PHI despite the form's
//   warning, so the app stores it AES-256-GCM encrypted (context "incident-report:<id>", key_id
//   beside it, like letter templates); the reporter's name and email and the practice's name are
//   kept as they were when reported (like the BAA evidence), so the record stays readable.
// - Policies: the practice's own rows in its tenant context (written only by the reporter); a
//   report without a practice, written (and read) by its reporter outside any tenant; and platform operators
//   read every report outside any tenant (app_current_operator(), migration 202611232300_jobs),
//   the way they read approved jobs.
// Frozen in time: never import app code from a migration.
import { type Kysely, sql } from "kysely";

const CIPHERTEXT = String.raw`^v1\.[A-Za-z0-9_-]{1,32}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+$`;

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE incident_reports (
      id uuid PRIMARY KEY,
      reference text NOT NULL UNIQUE CHECK (reference ~ '^INC-[0-9A-Z]{4}-[0-9A-Z]{4}$'),
      practice_id uuid REFERENCES practices (id),
      practice_name text CHECK (length(practice_name) BETWEEN 1 AND 200),
      reported_by uuid NOT NULL REFERENCES users (id),
      reporter_name text NOT NULL CHECK (length(reporter_name) BETWEEN 1 AND 200),
      reporter_email text NOT NULL CHECK (length(reporter_email) BETWEEN 3 AND 254),
      category text NOT NULL CHECK (category IN
        ('misdirected_mail', 'unauthorized_access', 'account_compromise', 'lost_device', 'phishing', 'vulnerability', 'other')),
      description_enc text NOT NULL CHECK (description_enc ~ ${sql.lit(CIPHERTEXT)}),
      key_id text NOT NULL CHECK (key_id ~ '^[A-Za-z0-9_-]{1,32}$'),
      description_length integer NOT NULL CHECK (description_length BETWEEN 1 AND 5000),
      noticed_at timestamptz NOT NULL,
      reported_at timestamptz NOT NULL DEFAULT now(),
      CHECK (split_part(description_enc, '.', 2) = key_id),
      CHECK ((practice_id IS NULL) = (practice_name IS NULL)),
      CHECK (noticed_at <= reported_at + interval '5 minutes')
    )`.execute(db);
  await sql`CREATE INDEX incident_reports_reported_at ON incident_reports (reported_at DESC)`.execute(db);
  await sql`CREATE INDEX incident_reports_practice ON incident_reports (practice_id, reported_at DESC)`.execute(db);

  await sql`ALTER TABLE incident_reports ENABLE ROW LEVEL SECURITY`.execute(db);
  await sql`ALTER TABLE incident_reports FORCE ROW LEVEL SECURITY`.execute(db);
  await sql`
    CREATE POLICY incident_reports_tenant ON incident_reports
      USING (practice_id = app_current_practice())
      WITH CHECK (practice_id = app_current_practice() AND reported_by = app_current_user())`.execute(db);
  await sql`
    CREATE POLICY incident_reports_without_practice ON incident_reports
      USING (practice_id IS NULL AND app_current_practice() IS NULL AND reported_by = app_current_user())
      WITH CHECK (practice_id IS NULL AND app_current_practice() IS NULL AND reported_by = app_current_user())`.execute(db);
  await sql`
    CREATE POLICY incident_reports_operator_read ON incident_reports FOR SELECT
      USING (app_current_practice() IS NULL AND app_current_operator())`.execute(db);
  await sql`GRANT SELECT, INSERT ON incident_reports TO plh_app`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE incident_reports`.execute(db);
}
