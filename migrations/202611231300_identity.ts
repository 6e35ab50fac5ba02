// Identity: users, memberships, sessions, one-time email tokens, recovery codes and sign-in
// throttling. Frozen in time: never import app code from a migration.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  // The signed-in user of the current transaction (set by the session middleware), NULL if none.
  await sql`
    CREATE FUNCTION app_current_user() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT nullif(current_setting('app.user_id', true), '')::uuid $$`.execute(db);

  // Users are platform-level identities (one person, several practices), so they carry no
  // practice_id. The email is stored lower-cased; the TOTP secret is AES-256-GCM ciphertext.
  await sql`
    CREATE TABLE users (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      email text NOT NULL UNIQUE CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
      full_name text NOT NULL CHECK (length(btrim(full_name)) BETWEEN 1 AND 200),
      password_hash text,
      email_verified_at timestamptz,
      totp_secret text,
      totp_enabled_at timestamptz,
      totp_last_step bigint,
      status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'deactivated')),
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`GRANT SELECT, INSERT, UPDATE ON users TO plh_app`.execute(db);

  await sql`
    CREATE TABLE user_recovery_codes (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      user_id uuid NOT NULL REFERENCES users (id),
      code_hash text NOT NULL,
      used_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`CREATE INDEX user_recovery_codes_user ON user_recovery_codes (user_id) WHERE used_at IS NULL`.execute(db);
  await sql`GRANT SELECT, INSERT, UPDATE, DELETE ON user_recovery_codes TO plh_app`.execute(db);

  await sql`
    CREATE TABLE memberships (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      practice_id uuid NOT NULL REFERENCES practices (id),
      user_id uuid NOT NULL REFERENCES users (id),
      role text NOT NULL CHECK (role IN ('admin', 'staff', 'auditor')),
      ends_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (practice_id, user_id),
      CHECK (ends_at IS NULL OR role = 'auditor')
    )`.execute(db);
  await sql`CREATE INDEX memberships_user ON memberships (user_id)`.execute(db);
  await sql`ALTER TABLE memberships ENABLE ROW LEVEL SECURITY`.execute(db);
  await sql`ALTER TABLE memberships FORCE ROW LEVEL SECURITY`.execute(db);
  // A practice manages its own members; a user may also read their own memberships elsewhere
  // (to list and switch practices), but never write them outside that practice's context.
  await sql`
    CREATE POLICY memberships_tenant ON memberships
      USING (practice_id = app_current_practice())
      WITH CHECK (practice_id = app_current_practice())`.execute(db);
  await sql`
    CREATE POLICY memberships_own_read ON memberships FOR SELECT
      USING (user_id = app_current_user())`.execute(db);
  await sql`GRANT SELECT, INSERT, UPDATE, DELETE ON memberships TO plh_app`.execute(db);

  // A member may read the names of the practices they belong to (the practice switcher).
  await sql`
    CREATE POLICY practices_member_read ON practices FOR SELECT
      USING (EXISTS (SELECT 1 FROM memberships m WHERE m.practice_id = practices.id AND m.user_id = app_current_user()))`.execute(db);

  // Sessions: only a SHA-256 of the token is stored. A row is visible to its user, or to a
  // transaction that already holds the token's hash (the lookup by cookie), nobody else.
  await sql`
    CREATE TABLE sessions (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      token_hash text NOT NULL UNIQUE CHECK (length(token_hash) = 64),
      user_id uuid NOT NULL REFERENCES users (id),
      practice_id uuid REFERENCES practices (id),
      mfa_verified_at timestamptz,
      ip text CHECK (length(ip) <= 64),
      user_agent text CHECK (length(user_agent) <= 512),
      created_at timestamptz NOT NULL DEFAULT now(),
      last_seen_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz NOT NULL,
      revoked_at timestamptz,
      revoked_reason text CHECK (length(revoked_reason) <= 40)
    )`.execute(db);
  await sql`CREATE INDEX sessions_user ON sessions (user_id) WHERE revoked_at IS NULL`.execute(db);
  await sql`ALTER TABLE sessions ENABLE ROW LEVEL SECURITY`.execute(db);
  await sql`ALTER TABLE sessions FORCE ROW LEVEL SECURITY`.execute(db);
  await sql`
    CREATE POLICY sessions_owner ON sessions
      USING (user_id = app_current_user() OR token_hash = nullif(current_setting('app.session_token_hash', true), ''))
      WITH CHECK (user_id = app_current_user())`.execute(db);
  await sql`GRANT SELECT, INSERT, UPDATE ON sessions TO plh_app`.execute(db);

  // Single-use links sent by email (verification, password reset): only hashes are stored.
  await sql`
    CREATE TABLE email_tokens (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      user_id uuid NOT NULL REFERENCES users (id),
      purpose text NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
      token_hash text NOT NULL UNIQUE CHECK (length(token_hash) = 64),
      expires_at timestamptz NOT NULL,
      used_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`GRANT SELECT, INSERT, UPDATE ON email_tokens TO plh_app`.execute(db);

  // Failed sign-in counters per account and per IP, shared by every instance. Keys are hashed
  // (no email addresses at rest here).
  await sql`
    CREATE TABLE auth_throttle (
      key text PRIMARY KEY CHECK (length(key) <= 80),
      failures integer NOT NULL DEFAULT 0,
      first_failure_at timestamptz NOT NULL DEFAULT now(),
      locked_until timestamptz
    )`.execute(db);
  await sql`GRANT SELECT, INSERT, UPDATE, DELETE ON auth_throttle TO plh_app`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE auth_throttle`.execute(db);
  await sql`DROP TABLE email_tokens`.execute(db);
  await sql`DROP TABLE sessions`.execute(db);
  await sql`DROP POLICY practices_member_read ON practices`.execute(db);
  await sql`DROP TABLE memberships`.execute(db);
  await sql`DROP TABLE user_recovery_codes`.execute(db);
  await sql`DROP TABLE users`.execute(db);
  await sql`DROP FUNCTION app_current_user()`.execute(db);
}
