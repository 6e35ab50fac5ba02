// What issuing an upload URL costs: POST /jobs/:id/files through the whole app on a real Bun.serve
// (session, permission, BAA gate, attestation, rate limit, pending file row, hash-chained audit
// event, SAS signing) from 50 concurrent signed-in clients (10 practices, 5 staff each: the audit
// chain of a practice takes one writer at a time), against a loop of single-row INSERT transactions
// into the same PostgreSQL with the same concurrency and pool size, in the same run.
// Beside them, a floor (no target, evidence): the baseline's own INSERT transaction served behind
// HTTP by a bare Bun.serve in this process, from the same clients through the same pool; what any
// request that writes to the database reaches here before its own work.
// The three run in short rounds, each round another order (all six over the six rounds), so a
// change in the machine's other load during the run weighs on each alike; each is bounded in
// time. Beside req/s it prints the CPU each request costs in this process (app and clients) and in
// PostgreSQL (the backends of this database, from /proc), which does not depend on what else the
// machine runs.
// `bun run bench sas --phases` also measures the parts of one issuance on their own, at the same
// concurrency: the HTTP round trip, the session statement, the issuance statement, SAS signing.
import { readdirSync, readFileSync } from "node:fs";
import { sql } from "kysely";
import { createApp } from "../../src/app.tsx";
import { resolveSession } from "../../src/auth/sessions.ts";
import { loadConfig } from "../../src/config.ts";
import { issueUploadUrl } from "../../src/jobs/uploads.ts";
import { createBlobStore } from "../../src/platform/blob.ts";
import { createDb } from "../../src/platform/db.ts";
import { createLogger } from "../../src/platform/log.ts";
import { createMailer } from "../../src/platform/mail.ts";
import { seedPracticeWithStaff } from "../support/seed.ts";
import type { BenchStack } from "./index.ts";
import type { BenchResult } from "./table.ts";

const CLIENTS = 50;
const PRACTICES = 10;
// Pool and PostgreSQL settings for a 2-core machine: see the README's benchmark notes.
const POOL = 8;
const WARM_MS = 2_000;
const ROUNDS = 6; // one per order of the three kinds
const ROUND_MS = 2_000; // per kind and round: 12 s of each in all
const PHASE_MS = 2_000;
const TARGET = 0.5;

type Sample = { latencies: number[]; elapsed: number; appCpuMs: number; pgCpuMs: number };
type Result = { requests: number; rps: number; p50: number; p99: number; appCpu: number; pgCpu: number };

/** CPU (ms) used so far by the PostgreSQL backends serving `database`, when /proc can tell (Linux). */
function postgresCpuMs(database: string): number {
  let ticks = 0;
  let dir: string[];
  try {
    dir = readdirSync("/proc");
  } catch {
    return 0;
  }
  for (const pid of dir) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      // A backend's title names its user and database: "postgres: plh_app <database> 127.0.0.1(port) …".
      if (!readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(` ${database} `)) continue;
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
      ticks += Number(fields[11]) + Number(fields[12]); // utime + stime, in clock ticks (100 per second)
    } catch {
      // the process ended meanwhile
    }
  }
  return ticks * 10;
}

/** Runs `workers` loops of `once` for `ms`, timing each call and the CPU both sides used. */
async function sample(database: string, workers: number, ms: number, once: (worker: number) => Promise<void>): Promise<Sample> {
  const latencies: number[] = [];
  const cpu0 = process.cpuUsage();
  const pg0 = postgresCpuMs(database);
  const started = performance.now();
  const until = started + ms;
  await Promise.all(Array.from({ length: workers }, async (_, w) => {
    while (performance.now() < until) {
      const t0 = performance.now();
      await once(w);
      latencies.push(performance.now() - t0);
    }
  }));
  const elapsed = performance.now() - started;
  const cpu = process.cpuUsage(cpu0);
  return { latencies, elapsed, appCpuMs: (cpu.user + cpu.system) / 1000, pgCpuMs: postgresCpuMs(database) - pg0 };
}

function summarise(samples: Sample[]): Result {
  const latencies = samples.flatMap((s) => s.latencies).sort((a, b) => a - b);
  const elapsed = samples.reduce((sum, s) => sum + s.elapsed, 0);
  const n = latencies.length;
  const at = (q: number) => latencies[Math.min(n - 1, Math.floor(q * n))] ?? 0;
  return {
    requests: n, rps: Math.round((n / elapsed) * 1000), p50: at(0.5), p99: at(0.99),
    appCpu: samples.reduce((sum, s) => sum + s.appCpuMs, 0) / Math.max(1, n), pgCpu: samples.reduce((sum, s) => sum + s.pgCpuMs, 0) / Math.max(1, n),
  };
}

const ms = (v: number) => `${v.toFixed(1)} ms`;
const cpu = (r: Result) => `CPU/op app ${r.appCpu.toFixed(2)} ms + PostgreSQL ${r.pgCpu.toFixed(2)} ms`;

