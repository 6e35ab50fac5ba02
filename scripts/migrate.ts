// `bun run migrate [up|down|status]`: Kysely's Migrator as the owner role.
// Uses DATABASE_OWNER_URL, else the dev database (started for the duration if not running).
import { withOwnerDatabase } from "./support/owner-database.ts";
import { createMigrator, migrateToLatest } from "../src/platform/migrator.ts";

const command = process.argv[2] ?? "up";
if (!["up", "down", "status"].includes(command)) {
  console.error(`Unknown command "${command}". Use: bun run migrate [up|down|status]`);
  process.exit(2);
}

const code = await withOwnerDatabase(async (db, label) => {
  console.log(`Database: ${label}`);
  if (command === "status") {
    for (const m of await createMigrator(db).getMigrations()) {
      console.log(`  ${m.executedAt ? `applied ${m.executedAt.toISOString()}` : "pending                          "}  ${m.name}`);
    }
    return 0;
  }
  if (command === "down") {
    const { error, results } = await createMigrator(db).migrateDown();
    for (const r of results ?? []) console.log(`  ${r.status === "Success" ? "reverted" : r.status}: ${r.migrationName}`);
    if (error) {
      console.error(`Migration down failed: ${error instanceof Error ? error.message : String(error)}`);
      return 1;
    }
    if (!results?.length) console.log("  nothing to revert");
    return 0;
  }
  try {
    const applied = await migrateToLatest(db);
    console.log(applied.length ? applied.map((n) => `  applied: ${n}`).join("\n") : "  up to date");
    return 0;
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    return 1;
  }
});
process.exit(code);
