// Seven years of audit events: audit_events becomes a table partitioned by month on occurred_at,
// so retention drops whole partitions (DROP TABLE, no row deletes) and the viewer's filters stay
// indexed. Partitions are created ahead by audit_ensure_partitions(), which a daily task calls.
// The rows, their hashes and the chain heads are carried over untouched.
// Frozen in time: never import app code from a migration.
import { type Kysely, sql } from "kysely";

const COLUMNS = sql`
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  practice_id uuid REFERENCES practices (id),
  chain_seq bigint NOT NULL,
  occurred_at timestamptz NOT NULL DEFAULT now(),
  actor_type text NOT NULL CHECK (actor_type IN ('user', 'operator', 'system', 'anonymous')),
  actor_id text CHECK (length(actor_id) <= 200),
  actor_role text CHECK (length(actor_role) <= 40),
  ip text CHECK (length(ip) <= 64),
  user_agent text CHECK (length(user_agent) <= 512),
  request_id text CHECK (length(request_id) <= 64),
  action text NOT NULL CHECK (action ~ '^[a-z_]+(\\.[a-z_]+)+$'),
  target_type text CHECK (length(target_type) <= 40),
  target_id text CHECK (length(target_id) <= 200),
  outcome text NOT NULL CHECK (outcome IN ('success', 'denied', 'error')),
  details jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(details) = 'object' AND length(details::text) <= 4096),
  prev_hash text NOT NULL,
  hash text NOT NULL`;

/**
 * Moves the events into a freshly built audit_events (partitioned or plain) and rebuilds what hangs
 * on the table: the canonical-row function, indexes, triggers, row-level security and grants.
 */
