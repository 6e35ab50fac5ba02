// Foundation: the app role, the tenant-context helper, practices, and the append-only,
// hash-chained audit trail. Frozen in time: never import app code from a migration.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  // The role the running app uses: owns nothing, cannot bypass RLS. Deployments give it LOGIN
  // (or grant it to their login role); migrations only grant privileges to it.
  await sql`
    DO $$ BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'plh_app') THEN
        CREATE ROLE plh_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION;
      END IF;
    END $$`.execute(db);
  await sql`REVOKE CREATE ON SCHEMA public FROM PUBLIC`.execute(db);
  await sql`GRANT USAGE ON SCHEMA public TO plh_app`.execute(db);
  // The server checks for pending migrations at boot with the app role.
  await sql`GRANT SELECT ON kysely_migration, kysely_migration_lock TO plh_app`.execute(db);

  // The tenant of the current transaction, set by withTenant(); NULL when unset, so every
  // policy comparing against it matches nothing (fail closed).
  await sql`
    CREATE FUNCTION app_current_practice() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT nullif(current_setting('app.practice_id', true), '')::uuid $$`.execute(db);

  await sql`
    CREATE TABLE practices (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      name text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
      status text NOT NULL DEFAULT 'onboarding' CHECK (status IN ('onboarding', 'active', 'suspended')),
      time_zone text NOT NULL DEFAULT 'America/New_York' CHECK (length(time_zone) BETWEEN 1 AND 64),
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`ALTER TABLE practices ENABLE ROW LEVEL SECURITY`.execute(db);
  await sql`ALTER TABLE practices FORCE ROW LEVEL SECURITY`.execute(db);
  await sql`
    CREATE POLICY practices_tenant ON practices
      USING (id = app_current_practice())
      WITH CHECK (id = app_current_practice())`.execute(db);
  await sql`GRANT SELECT, INSERT, UPDATE ON practices TO plh_app`.execute(db);

  // One row per chain ('platform' or a practice id): the head the next event links to.
  // Only the SECURITY DEFINER trigger below touches it; the app role has no privilege on it.
  await sql`
    CREATE TABLE audit_chain_heads (
      chain_key text PRIMARY KEY,
      last_seq bigint NOT NULL,
      last_hash text NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`REVOKE ALL ON audit_chain_heads FROM PUBLIC`.execute(db);

  await sql`
    CREATE TABLE audit_events (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
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
      hash text NOT NULL,
      UNIQUE (practice_id, chain_seq)
    )`.execute(db);
  await sql`CREATE INDEX audit_events_practice_time ON audit_events (practice_id, occurred_at DESC, chain_seq DESC)`.execute(db);
  await sql`CREATE UNIQUE INDEX audit_events_platform_seq ON audit_events (chain_seq) WHERE practice_id IS NULL`.execute(db);

  // The canonical text of an event that its hash covers: a JSON array with a fixed field order,
  // times in UTC with microseconds. scripts/audit-verify.ts recomputes hashes from it.
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

  // Links every new event to its chain: hash = sha256(prev_hash || canonical row). The head row
  // lock serialises writers of one chain, so concurrent requests cannot fork it.
  await sql`
    CREATE FUNCTION audit_events_link() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
    DECLARE
      chain text := coalesce(NEW.practice_id::text, 'platform');
      head audit_chain_heads%ROWTYPE;
    BEGIN
      NEW.occurred_at := now();
      INSERT INTO audit_chain_heads (chain_key, last_seq, last_hash)
        VALUES (chain, 0, repeat('0', 64)) ON CONFLICT (chain_key) DO NOTHING;
      SELECT * INTO head FROM audit_chain_heads WHERE chain_key = chain FOR UPDATE;
      NEW.chain_seq := head.last_seq + 1;
      NEW.prev_hash := head.last_hash;
      NEW.hash := encode(sha256(convert_to(NEW.prev_hash || audit_canonical(NEW), 'UTF8')), 'hex');
      UPDATE audit_chain_heads SET last_seq = NEW.chain_seq, last_hash = NEW.hash, updated_at = now()
        WHERE chain_key = chain;
      RETURN NEW;
    END $$`.execute(db);
  await sql`REVOKE ALL ON FUNCTION audit_events_link() FROM PUBLIC`.execute(db);
  await sql`CREATE TRIGGER audit_events_link BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_events_link()`.execute(db);

  // Append-only for everyone, the owner included. Retention drops whole partitions instead.
  await sql`
    CREATE FUNCTION audit_events_refuse_change() RETURNS trigger
    LANGUAGE plpgsql
    AS $$ BEGIN
      RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
    END $$`.execute(db);
  await sql`CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change()`.execute(db);
  await sql`CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change()`.execute(db);

  await sql`ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY`.execute(db);
  await sql`ALTER TABLE audit_events FORCE ROW LEVEL SECURITY`.execute(db);
  await sql`
    CREATE POLICY audit_events_tenant ON audit_events
      USING (practice_id = app_current_practice())
      WITH CHECK (practice_id = app_current_practice())`.execute(db);
  // Platform events (sign-in attempts before a practice is known…) belong to no practice: they
  // are visible and writable only outside any tenant context, never from inside one.
  await sql`
    CREATE POLICY audit_events_platform ON audit_events
      USING (practice_id IS NULL AND app_current_practice() IS NULL)
      WITH CHECK (practice_id IS NULL AND app_current_practice() IS NULL)`.execute(db);
  await sql`GRANT SELECT, INSERT ON audit_events TO plh_app`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  // The audit trail is evidence: dropping it is refused while it holds any event.
  const { rows } = await sql<{ n: string }>`SELECT count(*)::text AS n FROM audit_events`.execute(db);
  if (rows[0] && rows[0].n !== "0") {
    throw new Error(`refusing to drop audit_events: it holds ${rows[0].n} events`);
  }
  await sql`DROP FUNCTION audit_canonical(audit_events)`.execute(db);
  await sql`DROP TABLE audit_events`.execute(db);
  await sql`DROP FUNCTION audit_events_refuse_change()`.execute(db);
  await sql`DROP FUNCTION audit_events_link()`.execute(db);
  await sql`DROP TABLE audit_chain_heads`.execute(db);
  await sql`DROP TABLE practices`.execute(db);
  await sql`DROP FUNCTION app_current_practice()`.execute(db);
  await sql`REVOKE SELECT ON kysely_migration, kysely_migration_lock FROM plh_app`.execute(db);
  await sql`REVOKE USAGE ON SCHEMA public FROM plh_app`.execute(db);
}
