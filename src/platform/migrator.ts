// Kysely's Migrator over migrations/ (YYYYMMDDHHMM_slug.ts files, run in name order).
import { promises as fs } from "node:fs";
import path from "node:path";
import { type Kysely, sql } from "kysely";
import { FileMigrationProvider, Migrator } from "kysely/migration";
import { installQueueSchema, QUEUE_SCHEMA_VERSION, queueSchemaVersion } from "./queue.ts";

export const MIGRATIONS_DIR = path.resolve(import.meta.dir, "../../migrations");

export function createMigrator(db: Kysely<any>): Migrator {
  return new Migrator({
    db,
    provider: new FileMigrationProvider({ fs, path, migrationFolder: MIGRATIONS_DIR }),
  });
}

/** Names of migrations not yet applied (and pg-boss's schema when behind); read-only, so the app role can call it at boot. */
export async function pendingMigrations(db: Kysely<any>): Promise<string[]> {
  const all = await createMigrator(db).getMigrations();
  const pending = all.filter((m) => !m.executedAt).map((m) => m.name);
  const queueVersion = await queueSchemaVersion(db);
  if (queueVersion === null || queueVersion < QUEUE_SCHEMA_VERSION) pending.push(`pg-boss schema v${QUEUE_SCHEMA_VERSION}`);
  return pending;
}

/**
 * Runs every pending migration, throwing with the failing migration's name on error, then installs
 * or upgrades pg-boss's schema (the background queue), which pg-boss versions itself.
 */
export async function migrateToLatest(db: Kysely<any>): Promise<string[]> {
  await assertOwnerBypassesRowSecurity(db);
  const { error, results } = await createMigrator(db).migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === "Error")?.migrationName ?? "unknown";
    throw new Error(`migration ${failed} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  const applied = (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
  const queue = await installQueueSchema(db);
  return queue ? [...applied, queue] : applied;
}

/**
 * The schema owner must bypass row-level security. Several tables FORCE it (so the owner is bound by
 * the policies too), and the SECURITY DEFINER functions the retention sweeps and the audit use run
 * as the owner across practices: without superuser or BYPASSRLS they would silently see nothing.
 */
export async function assertOwnerBypassesRowSecurity(db: Kysely<any>): Promise<void> {
  const { rows } = await sql<{ name: string; bypasses: boolean }>`
    SELECT rolname AS name, (rolsuper OR rolbypassrls) AS bypasses FROM pg_roles WHERE rolname = current_user`.execute(db);
  const role = rows[0];
  if (role && !role.bypasses) {
    throw new Error(
      `the schema owner role "${role.name}" must bypass row-level security: run ALTER ROLE "${role.name}" BYPASSRLS as an administrator, then migrate again (the retention and audit functions run as the owner across practices)`,
    );
  }
}
