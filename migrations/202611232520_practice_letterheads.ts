// Practice settings (issue 9 item 3): the practice's letterhead, which the letters and proofs use.
// - practice_letterheads: one row per practice (a tenant table: ENABLE + FORCE RLS). The return
//   address that new jobs start with, the default signer of a job's letter, and the logo (PNG or
//   JPEG, checked by the app by magic number and size, kept in the private container under
//   practices/{practice}/letterhead/; the row names the blob with its SHA-256, size and type).
//   The profile's NPI, privacy officer and time zone stay on practices (migration 202611232200_baa).
// Not PHI: a practice's own address, a signer's name and a logo.
// Frozen in time: never import app code from a migration.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE practice_letterheads (
      practice_id uuid PRIMARY KEY REFERENCES practices (id),
      return_name text CHECK (length(btrim(return_name)) BETWEEN 1 AND 100),
      return_line1 text CHECK (length(btrim(return_line1)) BETWEEN 1 AND 100),
      return_line2 text CHECK (length(btrim(return_line2)) BETWEEN 1 AND 100),
      return_city text CHECK (length(btrim(return_city)) BETWEEN 1 AND 100),
      return_state text CHECK (return_state ~ '^[A-Z]{2}$'),
      return_zip text CHECK (return_zip ~ '^[0-9]{5}(-[0-9]{4})?$'),
      signer_name text CHECK (length(btrim(signer_name)) BETWEEN 1 AND 100),
      signer_title text CHECK (length(btrim(signer_title)) BETWEEN 1 AND 100),
      logo_blob text CHECK (length(logo_blob) <= 300),
      logo_sha256 text CHECK (logo_sha256 ~ '^[0-9a-f]{64}$'),
      logo_bytes integer CHECK (logo_bytes > 0),
      logo_content_type text CHECK (logo_content_type IN ('image/png', 'image/jpeg')),
      updated_by uuid NOT NULL REFERENCES users (id),
      updated_at timestamptz NOT NULL DEFAULT now(),
      -- A return address is whole or absent (line 2 is optional); so is the signer, and the logo.
      CONSTRAINT practice_letterheads_return_complete CHECK (
        (return_name IS NULL AND return_line1 IS NULL AND return_line2 IS NULL AND return_city IS NULL AND return_state IS NULL AND return_zip IS NULL)
        OR (return_name IS NOT NULL AND return_line1 IS NOT NULL AND return_city IS NOT NULL AND return_state IS NOT NULL AND return_zip IS NOT NULL)),
      CONSTRAINT practice_letterheads_signer_complete CHECK ((signer_name IS NULL) = (signer_title IS NULL)),
      CONSTRAINT practice_letterheads_logo_complete CHECK (
        (logo_blob IS NULL AND logo_sha256 IS NULL AND logo_bytes IS NULL AND logo_content_type IS NULL)
        OR (logo_blob IS NOT NULL AND logo_sha256 IS NOT NULL AND logo_bytes IS NOT NULL AND logo_content_type IS NOT NULL)),
      -- The logo lives under its own practice's prefix, never another's.
      CONSTRAINT practice_letterheads_logo_prefix CHECK (logo_blob IS NULL OR logo_blob LIKE 'practices/' || practice_id || '/letterhead/%')
    )`.execute(db);
  await sql`ALTER TABLE practice_letterheads ENABLE ROW LEVEL SECURITY`.execute(db);
  await sql`ALTER TABLE practice_letterheads FORCE ROW LEVEL SECURITY`.execute(db);
  await sql`
    CREATE POLICY practice_letterheads_tenant ON practice_letterheads
      USING (practice_id = app_current_practice())
      WITH CHECK (practice_id = app_current_practice())`.execute(db);
  await sql`GRANT SELECT, INSERT, UPDATE ON practice_letterheads TO plh_app`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE practice_letterheads`.execute(db);
}
