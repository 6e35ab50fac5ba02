// `bun run audit:verify [--practice ID]`: walks every audit hash chain (or one practice's) and
// exits non-zero naming the first broken link. Uses DATABASE_OWNER_URL, else the dev database.
import { parseArgs } from "node:util";
import { verifyAuditChains, type VerifyReport } from "../src/audit/verify.ts";
import { withOwnerDatabase } from "./support/owner-database.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function describeReport(report: VerifyReport): string {
  if (report.breaks.length === 0) return `OK: ${report.chains} chain(s), ${report.events} event(s), every link verified.`;
  const lines = [`BROKEN: ${report.breaks.length} of ${report.chains} chain(s) fail verification.`];
  for (const b of report.breaks) {
    lines.push(
      `  chain ${b.chain}: first broken link at seq ${b.chainSeq}${b.eventId ? ` (event ${b.eventId})` : ""}: ${b.problem} mismatch`,
      `    expected ${b.expected}`,
      `    found    ${b.found}`,
    );
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { practice: { type: "string" } }, strict: true });
  if (values.practice && !UUID.test(values.practice)) {
    console.error(`--practice must be a practice id (a UUID); got "${values.practice}"`);
    process.exit(2);
  }
  const report = await withOwnerDatabase(async (db, label) => {
    console.log(`Verifying audit chains in ${label}…`);
    return verifyAuditChains(db, { practiceId: values.practice });
  });
  console.log(describeReport(report));
  process.exit(report.breaks.length === 0 ? 0 : 1);
}
