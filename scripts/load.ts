// `bun run load [--duration SECONDS] [--users N]`: a bounded load test on loopback. Starts a
// throwaway embedded PostgreSQL and Azurite, seeds a practice with a signed BAA, its jobs and N
// signed-in staff members (50 by default, each with their own session cookie), starts the real
// server (src/server.ts) as its own process, and has every user browse for SECONDS (60 by default):
// the dashboard (pages, status filter, search), job pages, and upload URLs for their own job. Then
// it prints req/s and p50/p99 per kind and overall, and every error; it exits 1 on any error.
//
// The upload-URL rate limit (UPLOAD_URLS_PER_MINUTE, per person) is the server's real one: each
// user spaces its requests so that no one-minute window can hold more than the limit allows, so a
// 429 is an error here like any other. The limit in force is printed with the results.
import { parseArgs } from "node:util";
import { loadConfig } from "../src/config.ts";
import { createBlobStore } from "../src/platform/blob.ts";
import { createDb, createOwnerDb } from "../src/platform/db.ts";
import { freePort } from "../src/platform/embedded.ts";
import { freshDatabase, startTestStack, stopTestStack } from "../tests/support/stack.ts";
import { startServerProcess, type ServerProcess } from "./support/server-process.ts";
import { seedPracticeWithStaff, type SeededUser } from "./support/seed.ts";

const USAGE = "Usage: bun run load [--duration SECONDS] [--users N]";
const REQUEST_TIMEOUT_MS = 10_000;
/** Besides the run itself: start-up, seeding and shutdown must fit in this, or the run gives up. */
const SETUP_BUDGET_MS = 180_000;
const EXTRA_JOBS = 40; // drafts of the admin's, so the dashboard has pages and searches have work to do

function usage(problem: string): never {
  console.error(`${problem}\n${USAGE}`);
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({ options: { duration: { type: "string" }, users: { type: "string" } }, strict: true }));
} catch (error) {
  usage(error instanceof Error ? error.message : String(error));
}
const seconds = Number(values.duration ?? 60);
const userCount = Number(values.users ?? 50);
if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 3600) usage("--duration takes a number of seconds from 1 to 3600");
if (!Number.isInteger(userCount) || userCount < 1 || userCount > 500) usage("--users takes a whole number from 1 to 500");

type Kind = "dashboard" | "job" | "upload-url";
const KINDS: Kind[] = ["dashboard", "job", "upload-url"];
type Failure = { kind: Kind; what: string };

// Never more than the run's bound plus its set-up: a hang anywhere ends the run with an error.
const watchdog = setTimeout(() => {
  console.error(`load: gave up after ${Math.round((seconds * 1000 + SETUP_BUDGET_MS) / 1000)} s (set-up, run and shutdown); stopping`);
  process.exit(1);
}, seconds * 1000 + SETUP_BUDGET_MS);

const stack = await startTestStack();
let server: ServerProcess | undefined;
const stopAll = async () => {
  await server?.stop().catch(() => {});
  await stopTestStack();
};
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => void stopAll().then(() => process.exit(130)));

