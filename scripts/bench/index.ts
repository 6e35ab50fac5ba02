// `bun run bench [name…]`: each benchmark prints its result as a ratio against a baseline
// measured in the same run, on its own throwaway embedded PostgreSQL and Azurite (loopback).
import type { Kysely } from "kysely";
import { freshDatabase, startTestStack, stopTestStack } from "../../tests/support/stack.ts";
import { withOwnerKysely } from "../support/owner-database.ts";
import { benchAuditWrite } from "./audit-write.ts";
import { benchHttpChain } from "./http-chain.ts";
import { benchAuditExport } from "./audit-export.ts";
import { benchSas } from "./sas.ts";
import { benchPdf } from "./pdf.ts";
import { benchProof } from "./proof.ts";
import { benchPurge } from "./purge.ts";

export type BenchStack = { appUrl: string; ownerUrl: string; owner: Kysely<any>; blobConnectionString: string; events?: number };

const BENCHES: Record<string, (stack: BenchStack) => Promise<string[]>> = {
  "audit-write": benchAuditWrite,
  "http-chain": benchHttpChain,
  audit: benchAuditExport,
  sas: benchSas,
  // No database needed: letters are generated in memory; the stack is started anyway (shared runner).
  pdf: benchPdf,
  proof: benchProof,
  // `--jobs=N` sizes it (10,000 by default).
  purge: benchPurge,
};

// `--events=N` sizes the audit export benchmark (1,000,000 by default).
const args = process.argv.slice(2);
const eventsArg = args.find((a) => a.startsWith("--events="));
const events = eventsArg ? Number(eventsArg.slice("--events=".length)) : undefined;
if (events !== undefined && !(Number.isInteger(events) && events > 0)) {
  console.error("--events takes a whole number above 0");
  process.exit(2);
}
const names = args.filter((a) => !a.startsWith("--"));
const unknown = names.filter((n) => !(n in BENCHES));
if (unknown.length) {
  console.error(`Unknown benchmark(s): ${unknown.join(", ")}. Available: ${Object.keys(BENCHES).join(", ")}`);
  process.exit(2);
}

const stack = await startTestStack();
try {
  for (const name of names.length ? names : Object.keys(BENCHES)) {
    const database = await freshDatabase();
    const lines = await withOwnerKysely(database.ownerUrl, (owner) =>
      BENCHES[name]!({ appUrl: database.appUrl, ownerUrl: database.ownerUrl, owner, blobConnectionString: stack.azurite.connectionString, events }),
    );
    console.log(lines.join("\n"));
  }
} finally {
  await stopTestStack();
}
