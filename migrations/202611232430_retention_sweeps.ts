// Retention sweeps (issue 8, first part): a record of every sweep run, and the smallest privileges
// the app role needs to sweep what its row-level security hides from a context-free transaction.
// - retention_expired_upload_practices(): which practices have pending uploads past a time (ids
//   only); the sweep then works inside each practice's own tenant context, so RLS still decides.
// - retention_expired_credentials_count() / retention_delete_expired_credentials(): expired or
//   ended sessions, email tokens and unaccepted invitations. The app role has no DELETE on those
//   tables (and sees only its own sessions); these functions delete only dead rows, in batches.
// Dropping audit partitions past retention is not granted here: only the owner may (bun run sweep).
// - audit_retention_anchors: when the owner drops a partition, the last event of each chain in it
//   (sequence and hash), so a chain whose oldest events are gone can be verified from that point.
// Frozen in time: never import app code from a migration.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  // Platform-level (no practice_id): what ran, with which cutoff, and what it counted or did.
  await sql`
    CREATE TABLE sweep_runs (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      name text NOT NULL CHECK (name ~ '^[a-z][a-z-]{1,39}$'),
      cutoff timestamptz NOT NULL,
      dry_run boolean NOT NULL,
      counts jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(counts) = 'object'),
      started_at timestamptz NOT NULL DEFAULT now(),
      finished_at timestamptz,
      error text CHECK (length(error) <= 500)
    )`.execute(db);
  await sql`CREATE INDEX sweep_runs_recent ON sweep_runs (name, started_at DESC)`.execute(db);
  await sql`GRANT SELECT, INSERT, UPDATE ON sweep_runs TO plh_app`.execute(db);

  await sql`
    CREATE TABLE audit_retention_anchors (
      chain_key text NOT NULL CHECK (length(chain_key) <= 40),
      through_seq bigint NOT NULL,
      through_hash text NOT NULL CHECK (through_hash ~ '^[0-9a-f]{64}$'),
      partition_month text NOT NULL CHECK (partition_month ~ '^[0-9]{4}-[0-9]{2}$'),
      dropped_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (chain_key, partition_month)
    )`.execute(db);
  await sql`GRANT SELECT ON audit_retention_anchors TO plh_app`.execute(db);

  await sql`
    CREATE FUNCTION retention_expired_upload_practices(expired_before timestamptz) RETURNS SETOF uuid
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
      SELECT DISTINCT practice_id FROM job_files WHERE status = 'pending' AND upload_expires_at < expired_before
    $$`.execute(db);

  // What counts as dead at the cutoff: a session past its absolute expiry or revoked; an email token
  // expired or used; an invitation expired or revoked and never accepted (accepted ones are the
  // membership's history and stay).
  await sql`
    CREATE FUNCTION retention_expired_credentials_count(cutoff timestamptz) RETURNS TABLE (kind text, n bigint)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
      SELECT 'sessions', count(*) FROM sessions WHERE expires_at <= cutoff OR revoked_at <= cutoff
      UNION ALL
      SELECT 'email_tokens', count(*) FROM email_tokens WHERE expires_at <= cutoff OR used_at <= cutoff
      UNION ALL
      SELECT 'invitations', count(*) FROM invitations WHERE accepted_at IS NULL AND (expires_at <= cutoff OR revoked_at <= cutoff)
    $$`.execute(db);
  await sql`
    CREATE FUNCTION retention_delete_expired_credentials(kind text, cutoff timestamptz, batch_size integer) RETURNS integer
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
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
          SELECT id FROM invitations WHERE accepted_at IS NULL AND (expires_at <= cutoff OR revoked_at <= cutoff) LIMIT batch_size FOR UPDATE SKIP LOCKED);
      ELSE
        RAISE EXCEPTION 'retention_delete_expired_credentials: unknown kind %', kind USING ERRCODE = 'invalid_parameter_value';
      END IF;
      GET DIAGNOSTICS deleted = ROW_COUNT;
      RETURN deleted;
    END $$`.execute(db);
  for (const fn of ["retention_expired_upload_practices(timestamptz)", "retention_expired_credentials_count(timestamptz)", "retention_delete_expired_credentials(text, timestamptz, integer)"]) {
    await sql.raw(`REVOKE ALL ON FUNCTION ${fn} FROM PUBLIC`).execute(db);
    await sql.raw(`GRANT EXECUTE ON FUNCTION ${fn} TO plh_app`).execute(db);
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP FUNCTION retention_delete_expired_credentials(text, timestamptz, integer)`.execute(db);
  await sql`DROP FUNCTION retention_expired_credentials_count(timestamptz)`.execute(db);
  await sql`DROP FUNCTION retention_expired_upload_practices(timestamptz)`.execute(db);
  await sql`DROP TABLE audit_retention_anchors`.execute(db);
  await sql`DROP TABLE sweep_runs`.execute(db);
}
