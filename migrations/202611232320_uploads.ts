// Direct uploads: a per-user rate limit on upload URLs (shared by every instance), and the secret
// lease id the server takes on a blob while and after checking it, so the browser's still-valid
// upload URL can no longer change what was verified.
// Frozen in time: never import app code from a migration.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  // One fixed window per user: how many upload URLs they were given since window_started_at.
  await sql`
    CREATE TABLE upload_url_throttle (
      user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
      window_started_at timestamptz NOT NULL DEFAULT now(),
      issued integer NOT NULL DEFAULT 0 CHECK (issued >= 0)
    )`.execute(db);
  // A user's counter is theirs alone: the app only ever touches the signed-in user's row.
  await sql`ALTER TABLE upload_url_throttle ENABLE ROW LEVEL SECURITY`.execute(db);
  await sql`ALTER TABLE upload_url_throttle FORCE ROW LEVEL SECURITY`.execute(db);
  await sql`
    CREATE POLICY upload_url_throttle_own ON upload_url_throttle
      USING (user_id = app_current_user())
      WITH CHECK (user_id = app_current_user())`.execute(db);
  await sql`GRANT SELECT, INSERT, UPDATE ON upload_url_throttle TO plh_app`.execute(db);

  // Chosen by the server at issuance, never sent to the browser.
  await sql`ALTER TABLE job_files ADD COLUMN blob_lease_id uuid`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE job_files DROP COLUMN blob_lease_id`.execute(db);
  await sql`DROP TABLE upload_url_throttle`.execute(db);
}
