// Team invitations: single-use links valid for 7 days, by email and role. Frozen in time: never
// import app code from a migration.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE invitations (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      practice_id uuid NOT NULL REFERENCES practices (id),
      email text NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
      role text NOT NULL CHECK (role IN ('admin', 'staff', 'auditor')),
      ends_at timestamptz,
      token_hash text NOT NULL UNIQUE CHECK (length(token_hash) = 64),
      invited_by uuid NOT NULL REFERENCES users (id),
      expires_at timestamptz NOT NULL,
      accepted_at timestamptz,
      accepted_by uuid REFERENCES users (id),
      revoked_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      CHECK (ends_at IS NULL OR role = 'auditor')
    )`.execute(db);
  await sql`CREATE INDEX invitations_practice ON invitations (practice_id, created_at DESC)`.execute(db);
  await sql`ALTER TABLE invitations ENABLE ROW LEVEL SECURITY`.execute(db);
  await sql`ALTER TABLE invitations FORCE ROW LEVEL SECURITY`.execute(db);
  // The practice manages its invitations; the invitee, who has only the link, may read and accept
  // that one invitation (its token hash in app.invitation_token_hash), never write another's.
  await sql`
    CREATE POLICY invitations_tenant ON invitations
      USING (practice_id = app_current_practice())
      WITH CHECK (practice_id = app_current_practice())`.execute(db);
  await sql`
    CREATE POLICY invitations_link_holder ON invitations
      USING (token_hash = nullif(current_setting('app.invitation_token_hash', true), ''))
      WITH CHECK (token_hash = nullif(current_setting('app.invitation_token_hash', true), ''))`.execute(db);
  await sql`GRANT SELECT, INSERT, UPDATE ON invitations TO plh_app`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE invitations`.execute(db);
}
