// `bun run bench purge [--jobs=N]`: issue 8's "purge 10,000 completed jobs with 3 blobs each beside a
// raw Blob batch delete of the same number of blobs in the same run; target ≥ 0.7×". The real
// job-purge sweep (src/retention/job-purge.ts: bounded batches, a certificate manifest and an
// audit event per job, one retention.swept per batch) runs as the app role against in-memory Azurite
// on loopback; the baseline deletes as many plain blobs through BlobBatchClient alone, 256 per
// request with the same number of requests in flight as the sweep. On a shared machine the load
// drifts, so the work is cut into rounds that alternate which side goes first (B S S B …), and each
// side's time is the sum of its rounds.
import { BlobBatch, type ContainerClient } from "@azure/storage-blob";
import { type Kysely, sql } from "kysely";
import type { BlobStore } from "../../src/platform/blob.ts";
import { sweepJobPurge } from "../../src/retention/job-purge.ts";
import { createTestApp } from "../../tests/support/app.ts";
import { makeSignedPractice } from "../../tests/support/baa.ts";
import type { BenchStack } from "./index.ts";

const DEFAULT_JOBS = 10_000;
/**
 * At least MIN_ROUNDS rounds of at most ROUND_MAX_JOBS jobs each: Azurite's in-memory store
 * costs more per operation the more blobs the container holds, so at 10,000 jobs ten rounds of 1,000
 * (6,000 blobs at once) made both sides crawl (a run did not finish in 30 minutes on the shared
 * machine). Each round seeds its jobs, then times the sweep and the baseline on them.
 */
const MIN_ROUNDS = 10;
const ROUND_MAX_JOBS = 250;
const TARGET = 0.7;
const DAY = 86_400_000;
/** The sweep's storage concurrency (job-purge.ts STORAGE_CONCURRENCY): the baseline gets the same. */
const IN_FLIGHT = 8;
const BATCH_MAX = 256;
const SEED_CONCURRENCY = 32;

async function inParallel<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

/**
 * Seeds `count` completed (or cancelled) jobs of a signed practice, as the owner, each with three
 * blobs really in storage: a verified recipient list, a ready proof and a ready print file. Also
 * used by tests/retention-purge.test.ts. Returns the job ids and every blob name.
 */
