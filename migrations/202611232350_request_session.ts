// One round trip for what every signed-in request needs first: the session behind a cookie's token
// hash, its user, and the user's active membership in the session's practice (what the permission
// guard checks). The function sets the transaction's context itself, in order (the token hash, then
// the user it names), so row-level security decides exactly as withContext + the three queries did;
// it is SECURITY INVOKER (the app role, its policies) and adds no privilege: the app could already
// set these settings and read these rows. Called as a single statement, its settings (is_local)
// end with that statement's own transaction. The rules (idle, absolute, deactivated; touching and
// revoking) stay in the app (src/auth/sessions.ts).
// Frozen in time: never import app code from a migration.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE FUNCTION app_request_session(session_token_hash text)
    RETURNS TABLE (
      id uuid, token_hash text, user_id uuid, practice_id uuid, mfa_verified_at timestamptz, ip text, user_agent text,
      created_at timestamptz, last_seen_at timestamptz, expires_at timestamptz, revoked_at timestamptz, revoked_reason text,
      u_id uuid, u_email text, u_full_name text, u_password_hash text, u_email_verified_at timestamptz, u_totp_secret text,
      u_totp_enabled_at timestamptz, u_totp_last_step bigint, u_status text, u_clerk_user_id text, u_created_at timestamptz,
      u_updated_at timestamptz,
      m_practice_id uuid, m_role text
    )
    LANGUAGE plpgsql VOLATILE SECURITY INVOKER SET search_path = public, pg_temp
    AS $$
    DECLARE
      s sessions%ROWTYPE;
      u users%ROWTYPE;
      m memberships%ROWTYPE;
    BEGIN
      PERFORM set_config('app.actor', 'session', true),
              set_config('app.practice_id', '', true),
              set_config('app.user_id', '', true),
              set_config('app.session_token_hash', coalesce(session_token_hash, ''), true),
              set_config('app.invitation_token_hash', '', true),
              set_config('app.invitee_email', '', true);
      SELECT * INTO s FROM sessions WHERE sessions.token_hash = session_token_hash AND sessions.revoked_at IS NULL;
      IF NOT FOUND THEN
        RETURN;
      END IF;
      -- The token named its user: from here on the context is that user's, as in withContext.
      PERFORM set_config('app.user_id', s.user_id::text, true);
      SELECT * INTO u FROM users WHERE users.id = s.user_id;
      IF s.practice_id IS NOT NULL THEN
        SELECT * INTO m FROM memberships
          WHERE memberships.practice_id = s.practice_id AND memberships.user_id = s.user_id
            AND (memberships.ends_at IS NULL OR memberships.ends_at > now());
      END IF;
      RETURN QUERY SELECT
        s.id, s.token_hash, s.user_id, s.practice_id, s.mfa_verified_at, s.ip, s.user_agent,
        s.created_at, s.last_seen_at, s.expires_at, s.revoked_at, s.revoked_reason,
        u.id, u.email, u.full_name, u.password_hash, u.email_verified_at, u.totp_secret,
        u.totp_enabled_at, u.totp_last_step, u.status, u.clerk_user_id, u.created_at, u.updated_at,
        m.practice_id, m.role;
    END $$`.execute(db);
  await sql`REVOKE ALL ON FUNCTION app_request_session(text) FROM PUBLIC`.execute(db);
  await sql`GRANT EXECUTE ON FUNCTION app_request_session(text) TO plh_app`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP FUNCTION app_request_session(text)`.execute(db);
}
