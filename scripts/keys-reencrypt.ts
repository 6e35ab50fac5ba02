// `bun run keys:reencrypt [--dry-run] [--batch-size N]`: after a new key was put first in
// ENCRYPTION_KEYS (the old ones kept after it), rewrites every encrypted column value still under an
// old key with the current key (src/keys/reencrypt.ts), as the schema owner (DATABASE_OWNER_URL, else
// the dev database). Prints one line per column; exits 1 when a value could not be decrypted (named
// on stderr), 2 on a usage error. See docs/runbooks/key-rotation.md.
import { parseArgs } from "node:util";
import { ConfigError, loadEncryptionKeys } from "../src/config.ts";
import { DEFAULT_BATCH, describeReencrypt, reencryptAll } from "../src/keys/reencrypt.ts";
import type { KeyRing } from "../src/platform/crypto.ts";
import { withOwnerDatabase } from "./support/owner-database.ts";

if (import.meta.main) {
  const usage = "Usage: bun run keys:reencrypt [--dry-run] [--batch-size N]   (ENCRYPTION_KEYS with the new key first; DATABASE_OWNER_URL)";
  let values;
  try {
    ({ values } = parseArgs({ options: { "dry-run": { type: "boolean" }, "batch-size": { type: "string" } }, strict: true }));
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n${usage}`);
    process.exit(2);
  }
  const batchSize = values["batch-size"] === undefined ? DEFAULT_BATCH : Number(values["batch-size"]);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) {
    console.error(`--batch-size must be an integer from 1 to 10000; got "${values["batch-size"]}"\n${usage}`);
    process.exit(2);
  }
  let ring: KeyRing;
  try {
    ring = loadEncryptionKeys();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`${error.message}\n${usage}`);
    process.exit(2);
  }
  const report = await withOwnerDatabase((db, label) => {
    console.log(`Database: ${label}. Current key: ${ring[0]!.id}; the ring holds ${ring.map((k) => k.id).join(", ")}.`);
    return reencryptAll(db, ring, { dryRun: values["dry-run"] ?? false, batchSize });
  });
  for (const line of describeReencrypt(report)) console.log(line);
  const failed = report.columns.flatMap((c) => c.failed.map((f) => ({ column: c.column, ...f })));
  for (const f of failed) console.error(`FAILED: ${f.column} row ${f.id}: ${f.reason}`);
  process.exit(failed.length > 0 ? 1 : 0);
}
