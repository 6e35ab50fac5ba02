// The signed-in dashboard under load (issue 10 item 5): GET /jobs from 50 concurrent signed-in
// staff members (each their own session) against the real server (src/server.ts, its own process,
// production middleware and pools), beside a bare Hono app in the same runtime (Bun, its own
// process) serving a Hono JSX page of exactly the same byte count and as many table rows. Rounds
// rotate the order (B F D, F D B, D B F) so other load on a shared machine weighs on each alike.
// Targets: the dashboard's req/s ≥ 0.5× the bare page's, and its p99 < 25 ms at 50 concurrent.
// Beside them, a floor (no target, evidence): the same bare page in a third process that first makes
// one trivial SELECT round trip through node-postgres, pooled as the app server is; what any page
// that asks the database anything per request reaches here, before its own work.
//
// Run as `bun scripts/bench/dashboard.ts --bare=<bytes>:<rows>` it is that bare server: it prints
// its port as one line and serves until stdin closes; with BENCH_FLOOR_DATABASE_URL and
// BENCH_FLOOR_POOL_MAX in its environment it is the floor server.
import path from "node:path";
import { Hono } from "hono";
import { jsx } from "hono/jsx";
import pg from "pg";
import { loadConfig } from "../../src/config.ts";
import { createBlobStore } from "../../src/platform/blob.ts";
import { createDb, createOwnerDb } from "../../src/platform/db.ts";
import { freePort } from "../../src/platform/embedded.ts";
import { startServerProcess } from "../support/server-process.ts";
import { seedPracticeWithStaff, type SeededUser } from "../support/seed.ts";
import type { BenchStack } from "./index.ts";
import type { BenchResult } from "./table.ts";

const CLIENTS = 50;
const EXTRA_JOBS = 40; // the admin's drafts: with the staff's own, the dashboard shows full pages
const TARGET = { ratio: 0.5, p99Ms: 25 };
const ROUNDS = 3;

// ---- the bare page -------------------------------------------------------------------------------

/** A Hono JSX page of `rows` table rows, padded to exactly `bytes` bytes of UTF-8. */
export function barePage(bytes: number, rows: number): string {
  const render = (fill: string) =>
    String(
      jsx("html", { lang: "en" },
        jsx("head", {}, jsx("meta", { charset: "utf-8" }), jsx("title", {}, "Jobs")),
        jsx("body", {},
          jsx("main", {},
            jsx("h1", {}, "Jobs"),
            jsx("table", {}, ...Array.from({ length: rows }, (_, i) =>
              jsx("tr", {}, jsx("td", {}, `PLH-2026-${String(i).padStart(6, "0")}`), jsx("td", {}, "Seeded job"), jsx("td", {}, "Practice closure"), jsx("td", {}, "Draft")))),
            jsx("p", {}, fill)))),
    );
  const bare = Buffer.byteLength(`<!DOCTYPE html>${render("")}`);
  if (bare > bytes) throw new Error(`the bare page's ${rows} rows alone take ${bare} bytes, more than the dashboard's ${bytes}`);
  const page = `<!DOCTYPE html>${render("x".repeat(bytes - bare))}`;
  if (Buffer.byteLength(page) !== bytes) throw new Error("the bare page did not come out at the dashboard's size");
  return page;
}

if (import.meta.main) {
  const arg = process.argv.find((a) => a.startsWith("--bare="));
  if (!arg) {
    console.error("usage: bun scripts/bench/dashboard.ts --bare=<bytes>:<rows> (run by bun run bench dashboard)");
    process.exit(2);
  }
  const [bytes, rows] = arg.slice("--bare=".length).split(":").map(Number) as [number, number];
  const floorUrl = process.env.BENCH_FLOOR_DATABASE_URL;
  // The floor: a pool like the app server's (same size, the app role), one SELECT per request.
  const pool = floorUrl ? new pg.Pool({ connectionString: floorUrl, max: Number(process.env.BENCH_FLOOR_POOL_MAX) }) : undefined;
  pool?.on("error", () => {});
  const app = new Hono();
  // Rendered per request, as the dashboard is: the baseline pays for JSX, not for a cached string.
  app.get("/jobs", async (c) => {
    if (pool) {
      const { rows: result } = await pool.query("SELECT 1 AS one");
      if (result[0]?.one !== 1) return c.text("the floor's SELECT returned nothing", 500);
    }
    return c.html(barePage(bytes, rows));
  });
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch });
  console.log(server.port);
  for await (const _ of Bun.stdin.stream());
  await server.stop(true);
  await pool?.end();
  process.exit(0);
}

