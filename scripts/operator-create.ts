// `bun run operator:create --email EMAIL --name "FULL NAME"`: makes a platform operator (the only
// way one is made) and prints a one-time link, valid 60 minutes, for them to choose a password;
// they set up two-step sign-in at their first sign-in. Uses DATABASE_OWNER_URL, else the dev database.
import { existsSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type { Kysely } from "kysely";
import { createOperator, OperatorError, OPERATOR_SETUP_MINUTES } from "../src/auth/operators.ts";
import { loadDevSettings, loadScriptAppOrigin } from "../src/config.ts";
import type { Database } from "../src/platform/schema.ts";
import { devPaths } from "./support/dev-stack.ts";
import { withOwnerDatabase } from "./support/owner-database.ts";

const { values } = parseArgs({ options: { email: { type: "string" }, name: { type: "string" } }, strict: true });
const email = values.email?.trim() ?? "";
const name = values.name?.trim() || email.split("@")[0] || "";
if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email) || email.length > 254) {
  console.error('Usage: bun run operator:create --email operator@printshop.example [--name "Full Name"]');
  process.exit(2);
}

function appOrigin(): string {
  const configured = loadScriptAppOrigin();
  if (configured) return configured;
  const devJson = devPaths(loadDevSettings().dataDir).devJson;
  if (existsSync(devJson)) return (JSON.parse(readFileSync(devJson, "utf8")) as { app: string }).app;
  console.error("Set APP_ORIGIN (the public https:// address) so the setup link points at your site.");
  process.exit(2);
}

try {
  const origin = appOrigin();
  const result = await withOwnerDatabase((db, label) => {
    console.log(`Database: ${label}`);
    return createOperator(db as Kysely<Database>, { email, fullName: name, appOrigin: origin, createdBy: "script:operator-create" });
  });
  console.log(
    [
      `Operator ${result.newAccount ? "created" : "granted to the existing account"}: ${email}`,
      `Send them this one-time link to choose a password (valid ${OPERATOR_SETUP_MINUTES} minutes, usable once):`,
      `  ${result.setupLink}`,
      "They set up two-step sign-in when they first sign in.",
    ].join("\n"),
  );
} catch (error) {
  if (error instanceof OperatorError) {
    console.error(`Not created: ${error.message}`);
    process.exit(1);
  }
  throw error;
}
