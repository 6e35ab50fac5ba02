// Changes audit rows as a superuser past the append-only triggers (replica mode skips them): what
// an attacker holding the database could do, for tests that prove verification notices.
import { type Kysely, type RawBuilder, sql } from "kysely";

export async function tamper(ownerDb: Kysely<any>, statement: RawBuilder<unknown>): Promise<void> {
  await ownerDb.connection().execute(async (conn) => {
    await sql`SET session_replication_role = replica`.execute(conn);
    try {
      await statement.execute(conn);
    } finally {
      await sql`SET session_replication_role = origin`.execute(conn);
    }
  });
}
