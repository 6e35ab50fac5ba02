// `bun run user:deactivate --email EMAIL --reason "TEXT"`: stops an account from signing in and
// ends all its sessions now (for example someone who left, or a compromised account). The reason
// is recorded in the audit trail: keep it short and free of patient information.
// Uses DATABASE_OWNER_URL, else the dev database.
import { parseArgs } from "node:util";
import type { Kysely } from "kysely";
import { deactivateUser, OperatorError } from "../src/auth/operators.ts";
import type { Database } from "../src/platform/schema.ts";
import { withOwnerDatabase } from "./support/owner-database.ts";

const { values } = parseArgs({ options: { email: { type: "string" }, reason: { type: "string" } }, strict: true });
const email = values.email?.trim() ?? "";
const reason = values.reason?.trim() ?? "";
if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email) || !reason) {
  console.error('Usage: bun run user:deactivate --email person@clinic.example --reason "left the practice"');
  process.exit(2);
}
try {
  const result = await withOwnerDatabase((db, label) => {
    console.log(`Database: ${label}`);
    return deactivateUser(db as Kysely<Database>, { email, reason, by: "user-deactivate" });
  });
  console.log(`Deactivated ${email}; ${result.sessions} session(s) ended.`);
} catch (error) {
  if (error instanceof OperatorError) {
    console.error(`Not deactivated: ${error.message}`);
    process.exit(1);
  }
  throw error;
}
