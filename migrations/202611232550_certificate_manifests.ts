// Retention (issue 8, follow-up; ADR 0018): certificates of destruction become immutable manifests,
// and the tables added since the sweeps were written are swept and covered by a practice's deletion.
// - destruction_certificates: a purge records each job's canonical manifest (JSON text: every blob
//   deleted by name, kind, size and SHA-256 where recorded, when, by which sweep run) and its SHA-256
//   (checked here against the text, and recorded in the job.data.purged event's hash chain). The PDF
//   is rendered from the manifest when someone downloads it, so no PDF is stored for such rows:
//   pdf_blob / pdf_sha256 / pdf_bytes stay for the certificates stored before this change. The row
//   stays unchangeable (the trigger of 202611232440_job_purge).
// - retention_expired_credentials_count / retention_delete_expired_credentials: also expired TOTP
//   re-enrolments (encrypted secrets of an authenticator change never finished).
// - data_request_anonymise_users: an anonymised user's email preferences and pending TOTP
//   re-enrolment are deleted, and their name and email on incident reports replaced (the reports
//   themselves are security records and stay, like the audit trail).
// Frozen in time: never import app code from a migration.
import { type Kysely, sql } from "kysely";

const COUNT_BODY = (withTotp: boolean) => `
      SELECT 'sessions', count(*) FROM sessions WHERE expires_at <= cutoff OR revoked_at <= cutoff
      UNION ALL
      SELECT 'email_tokens', count(*) FROM email_tokens WHERE expires_at <= cutoff OR used_at <= cutoff
      UNION ALL
      SELECT 'invitations', count(*) FROM invitations WHERE accepted_at IS NULL AND (expires_at <= cutoff OR revoked_at <= cutoff)${withTotp ? `
      UNION ALL
      SELECT 'totp_reenrolments', count(*) FROM totp_reenrolments WHERE expires_at <= cutoff` : ""}`;

const DELETE_BODY = (withTotp: boolean) => `
    DECLARE
      deleted integer;
    BEGIN
      IF cutoff IS NULL OR batch_size IS NULL OR batch_size < 1 OR batch_size > 10000 THEN
        RAISE EXCEPTION 'retention_delete_expired_credentials: cutoff and a batch size of 1-10000 are required' USING ERRCODE = 'invalid_parameter_value';
      END IF;
      IF kind = 'sessions' THEN
        DELETE FROM sessions WHERE id IN (
          SELECT id FROM sessions WHERE expires_at <= cutoff OR revoked_at <= cutoff LIMIT batch_size FOR UPDATE SKIP LOCKED);
      ELSIF kind = 'email_tokens' THEN
        DELETE FROM email_tokens WHERE id IN (
          SELECT id FROM email_tokens WHERE expires_at <= cutoff OR used_at <= cutoff LIMIT batch_size FOR UPDATE SKIP LOCKED);
      ELSIF kind = 'invitations' THEN
        DELETE FROM invitations WHERE id IN (
          SELECT id FROM invitations WHERE accepted_at IS NULL AND (expires_at <= cutoff OR revoked_at <= cutoff) LIMIT batch_size FOR UPDATE SKIP LOCKED);${withTotp ? `
      ELSIF kind = 'totp_reenrolments' THEN
        DELETE FROM totp_reenrolments WHERE user_id IN (
          SELECT user_id FROM totp_reenrolments WHERE expires_at <= cutoff LIMIT batch_size FOR UPDATE SKIP LOCKED);` : ""}
      ELSE
        RAISE EXCEPTION 'retention_delete_expired_credentials: unknown kind %', kind USING ERRCODE = 'invalid_parameter_value';
      END IF;
      GET DIAGNOSTICS deleted = ROW_COUNT;
      RETURN deleted;
    END`;

