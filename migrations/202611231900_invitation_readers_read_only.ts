// Whoever holds an invitation link (or, with Clerk, the invited verified email) may only READ that
// invitation: accepting writes it under the practice's own context. Frozen in time.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await sql`DROP POLICY invitations_link_holder ON invitations`.execute(db);
  await sql`DROP POLICY invitations_invitee ON invitations`.execute(db);
  await sql`
    CREATE POLICY invitations_link_holder ON invitations FOR SELECT
      USING (token_hash = nullif(current_setting('app.invitation_token_hash', true), ''))`.execute(db);
  await sql`
    CREATE POLICY invitations_invitee ON invitations FOR SELECT
      USING (email = nullif(current_setting('app.invitee_email', true), ''))`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP POLICY invitations_link_holder ON invitations`.execute(db);
  await sql`DROP POLICY invitations_invitee ON invitations`.execute(db);
  await sql`
    CREATE POLICY invitations_link_holder ON invitations
      USING (token_hash = nullif(current_setting('app.invitation_token_hash', true), ''))
      WITH CHECK (token_hash = nullif(current_setting('app.invitation_token_hash', true), ''))`.execute(db);
  await sql`
    CREATE POLICY invitations_invitee ON invitations
      USING (email = nullif(current_setting('app.invitee_email', true), ''))
      WITH CHECK (email = nullif(current_setting('app.invitee_email', true), ''))`.execute(db);
}
