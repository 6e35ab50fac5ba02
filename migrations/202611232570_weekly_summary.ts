// The weekly job summary (issue 9, item 2: the non-essential email the preferences page offers).
// Frozen in time: never import app code from a migration.
//   - weekly_summary_sends: one row per practice, member and week (the Monday it starts, UTC), written
//     in the same transaction as the send, so a rerun of the same week sends nothing twice. It
//     carries practice_id, so RLS ENABLE + FORCE with the tenant policy like every practice table.
//     outcome says what the mailer did: 'sent', or 'skipped' (the person had opted out).
//   - weekly_summary_practices(): the active practices' ids, for the task to visit one tenant at a
//     time (the app role sees no practice outside its tenant context). Ids only.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE weekly_summary_sends (
      practice_id uuid NOT NULL REFERENCES practices (id),
      user_id uuid NOT NULL REFERENCES users (id),
      week_of date NOT NULL CHECK (extract(isodow FROM week_of) = 1),
      outcome text NOT NULL CHECK (outcome IN ('sent', 'skipped')),
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (practice_id, user_id, week_of)
    )`.execute(db);
  await sql`ALTER TABLE weekly_summary_sends ENABLE ROW LEVEL SECURITY`.execute(db);
  await sql`ALTER TABLE weekly_summary_sends FORCE ROW LEVEL SECURITY`.execute(db);
  await sql`
    CREATE POLICY weekly_summary_sends_tenant ON weekly_summary_sends
      USING (practice_id = app_current_practice())
      WITH CHECK (practice_id = app_current_practice())`.execute(db);
  // UPDATE of the outcome only: the row is claimed as sent before the mailer says it skipped.
  await sql`GRANT SELECT, INSERT, UPDATE (outcome) ON weekly_summary_sends TO plh_app`.execute(db);

  await sql`
    CREATE FUNCTION weekly_summary_practices() RETURNS SETOF uuid
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$ SELECT id FROM practices WHERE status = 'active' ORDER BY id $$`.execute(db);
  await sql`REVOKE ALL ON FUNCTION weekly_summary_practices() FROM PUBLIC`.execute(db);
  await sql`GRANT EXECUTE ON FUNCTION weekly_summary_practices() TO plh_app`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP FUNCTION weekly_summary_practices()`.execute(db);
  await sql`DROP TABLE weekly_summary_sends`.execute(db);
}