const ANONYMISE_BODY = (extended: boolean) => `
    DECLARE
      target uuid;
      alone uuid[];
      n_members integer;
      n_sessions integer;
    BEGIN
      SELECT r.practice_id INTO target FROM data_requests r
       WHERE r.id = request AND r.kind = 'deletion' AND r.status = 'scheduled' AND r.withdrawn_at IS NULL AND r.due_at <= cutoff
         AND r.practice_id = app_current_practice()
       FOR UPDATE;
      IF target IS NULL THEN
        RAISE EXCEPTION 'data_request_anonymise_users: no due deletion request % in this practice', request USING ERRCODE = 'invalid_parameter_value';
      END IF;
      SELECT count(DISTINCT m.user_id) INTO n_members FROM memberships m WHERE m.practice_id = target;
      SELECT coalesce(array_agg(DISTINCT m.user_id), '{}') INTO alone FROM memberships m
       WHERE m.practice_id = target
         AND NOT EXISTS (SELECT 1 FROM memberships o WHERE o.user_id = m.user_id AND o.practice_id <> target)
         AND NOT EXISTS (SELECT 1 FROM platform_operators p WHERE p.user_id = m.user_id);
      UPDATE users u SET full_name = 'Deleted user', email = 'deleted-' || u.id || '@deleted.invalid',
             password_hash = NULL, totp_secret = NULL, totp_enabled_at = NULL, totp_last_step = NULL,
             clerk_user_id = NULL, status = 'deactivated', updated_at = now()
       WHERE u.id = ANY (alone);
      DELETE FROM user_recovery_codes WHERE user_id = ANY (alone);
      DELETE FROM email_tokens WHERE user_id = ANY (alone);${extended ? `
      DELETE FROM email_preferences WHERE user_id = ANY (alone);
      DELETE FROM totp_reenrolments WHERE user_id = ANY (alone);
      UPDATE incident_reports SET reporter_name = 'Deleted user', reporter_email = 'deleted-' || reported_by || '@deleted.invalid'
       WHERE reported_by = ANY (alone);` : ""}
      UPDATE sessions s SET revoked_at = now(), revoked_reason = 'practice_deleted'
       WHERE s.revoked_at IS NULL AND (s.practice_id = target OR s.user_id = ANY (alone));
      GET DIAGNOSTICS n_sessions = ROW_COUNT;
      RETURN QUERY SELECT cardinality(alone), n_members - cardinality(alone), n_sessions;
    END`;

async function functions(db: Kysely<any>, extended: boolean): Promise<void> {
  await sql.raw(`
    CREATE OR REPLACE FUNCTION retention_expired_credentials_count(cutoff timestamptz) RETURNS TABLE (kind text, n bigint)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$${COUNT_BODY(extended)}
    $$`).execute(db);
  await sql.raw(`
    CREATE OR REPLACE FUNCTION retention_delete_expired_credentials(kind text, cutoff timestamptz, batch_size integer) RETURNS integer
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$${DELETE_BODY(extended)} $$`).execute(db);
  await sql.raw(`
    CREATE OR REPLACE FUNCTION data_request_anonymise_users(request uuid, cutoff timestamptz) RETURNS TABLE (anonymised integer, kept integer, sessions integer)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$${ANONYMISE_BODY(extended)} $$`).execute(db);
}

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE destruction_certificates
      ALTER COLUMN pdf_blob DROP NOT NULL,
      ALTER COLUMN pdf_sha256 DROP NOT NULL,
      ALTER COLUMN pdf_bytes DROP NOT NULL,
      ADD COLUMN manifest text CHECK (length(manifest) <= 400000 AND (manifest::jsonb) IS NOT NULL),
      ADD COLUMN manifest_sha256 text CHECK (manifest_sha256 ~ '^[0-9a-f]{64}$'),
      ADD COLUMN sweep_run_id uuid REFERENCES sweep_runs (id),
      ADD CONSTRAINT destruction_certificates_evidence CHECK (
        (manifest IS NOT NULL AND manifest_sha256 = encode(sha256(convert_to(manifest, 'UTF8')), 'hex') AND sweep_run_id IS NOT NULL)
        OR (manifest IS NULL AND manifest_sha256 IS NULL AND pdf_blob IS NOT NULL AND pdf_sha256 IS NOT NULL AND pdf_bytes IS NOT NULL))`.execute(db);
  await functions(db, true);
}

export async function down(db: Kysely<any>): Promise<void> {
  await functions(db, false);
  await sql`
    ALTER TABLE destruction_certificates
      DROP CONSTRAINT destruction_certificates_evidence,
      DROP COLUMN sweep_run_id, DROP COLUMN manifest_sha256, DROP COLUMN manifest,
      ALTER COLUMN pdf_blob SET NOT NULL, ALTER COLUMN pdf_sha256 SET NOT NULL, ALTER COLUMN pdf_bytes SET NOT NULL`.execute(db);
}
