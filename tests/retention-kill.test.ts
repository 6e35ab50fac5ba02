// Issue 8 item 7: a job-purge sweep killed halfway (SIGKILL of `bun run sweep`, mid-batch: its blobs
// already deleted, its transaction not committed) and run again finishes without error or double
// counting; every blob still ends up on a certificate once. Its own database and container.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "kysely";
import { verifyAuditChains } from "../src/audit/verify.ts";
import { createOwnerDb } from "../src/platform/db.ts";
import { seedEndedJobs } from "../scripts/bench/purge.ts";
import { openManifest } from "../src/retention/manifest.ts";
import { RUN_BOUND_HOURS } from "../src/retention/certificates.ts";
import { createTestApp, TEST_ORIGIN, type TestApp } from "./support/app.ts";
import { makeSignedPractice } from "./support/baa.ts";
import { type Member, sessionToken } from "./support/people.ts";
import { runSweep, spawnSweep as spawn, sweepEnv } from "./support/sweeps.ts";
import { waitFor } from "./support/wait.ts";

const DAY = 86_400_000;
let t: TestApp;
let practice: Member;
let env: Record<string, string>;
beforeAll(async () => {
  t = await createTestApp();
  practice = await makeSignedPractice(t, "Kill Practice");
  env = sweepEnv(t, { RETENTION_BATCH_SIZE: "4" });
}, 60_000);
afterAll(() => t.close());

const spawnSweep = (now: Date) => spawn(env, now);
const sweep = (now: Date) => runSweep(env, now);
/** The Data and retention page's sweep history, as an admin of the practice reads it: [sweep, result], newest first. */
async function runStates(): Promise<string[][]> {
  const res = await t.app.request("/retention", { headers: { cookie: `__Host-plh_session=${await sessionToken(t, practice)}`, origin: TEST_ORIGIN } });
  expect(res.status).toBe(200);
  const table = /<table[^>]*id="sweep-runs"[^>]*>([\s\S]*?)<\/table>/.exec(await res.text())![1]!;
  return [...table.matchAll(/<tr><td>([^<]+)<\/td><td><time[^>]*>[^<]*<\/time><\/td><td>[^<]*<\/td><td>([^<]+)<\/td><\/tr>/g)].map((m) => [m[1]!, m[2]!]);
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

    // Nothing tells a killed run from a running one yet: the page says Running, and invents no counts.
    expect(await runStates()).toEqual([["job-purge", "Running"]]);

    const rerun = await sweep(now);
    expect(rerun).toMatchObject({ code: 0, stderr: "" });
    expect(rerun.stdout).toContain("job-purge: swept practices=1, jobs=10, blobs=30");
    for (const name of blobs) expect(await t.blob.inspect(name)).toBeNull();
    // Once each: one job.data.purged and one certificate per job, batch totals adding up to the jobs,
    // and every blob on a certificate (those the killed run deleted included: their rows say they were stored).
    const references = await t.ownerDb.selectFrom("jobs").select("reference").where("id", "in", jobIds).execute();
    const mine = (await inPractice("job.data.purged")).filter((e) => references.some((r) => r.reference === e.target_id));
    expect(mine.map((e) => e.target_id).sort()).toEqual(references.map((r) => r.reference).sort());
    const certificates = await t.ownerDb.selectFrom("destruction_certificates").select(["job_id", "blobs", "manifest", "manifest_sha256"]).where("job_id", "in", jobIds).execute();
    expect(certificates).toHaveLength(10);
    expect(certificates.reduce((n, c) => n + c.blobs, 0)).toBe(30);
    // The killed batch's jobs: their manifests name every blob the rows say they had, by name, as
    // already gone from storage (the killed run deleted them); the other jobs' blobs were found there.
    const gone = new Set(blobs.filter((b) => b.includes(first)));
    for (const c of certificates) {
      const m = openManifest(c.manifest!, c.manifest_sha256!);
      expect(m.items.map((i) => i.name).sort()).toEqual(blobs.filter((b) => b.includes(c.job_id)).sort());
      if (c.job_id === first) expect(m.items.map((i) => i.in_storage)).toEqual([false, false, false]);
      expect(m.items.every((i) => i.bytes === 64 && i.sha256 === "d".repeat(64))).toBe(true);
      if (c.job_id !== first) expect(m.items.some((i) => gone.has(i.name))).toBe(false);
    }
    expect(certificates.find((c) => c.job_id === first)).toBeDefined();
    const batches = (await inPractice("retention.swept")).filter((e) => e.details.sweep === "job-purge" && new Date(e.details.cutoff).getTime() === now.getTime());
    expect(batches.map((e) => e.details.jobs)).toEqual([4, 4, 2]);
    const runs = await t.ownerDb.selectFrom("sweep_runs").selectAll().where("name", "=", "job-purge").where("cutoff", "=", now).orderBy("started_at").execute();
    expect(runs.map((r) => [r.finished_at === null, r.counts?.jobs ?? null])).toEqual([[true, null], [false, 10]]);
    // A later run of the same sweep has started: the killed one shows as interrupted, not running forever.
    expect(await runStates()).toEqual([["job-purge", "Finished"], ["job-purge", "Interrupted (did not finish)"]]);
    // And once more: nothing.
    expect((await sweep(now)).stdout).toContain("job-purge: swept practices=0, jobs=0");
    expect((await verifyAuditChains(t.ownerDb, { practiceId: practice.practiceId })).breaks).toEqual([]);
  }, 180_000);
});

describe("a run that never recorded its end", () => {
  test("shows as running for a while, then as interrupted once RUN_BOUND_HOURS have passed, even with no later run", async () => {
    const insertRun = (hoursAgo: number) => sql`INSERT INTO sweep_runs (name, cutoff, dry_run, started_at)
      VALUES ('pending-uploads', now(), false, now() - make_interval(hours => ${hoursAgo}))`.execute(t.ownerDb);
    await insertRun(RUN_BOUND_HOURS + 1);
    expect((await runStates()).filter(([name]) => name === "pending-uploads")).toEqual([["pending-uploads", "Interrupted (did not finish)"]]);
    await sql`DELETE FROM sweep_runs WHERE name = 'pending-uploads'`.execute(t.ownerDb);
    await insertRun(RUN_BOUND_HOURS - 1);
    expect((await runStates()).filter(([name]) => name === "pending-uploads")).toEqual([["pending-uploads", "Running"]]);
  });
});
