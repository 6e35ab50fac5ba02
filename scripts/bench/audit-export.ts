// The audit CSV export at scale (issue 4): seed N events (1,000,000 by default) in one practice,
// then in the same run time GET /audit/export.csv over loopback HTTP against PostgreSQL's own
// `COPY (SELECT …) TO STDOUT WITH CSV` of the same rows, and time the viewer's first page.
// Targets: export ≥ 0.5× COPY's rows/s, the serving process < 150 MB peak RSS, first page < 50 ms.
//
// The app runs in its own process (audit-server.ts), so the RSS reported is the server's alone;
// this process seeds, downloads (counting and discarding the body) and runs COPY.
// COPY runs as the app role in the same RLS context, on the export's own query (compiled from
// repo.ts, so the two cannot drift apart): same rows, columns, order and CSV shape.
import { writeFileSync, readFileSync } from "node:fs";
import path from "node:path";
import { sql } from "kysely";
import pg from "pg";
import { to as copyTo } from "pg-copy-streams";
import { exportQuery } from "../../src/audit/repo.ts";
import { createDb } from "../../src/platform/db.ts";
import type { AuditServerSettings } from "./audit-server.ts";
import type { BenchStack } from "./index.ts";
import type { BenchResult } from "./table.ts";

const MB = 1024 * 1024;
const TARGET = { ratio: 0.5, rssMb: 150, firstPageMs: 50 };
// Generous bounds so a wedged run fails instead of hanging.
const EXPORT_TIMEOUT_MS = 15 * 60_000;
const SERVER_START_TIMEOUT_MS = 60_000;

/** Lines and bytes of a CSV body (the bench data has no quoted newlines), keeping its first data row. */
export async function drain(body: AsyncIterable<Uint8Array>): Promise<{ lines: number; bytes: number; firstRow: string }> {
  let lines = 0;
  let bytes = 0;
  let head = "";
  for await (const chunk of body) {
    bytes += chunk.byteLength;
    if (head.length < 4096) head += Buffer.from(chunk.subarray(0, 4096)).toString("utf8");
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
  }
  return { lines, bytes, firstRow: head.split("\n")[1] ?? "" };
}

/** A process's memory from /proc: current (VmRSS) and peak since start or last reset (VmHWM), in bytes. */
export function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb("VmRSS"), peak: kb("VmHWM") };
}

/** Resets a process's peak RSS to its current RSS (Linux ≥ 4.0); false when not allowed. */
export function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

export async function seed(stack: BenchStack, events: number, practiceId: string, userId: string): Promise<number> {
  const started = performance.now();
  await stack.owner.insertInto("users").values({ id: userId, email: "bench@bench.example", full_name: "Bench Admin", email_verified_at: new Date(), totp_enabled_at: new Date() }).execute();
  await stack.owner.insertInto("practices").values({ id: practiceId, name: "Bench Practice" }).execute();
  await stack.owner.insertInto("memberships").values({ practice_id: practiceId, user_id: userId, role: "admin" }).execute();
  await stack.owner.connection().execute(async (conn) => {
    // One event a second up to now. When audit_events is partitioned by month, the months this
    // range (and the export's own event, recorded now) falls in must exist before the insert.
    const { rows } = await sql<{ partitioned: boolean }>`SELECT to_regprocedure('audit_ensure_partitions(timestamptz,timestamptz)') IS NOT NULL AS partitioned`.execute(conn);
    if (rows[0]!.partitioned) await sql`SELECT audit_ensure_partitions(now() - make_interval(secs => ${events}::int), now() + interval '1 day')`.execute(conn);
    // Seeded directly, with the append-only and chain triggers off for this one connection: the chain
    // trigger updates one head row per event, which grows quadratically inside a single bulk
    // transaction. The export's speed does not depend on the hashes being a valid chain.
    await sql`SET session_replication_role = replica`.execute(conn);
    await sql`INSERT INTO audit_events (practice_id, chain_seq, occurred_at, actor_type, actor_id, actor_role, ip, user_agent, request_id, action, target_type, target_id, outcome, details, prev_hash, hash)
      SELECT ${practiceId}::uuid, g, now() - make_interval(secs => ${events}::int - g), 'user', ${userId}, 'admin', '192.0.2.1', 'bench', 'bench-' || g,
             'team.invited', 'invitation', 'inv-' || g, 'success', jsonb_build_object('role', 'staff', 'n', g),
             encode(sha256(convert_to('p' || g, 'UTF8')), 'hex'), encode(sha256(convert_to('h' || g, 'UTF8')), 'hex')
      FROM generate_series(1, ${events}::int) g`.execute(conn);
    await sql`SET session_replication_role = origin`.execute(conn);
    // The chain head the trigger would have left, so events recorded later (the export's own) follow on.
    await sql`INSERT INTO audit_chain_heads (chain_key, last_seq, last_hash)
      VALUES (${practiceId}, ${events}, encode(sha256(convert_to('h' || ${events}::int, 'UTF8')), 'hex'))`.execute(conn);
  });
  const seconds = (performance.now() - started) / 1000;
  await sql`VACUUM ANALYZE audit_events`.execute(stack.owner);
  return seconds;
}

