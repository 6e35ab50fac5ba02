// The letter editor (issue 7 item 1): who signs a job's letter (name and title, printed under the
// closing), and the practice's saved letter templates. A template body is PHI-bearing free text:
// the app encrypts it with AES-256-GCM (context "letter-template:<id>", so a ciphertext copied to
// another row fails to decrypt) and key_id repeats the ciphertext's key id so a rotation can find
// the rows still under an old key. The name is for the team (no PHI) and unique per practice.
// Frozen in time: never import app code from a migration.
import { type Kysely, sql } from "kysely";

const CIPHERTEXT = String.raw`^v1\.[A-Za-z0-9_-]{1,32}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+$`;

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE jobs
      ADD COLUMN letter_signer_name text CHECK (length(btrim(letter_signer_name)) BETWEEN 1 AND 100),
      ADD COLUMN letter_signer_title text CHECK (length(btrim(letter_signer_title)) BETWEEN 1 AND 100),
      ADD CONSTRAINT jobs_letter_signer_complete CHECK ((letter_signer_name IS NULL) = (letter_signer_title IS NULL))`.execute(db);

  await sql`
    CREATE TABLE letter_templates (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      practice_id uuid NOT NULL REFERENCES practices (id),
      name text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 80),
      letter_type text NOT NULL CHECK (letter_type IN
        ('practice_closure', 'provider_departure', 'records_transfer', 'appointment_recall', 'breach_notification', 'other')),
      body_enc text NOT NULL CHECK (body_enc ~ ${sql.lit(CIPHERTEXT)}),
      key_id text NOT NULL CHECK (key_id ~ '^[A-Za-z0-9_-]{1,32}$'),
      body_length integer NOT NULL CHECK (body_length BETWEEN 1 AND 20000),
      body_fields text[] NOT NULL DEFAULT '{}',
      created_by uuid NOT NULL REFERENCES users (id),
      updated_by uuid REFERENCES users (id),
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CHECK (split_part(body_enc, '.', 2) = key_id)
    )`.execute(db);
  await sql`CREATE UNIQUE INDEX letter_templates_name ON letter_templates (practice_id, lower(btrim(name)))`.execute(db);

  // No PHI before a BAA: a template is stored only for a practice with the agreement in force
  // (jobs_require_baa() from migration 202611232300_jobs calls require_current_baa(NEW.practice_id)).
  await sql`CREATE TRIGGER letter_templates_require_baa BEFORE INSERT ON letter_templates FOR EACH ROW EXECUTE FUNCTION jobs_require_baa()`.execute(db);

  await sql`ALTER TABLE letter_templates ENABLE ROW LEVEL SECURITY`.execute(db);
  await sql`ALTER TABLE letter_templates FORCE ROW LEVEL SECURITY`.execute(db);
  await sql`
    CREATE POLICY letter_templates_tenant ON letter_templates
      USING (practice_id = app_current_practice())
      WITH CHECK (practice_id = app_current_practice())`.execute(db);
  await sql`GRANT SELECT, INSERT, UPDATE, DELETE ON letter_templates TO plh_app`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE letter_templates`.execute(db);
  await sql`
    ALTER TABLE jobs
      DROP CONSTRAINT jobs_letter_signer_complete,
      DROP COLUMN letter_signer_name, DROP COLUMN letter_signer_title`.execute(db);
}