/** The bare server, or with `floor` the floor server (one SELECT through its own pool per request). */
async function startBare(bytes: number, rows: number, floor?: { databaseUrl: string; poolMax: number }) {
  const env = floor ? { ...process.env, BENCH_FLOOR_DATABASE_URL: floor.databaseUrl, BENCH_FLOOR_POOL_MAX: String(floor.poolMax) } : undefined;
  const proc = Bun.spawn([process.execPath, import.meta.path, `--bare=${bytes}:${rows}`], { cwd: path.join(import.meta.dir, "../.."), env, stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  const reader = proc.stdout.getReader();
  let out = "";
  while (!out.includes("\n")) {
    const next = await Promise.race([reader.read(), Bun.sleep(30_000).then(() => null)]);
    if (!next || next.done) {
      proc.kill();
      throw new Error(`the ${floor ? "floor" : "bare"} Hono server did not start`);
    }
    out += new TextDecoder().decode(next.value);
  }
  reader.releaseLock();
  return {
    origin: `http://127.0.0.1:${Number(out.trim())}`,
    async stop() {
      proc.stdin.end();
      const timer = setTimeout(() => proc.kill(), 10_000);
      await proc.exited;
      clearTimeout(timer);
    },
  };
}

// ---- measuring -----------------------------------------------------------------------------------

type Sample = { latencies: number[]; elapsedMs: number; errors: string[] };

/** CLIENTS workers, each with its own cookie, GET `url` back to back for `ms`. */
async function round(url: string, users: SeededUser[], ms: number, check: (body: string) => boolean): Promise<Sample> {
  const latencies: number[] = [];
  const errors: string[] = [];
  const started = performance.now();
  const until = started + ms;
  await Promise.all(
    users.slice(0, CLIENTS).map(async (user) => {
      while (performance.now() < until) {
        const t0 = performance.now();
        try {
          const res = await fetch(url, { headers: { cookie: user.cookie }, redirect: "manual" });
          const body = await res.text();
          if (res.status !== 200 || !check(body)) errors.push(`${res.status}: ${body.slice(0, 120).replace(/\s+/g, " ")}`);
          else latencies.push(performance.now() - t0);
        } catch (error) {
          errors.push(error instanceof Error ? error.message : String(error));
        }
      }
    }),
  );
  return { latencies, elapsedMs: performance.now() - started, errors };
}

function summarise(samples: Sample[]) {
  const latencies = samples.flatMap((s) => s.latencies).sort((a, b) => a - b);
  const elapsed = samples.reduce((sum, s) => sum + s.elapsedMs, 0);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? Number.NaN;
  return { rps: (latencies.length / elapsed) * 1000, p50: at(0.5), p99: at(0.99), count: latencies.length, errors: samples.flatMap((s) => s.errors) };
}

export async function benchDashboard(stack: BenchStack): Promise<BenchResult> {
  const roundMs = stack.roundMs ?? 5_000;
  const rounds = ROUNDS;
  const port = await freePort();
  const key = (id: string) => `${id}:${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64")}`;
  const env: Record<string, string> = {
    NODE_ENV: "test", PORT: String(port), APP_ORIGIN: `http://127.0.0.1:${port}`, LOG_LEVEL: "warn",
    DATABASE_URL: stack.appUrl, AZURE_STORAGE_CONNECTION_STRING: stack.blobConnectionString, AZURE_STORAGE_CONTAINER: "bench-dashboard",
    HMAC_KEYS: key("h1"), ENCRYPTION_KEYS: key("e1"), MAIL_DIR: "/tmp/plh-bench-mail",
  };
  const config = loadConfig(env);
  const db = createDb(config.database.url, { max: 8 });
  const ownerDb = createOwnerDb(stack.ownerUrl);
  const blob = createBlobStore(config.blob);
  let users: SeededUser[];
  try {
    await blob.ensureContainer();
    ({ users } = await seedPracticeWithStaff({ db, ownerDb, blob, config }, { name: "Bench Dashboard Practice", staff: CLIENTS, extraJobs: EXTRA_JOBS }));
  } finally {
    await Promise.all([db.destroy(), ownerDb.destroy()]);
  }

  const server = await startServerProcess(env);
  let bare: Awaited<ReturnType<typeof startBare>> | undefined;
  let floor: Awaited<ReturnType<typeof startBare>> | undefined;
  try {
    const first = await fetch(`${server.origin}/jobs`, { headers: { cookie: users[0]!.cookie }, redirect: "manual" });
    const html = await first.text();
    if (first.status !== 200 || !html.includes("Seeded admin job")) throw new Error(`the dashboard answered ${first.status} without the seeded jobs: ${html.replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").slice(0, 600)}`);
    const bytes = Buffer.byteLength(html);
    const rows = (html.match(/<tr[\s>]/g) ?? []).length;
    bare = await startBare(bytes, rows);
    // The app server's pool size: its env leaves DATABASE_POOL_MAX at the default.
    floor = await startBare(bytes, rows, { databaseUrl: stack.appUrl, poolMax: config.database.poolMax });
    const bareCheck = (body: string) => body.length === bytes; // ASCII: characters are bytes
    const dashboardCheck = (body: string) => body.includes("Seeded admin job");
    const targets = {
      bare: [`${bare.origin}/jobs`, bareCheck],
      floor: [`${floor.origin}/jobs`, bareCheck],
      dashboard: [`${server.origin}/jobs`, dashboardCheck],
    } as const;
    const kinds = ["bare", "floor", "dashboard"] as const;

    // Warm-up (JIT, pools, keep-alive connections), then rounds, the order rotated each round so
    // each kind runs first (and in every position) equally often over ROUNDS = 3.
    for (const kind of kinds) await round(targets[kind][0], users, 1_000, targets[kind][1]);
    const runs: Record<(typeof kinds)[number], Sample[]> = { bare: [], floor: [], dashboard: [] };
    for (let i = 0; i < rounds; i++) {
      for (let k = 0; k < kinds.length; k++) {
        const kind = kinds[(i + k) % kinds.length]!;
        runs[kind].push(await round(targets[kind][0], users, roundMs, targets[kind][1]));
      }
    }
    const b = summarise(runs.bare);
    const f = summarise(runs.floor);
    const d = summarise(runs.dashboard);
    const ratio = d.rps / b.rps;
    const floorRatio = f.rps / b.rps;
    const n = (v: number) => Math.round(v).toLocaleString("en-US");
    const ms = (v: number) => `${v.toFixed(1)} ms`;
    const verdict = (ok: boolean) => (ok ? "met" : "MISSED");
    const errors = [...b.errors, ...d.errors];
    const lines = [
      `dashboard: GET /jobs, ${CLIENTS} concurrent signed-in staff (own sessions), ${rounds} rounds of ${roundMs / 1000} s each, order rotated; page ${n(bytes)} bytes, ${rows} table rows`,
      `  bare Hono JSX page, same bytes and rows   ${n(b.rps).padStart(6)} req/s  p50 ${ms(b.p50)}  p99 ${ms(b.p99)}  (${n(b.count)} requests)  ← baseline`,
      `  floor: the bare page + one SELECT round trip ${n(f.rps).padStart(6)} req/s  p50 ${ms(f.p50)}  p99 ${ms(f.p99)}  (${n(f.count)} requests)`,
      `    (its own process; node-postgres pg.Pool of ${config.database.poolMax} as the app role, as the app server's; no target: evidence)`,
      `  signed-in dashboard (src/server.ts)        ${n(d.rps).padStart(6)} req/s  p50 ${ms(d.p50)}  p99 ${ms(d.p99)}  (${n(d.count)} requests)`,
      `  ratio dashboard/bare     ${ratio.toFixed(2)}x      target ≥ ${TARGET.ratio}x   ${verdict(ratio >= TARGET.ratio)}`,
      `  dashboard p99            ${ms(d.p99)}    target < ${TARGET.p99Ms} ms   ${verdict(d.p99 < TARGET.p99Ms)}`,
      `  ratio floor/bare         ${floorRatio.toFixed(2)}x      (floor, no target)`,
      ...(errors.length ? [`  !! ${errors.length} failed requests, first: ${errors[0]}`] : []),
      ...(f.errors.length ? [`  !! floor: ${f.errors.length} failed requests, first: ${f.errors[0]}`] : []),
    ];
    return {
      lines,
      rows: [
        { path: `dashboard: GET /jobs req/s at ${CLIENTS} concurrent`, figure: `${n(d.rps)} req/s`, baseline: `${n(b.rps)} req/s (bare Hono JSX)`, ratio: `${ratio.toFixed(2)}x`, target: `≥ ${TARGET.ratio}x`, met: ratio >= TARGET.ratio && errors.length === 0 },
        { path: `dashboard: GET /jobs p99 at ${CLIENTS} concurrent`, figure: ms(d.p99), baseline: `${ms(b.p99)} (bare)`, ratio: "", target: `< ${TARGET.p99Ms} ms`, met: d.p99 < TARGET.p99Ms && errors.length === 0 },
        { path: `dashboard: floor, bare page + one SELECT round trip, ${CLIENTS} concurrent${f.errors.length ? ` (${f.errors.length} failed)` : ""}`, figure: `${n(f.rps)} req/s (p99 ${ms(f.p99)})`, baseline: `${n(b.rps)} req/s (bare Hono JSX)`, ratio: `${floorRatio.toFixed(2)}x`, target: "", met: null },
      ],
    };
  } finally {
    await bare?.stop();
    await floor?.stop();
    await server.stop();
  }
}
