// The audit CSV export at scale: seed N events (1,000,000 by default) in one practice, then in the
// same run time GET /audit/export.csv through the real app over loopback against PostgreSQL's own
// `COPY (SELECT …) TO STDOUT WITH CSV` of the same rows. Prints rows/s of both, their ratio, the
// process's peak RSS during the export, and the viewer's first page time.
// Targets (issue 4): export ≥ 0.5× COPY, < 150 MB RSS, first page < 50 ms. The HTTP client runs in
// the same process as the server, so the RSS printed includes both.
import { sql } from "kysely";
import pg from "pg";
import { to as copyTo } from "pg-copy-streams";
import { createApp } from "../../src/app.tsx";
import { loadConfig } from "../../src/config.ts";
import { createBlobStore } from "../../src/platform/blob.ts";
import { createDb } from "../../src/platform/db.ts";
import { createLogger } from "../../src/platform/log.ts";
import { createMailer } from "../../src/platform/mail.ts";
import { createSession } from "../../src/auth/sessions.ts";
import { withContext } from "../../src/platform/db.ts";
import type { BenchStack } from "./index.ts";

const MB = 1024 * 1024;

async function countLines(body: ReadableStream<Uint8Array>): Promise<number> {
  let lines = 0;
  for await (const chunk of body) for (const byte of chunk) if (byte === 10) lines++;
  return lines;
}

export async function benchAuditExport(stack: BenchStack): Promise<string[]> {
  const events = stack.events ?? 1_000_000;
  const userId = crypto.randomUUID();
  const practiceId = crypto.randomUUID();
  await stack.owner.insertInto("users").values({ id: userId, email: "bench@bench.example", full_name: "Bench Admin", email_verified_at: new Date(), totp_enabled_at: new Date() }).execute();
  await stack.owner.insertInto("practices").values({ id: practiceId, name: "Bench Practice" }).execute();
  await stack.owner.insertInto("memberships").values({ practice_id: practiceId, user_id: userId, role: "admin" }).execute();

  const seedStart = performance.now();
  // Seeded directly, with the append-only and chain triggers off for this one connection: the chain
  // trigger updates one head row per event, which grows quadratically inside a single bulk
  // transaction. The export's speed does not depend on the hashes being a valid chain.
  await stack.owner.connection().execute(async (conn) => {
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
  const seedSeconds = (performance.now() - seedStart) / 1000;
  await sql`ANALYZE audit_events`.execute(stack.owner);

  const config = loadConfig({
    NODE_ENV: "test", DATABASE_URL: stack.appUrl, AZURE_STORAGE_CONNECTION_STRING: stack.blobConnectionString,
    HMAC_KEYS: `b:${Buffer.alloc(32, 1).toString("base64")}`, ENCRYPTION_KEYS: `b:${Buffer.alloc(32, 2).toString("base64")}`, MAIL_DIR: "/tmp/plh-bench-mail",
  });
  const db = createDb(config.database.url, { max: 4 });
  const app = createApp({ config, db, blob: createBlobStore(config.blob), logger: createLogger({ level: "silent" }), mailer: createMailer(config.mail) });
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch });
  const { token } = await withContext(db, { actor: "bench", userId }, (tx) =>
    createSession(tx, { userId, practiceId, mfaVerified: true, request: { ip: "127.0.0.1", userAgent: "bench", requestId: "bench-0000001" } }, config.session),
  );
  const headers = { cookie: `__Host-plh_session=${token}` };
  const base = `http://127.0.0.1:${server.port}`;
  try {
    // Viewer: first page, median of five after one warm-up.
    await fetch(`${base}/audit`, { headers }).then((r) => r.text());
    const pageTimes: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      await fetch(`${base}/audit`, { headers }).then((r) => r.text());
      pageTimes.push(performance.now() - t0);
    }
    pageTimes.sort((a, b) => a - b);

    // Baseline: COPY of the same rows (the same filter, order and joined column).
    const client = await ownerClient(stack);
    const copyStart = performance.now();
    const copyRows = await countLines(
      client.query(copyTo(`COPY (SELECT e.occurred_at, e.chain_seq, e.actor_type, e.actor_id, u.full_name, e.actor_role, e.ip, e.user_agent, e.request_id, e.action, e.target_type, e.target_id, e.outcome, e.details, e.prev_hash, e.hash
        FROM audit_events e LEFT JOIN users u ON u.id::text = e.actor_id WHERE e.practice_id = '${practiceId}' ORDER BY e.occurred_at, e.chain_seq) TO STDOUT WITH CSV HEADER`)) as unknown as ReadableStream<Uint8Array>,
    );
    const copySeconds = (performance.now() - copyStart) / 1000;
    await client.end();

    // The export through HTTP, sampling this process's RSS meanwhile.
    Bun.gc(true);
    const rssBefore = process.memoryUsage().rss;
    let peak = rssBefore;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 25);
    const exportStart = performance.now();
    const res = await fetch(`${base}/audit/export.csv`, { headers });
    if (res.status !== 200) throw new Error(`export answered ${res.status}`);
    const exportRows = await countLines(res.body!);
    const exportSeconds = (performance.now() - exportStart) / 1000;
    clearInterval(sampler);

    const rate = (rows: number, s: number) => Math.round(rows / s);
    return [
      `audit-export: ${events.toLocaleString("en-US")} events seeded in ${seedSeconds.toFixed(1)} s`,
      `  baseline COPY TO STDOUT   ${rate(copyRows - 1, copySeconds).toLocaleString("en-US")} rows/s (${copyRows - 1} rows)`,
      `  GET /audit/export.csv     ${rate(exportRows - 1, exportSeconds).toLocaleString("en-US")} rows/s (${exportRows - 1} rows)`,
      `  ratio export/COPY         ${(rate(exportRows - 1, exportSeconds) / rate(copyRows - 1, copySeconds)).toFixed(2)}x   (target ≥ 0.5x)`,
      `  peak RSS during export    ${Math.round(peak / MB)} MB (${Math.round((peak - rssBefore) / MB)} MB above the start; target < 150 MB)`,
      `  viewer first page         ${pageTimes[2]!.toFixed(1)} ms median of 5 (target < 50 ms)`,
    ];
  } finally {
    await server.stop(true);
    await db.destroy();
  }
}

async function ownerClient(stack: BenchStack): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: stack.ownerUrl });
  await client.connect();
  return client;
}
