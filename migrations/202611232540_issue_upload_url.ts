// Issuing an upload URL in one round trip: app_issue_upload_url does, in one statement (its own
// transaction), what the issuance transaction did in five (context, the job locked with the BAA
// gate and the attestation, the per-user rate limit, the pending file, the audit event). The rules
// and their order are the app's (src/jobs/uploads.ts): not found, no current BAA, not editable,
// not attested, then (the declared file's kind, size and type are checked by the app before the
// call) the rate limit. Every refusal raises, so nothing the call did is kept, the rate-limit count
// included, as when the transaction rolled back. SECURITY INVOKER: the app role, its row-level
// security and the job_files and audit_events triggers (BAA gate, hash chain) apply unchanged; it
// sets the same transaction settings withContext sets, which the app role could set anyway.
// docs/decisions/0017-upload-url-issuance-in-one-statement.md.
// Frozen in time: never import app code from a migration.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE FUNCTION app_issue_upload_url(
      actor text, practice uuid, member uuid, member_role text, job uuid, check_only boolean,
      file uuid, file_kind text, blob text, declared_name text, declared_size bigint, declared_type text, declared_sha256 text,
      expires_at timestamptz, lease uuid, per_minute integer,
      audit_action text, request_ip text, request_user_agent text, request_id text
    )
    RETURNS TABLE (job_reference text, upload_expires_at timestamptz)
    LANGUAGE plpgsql VOLATILE SECURITY INVOKER SET search_path = public, pg_temp
    AS $$
    DECLARE
      j jobs%ROWTYPE;
      issued integer;
      retry_after integer;
    BEGIN
      PERFORM set_config('app.actor', actor, true),
              set_config('app.practice_id', practice::text, true),
              set_config('app.user_id', member::text, true),
              set_config('app.session_token_hash', '', true),
              set_config('app.invitation_token_hash', '', true),
              set_config('app.invitee_email', '', true);
      SELECT * INTO j FROM jobs WHERE jobs.id = job FOR UPDATE;
      IF NOT FOUND THEN
        RAISE EXCEPTION 'no such job in this practice' USING ERRCODE = 'UPL04';
      END IF;
      PERFORM require_current_baa(practice);
      IF j.status NOT IN ('draft', 'changes_requested') THEN
        RAISE EXCEPTION 'job % is not open for uploads (status %)', j.id, j.status USING ERRCODE = 'JOB02';
      END IF;
      IF NOT EXISTS (SELECT 1 FROM job_attestations a WHERE a.job_id = j.id) THEN
        RAISE EXCEPTION 'job % has no PHI attestation', j.id USING ERRCODE = 'JOB01';
      END IF;
      IF check_only THEN
        RETURN;
      END IF;

      -- One fixed window per user, as bumpUploadUrlCount (the row locked: parallel requests count in turn).
      INSERT INTO upload_url_throttle AS t (user_id, window_started_at, issued) VALUES (member, now(), 1)
      ON CONFLICT (user_id) DO UPDATE SET
        window_started_at = CASE WHEN t.window_started_at <= now() - interval '1 minute' THEN now() ELSE t.window_started_at END,
        issued = CASE WHEN t.window_started_at <= now() - interval '1 minute' THEN 1 ELSE t.issued + 1 END
      RETURNING t.issued, greatest(1, ceil(extract(epoch FROM (t.window_started_at + interval '1 minute' - now()))))::int
      INTO issued, retry_after;
      IF issued > per_minute THEN
        RAISE EXCEPTION 'too many upload URLs' USING ERRCODE = 'UPL29', DETAIL = retry_after::text;
      END IF;

      INSERT INTO job_files (id, practice_id, job_id, kind, blob_name, declared_name, declared_size, declared_type, declared_sha256,
                             upload_expires_at, created_by, blob_lease_id)
      VALUES (file, practice, j.id, file_kind, blob, declared_name, declared_size, declared_type, declared_sha256, expires_at, member, lease);

      -- Last, so the chain head's lock (audit_events_link) is held only until this statement commits.
      INSERT INTO audit_events (practice_id, actor_type, actor_id, actor_role, ip, user_agent, request_id, action, target_type, target_id, outcome, details)
      VALUES (practice, 'user', member::text, member_role, request_ip, nullif(request_user_agent, ''), request_id, audit_action, 'job', j.reference, 'success',
              jsonb_build_object('file_id', file, 'kind', file_kind, 'declared_size', declared_size));

      job_reference := j.reference;
      upload_expires_at := expires_at;
      RETURN NEXT;
    END $$`.execute(db);
  await sql`REVOKE ALL ON FUNCTION app_issue_upload_url(text, uuid, uuid, text, uuid, boolean, uuid, text, text, text, bigint, text, text, timestamptz, uuid, integer, text, text, text, text) FROM PUBLIC`.execute(db);
  await sql`GRANT EXECUTE ON FUNCTION app_issue_upload_url(text, uuid, uuid, text, uuid, boolean, uuid, text, text, text, bigint, text, text, timestamptz, uuid, integer, text, text, text, text) TO plh_app`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP FUNCTION app_issue_upload_url(text, uuid, uuid, text, uuid, boolean, uuid, text, text, text, bigint, text, text, timestamptz, uuid, integer, text, text, text, text)`.execute(db);
}