export async function seedEndedJobs(
  owner: Kysely<any>, blob: BlobStore,
  o: { practiceId: string; userId: string; count: number; endedAt: Date; bytes?: number },
): Promise<{ jobIds: string[]; blobs: string[] }> {
  const size = o.bytes ?? 64;
  const hash = "d".repeat(64);
  const rows = await owner.transaction().execute(async (tx) => {
    const { rows: jobs } = await sql<{ id: string }>`
      INSERT INTO jobs (practice_id, title, letter_type, mail_class, return_name, return_line1, return_city, return_state, return_zip, created_by)
      SELECT ${o.practiceId}::uuid, 'Seeded job', 'other', 'first_class', 'Clinic', '1 Main St', 'Springfield', 'MA', '01103', ${o.userId}::uuid
        FROM generate_series(1, ${o.count}) RETURNING id`.execute(tx);
    const ids = jobs.map((j) => j.id);
    await sql`
      INSERT INTO job_attestations (practice_id, job_id, user_id, statement_version, statement_sha256, initials)
      SELECT ${o.practiceId}::uuid, id, ${o.userId}::uuid, 'v1', ${hash}, 'AA' FROM unnest(${ids}::uuid[]) AS id`.execute(tx);
    const { rows: files } = await sql<{ blob_name: string }>`
      INSERT INTO job_files (id, practice_id, job_id, kind, blob_name, declared_name, declared_size, declared_type, status, upload_expires_at, size, sha256, verified_at, created_by)
      SELECT f, ${o.practiceId}::uuid, id, 'recipients_csv', 'practices/' || ${o.practiceId} || '/jobs/' || id || '/' || f, 'list.csv', ${size}, 'text/csv',
             'verified', now(), ${size}, ${hash}, now(), ${o.userId}::uuid
        FROM (SELECT id, gen_random_uuid() AS f FROM unnest(${ids}::uuid[]) AS id) s RETURNING blob_name`.execute(tx);
    const { rows: proofs } = await sql<{ blob_name: string }>`
      INSERT INTO proofs (id, practice_id, job_id, version, status, requested_by, blob_name, sha256, bytes, ready_at)
      SELECT p, ${o.practiceId}::uuid, id, 1, 'ready', ${o.userId}::uuid, 'practices/' || ${o.practiceId} || '/jobs/' || id || '/proofs/' || p || '.pdf', ${hash}, ${size}, now()
        FROM (SELECT id, gen_random_uuid() AS p FROM unnest(${ids}::uuid[]) AS id) s RETURNING blob_name`.execute(tx);
    const { rows: prints } = await sql<{ blob_name: string }>`
      INSERT INTO production_files (id, practice_id, job_id, proof_id, status, blob_name, sha256, bytes, page_count, letters, ready_at)
      SELECT f, ${o.practiceId}::uuid, pr.job_id, pr.id, 'ready', 'practices/' || ${o.practiceId} || '/jobs/' || pr.job_id || '/production/' || f || '.pdf', ${hash}, ${size}, 1, 1, now()
        FROM (SELECT id, job_id, gen_random_uuid() AS f FROM proofs WHERE job_id = ANY (${ids}::uuid[])) pr RETURNING blob_name`.execute(tx);
    await sql`
      UPDATE jobs SET status = 'completed', production_started_at = ${o.endedAt}, mailed_on = ${o.endedAt}::date, mailed_pieces = 1, completed_at = ${o.endedAt}
       WHERE id = ANY (${ids}::uuid[])`.execute(tx);
    return { ids, blobs: [...files, ...proofs, ...prints].map((r) => r.blob_name) };
  });
  const body = new Uint8Array(size).fill(120);
  await inParallel(rows.blobs, SEED_CONCURRENCY, (name) => blob.putPrivate(name, body, "application/octet-stream"));
  return { jobIds: rows.ids, blobs: rows.blobs };
}

/** The baseline: plain Blob Batch deletes, 256 per request, IN_FLIGHT requests at once. */
async function rawBatchDelete(container: ContainerClient, names: readonly string[]): Promise<void> {
  const client = container.getBlobBatchClient();
  const chunks: string[][] = [];
  for (let i = 0; i < names.length; i += BATCH_MAX) chunks.push(names.slice(i, i + BATCH_MAX));
  await inParallel(chunks, IN_FLIGHT, async (chunk) => {
    const batch = new BlobBatch();
    for (const name of chunk) await batch.deleteBlob(container.getBlobClient(name), { deleteSnapshots: "include" });
    const response = await client.submitBatch(batch);
    const failed = response.subResponses.filter((r) => r.status !== 202);
    if (failed.length) throw new Error(`raw batch delete: ${failed.length} blobs not deleted (status ${failed[0]!.status})`);
  });
}

function jobsArg(): number {
  const arg = process.argv.slice(2).find((a) => a.startsWith("--jobs="));
  if (!arg) return DEFAULT_JOBS;
  const n = Number(arg.slice("--jobs=".length));
  if (!Number.isInteger(n) || n < MIN_ROUNDS) throw new Error(`--jobs takes a whole number of at least ${MIN_ROUNDS}`);
  return n;
}

