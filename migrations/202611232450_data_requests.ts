// Data requests (issue 8, items 4 and 5): an admin asks for an export of the practice's data (a ZIP
// in private blob storage behind a signed link, purged 7 days after it is built) or for the deletion
// of the practice's data (due 30 days after the request, withdrawable until then).
// - data_requests: a tenant table (ENABLE + FORCE RLS); the app role reads, inserts and updates it.
// - data_requests_pending(cutoff): ids only of the deletions due and the exports expired at a cutoff,
//   across practices, so the sweep can then work inside each practice's own tenant context.
// - data_request_anonymise_users(request): the one step the app role cannot take under RLS: users
//   are platform-level rows it sees only for itself. It acts only for a deletion request that is due,
//   not withdrawn and being processed, and only on members of that practice who belong to no other
//   practice (and are not platform operators); it ends every session in that practice.
// Frozen in time: never import app code from a migration.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE data_requests (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      practice_id uuid NOT NULL REFERENCES practices (id),
      kind text NOT NULL CHECK (kind IN ('export', 'deletion')),
      status text NOT NULL CHECK (status IN ('queued', 'ready', 'failed', 'purged', 'scheduled', 'withdrawn', 'completed')),
      requested_by uuid NOT NULL REFERENCES users (id),
      requested_at timestamptz NOT NULL DEFAULT now(),
      due_at timestamptz,
      withdrawn_by uuid REFERENCES users (id),
      withdrawn_at timestamptz,
      processed_at timestamptz,
      blob_name text CHECK (length(blob_name) <= 300),
      sha256 text CHECK (sha256 ~ '^[0-9a-f]{64}$'),
      bytes bigint CHECK (bytes >= 0),
      expires_at timestamptz,
      counts jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(counts) = 'object'),
      CHECK (kind = 'export' AND status IN ('queued', 'ready', 'failed', 'purged')
          OR kind = 'deletion' AND status IN ('scheduled', 'withdrawn', 'completed') AND due_at IS NOT NULL)
    )`.execute(db);
  await sql`CREATE INDEX data_requests_practice ON data_requests (practice_id, requested_at DESC)`.execute(db);
  // One open deletion per practice.
  await sql`CREATE UNIQUE INDEX data_requests_one_open_deletion ON data_requests (practice_id) WHERE kind = 'deletion' AND status = 'scheduled'`.execute(db);
  await sql`ALTER TABLE data_requests ENABLE ROW LEVEL SECURITY`.execute(db);
  await sql`ALTER TABLE data_requests FORCE ROW LEVEL SECURITY`.execute(db);
  await sql`
    CREATE POLICY data_requests_tenant ON data_requests
      USING (practice_id = app_current_practice())
      WITH CHECK (practice_id = app_current_practice())`.execute(db);
  await sql`GRANT SELECT, INSERT, UPDATE ON data_requests TO plh_app`.execute(db);

  await sql`
    CREATE FUNCTION data_requests_pending(cutoff timestamptz) RETURNS TABLE (id uuid, practice_id uuid, kind text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
      SELECT id, practice_id, kind FROM data_requests
       WHERE (kind = 'deletion' AND status = 'scheduled' AND due_at <= cutoff)
          OR (kind = 'export' AND status = 'ready' AND expires_at <= cutoff)
       ORDER BY coalesce(due_at, expires_at)
    $$`.execute(db);

  await sql`
    CREATE FUNCTION data_request_anonymise_users(request uuid, cutoff timestamptz) RETURNS TABLE (anonymised integer, kept integer, sessions integer)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
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
      DELETE FROM email_tokens WHERE user_id = ANY (alone);
      UPDATE sessions s SET revoked_at = now(), revoked_reason = 'practice_deleted'
       WHERE s.revoked_at IS NULL AND (s.practice_id = target OR s.user_id = ANY (alone));
      GET DIAGNOSTICS n_sessions = ROW_COUNT;
      RETURN QUERY SELECT cardinality(alone), n_members - cardinality(alone), n_sessions;
    END $$`.execute(db);
  for (const fn of ["data_requests_pending(timestamptz)", "data_request_anonymise_users(uuid, timestamptz)"]) {
    await sql.raw(`REVOKE ALL ON FUNCTION ${fn} FROM PUBLIC`).execute(db);
    await sql.raw(`GRANT EXECUTE ON FUNCTION ${fn} TO plh_app`).execute(db);
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP FUNCTION data_request_anonymise_users(uuid, timestamptz)`.execute(db);
  await sql`DROP FUNCTION data_requests_pending(timestamptz)`.execute(db);
  await sql`DROP TABLE data_requests`.execute(db);
}
