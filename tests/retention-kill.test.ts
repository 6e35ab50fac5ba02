// Issue 8 item 7: a job-purge sweep killed halfway (SIGKILL of `bun run sweep`, mid-batch: its blobs
// already deleted, its transaction not committed) and run again finishes without error or double
// counting; every blob still ends up on a certificate once. Its own database and container.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "kysely";
import { verifyAuditChains } from "../src/audit/verify.ts";
import { createOwnerDb } from "../src/platform/db.ts";
import { seedEndedJobs } from "../scripts/bench/purge.ts";
import { createTestApp, type TestApp, testEnv } from "./support/app.ts";
import { makeSignedPractice } from "./support/baa.ts";
import type { Member } from "./support/people.ts";
import { waitFor } from "./support/wait.ts";

const DAY = 86_400_000;
let t: TestApp;
let practice: Member;
let env: Record<string, string>;
beforeAll(async () => {
  t = await createTestApp();
  practice = await makeSignedPractice(t, "Kill Practice");
  env = { PATH: process.env.PATH ?? "", ...testEnv({ DATABASE_URL: t.database.appUrl, AZURE_STORAGE_CONTAINER: t.config.blob.container, RETENTION_BATCH_SIZE: "4" }) } as Record<string, string>;
}, 60_000);
afterAll(() => t.close());

const spawnSweep = (now: Date) => Bun.spawn([process.execPath, "scripts/sweep.ts", "--only", "job-purge", "--now", now.toISOString()], {
  cwd: `${import.meta.dir}/..`, env, stdout: "pipe", stderr: "pipe",
});
async function sweep(now: Date) {
  const proc = spawnSweep(now);
  const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return { code, stdout: stdout.trim(), stderr };
}
const inPractice = (action: string) => t.ownerDb.selectFrom("audit_events").selectAll().where("practice_id", "=", practice.practiceId)
  .where("action", "=", action).orderBy("chain_seq").execute();

describe("bun run sweep --only job-purge, killed", () => {
  test("a run killed halfway (SIGKILL mid-batch, its blobs already deleted, nothing committed) and run again finishes without error or double counting", async () => {
    const endedAt = new Date("2030-07-01T09:00:00.000Z");
    const now = new Date(endedAt.getTime() + 31 * DAY);
    const { jobIds, blobs } = await seedEndedJobs(t.ownerDb, t.blob, { practiceId: practice.practiceId, userId: practice.userId, count: 10, endedAt });
    // The sweep takes jobs oldest-updated first, 4 a batch: `first` is in the first batch. Holding its
    // file row makes that batch wait after its blobs are deleted and before it commits.
    const first = jobIds[0]!;
    await t.ownerDb.updateTable("jobs").set({ updated_at: new Date(Date.now() - 60_000) }).where("id", "=", first).execute();
    const owner = createOwnerDb(t.database.ownerUrl, { max: 3 });
    const hold = await owner.connection().execute(async (conn) => {
      await sql`BEGIN`.execute(conn);
      await sql`SELECT id FROM job_files WHERE job_id = ${first} FOR UPDATE`.execute(conn);
      const proc = spawnSweep(now);
      // Drained all along, as sweep() does: a child writing into a full pipe would stall.
      const output = Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
      try {
        await waitFor("the sweep to wait on the held row", async () => {
          const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'patientletterhub-sweep' AND wait_event_type = 'Lock'`.execute(owner);
          return rows[0]!.n > 0 ? true : null;
        }, 60_000);
        // The blocked batch already deleted its blobs: the kill lands after storage, before the commit.
        for (const name of blobs.filter((b) => b.includes(first))) expect(await t.blob.inspect(name)).toBeNull();
        proc.kill("SIGKILL");
        expect(await proc.exited).not.toBe(0);
        await output;
      } finally {
        await sql`ROLLBACK`.execute(conn);
      }
      return true;
    });
    await owner.destroy();
    expect(hold).toBe(true);
    const purgedBefore = await t.ownerDb.selectFrom("jobs").select("id").where("id", "in", jobIds).where("purged_at", "is not", null).execute();
    expect(purgedBefore).toHaveLength(0);

    const rerun = await sweep(now);
    expect(rerun).toMatchObject({ code: 0, stderr: "" });
    expect(rerun.stdout).toContain("job-purge: swept practices=1, jobs=10, blobs=30");
    for (const name of blobs) expect(await t.blob.inspect(name)).toBeNull();
    // Once each: one job.data.purged and one certificate per job, batch totals adding up to the jobs,
    // and every blob on a certificate (those the killed run deleted included: their rows say they were stored).
    const references = await t.ownerDb.selectFrom("jobs").select("reference").where("id", "in", jobIds).execute();
    const mine = (await inPractice("job.data.purged")).filter((e) => references.some((r) => r.reference === e.target_id));
    expect(mine.map((e) => e.target_id).sort()).toEqual(references.map((r) => r.reference).sort());
    const certificates = await t.ownerDb.selectFrom("destruction_certificates").select(["job_id", "blobs"]).where("job_id", "in", jobIds).execute();
    expect(certificates).toHaveLength(10);
    expect(certificates.reduce((n, c) => n + c.blobs, 0)).toBe(30);
    const batches = (await inPractice("retention.swept")).filter((e) => e.details.sweep === "job-purge" && new Date(e.details.cutoff).getTime() === now.getTime());
    expect(batches.map((e) => e.details.jobs)).toEqual([4, 4, 2]);
    const runs = await t.ownerDb.selectFrom("sweep_runs").selectAll().where("name", "=", "job-purge").where("cutoff", "=", now).orderBy("started_at").execute();
    expect(runs.map((r) => [r.finished_at === null, r.counts?.jobs ?? null])).toEqual([[true, null], [false, 10]]);
    // And once more: nothing.
    expect((await sweep(now)).stdout).toContain("job-purge: swept practices=0, jobs=0");
    expect((await verifyAuditChains(t.ownerDb, { practiceId: practice.practiceId })).breaks).toEqual([]);
  }, 180_000);
});
