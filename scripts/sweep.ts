// `bun run sweep [--dry-run] [--only NAME] [--now ISO-TIME]`: runs the retention sweeps now and
// prints, per sweep, what it did (or with --dry-run what it would do) with its counts. --now fixes
// the cutoff (tests, catching up). Exits 1 when a sweep failed, 2 on a usage error.
// - pending-uploads, expired-credentials, abandoned-drafts, job-purge: as the app role (DATABASE_URL and the app's settings), the
//   same code the schedules run.
// - data-requests: exports past their 7 days purged, deletions that are due processed (as the app role).
// - audit-partitions: as the schema owner (DATABASE_OWNER_URL, else the dev database): only the owner
//   may drop audit partitions, so this sweep runs only here, never in the app.
import { parseArgs } from "node:util";
import { ConfigError, loadConfig, loadRetentionSettings } from "../src/config.ts";
import { createBlobStore } from "../src/platform/blob.ts";
import { createDb } from "../src/platform/db.ts";
import { sweepAuditPartitions } from "../src/retention/audit-partitions.ts";
import { sweepAbandonedDrafts } from "../src/retention/abandoned-drafts.ts";
import { sweepExpiredCredentials } from "../src/retention/expired-credentials.ts";
import { sweepJobPurge } from "../src/retention/job-purge.ts";
import { sweepPendingUploads } from "../src/retention/pending-uploads.ts";
import { sweepDataRequests } from "../src/retention/requests.ts";
import { SWEEP_NAMES, type SweepName, type SweepResult } from "../src/retention/runs.ts";
import { withOwnerDatabase } from "./support/owner-database.ts";

const USAGE = `Usage: bun run sweep [--dry-run] [--only ${SWEEP_NAMES.join("|")}] [--now ISO-TIME]`;

function usage(problem: string): never {
  console.error(`${problem}\n${USAGE}`);
  process.exit(2);
}

export function describeResult(r: SweepResult): string {
  const counts = Object.entries(r.counts).map(([k, v]) => `${k}=${v}`).join(", ");
  return r.dryRun
    ? `${r.name}: would sweep ${counts} (dry run, cutoff ${r.cutoff.toISOString()})`
    : `${r.name}: swept ${counts} (cutoff ${r.cutoff.toISOString()})`;
}

let values;
try {
  ({ values } = parseArgs({ options: { "dry-run": { type: "boolean" }, only: { type: "string" }, now: { type: "string" } }, strict: true }));
} catch (error) {
  usage(error instanceof Error ? error.message : String(error));
}
const only = values.only;
if (only !== undefined && !(SWEEP_NAMES as readonly string[]).includes(only)) usage(`--only must be one of ${SWEEP_NAMES.join(", ")}; got "${only}"`);
let now = new Date();
if (values.now !== undefined) {
  now = new Date(values.now);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(values.now) || Number.isNaN(now.getTime())) usage(`--now must be an ISO time such as 2026-11-23T02:00:00Z; got "${values.now}"`);
}
const dryRun = values["dry-run"] ?? false;
const selected: SweepName[] = only ? [only as SweepName] : [...SWEEP_NAMES];

let failed = false;
function report(name: SweepName, error: unknown) {
  failed = true;
  console.error(`${name}: FAILED: ${error instanceof Error ? error.message : String(error)}`);
}

const appSweeps = selected.filter((s) => s !== "audit-partitions");
if (appSweeps.length > 0) {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const name of appSweeps) report(name, new Error(`the app's settings are needed (it runs as the app role).\n${error.message}`));
  }
  if (config) {
    const db = createDb(config.database.url, { max: 2, applicationName: "patientletterhub-sweep" });
    const blob = createBlobStore(config.blob);
    const options = { now, dryRun, batchSize: config.retention.batchSize };
    try {
      for (const name of appSweeps) {
        try {
          const result = name === "pending-uploads" ? await sweepPendingUploads({ db, blob }, options)
            : name === "abandoned-drafts" ? await sweepAbandonedDrafts({ db, days: config.retention.draftDays }, options)
            : name === "job-purge" ? await sweepJobPurge({ db, blob, days: config.retention.jobDataDays }, options)
            : name === "data-requests" ? await sweepDataRequests({ db, blob }, options) : await sweepExpiredCredentials({ db }, options);
          console.log(describeResult(result));
        } catch (error) {
          report(name, error);
        }
      }
    } finally {
      await db.destroy();
    }
  }
}

if (selected.includes("audit-partitions")) {
  try {
    const settings = loadRetentionSettings();
    const result = await withOwnerDatabase((ownerDb, label) => {
      console.log(`audit-partitions: as the owner, in ${label}; keeping ${settings.auditYears} years`);
      return sweepAuditPartitions({ ownerDb, years: settings.auditYears }, { now, dryRun, batchSize: settings.batchSize });
    });
    console.log(describeResult(result));
  } catch (error) {
    report("audit-partitions", error);
  }
}
process.exit(failed ? 1 : 0);
