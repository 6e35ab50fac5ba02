// Account settings and communication preferences (issue 9, items 1 and 2). Frozen in time: never
// import app code from a migration.
//   - email_tokens gains the 'change_email' purpose and the address it confirms (new_email): the
//     change is applied only when that link is used. users and email_tokens keep the access they had.
//   - email_preferences: each user's choice per non-essential category; no row means the default.
//   - totp_reenrolments: a new authenticator being set up from account settings, kept apart from the
//     active secret so two-step sign-in stays on until the new app has proved itself.
// Neither new table has a practice_id (a user spans practices): both are visible only to their own
// user (app.user_id), with RLS ENABLE + FORCE like sessions.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE email_tokens ADD COLUMN new_email text
    CHECK (new_email IS NULL OR (new_email = lower(new_email) AND length(new_email) BETWEEN 3 AND 254))`.execute(db);
  await sql`ALTER TABLE email_tokens DROP CONSTRAINT email_tokens_purpose_check`.execute(db);
  await sql`ALTER TABLE email_tokens ADD CONSTRAINT email_tokens_purpose_check
    CHECK (purpose IN ('verify_email', 'reset_password', 'change_email'))`.execute(db);
  // An email-change link always names the address it confirms; no other link carries one.
  await sql`ALTER TABLE email_tokens ADD CONSTRAINT email_tokens_change_email_target
    CHECK ((purpose = 'change_email') = (new_email IS NOT NULL))`.execute(db);

  await sql`
    CREATE TABLE email_preferences (
      user_id uuid NOT NULL REFERENCES users (id),
      category text NOT NULL CHECK (category IN ('product_news', 'job_summary')),
      subscribed boolean NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (user_id, category)
    )`.execute(db);
  await sql`ALTER TABLE email_preferences ENABLE ROW LEVEL SECURITY`.execute(db);
  await sql`ALTER TABLE email_preferences FORCE ROW LEVEL SECURITY`.execute(db);
  await sql`
    CREATE POLICY email_preferences_own ON email_preferences
      USING (user_id = app_current_user())
      WITH CHECK (user_id = app_current_user())`.execute(db);
  await sql`GRANT SELECT, INSERT, UPDATE ON email_preferences TO plh_app`.execute(db);

  await sql`
    CREATE TABLE totp_reenrolments (
      user_id uuid PRIMARY KEY REFERENCES users (id),
      secret text NOT NULL,
      expires_at timestamptz NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`ALTER TABLE totp_reenrolments ENABLE ROW LEVEL SECURITY`.execute(db);
  await sql`ALTER TABLE totp_reenrolments FORCE ROW LEVEL SECURITY`.execute(db);
  await sql`
    CREATE POLICY totp_reenrolments_own ON totp_reenrolments
      USING (user_id = app_current_user())
      WITH CHECK (user_id = app_current_user())`.execute(db);
  await sql`GRANT SELECT, INSERT, UPDATE, DELETE ON totp_reenrolments TO plh_app`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE totp_reenrolments`.execute(db);
  await sql`DROP TABLE email_preferences`.execute(db);
  await sql`DELETE FROM email_tokens WHERE purpose = 'change_email'`.execute(db);
  await sql`ALTER TABLE email_tokens DROP CONSTRAINT email_tokens_change_email_target`.execute(db);
  await sql`ALTER TABLE email_tokens DROP CONSTRAINT email_tokens_purpose_check`.execute(db);
  await sql`ALTER TABLE email_tokens ADD CONSTRAINT email_tokens_purpose_check CHECK (purpose IN ('verify_email', 'reset_password'))`.execute(db);
  await sql`ALTER TABLE email_tokens DROP COLUMN new_email`.execute(db);
}
