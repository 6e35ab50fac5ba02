// The operator console reads the names of practices whose jobs are in the operators' hands
// (approved onwards), outside any tenant context, and nothing else of theirs.
// Frozen in time: never import app code from a migration.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE POLICY practices_operator_read ON practices FOR SELECT
      USING (app_current_practice() IS NULL AND app_current_operator() AND EXISTS (
        SELECT 1 FROM jobs j WHERE j.practice_id = practices.id AND j.status IN ('approved', 'in_production', 'mailed', 'completed')))`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP POLICY practices_operator_read ON practices`.execute(db);
}
