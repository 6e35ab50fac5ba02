// Daily checkpoints of each audit chain head, HMAC-signed by the app with a key id, so a chain
// rewritten end to end (every hash recomputed) still disagrees with what was signed before.
// Frozen in time: never import app code from a migration.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE audit_checkpoints (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      practice_id uuid REFERENCES practices (id),
      through_seq bigint NOT NULL CHECK (through_seq >= 0),
      through_hash text NOT NULL CHECK (through_hash ~ '^[0-9a-f]{64}$'),
      through_at timestamptz,
      checked_at timestamptz NOT NULL DEFAULT now(),
      status text NOT NULL CHECK (status IN ('verified', 'broken')),
      problem jsonb CHECK (problem IS NULL OR (jsonb_typeof(problem) = 'object' AND length(problem::text) <= 1024)),
      key_id text NOT NULL CHECK (length(key_id) BETWEEN 1 AND 64),
      signature text NOT NULL CHECK (signature ~ '^[0-9a-f]{64}$'),
      CHECK ((status = 'broken') = (problem IS NOT NULL))
    )`.execute(db);
  await sql`CREATE INDEX audit_checkpoints_latest ON audit_checkpoints (practice_id, checked_at DESC)`.execute(db);

  // Evidence, like the events: never changed or removed.
  await sql`
    CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change()`.execute(db);

  await sql`ALTER TABLE audit_checkpoints ENABLE ROW LEVEL SECURITY`.execute(db);
  await sql`ALTER TABLE audit_checkpoints FORCE ROW LEVEL SECURITY`.execute(db);
  await sql`
    CREATE POLICY audit_checkpoints_tenant ON audit_checkpoints
      USING (practice_id = app_current_practice())
      WITH CHECK (practice_id = app_current_practice())`.execute(db);
  await sql`
    CREATE POLICY audit_checkpoints_platform ON audit_checkpoints
      USING (practice_id IS NULL AND app_current_practice() IS NULL)
      WITH CHECK (practice_id IS NULL AND app_current_practice() IS NULL)`.execute(db);
  await sql`GRANT SELECT, INSERT ON audit_checkpoints TO plh_app`.execute(db);

  // The checkpoint job (as the app role) needs every chain's head to know what to verify; the head
  // table itself stays out of the app's reach. Heads hold only ids, counters and hashes.
  await sql`
    CREATE FUNCTION audit_chain_heads_snapshot()
    RETURNS TABLE (practice_id uuid, last_seq bigint, last_hash text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
      SELECT nullif(chain_key, 'platform')::uuid, last_seq, last_hash FROM audit_chain_heads ORDER BY chain_key
    $$`.execute(db);
  await sql`REVOKE ALL ON FUNCTION audit_chain_heads_snapshot() FROM PUBLIC`.execute(db);
  await sql`GRANT EXECUTE ON FUNCTION audit_chain_heads_snapshot() TO plh_app`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  const { rows } = await sql<{ n: string }>`SELECT count(*)::text AS n FROM audit_checkpoints`.execute(db);
  if (rows[0] && rows[0].n !== "0") throw new Error(`refusing to drop audit_checkpoints: it holds ${rows[0].n} checkpoints`);
  await sql`DROP FUNCTION audit_chain_heads_snapshot()`.execute(db);
  await sql`DROP TABLE audit_checkpoints`.execute(db);
}
