// Audit events name their actor as text (actor_id: a user's id, or a system actor's name), so the
// viewer, the CSV export and each job's timeline join users ON u.id::text = e.actor_id. Without an
// index on that expression PostgreSQL can only compare every event with every user: the export's
// cursor (planned for a fast start) ran a nested loop over all users for each event. With it, each
// event's actor is one index lookup. Frozen in time: never import app code.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await sql`CREATE INDEX users_id_text ON users ((id::text))`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX users_id_text`.execute(db);
}