/** Starts audit-server.ts in its own process and waits for its port and session token. */
export async function startServer(settings: AuditServerSettings, runtimeFlags: string[] = []) {
  const proc = Bun.spawn([process.execPath, ...runtimeFlags, path.join(import.meta.dir, "audit-server.ts")], { cwd: path.join(import.meta.dir, "../.."), stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  proc.stdin.write(`${JSON.stringify(settings)}\n`);
  await proc.stdin.flush();
  const reader = proc.stdout.getReader();
  let out = "";
  const deadline = Date.now() + SERVER_START_TIMEOUT_MS;
  while (!out.includes("\n")) {
    const next = await Promise.race([reader.read(), Bun.sleep(Math.max(0, deadline - Date.now())).then(() => null)]);
    if (!next || next.done) {
      proc.kill();
      throw new Error("the bench server did not start");
    }
    out += new TextDecoder().decode(next.value);
  }
  reader.releaseLock();
  const { port, token } = JSON.parse(out) as { port: number; token: string };
  return {
    pid: proc.pid,
    base: `http://127.0.0.1:${port}`,
    headers: { cookie: `__Host-plh_session=${token}` },
    async stop() {
      proc.stdin.end();
      const timer = setTimeout(() => proc.kill(), 10_000);
      await proc.exited;
      clearTimeout(timer);
    },
  };
}

/** COPY of the export's own query, as the app role inside the practice's RLS context. */
/** The plans COPY is given; the fastest is the baseline. */
const COPY_PLANS = {
  planner: "planner's choice",
  index: "index order (enable_sort off)",
  hash: "hash join + sort (enable_nestloop off)",
} as const;

export async function copyExport(stack: BenchStack, practiceId: string, options: { plan: keyof typeof COPY_PLANS }) {
  const compiler = createDb(stack.appUrl, { max: 1 });
  const query = exportQuery(compiler, practiceId, {}, "UTC").compile();
  await compiler.destroy();
  const client = new pg.Client({ connectionString: stack.appUrl });
  await client.connect();
  try {
    // COPY takes no bind parameters: they are inlined as literals (here only the practice id).
    const inlined = query.sql.replace(/\$(\d+)/g, (_, n: string) => client.escapeLiteral(String(query.parameters[Number(n) - 1])));
    // The export writes PostgreSQL's UTC timestamp text as ISO-8601 itself; COPY must write the same
    // file, so here PostgreSQL formats it (what the export's query did before ADR 0022).
    const text = inlined.replace(`e.occurred_at AT TIME ZONE 'UTC'`, `to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`);
    if (text === inlined) throw new Error("the export's query no longer selects e.occurred_at AT TIME ZONE 'UTC': update the COPY baseline");
    await client.query("BEGIN");
    await client.query("SELECT set_config('app.practice_id', $1, true)", [practiceId]);
    // The export's declared cursor is planned for a fast start and may read the index in order
    // instead of sorting; COPY is also given that plan, and a hash join with one sort (which may use
    // parallel workers, as a cursor cannot), and the fastest of the three is the baseline.
    if (options.plan === "index") await client.query("SET LOCAL enable_sort = off");
    if (options.plan === "hash") await client.query("SET LOCAL enable_nestloop = off");
    const started = performance.now();
    const result = await drain(client.query(copyTo(`COPY (${text}) TO STDOUT WITH CSV HEADER`)));
    const seconds = (performance.now() - started) / 1000;
    await client.query("COMMIT");
    return { ...result, rows: result.lines - 1, seconds };
  } finally {
    await client.end();
  }
}

export async function benchAuditExport(stack: BenchStack): Promise<BenchResult> {
  const events = stack.events ?? 1_000_000;
  const userId = crypto.randomUUID();
  const practiceId = crypto.randomUUID();
  const seedSeconds = await seed(stack, events, practiceId, userId);

  const server = await startServer({ appUrl: stack.appUrl, blobConnectionString: stack.blobConnectionString, userId, practiceId });
  try {
    // Viewer: first page, median of five after one warm-up.
    await fetch(`${server.base}/audit`, { headers: server.headers }).then((r) => r.text());
    const pageTimes: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const res = await fetch(`${server.base}/audit`, { headers: server.headers });
      await res.text();
      if (res.status !== 200) throw new Error(`viewer answered ${res.status}`);
      pageTimes.push(performance.now() - t0);
    }
    pageTimes.sort((a, b) => a - b);

    const copies = [];
    for (const plan of Object.keys(COPY_PLANS) as (keyof typeof COPY_PLANS)[]) copies.push({ plan, ...(await copyExport(stack, practiceId, { plan })) });
    const copy = copies.reduce((best, c) => (c.seconds < best.seconds ? c : best));

    // The export over real HTTP; the server's peak RSS is reset first so it covers the export only.
    const idle = memory(server.pid);
    const peakReset = resetPeak(server.pid);
    const started = performance.now();
    const res = await fetch(`${server.base}/audit/export.csv`, { headers: server.headers, signal: AbortSignal.timeout(EXPORT_TIMEOUT_MS) });
    if (res.status !== 200) throw new Error(`export answered ${res.status}`);
    const exported = await drain(res.body!);
    const exportSeconds = (performance.now() - started) / 1000;
    const after = memory(server.pid);
    const exportRows = exported.lines - 1; // the practice's events, and the export's own event last

    const rate = (rows: number, seconds: number) => rows / seconds;
    const n = (v: number) => Math.round(v).toLocaleString("en-US");
    const verdict = (ok: boolean) => (ok ? "met" : "MISSED");
    const ratio = rate(exportRows, exportSeconds) / rate(copy.rows, copy.seconds);
    const peakMb = after.peak / MB;
    const firstPage = pageTimes[2]!;
    const lines = [
      `audit-export: ${n(events)} events seeded in ${seedSeconds.toFixed(1)} s; server in its own process (pid ${server.pid})`,
      ...copies.map((c) =>
        `  COPY TO STDOUT, ${COPY_PLANS[c.plan].padEnd(38)} ${n(rate(c.rows, c.seconds)).padStart(9)} rows/s  (${n(c.rows)} rows, ${(c.bytes / MB).toFixed(0)} MB, ${c.seconds.toFixed(1)} s)${c === copy ? "  ← baseline" : ""}`),
      `  GET /audit/export.csv over HTTP                ${n(rate(exportRows, exportSeconds)).padStart(9)} rows/s  (${n(exportRows)} rows, ${(exported.bytes / MB).toFixed(0)} MB, ${exportSeconds.toFixed(1)} s)`,
      `  first data row identical to COPY's: ${exported.firstRow === copy.firstRow ? "yes" : `NO\n    export: ${exported.firstRow}\n    COPY:   ${copy.firstRow}`}`,
      `  ratio export/COPY        ${ratio.toFixed(2)}x      target ≥ ${TARGET.ratio}x   ${verdict(ratio >= TARGET.ratio)}`,
      `  server peak RSS          ${peakMb.toFixed(0)} MB      target < ${TARGET.rssMb} MB  ${verdict(peakMb < TARGET.rssMb)}` +
        `  (idle before the export ${(idle.rss / MB).toFixed(0)} MB, so the export added ${((after.peak - idle.rss) / MB).toFixed(0)} MB${peakReset ? "" : "; peak counted from the server's start"})`,
      `  viewer first page        ${firstPage.toFixed(1)} ms    target < ${TARGET.firstPageMs} ms   ${verdict(firstPage < TARGET.firstPageMs)}  (median of 5)`,
    ];
    const exportRate = `${n(rate(exportRows, exportSeconds))} rows/s`;
    const copyRate = `${n(rate(copy.rows, copy.seconds))} rows/s (COPY TO STDOUT)`;
    return {
      lines,
      rows: [
        { path: `audit: CSV export of ${n(events)} events over HTTP`, figure: exportRate, baseline: copyRate, ratio: `${ratio.toFixed(2)}x`, target: `≥ ${TARGET.ratio}x`, met: ratio >= TARGET.ratio },
        { path: "audit: export server peak RSS (VmHWM)", figure: `${peakMb.toFixed(0)} MB`, baseline: `${(idle.rss / MB).toFixed(0)} MB (idle server)`, ratio: "", target: `< ${TARGET.rssMb} MB`, met: peakMb < TARGET.rssMb },
        { path: `audit: viewer first page at ${n(events)} events`, figure: `${firstPage.toFixed(1)} ms`, baseline: "", ratio: "", target: `< ${TARGET.firstPageMs} ms`, met: firstPage < TARGET.firstPageMs },
      ],
    };
  } finally {
    await server.stop();
  }
}
