// The practice letterhead as it was when a proof was requested (issue 7 item 7, issue 9 item 3).
// A proof's inputs include practice-level settings (the practice's name and phone printed at the top,
// the letterhead logo when the job has none of its own, the letterhead signer when the job names
// none). Read live, a settings change after approval made the print file's inputs differ from the
// approved proof's for good. Each proof version now records those values at request time, and the
// logo it uses is copied under the job's own blob prefix (content-addressed by SHA-256, never
// overwritten, deleted with the job's other blobs by the job purge). Proofs requested before this
// migration have no snapshot (letterhead_at NULL) and keep reading the live letterhead.
// Not PHI: a practice's own name, phone, signer and logo.
// Frozen in time: never import app code from a migration.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE proofs
      ADD COLUMN letterhead_at timestamptz,
      ADD COLUMN letterhead_name text CHECK (length(letterhead_name) BETWEEN 1 AND 300),
      ADD COLUMN letterhead_phone text CHECK (length(letterhead_phone) <= 100),
      ADD COLUMN letterhead_signer_name text CHECK (length(letterhead_signer_name) <= 100),
      ADD COLUMN letterhead_signer_title text CHECK (length(letterhead_signer_title) <= 100),
      ADD COLUMN letterhead_logo_blob text CHECK (length(letterhead_logo_blob) <= 300),
      ADD COLUMN letterhead_logo_sha256 text CHECK (letterhead_logo_sha256 ~ '^[0-9a-f]{64}$'),
      ADD COLUMN letterhead_logo_bytes integer CHECK (letterhead_logo_bytes > 0),
      ADD COLUMN letterhead_logo_content_type text CHECK (letterhead_logo_content_type IN ('image/png', 'image/jpeg')),
      -- A snapshot is whole (name and signer always; the logo whole or absent) or absent.
      ADD CONSTRAINT proofs_letterhead_complete CHECK (
        (letterhead_at IS NULL AND letterhead_name IS NULL AND letterhead_phone IS NULL AND letterhead_signer_name IS NULL
          AND letterhead_signer_title IS NULL AND letterhead_logo_blob IS NULL)
        OR (letterhead_at IS NOT NULL AND letterhead_name IS NOT NULL AND letterhead_signer_name IS NOT NULL AND letterhead_signer_title IS NOT NULL)),
      ADD CONSTRAINT proofs_letterhead_logo_complete CHECK (
        (letterhead_logo_blob IS NULL AND letterhead_logo_sha256 IS NULL AND letterhead_logo_bytes IS NULL AND letterhead_logo_content_type IS NULL)
        OR (letterhead_logo_blob IS NOT NULL AND letterhead_logo_sha256 IS NOT NULL AND letterhead_logo_bytes IS NOT NULL AND letterhead_logo_content_type IS NOT NULL)),
      -- The copied logo lives under its own job's prefix, so the job purge deletes it with the job.
      ADD CONSTRAINT proofs_letterhead_logo_prefix CHECK (
        letterhead_logo_blob IS NULL OR letterhead_logo_blob LIKE 'practices/' || practice_id || '/jobs/' || job_id || '/letterhead/%')`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE proofs
      DROP CONSTRAINT proofs_letterhead_logo_prefix, DROP CONSTRAINT proofs_letterhead_logo_complete, DROP CONSTRAINT proofs_letterhead_complete,
      DROP COLUMN letterhead_logo_content_type, DROP COLUMN letterhead_logo_bytes, DROP COLUMN letterhead_logo_sha256, DROP COLUMN letterhead_logo_blob,
      DROP COLUMN letterhead_signer_title, DROP COLUMN letterhead_signer_name, DROP COLUMN letterhead_phone, DROP COLUMN letterhead_name, DROP COLUMN letterhead_at`.execute(db);
}