export async function benchSas(stack: BenchStack): Promise<BenchResult> {
  const config = loadConfig({
    NODE_ENV: "test", DATABASE_URL: stack.appUrl, DATABASE_POOL_MAX: String(POOL), AZURE_STORAGE_CONNECTION_STRING: stack.blobConnectionString,
    AZURE_STORAGE_CONTAINER: `bench-${crypto.randomUUID().slice(0, 8)}`, APP_ORIGIN: "http://127.0.0.1:1",
    HMAC_KEYS: `b:${Buffer.alloc(32, 1).toString("base64")}`, ENCRYPTION_KEYS: `b:${Buffer.alloc(32, 2).toString("base64")}`,
    // The rate limit is per user and real; lifted here so the benchmark measures throughput.
    UPLOAD_URLS_PER_MINUTE: "1000000",
  });
  const db = createDb(config.database.url, { max: POOL });
  const blob = createBlobStore(config.blob);
  await blob.ensureContainer();
  const app = createApp({ config, db, blob, logger: createLogger({ level: "silent" }), mailer: createMailer(config.mail) });
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch });
  const origin = `http://127.0.0.1:${server.port}`;
  let floorServer: ReturnType<typeof Bun.serve> | undefined;
  try {
    // 10 practices with a signed BAA, 5 staff each; every client has its own attested draft job.
    const clients: { token: string; cookie: string; path: string; jobId: string; actor: Parameters<typeof issueUploadUrl>[1] }[] = [];
    for (let p = 0; p < PRACTICES; p++) {
      const { users } = await seedPracticeWithStaff({ db, ownerDb: stack.owner, blob, config }, { name: `Bench Practice ${p}`, staff: CLIENTS / PRACTICES });
      for (const u of users) {
        clients.push({ ...u, path: `/jobs/${u.jobId}/files`, actor: { ...u.actor, request: { ip: "127.0.0.1", userAgent: "bench", requestId: `bench-${u.jobId.slice(0, 8)}` } } });
      }
    }
    const upload = { kind: "recipients_csv", name: "list.csv", size: 1024, type: "text/csv", sha256: "a".repeat(64) } as const;
    const body = new URLSearchParams({ ...upload, size: String(upload.size) }).toString();
    const issue = async (w: number) => {
      const c = clients[w]!;
      const res = await fetch(`${origin}${c.path}`, {
        method: "POST", body,
        headers: { cookie: c.cookie, origin: config.appOrigin, accept: "application/json", "content-type": "application/x-www-form-urlencoded" },
      });
      const answer = (await res.json()) as { uploadUrl?: string };
      if (res.status !== 201 || !answer.uploadUrl) throw new Error(`upload URL refused: ${res.status} ${JSON.stringify(answer)}`);
    };

    await sql`CREATE TABLE bench_single_insert (id bigserial PRIMARY KEY, practice_id uuid NOT NULL, payload text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`.execute(stack.owner);
    await sql`GRANT INSERT ON bench_single_insert TO plh_app`.execute(stack.owner);
    await sql`GRANT USAGE ON SEQUENCE bench_single_insert_id_seq TO plh_app`.execute(stack.owner);
    const practiceId = crypto.randomUUID();
    const insert = () => db.transaction().execute(async (tx) => {
      await sql`INSERT INTO bench_single_insert (practice_id, payload) VALUES (${practiceId}, ${"x".repeat(64)})`.execute(tx);
    });
    // The floor: that same transaction behind HTTP, asked as the issuance is (same request bytes).
    floorServer = Bun.serve({
      hostname: "127.0.0.1", port: 0,
      fetch: async (req) => {
        if (req.method !== "POST") return new Response(null, { status: 405 });
        await req.text();
        await insert();
        return Response.json({ inserted: true }, { status: 201 });
      },
    });
    const floorOrigin = `http://127.0.0.1:${floorServer.port}`;
    const floorInsert = async (w: number) => {
      const c = clients[w]!;
      const res = await fetch(`${floorOrigin}${c.path}`, {
        method: "POST", body,
        headers: { cookie: c.cookie, origin: config.appOrigin, accept: "application/json", "content-type": "application/x-www-form-urlencoded" },
      });
      const answer = await res.text();
      if (res.status !== 201) throw new Error(`the floor's INSERT over HTTP failed: ${res.status} ${answer.slice(0, 200)}`);
    };

    const database = new URL(stack.appUrl).pathname.slice(1);
    const phases = process.argv.includes("--phases");

    // Warm the three paths, then run them in rounds: every order of the three once (ROUNDS = 6),
    // so each runs first, second and last, and before each other one, equally often.
    await sample(database, CLIENTS, WARM_MS, issue);
    await sample(database, CLIENTS, WARM_MS / 2, insert);
    await sample(database, CLIENTS, WARM_MS / 2, floorInsert);
    const paths = { baseline: insert, issued: issue, floor: floorInsert };
    const orders = [
      ["baseline", "issued", "floor"], ["issued", "floor", "baseline"], ["floor", "baseline", "issued"],
      ["baseline", "floor", "issued"], ["issued", "baseline", "floor"], ["floor", "issued", "baseline"],
    ] as const;
    const runs = { baseline: [] as Sample[], issued: [] as Sample[], floor: [] as Sample[] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const kind of orders[round % orders.length]!) runs[kind].push(await sample(database, CLIENTS, ROUND_MS, paths[kind]));
    }
    const baseline = summarise(runs.baseline);
    const issued = summarise(runs.issued);
    const floor = summarise(runs.floor);
    const ratio = issued.rps / baseline.rps;
    const floorRatio = floor.rps / baseline.rps;
    const cpuRatio = (baseline.appCpu + baseline.pgCpu) / (issued.appCpu + issued.pgCpu);
    const lines = [
      `sas: upload-URL issuance over HTTP (Bun.serve, loopback), ${CLIENTS} concurrent signed-in clients in ${PRACTICES} practices, pool ${POOL}, ${ROUNDS} rounds of ${ROUND_MS / 1000} s each, every order of the three`,
      `  baseline single-row INSERT tx   ${baseline.rps} tx/s   p50 ${ms(baseline.p50)}  p99 ${ms(baseline.p99)}  (${baseline.requests} transactions; ${cpu(baseline)})`,
      `  POST /jobs/:id/files (201)      ${issued.rps} req/s  p50 ${ms(issued.p50)}  p99 ${ms(issued.p99)}  (${issued.requests} URLs; ${cpu(issued)})`,
      `  floor: same tx behind HTTP      ${floor.rps} req/s  p50 ${ms(floor.p50)}  p99 ${ms(floor.p99)}  (${floor.requests} requests; ${cpu(floor)})`,
      `  ratio issuance/baseline         ${ratio.toFixed(2)}x  (target ≥ ${TARGET}x: ${ratio >= TARGET ? "met" : "MISSED"}; CPU per operation, baseline/issuance: ${cpuRatio.toFixed(2)}x)`,
      `  ratio floor/baseline            ${floorRatio.toFixed(2)}x  (floor, no target: the baseline's own transaction run by a bare Bun.serve POST handler answering 201, same clients and pool)`,
    ];
    if (phases) {
      // The parts of one issuance on their own, same concurrency: where its CPU goes.
      const c0 = clients[0]!;
      const bare = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: async (req) => Response.json({ length: (await req.text()).length }, { status: 201 }) });
      try {
        const parts: [string, (w: number) => Promise<void>][] = [
          ["HTTP round trip, bare Bun.serve", async () => { await (await fetch(`http://127.0.0.1:${bare.port}${c0.path}`, { method: "POST", body })).json(); }],
          ["session + user + membership (1 statement)", async (w) => { if (!(await resolveSession(db, clients[w]!.token, config.session))) throw new Error("no session"); }],
          ["issuance statement + SAS (issueUploadUrl)", async (w) => { await issueUploadUrl({ db, blob, config }, clients[w]!.actor, clients[w]!.jobId, upload); }],
          ["SAS signing alone", async (w) => { await blob.uploadUrl(`practices/bench/jobs/bench/${w}`, { seconds: 600 }); }],
        ];
        lines.push(`  phases on their own (${CLIENTS} concurrent, ${PHASE_MS / 1000} s each):`);
        for (const [label, once] of parts) {
          const r = summarise([await sample(database, CLIENTS, PHASE_MS, once)]);
          lines.push(`    ${label.padEnd(44)} ${String(r.rps).padStart(6)}/s  p50 ${ms(r.p50)}  p99 ${ms(r.p99)}  ${cpu(r)}`);
        }
      } finally {
        await bare.stop(true);
      }
    }
    return {
      lines,
      rows: [
        { path: `sas: upload-URL issuance over HTTP, ${CLIENTS} concurrent`, figure: `${issued.rps} req/s (p99 ${ms(issued.p99)})`, baseline: `${baseline.rps} tx/s (single-row INSERT)`, ratio: `${ratio.toFixed(2)}x`, target: `≥ ${TARGET}x`, met: ratio >= TARGET },
        { path: `sas: floor, that INSERT tx behind bare Bun.serve HTTP, ${CLIENTS} concurrent`, figure: `${floor.rps} req/s (p99 ${ms(floor.p99)})`, baseline: `${baseline.rps} tx/s (single-row INSERT)`, ratio: `${floorRatio.toFixed(2)}x`, target: "", met: null },
      ],
    };
  } finally {
    await floorServer?.stop(true);
    await server.stop(true);
    await db.destroy();
    await blob.container.deleteIfExists().catch(() => {});
  }
}
