// `bun run baa:publish FILE [--effective YYYY-MM-DD|ISO-TIME]`: publishes a new version of the
// Business Associate Agreement from a plain-text file ("# Title" first, "## Section" headings).
// The text is checked for the provisions 45 CFR 164.504(e) requires, hashed (SHA-256) and stored
// immutably; the event is audited on the platform chain (actor system:baa-publish). From its
// effective date (default: now) every practice must sign it before new jobs and uploads.
// Uses DATABASE_OWNER_URL, else the dev database.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type { Kysely } from "kysely";
import { publishBaaVersion, PublishError } from "../src/baa/publish.ts";
import type { Database } from "../src/platform/schema.ts";
import { withOwnerDatabase } from "./support/owner-database.ts";

const USAGE = "Usage: bun run baa:publish FILE [--effective 2027-01-01]";
const { values, positionals } = parseArgs({ options: { effective: { type: "string" } }, allowPositionals: true, strict: true });
if (positionals.length !== 1) {
  console.error(USAGE);
  process.exit(2);
}
let effectiveAt: Date | undefined;
if (values.effective) {
  const text = values.effective.trim();
  effectiveAt = new Date(/^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : text);
  if (Number.isNaN(effectiveAt.getTime())) {
    console.error(`Not a date: ${text}. ${USAGE}`);
    process.exit(2);
  }
}
let bytes: Uint8Array;
try {
  bytes = readFileSync(positionals[0]!);
} catch (error) {
  console.error(`Cannot read ${positionals[0]}: ${(error as Error).message}`);
  process.exit(2);
}

try {
  const result = await withOwnerDatabase((db, label) => {
    console.log(`Database: ${label}`);
    return publishBaaVersion(db as Kysely<Database>, { text: bytes, effectiveAt });
  });
  console.log(
    [
      `Published BAA version ${result.version} (id ${result.id}).`,
      `SHA-256: ${result.sha256}`,
      `In effect from ${result.effectiveAt.toISOString()}: from then on every practice must sign it before new jobs and uploads.`,
    ].join("\n"),
  );
} catch (error) {
  if (error instanceof PublishError) {
    console.error(`Not published:\n${error.problems.map((p) => `  - ${p}`).join("\n")}`);
    process.exit(1);
  }
  throw error;
}