export async function benchPurge(_stack: BenchStack): Promise<string[]> {
  const jobs = jobsArg();
  const rounds = Math.max(MIN_ROUNDS, Math.ceil(jobs / ROUND_MAX_JOBS));
  const perRound = Math.ceil(jobs / rounds);
  const t = await createTestApp();
  try {
    const admin = await makeSignedPractice(t, "Purge Bench Clinic");
    const now = new Date();
    const endedAt = new Date(now.getTime() - 31 * DAY);
    const body = new Uint8Array(64).fill(120);
    let sweepMs = 0;
    let rawMs = 0;
    let sweepBlobs = 0;
    let rawBlobs = 0;
    let purged = 0;
    let seedMs = 0;
    for (let round = 0; round < rounds; round++) {
      const count = Math.min(perRound, jobs - round * perRound);
      if (count <= 0) break;
      const seedStarted = performance.now();
      const seeded = await seedEndedJobs(t.ownerDb, t.blob, { practiceId: admin.practiceId, userId: admin.userId, count, endedAt });
      const raw = seeded.blobs.map((_, i) => `bench-raw/${round}/${i}`);
      await inParallel(raw, SEED_CONCURRENCY, (name) => t.blob.putPrivate(name, body, "application/octet-stream"));
      seedMs += performance.now() - seedStarted;

      const runSweep = async () => {
        const started = performance.now();
        const result = await sweepJobPurge({ db: t.db, blob: t.blob, days: 30 }, { now, batchSize: t.config.retention.batchSize });
        sweepMs += performance.now() - started;
        sweepBlobs += result.counts.blobs ?? 0;
        purged += result.counts.jobs ?? 0;
        if (result.counts.single_deletes) throw new Error("storage refused Blob Batch: the sweep fell back to single deletes");
      };
      const runRaw = async () => {
        const started = performance.now();
        await rawBatchDelete(t.blob.container, raw);
        rawMs += performance.now() - started;
        rawBlobs += raw.length;
      };
      // B S, then S B: whichever goes first in one round goes second in the next.
      if (round % 2 === 0) { await runRaw(); await runSweep(); } else { await runSweep(); await runRaw(); }
      // Progress on stderr (a long run on a shared machine should show it is moving).
      process.stderr.write(`purge: round ${round + 1}/${rounds}: sweep ${(sweepMs / 1000).toFixed(1)} s, raw ${(rawMs / 1000).toFixed(1)} s so far\n`);
    }
    // Everything really gone, every job purged once with its certificate.
    const left = await t.blob.list(`practices/${admin.practiceId}/jobs/`);
    const rawLeft = await t.blob.list("bench-raw/");
    const { rows } = await sql<{ purged: number; certificates: number }>`
      SELECT (SELECT count(*)::int FROM jobs WHERE practice_id = ${admin.practiceId}::uuid AND purged_at IS NOT NULL) AS purged,
             (SELECT count(*)::int FROM destruction_certificates WHERE practice_id = ${admin.practiceId}::uuid) AS certificates`.execute(t.ownerDb);
    if (left.length || rawLeft.length || rows[0]!.purged !== jobs || rows[0]!.certificates !== jobs || purged !== jobs) {
      throw new Error(`purge incomplete: ${left.length} job blobs and ${rawLeft.length} raw blobs left, ${rows[0]!.purged}/${jobs} jobs purged, ${rows[0]!.certificates} certificates`);
    }
    const sweepRate = sweepBlobs / (sweepMs / 1000);
    const rawRate = rawBlobs / (rawMs / 1000);
    const ratio = sweepRate / rawRate;
    const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
    return [
      `purge: ${jobs.toLocaleString("en-US")} completed jobs × 3 blobs in Azurite (in memory, loopback), ${rounds} alternating rounds of ${perRound.toLocaleString("en-US")} jobs, batch size ${t.config.retention.batchSize}; seeding took ${(seedMs / 1000).toFixed(0)} s (not timed)`,
      `  raw Blob batch delete (BlobBatchClient, 256/request, ${IN_FLIGHT} in flight)  ${fmt(rawBlobs)} blobs in ${(rawMs / 1000).toFixed(1)} s = ${fmt(rawRate)} blobs/s  ← baseline`,
      `  job-purge sweep (+ listing per practice, certificate manifest and audit event per job, per-batch event)  ${fmt(sweepBlobs)} blobs in ${(sweepMs / 1000).toFixed(1)} s = ${fmt(sweepRate)} blobs/s`,
      `  ratio ${ratio.toFixed(2)}×   target ≥ ${TARGET}×   ${ratio >= TARGET ? "MET" : "MISSED"}`,
    ];
  } finally {
    await t.close();
  }
}
