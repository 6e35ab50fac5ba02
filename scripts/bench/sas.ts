// What issuing an upload URL costs: POST /jobs/:id/files through the whole app on a real Bun.serve
// (session, permission, BAA gate, attestation, rate limit, pending file row, hash-chained audit
// event, SAS signing) from 50 concurrent signed-in clients, against a loop of single-row INSERT
// transactions into the same PostgreSQL with the same concurrency and pool size, in the same run.
// Each phase runs for a fixed time, so the benchmark is bounded.
import { sql } from "kysely";
import { createApp } from "../../src/app.tsx";
import { loadConfig } from "../../src/config.ts";
import { attestationStatement } from "../../src/jobs/attestation.ts";
import { attestJob, createJob } from "../../src/jobs/service.ts";
import { createBlobStore } from "../../src/platform/blob.ts";
import { createDb } from "../../src/platform/db.ts";
import { createLogger } from "../../src/platform/log.ts";
import { createMailer } from "../../src/platform/mail.ts";
import type { TestApp } from "../../tests/support/app.ts";
import { makeSignedPractice } from "../../tests/support/baa.ts";
import { makePerson, sessionToken } from "../../tests/support/people.ts";
import type { BenchStack } from "./index.ts";

const CLIENTS = 50;
const PRACTICES = 10;
const POOL = 20;
const WARM_MS = 2_000;
const RUN_MS = 8_000;
const TARGET = 0.5;

type Result = { requests: number; rps: number; p50: number; p99: number };

/** Runs `workers` loops of `once` for `ms`, timing each call. */
async function measure(workers: number, ms: number, once: (worker: number) => Promise<void>): Promise<Result> {
  const latencies: number[] = [];
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
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return { requests: latencies.length, rps: Math.round((latencies.length / elapsed) * 1000), p50: at(0.5), p99: at(0.99) };
}

export async function benchSas(stack: BenchStack): Promise<string[]> {
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
  try {
    // 10 practices with a signed BAA, 5 staff each; every client has its own attested draft job.
    const t = { db, ownerDb: stack.owner, blob, config } as unknown as TestApp;
    const clients: { cookie: string; path: string }[] = [];
    for (let p = 0; p < PRACTICES; p++) {
      const admin = await makeSignedPractice(t, `Bench Practice ${p}`);
      for (let s = 0; s < CLIENTS / PRACTICES; s++) {
        const staff = await makePerson(t, { practiceId: admin.practiceId, role: "staff" });
        const actor = { userId: staff.userId, practiceId: staff.practiceId, role: "staff" as const };
        const job = await createJob({ db }, actor, {
          title: "Bench job", letterType: "practice_closure", mailClass: "first_class", returnName: "Bench", returnLine1: "1 Main St",
          returnLine2: null, returnCity: "Boston", returnState: "MA", returnZip: "02110",
        });
        await attestJob({ db }, actor, job.id, { statementVersion: attestationStatement().version, confirm: "yes", initials: "BB" });
        clients.push({ cookie: `__Host-plh_session=${await sessionToken(t, staff)}`, path: `/jobs/${job.id}/files` });
      }
    }
    const body = new URLSearchParams({ kind: "recipients_csv", name: "list.csv", size: "1024", type: "text/csv", sha256: "a".repeat(64) }).toString();
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

    // Warm both paths, then measure each for the same time.
    await measure(CLIENTS, WARM_MS, issue);
    await measure(CLIENTS, WARM_MS / 2, insert);
    const baseline = await measure(CLIENTS, RUN_MS, insert);
    const issued = await measure(CLIENTS, RUN_MS, issue);
    const ratio = issued.rps / baseline.rps;
    const ms = (v: number) => `${v.toFixed(1)} ms`;
    return [
      `sas: upload-URL issuance over HTTP (Bun.serve, loopback), ${CLIENTS} concurrent signed-in clients in ${PRACTICES} practices, pool ${POOL}, ${RUN_MS / 1000} s each`,
      `  baseline single-row INSERT tx   ${baseline.rps} tx/s   p50 ${ms(baseline.p50)}  p99 ${ms(baseline.p99)}  (${baseline.requests} transactions)`,
      `  POST /jobs/:id/files (201)      ${issued.rps} req/s  p50 ${ms(issued.p50)}  p99 ${ms(issued.p99)}  (${issued.requests} URLs)`,
      `  ratio issuance/baseline         ${ratio.toFixed(2)}x  (target ≥ ${TARGET}x: ${ratio >= TARGET ? "met" : "MISSED"})`,
    ];
  } finally {
    await server.stop(true);
    await db.destroy();
    await blob.container.deleteIfExists().catch(() => {});
  }
}
