// A platform operator can never hold a practice membership, whatever the application does:
// the two identities stay apart. Frozen in time: never import app code from a migration.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE FUNCTION memberships_refuse_operators() RETURNS trigger
    LANGUAGE plpgsql
    AS $$ BEGIN
      IF EXISTS (SELECT 1 FROM platform_operators WHERE user_id = NEW.user_id) THEN
        RAISE EXCEPTION 'platform operators cannot be practice members' USING ERRCODE = 'check_violation';
      END IF;
      RETURN NEW;
    END $$`.execute(db);
  await sql`CREATE TRIGGER memberships_refuse_operators BEFORE INSERT OR UPDATE OF user_id ON memberships FOR EACH ROW EXECUTE FUNCTION memberships_refuse_operators()`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TRIGGER memberships_refuse_operators ON memberships`.execute(db);
  await sql`DROP FUNCTION memberships_refuse_operators()`.execute(db);
}
