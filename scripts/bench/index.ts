// `bun run bench [name…] [--events=N] [--jobs=N] [--dashboard-seconds=S]`: each benchmark prints its
// result against a baseline measured in the same run, on its own throwaway embedded PostgreSQL and
// Azurite (loopback); then one table of every figure: path, figure, baseline, ratio, target and
// MET/MISSED (scripts/bench/table.ts). Without names it runs them all at the issues' sizes.
import type { Kysely } from "kysely";
import { freshDatabase, startTestStack, stopTestStack } from "../../tests/support/stack.ts";
import { withOwnerKysely } from "../support/owner-database.ts";
import { benchAuditWrite } from "./audit-write.ts";
import { benchHttpChain } from "./http-chain.ts";
import { benchAuditExport } from "./audit-export.ts";
import { benchDashboard } from "./dashboard.ts";
import { benchSas } from "./sas.ts";
import { benchPdf } from "./pdf.ts";
import { benchProof } from "./proof.ts";
import { benchPurge } from "./purge.ts";
import { type BenchResult, type BenchRow, formatTable, linesOf, rowsOf } from "./table.ts";

export type BenchStack = { appUrl: string; ownerUrl: string; owner: Kysely<any>; blobConnectionString: string; events?: number; roundMs?: number };

const BENCHES: Record<string, (stack: BenchStack) => Promise<BenchResult>> = {
  "audit-write": benchAuditWrite,
  "http-chain": benchHttpChain,
  audit: benchAuditExport,
  sas: benchSas,
  // No database needed: letters are generated in memory; the stack is started anyway (shared runner).
  pdf: benchPdf,
  proof: benchProof,
  // `--dashboard-seconds=S` sets the length of each of its rounds (5 by default).
  dashboard: benchDashboard,
  // `--jobs=N` sizes it (10,000 by default). Last: the longest at its default size.
  purge: benchPurge,
};

const args = process.argv.slice(2);
/** `--name=N`: a whole number above 0, or undefined when not given. */
function count(name: string): number | undefined {
  const arg = args.find((a) => a.startsWith(`--${name}=`));
  if (!arg) return undefined;
  const value = Number(arg.slice(name.length + 3));
  if (!(Number.isInteger(value) && value > 0)) {
    console.error(`--${name} takes a whole number above 0`);
    process.exit(2);
  }
  return value;
}
// `--events=N` sizes the audit export benchmark (1,000,000 by default).
const events = count("events");
const dashboardSeconds = count("dashboard-seconds");
const names = args.filter((a) => !a.startsWith("--"));
const unknown = names.filter((n) => !(n in BENCHES));
if (unknown.length) {
  console.error(`Unknown benchmark(s): ${unknown.join(", ")}. Available: ${Object.keys(BENCHES).join(", ")}`);
  process.exit(2);
}

const rows: BenchRow[] = [];
const started = performance.now();
const printTable = () => {
  console.log(`All benchmarks (${((performance.now() - started) / 60_000).toFixed(1)} min):`);
  console.log(formatTable(rows).join("\n"));
};
// Stopped early (Ctrl-C, a timeout): the figures measured so far still get their table.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    rows.push({ path: `(stopped by ${signal} before the rest ran)`, figure: "", baseline: "", ratio: "", target: "", met: null });
    printTable();
    void stopTestStack().finally(() => process.exit(130));
  });
}
const stack = await startTestStack();
try {
  for (const name of names.length ? names : Object.keys(BENCHES)) {
    const database = await freshDatabase();
    const t0 = performance.now();
    try {
      const result = await withOwnerKysely(database.ownerUrl, (owner) =>
        BENCHES[name]!({
          appUrl: database.appUrl, ownerUrl: database.ownerUrl, owner, blobConnectionString: stack.azurite.connectionString, events,
          roundMs: dashboardSeconds && dashboardSeconds * 1000,
        }),
      );
      console.log(linesOf(result).join("\n"));
      rows.push(...rowsOf(name, result));
    } catch (error) {
      // One benchmark failing must not hide the others' figures: it shows as a failed row.
      console.error(`${name} failed:`, error);
      rows.push({ path: `${name}: FAILED (${error instanceof Error ? error.message.split("\n")[0] : String(error)})`, figure: "", baseline: "", ratio: "", target: "", met: false });
      process.exitCode = 1;
    }
    console.log(`  (${name} took ${((performance.now() - t0) / 1000).toFixed(0)} s)\n`);
  }
} finally {
  await stopTestStack();
}
printTable();
