// The job's letter: its body, encrypted by the app with AES-256-GCM (the ciphertext names its key
// id; letter_key_id repeats it so a rotation can find the rows still under an old key), and who
// saved it last and when. The body is PHI-bearing free text: never stored or logged in clear.
// Frozen in time: never import app code from a migration.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE jobs
      ADD COLUMN letter_body_enc text CHECK (letter_body_enc ~ '^v1\\.[A-Za-z0-9_-]{1,32}\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]*\\.[A-Za-z0-9_-]+$'),
      ADD COLUMN letter_key_id text CHECK (letter_key_id ~ '^[A-Za-z0-9_-]{1,32}$'),
      ADD COLUMN letter_length integer CHECK (letter_length BETWEEN 1 AND 20000),
      ADD COLUMN letter_fields text[],
      ADD COLUMN letter_saved_by uuid REFERENCES users (id),
      ADD COLUMN letter_saved_at timestamptz,
      ADD CONSTRAINT jobs_letter_complete CHECK (
        (letter_body_enc IS NULL) = (letter_key_id IS NULL)
        AND (letter_body_enc IS NULL) = (letter_saved_at IS NULL)
        AND (letter_body_enc IS NULL) = (letter_length IS NULL)
      )`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE jobs
      DROP CONSTRAINT jobs_letter_complete,
      DROP COLUMN letter_body_enc, DROP COLUMN letter_key_id, DROP COLUMN letter_length, DROP COLUMN letter_fields,
      DROP COLUMN letter_saved_by, DROP COLUMN letter_saved_at`.execute(db);
}