let failed = true;
try {
  const database = await freshDatabase();
  const port = await freePort();
  const key = () => `k1:${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64")}`;
  const env: Record<string, string | undefined> = {
    NODE_ENV: "test", PORT: String(port), APP_ORIGIN: `http://127.0.0.1:${port}`, LOG_LEVEL: "warn",
    DATABASE_URL: database.appUrl, AZURE_STORAGE_CONNECTION_STRING: stack.azurite.connectionString, AZURE_STORAGE_CONTAINER: "phi",
    HMAC_KEYS: key(), ENCRYPTION_KEYS: key(), MAIL_DIR: `${stack.dataDir}/mail`,
    // The operator's own setting, if given, is what the server enforces and what users pace to.
    UPLOAD_URLS_PER_MINUTE: process.env.UPLOAD_URLS_PER_MINUTE,
  };
  const config = loadConfig(env);
  const db = createDb(config.database.url, { max: 8 });
  const ownerDb = createOwnerDb(database.ownerUrl);
  const blob = createBlobStore(config.blob);
  let seeded: Awaited<ReturnType<typeof seedPracticeWithStaff>>;
  try {
    await blob.ensureContainer();
    seeded = await seedPracticeWithStaff({ db, ownerDb, blob, config }, { name: "Load Test Practice", staff: userCount, extraJobs: EXTRA_JOBS });
  } finally {
    await Promise.all([db.destroy(), ownerDb.destroy()]);
  }
  server = await startServerProcess(env);

  // Upload URLs: at most limit - 1 in any 62 s, evenly spaced. The server counts a fixed minute
  // from a user's first URL; spacing by 62 s / (limit - 1) leaves room for a request that waited
  // up to two seconds before its transaction counted it.
  const perMinute = config.uploads.urlsPerMinute;
  const uploadSpacingMs = perMinute > 1 ? Math.ceil(62_000 / (perMinute - 1)) : Number.POSITIVE_INFINITY;
  const uploadBody = new URLSearchParams({ kind: "recipients_csv", name: "list.csv", size: "1024", type: "text/csv", sha256: "a".repeat(64) }).toString();
  const dashboardPaths = ["/jobs", "/jobs?page=2", "/jobs?status=draft", "/jobs?q=Seeded+admin", "/jobs?page=3&status=draft"];

  const latencies: Record<Kind, number[]> = { dashboard: [], job: [], "upload-url": [] };
  const failures: Failure[] = [];
  const origin = server.origin;

  async function timed(kind: Kind, path: string, init: RequestInit, expected: number, check?: (body: string) => boolean) {
    const t0 = performance.now();
    try {
      const res = await fetch(`${origin}${path}`, { ...init, redirect: "manual", signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      const body = await res.text();
      if (res.status !== expected || (check && !check(body))) failures.push({ kind, what: `${init.method ?? "GET"} ${path.replace(/[0-9a-f-]{36}/g, ":id")} answered ${res.status} (expected ${expected}): ${body.slice(0, 160).replace(/\s+/g, " ")}` });
      else latencies[kind].push(performance.now() - t0);
    } catch (error) {
      failures.push({ kind, what: `${init.method ?? "GET"} ${path.replace(/[0-9a-f-]{36}/g, ":id")} failed: ${error instanceof Error ? error.message : String(error)}` });
    }
  }

  async function browse(user: SeededUser, index: number, until: number) {
    const headers = { cookie: user.cookie };
    // Users start a little apart, as people do, and their first upload URL comes at a random point.
    await Bun.sleep((index * 37) % 500);
    let nextUploadAt = performance.now() + Math.random() * Math.min(uploadSpacingMs, 5_000);
    let step = index;
    while (performance.now() < until) {
      step++;
      if (performance.now() >= nextUploadAt) {
        nextUploadAt = performance.now() + uploadSpacingMs;
        await timed("upload-url", `/jobs/${user.jobId}/files`, {
          method: "POST", body: uploadBody,
          headers: { ...headers, origin, accept: "application/json", "content-type": "application/x-www-form-urlencoded" },
        }, 201, (body) => body.includes("uploadUrl"));
      } else if (step % 2 === 0) {
        await timed("dashboard", dashboardPaths[step % dashboardPaths.length]!, { headers }, 200);
      } else {
        const jobId = seeded.jobIds[(step * 7 + index) % seeded.jobIds.length]!;
        await timed("job", `/jobs/${jobId}`, { headers }, 200);
      }
    }
  }

  const started = performance.now();
  await Promise.all(seeded.users.map((user, i) => browse(user, i, started + seconds * 1000)));
  const elapsed = performance.now() - started;
  // The server must still be up and ready after the run.
  const ready = await fetch(`${origin}/readyz`).then((r) => r.status, () => 0);
  if (ready !== 200) failures.push({ kind: "dashboard", what: `/readyz answered ${ready} after the run` });

  const row = (label: string, list: number[], errors: number) => {
    const sorted = [...list].sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
    const rps = (list.length / elapsed) * 1000;
    return `  ${label.padEnd(11)} ${String(list.length).padStart(8)} ${rps.toFixed(1).padStart(9)} ${at(0.5).toFixed(1).padStart(8)} ${at(0.99).toFixed(1).padStart(8)} ${String(errors).padStart(7)}`;
  };
  const errorsOf = (kind: Kind) => failures.filter((f) => f.kind === kind).length;
  console.log(`load: ${userCount} signed-in users (one session cookie each, one practice), ${(elapsed / 1000).toFixed(1)} s, src/server.ts on ${origin} (loopback), embedded PostgreSQL + Azurite`);
  console.log(`  ${"kind".padEnd(11)} ${"requests".padStart(8)} ${"req/s".padStart(9)} ${"p50 ms".padStart(8)} ${"p99 ms".padStart(8)} ${"errors".padStart(7)}`);
  for (const kind of KINDS) console.log(row(kind, latencies[kind], errorsOf(kind)));
  console.log(row("all", KINDS.flatMap((k) => latencies[k]), failures.length));
  console.log(`  upload URLs: the server's limit UPLOAD_URLS_PER_MINUTE=${perMinute}${process.env.UPLOAD_URLS_PER_MINUTE ? " (set by you)" : " (default, unchanged)"}; each user asked at most once every ${(uploadSpacingMs / 1000).toFixed(1)} s`);
  for (const f of failures.slice(0, 10)) console.error(`  error: ${f.kind}: ${f.what}`);
  if (failures.length > 10) console.error(`  … and ${failures.length - 10} more errors`);
  console.log(`errors: ${failures.length}`);
  if (failures.length > 0 && server.exitCode() === null) console.error(`server output (last lines):\n${server.output().split("\n").slice(-20).join("\n")}`);
  failed = failures.length > 0;
} catch (error) {
  console.error(`load: ${error instanceof Error ? error.message : String(error)}`);
} finally {
  await stopAll();
  clearTimeout(watchdog);
}
process.exit(failed ? 1 : 0);
