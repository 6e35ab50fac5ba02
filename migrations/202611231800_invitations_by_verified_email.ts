// With Clerk, an invitee signs in with the invited (and verified) email rather than following the
// link: such a transaction may read and accept the invitations addressed to that email. The app
// sets app.invitee_email only from a verified Clerk session token. Frozen in time.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE POLICY invitations_invitee ON invitations
      USING (email = nullif(current_setting('app.invitee_email', true), ''))
      WITH CHECK (email = nullif(current_setting('app.invitee_email', true), ''))`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP POLICY invitations_invitee ON invitations`.execute(db);
}
