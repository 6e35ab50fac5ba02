// Clerk as an alternative identity provider: a local user may be linked to one Clerk user.
// The link is made once (by a verified email match for an invited user) and never reused:
// UNIQUE keeps one Clerk identity from ever naming two local users.
// Frozen in time: never import app code from a migration.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE users ADD COLUMN clerk_user_id text UNIQUE CHECK (length(clerk_user_id) BETWEEN 1 AND 200)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE users DROP COLUMN clerk_user_id`.execute(db);
}