async function rebuild(db: Kysely<any>, partitioned: boolean): Promise<void> {
  // audit_canonical takes the table's row type, so it goes with the old table and comes back below.
  await sql`DROP FUNCTION audit_canonical(audit_events)`.execute(db);
  await sql`ALTER TABLE audit_events RENAME TO audit_events_old`.execute(db);
  await sql`ALTER INDEX audit_events_pkey RENAME TO audit_events_old_pkey`.execute(db);
  if (partitioned) {
    // A partitioned table's unique keys must include the partition key. The chain's own uniqueness
    // (one event per practice and sequence number) is kept by the link trigger's head-row lock and
    // checked by audit:verify (docs/decisions/0011-audit-events-partitioned-by-month.md).
    await sql`CREATE TABLE audit_events (${COLUMNS}, PRIMARY KEY (id, occurred_at)) PARTITION BY RANGE (occurred_at)`.execute(db);
    await sql`
      CREATE FUNCTION audit_ensure_partitions(from_time timestamptz, through_time timestamptz) RETURNS integer
      LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
      AS $$
      DECLARE
        month date := date_trunc('month', from_time AT TIME ZONE 'UTC')::date;
        last_month date := date_trunc('month', through_time AT TIME ZONE 'UTC')::date;
        partition_name text;
        created integer := 0;
      BEGIN
        IF from_time IS NULL OR through_time IS NULL OR through_time < from_time THEN
          RAISE EXCEPTION 'audit_ensure_partitions: from_time must not be after through_time' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF last_month > (month + interval '120 months')::date THEN
          RAISE EXCEPTION 'audit_ensure_partitions: at most 120 months at a time' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        -- Instances running this at the same moment wait for each other instead of colliding.
        PERFORM pg_advisory_xact_lock(hashtext('audit_ensure_partitions'));
        WHILE month <= last_month LOOP
          partition_name := 'audit_events_' || to_char(month, '"y"YYYY"m"MM');
          IF to_regclass(partition_name) IS NULL THEN
            EXECUTE format('CREATE TABLE %I PARTITION OF audit_events FOR VALUES FROM (%L) TO (%L)',
              partition_name, month::timestamp AT TIME ZONE 'UTC', (month + interval '1 month')::timestamp AT TIME ZONE 'UTC');
            created := created + 1;
          END IF;
          month := (month + interval '1 month')::date;
        END LOOP;
        RETURN created;
      END $$`.execute(db);
    await sql`REVOKE ALL ON FUNCTION audit_ensure_partitions(timestamptz, timestamptz) FROM PUBLIC`.execute(db);
    await sql`GRANT EXECUTE ON FUNCTION audit_ensure_partitions(timestamptz, timestamptz) TO plh_app`.execute(db);
    await sql`
      SELECT audit_ensure_partitions(least(coalesce(min(occurred_at), now()), now()), now() + interval '3 months')
      FROM audit_events_old`.execute(db);
  } else {
    await sql`CREATE TABLE audit_events (${COLUMNS}, PRIMARY KEY (id), UNIQUE (practice_id, chain_seq))`.execute(db);
  }
  // Copied before any trigger exists on the new table: every hash, sequence and time stays as it was.
  await sql`INSERT INTO audit_events SELECT * FROM audit_events_old`.execute(db);
  await sql`DROP TABLE audit_events_old`.execute(db);

  await sql`
    CREATE FUNCTION audit_canonical(e audit_events) RETURNS text
    LANGUAGE sql STABLE
    AS $$
      SELECT json_build_array(
        e.id, e.practice_id, e.chain_seq,
        to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        e.actor_type, e.actor_id, e.actor_role, e.ip, e.user_agent, e.request_id,
        e.action, e.target_type, e.target_id, e.outcome, e.details
      )::text
    $$`.execute(db);

  // On a partitioned table the trigger fires on the partition, whose row type is not the parent's:
  // the row is copied into the parent's type before it is hashed (same columns, same order).
  await sql`
    CREATE OR REPLACE FUNCTION audit_events_link() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
    DECLARE
      chain text := coalesce(NEW.practice_id::text, 'platform');
      head audit_chain_heads%ROWTYPE;
      canonical_row audit_events;
    BEGIN
      NEW.occurred_at := now();
      INSERT INTO audit_chain_heads (chain_key, last_seq, last_hash)
        VALUES (chain, 0, repeat('0', 64)) ON CONFLICT (chain_key) DO NOTHING;
      SELECT * INTO head FROM audit_chain_heads WHERE chain_key = chain FOR UPDATE;
      NEW.chain_seq := head.last_seq + 1;
      NEW.prev_hash := head.last_hash;
      canonical_row := NEW;
      NEW.hash := encode(sha256(convert_to(NEW.prev_hash || audit_canonical(canonical_row), 'UTF8')), 'hex');
      UPDATE audit_chain_heads SET last_seq = NEW.chain_seq, last_hash = NEW.hash, updated_at = now()
        WHERE chain_key = chain;
      RETURN NEW;
    END $$`.execute(db);

  // The viewer pages newest first within a practice, and filters by person, target (a job's
  // timeline) and refusals; audit:verify and the checkpoints walk a chain in sequence order.
  await sql`CREATE INDEX audit_events_practice_time ON audit_events (practice_id, occurred_at DESC, chain_seq DESC)`.execute(db);
  await sql`CREATE INDEX audit_events_chain ON audit_events (practice_id, chain_seq)`.execute(db);
  await sql`CREATE INDEX audit_events_target ON audit_events (practice_id, target_id, occurred_at DESC)`.execute(db);
  await sql`CREATE INDEX audit_events_actor ON audit_events (practice_id, actor_id, occurred_at DESC)`.execute(db);
  await sql`CREATE INDEX audit_events_refusals ON audit_events (practice_id, occurred_at DESC) WHERE outcome <> 'success'`.execute(db);

  await sql`CREATE TRIGGER audit_events_link BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_events_link()`.execute(db);
  await sql`CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change()`.execute(db);
  await sql`CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change()`.execute(db);

  await sql`ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY`.execute(db);
  await sql`ALTER TABLE audit_events FORCE ROW LEVEL SECURITY`.execute(db);
  await sql`
    CREATE POLICY audit_events_tenant ON audit_events
      USING (practice_id = app_current_practice())
      WITH CHECK (practice_id = app_current_practice())`.execute(db);
  await sql`
    CREATE POLICY audit_events_platform ON audit_events
      USING (practice_id IS NULL AND app_current_practice() IS NULL)
      WITH CHECK (practice_id IS NULL AND app_current_practice() IS NULL)`.execute(db);
  // Only through the parent: the app role has no privilege on the partitions themselves, so the
  // parent's policies always apply.
  await sql`GRANT SELECT, INSERT ON audit_events TO plh_app`.execute(db);
}

export async function up(db: Kysely<any>): Promise<void> {
  await rebuild(db, true);
}

export async function down(db: Kysely<any>): Promise<void> {
  await rebuild(db, false);
  await sql`DROP FUNCTION audit_ensure_partitions(timestamptz, timestamptz)`.execute(db);
}
