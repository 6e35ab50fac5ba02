// Data requests, second part (issue 8, items 4 and 5):
// - An export's background build is counted (attempts, the last error, when it was queued), so a
//   build that keeps failing, or whose worker died, ends as `failed` (shown, audited, retryable)
//   instead of staying queued forever.
// - A deletion that falls due while jobs are in production or mailed cannot stop the print shop: it
//   becomes `processing` (the practice is closed, everything else deleted), and is completed, with
//   its final certificate, once the last of those jobs is completed and purged.
// - data_requests_due(cutoff, stale_before) replaces data_requests_pending(cutoff): ids only of the
//   deletions due or processing, the exports expired, and the exports queued since before
//   stale_before, across practices, so the sweep then works inside each practice's tenant context.
// Frozen in time: never import app code from a migration.
import { type Kysely, sql } from "kysely";

async function dropChecks(db: Kysely<any>): Promise<void> {
  // The two CHECKs of 202611232450 that name the statuses (unnamed there: found by their text).
  const { rows } = await sql<{ conname: string }>`
    SELECT conname FROM pg_constraint
     WHERE conrelid = 'data_requests'::regclass AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%status%'`.execute(db);
  for (const { conname } of rows) await sql`ALTER TABLE data_requests DROP CONSTRAINT ${sql.id(conname)}`.execute(db);
}

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE data_requests
      ADD COLUMN attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
      ADD COLUMN error text CHECK (length(error) <= 300),
      ADD COLUMN queued_at timestamptz`.execute(db);
  await sql`UPDATE data_requests SET queued_at = requested_at WHERE kind = 'export'`.execute(db);
  await dropChecks(db);
  await sql`
    ALTER TABLE data_requests
      ADD CONSTRAINT data_requests_status CHECK (
        kind = 'export' AND status IN ('queued', 'ready', 'failed', 'purged')
        OR kind = 'deletion' AND status IN ('scheduled', 'withdrawn', 'processing', 'completed') AND due_at IS NOT NULL)`.execute(db);
  await sql`DROP INDEX data_requests_one_open_deletion`.execute(db);
  await sql`CREATE UNIQUE INDEX data_requests_one_open_deletion ON data_requests (practice_id) WHERE kind = 'deletion' AND status IN ('scheduled', 'processing')`.execute(db);

  await sql`DROP FUNCTION data_requests_pending(timestamptz)`.execute(db);
  await sql`
    CREATE FUNCTION data_requests_due(cutoff timestamptz, stale_before timestamptz) RETURNS TABLE (id uuid, practice_id uuid, kind text, status text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
      SELECT id, practice_id, kind, status FROM data_requests
       WHERE (kind = 'deletion' AND status = 'scheduled' AND due_at <= cutoff)
          OR (kind = 'deletion' AND status = 'processing')
          OR (kind = 'export' AND status = 'ready' AND expires_at <= cutoff)
          OR (kind = 'export' AND status = 'queued' AND queued_at <= stale_before)
       ORDER BY coalesce(due_at, expires_at, queued_at)
    $$`.execute(db);
  await sql`REVOKE ALL ON FUNCTION data_requests_due(timestamptz, timestamptz) FROM PUBLIC`.execute(db);
  await sql`GRANT EXECUTE ON FUNCTION data_requests_due(timestamptz, timestamptz) TO plh_app`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP FUNCTION data_requests_due(timestamptz, timestamptz)`.execute(db);
  await sql`
    CREATE FUNCTION data_requests_pending(cutoff timestamptz) RETURNS TABLE (id uuid, practice_id uuid, kind text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
      SELECT id, practice_id, kind FROM data_requests
       WHERE (kind = 'deletion' AND status = 'scheduled' AND due_at <= cutoff)
          OR (kind = 'export' AND status = 'ready' AND expires_at <= cutoff)
       ORDER BY coalesce(due_at, expires_at)
    $$`.execute(db);
  await sql`REVOKE ALL ON FUNCTION data_requests_pending(timestamptz) FROM PUBLIC`.execute(db);
  await sql`GRANT EXECUTE ON FUNCTION data_requests_pending(timestamptz) TO plh_app`.execute(db);
  await sql`DROP INDEX data_requests_one_open_deletion`.execute(db);
  await sql`CREATE UNIQUE INDEX data_requests_one_open_deletion ON data_requests (practice_id) WHERE kind = 'deletion' AND status = 'scheduled'`.execute(db);
  // A deletion still processing reads as completed in the older model.
  await sql`UPDATE data_requests SET status = 'completed' WHERE status = 'processing'`.execute(db);
  await sql`ALTER TABLE data_requests DROP CONSTRAINT data_requests_status`.execute(db);
  await sql`
    ALTER TABLE data_requests ADD CHECK (status IN ('queued', 'ready', 'failed', 'purged', 'scheduled', 'withdrawn', 'completed')),
      ADD CHECK (kind = 'export' AND status IN ('queued', 'ready', 'failed', 'purged')
          OR kind = 'deletion' AND status IN ('scheduled', 'withdrawn', 'completed') AND due_at IS NOT NULL)`.execute(db);
  await sql`ALTER TABLE data_requests DROP COLUMN queued_at, DROP COLUMN error, DROP COLUMN attempts`.execute(db);
}
