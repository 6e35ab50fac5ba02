// Platform operators (the print shop): a platform-level identity, not a practice membership.
// Created only by `bun run operator:create`. Frozen in time: never import app code from a migration.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE platform_operators (
      user_id uuid PRIMARY KEY REFERENCES users (id),
      created_by text NOT NULL CHECK (length(created_by) <= 200),
      created_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  // The app only reads it: operators are made by the owner-run script, never through the web.
  await sql`GRANT SELECT ON platform_operators TO plh_app`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE platform_operators`.execute(db);
}
