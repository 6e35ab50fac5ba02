// Fault: the process killed (SIGKILL, nothing runs after it) in the middle of background work.
// - A proof render in the real server process: after a restart, pg-boss notices the dead worker's
//   silent heartbeat (QUEUE_HEARTBEAT_SECONDS) and retries it; the retry renders the same proof
//   version again from the start, so there is one proof, one PDF, one proof.rendered event.
// - The job-purge sweep in `bun run sweep`: run again with the same fixed cutoff, it purges the
//   rest; every job has one certificate, and the audited counts add up to the jobs (not doubled).
// Both use the run's shared PostgreSQL and Azurite (a fresh database and container): only the
// killed process is ours to kill.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "kysely";
import { createJob } from "../src/jobs/service.ts";
import { sha256Hex } from "../src/platform/crypto.ts";
import { freePort } from "../src/platform/embedded.ts";
import { startServerProcess, type ServerProcess } from "../scripts/support/server-process.ts";
import { createTestApp, randomKeyRing, TEST_ORIGIN, type TestApp, testEnv } from "./support/app.ts";
import { makeSignedPractice } from "./support/baa.ts";
import { expectAuditChainsIntact, postForm } from "./support/faults.ts";
import { actorOf, jobReadyToSubmit, recipientsCsv } from "./support/jobs.ts";
import type { Member } from "./support/people.ts";
import { sessionToken } from "./support/people.ts";
import { waitFor } from "./support/wait.ts";

let t: TestApp;
let env: Record<string, string | undefined>;
let admin: Member;
let server: ServerProcess | undefined;

beforeAll(async () => {
  // The test's app (seeding) and the processes it starts share one database, container and key rings.
  const shared = { HMAC_KEYS: randomKeyRing(), ENCRYPTION_KEYS: randomKeyRing(), AZURE_STORAGE_CONTAINER: `f-${crypto.randomUUID().slice(0, 18)}` };
  t = await createTestApp({ env: shared });
  env = testEnv({ ...shared, DATABASE_URL: t.database.appUrl, MAIL_DIR: t.config.mail.dir, LOG_LEVEL: "warn", QUEUE_HEARTBEAT_SECONDS: "10" });
  admin = await makeSignedPractice(t, "Crash Practice");
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await t?.close();
}, 30_000);

const count = async (query: ReturnType<typeof sql<{ n: number }>>) => (await query.execute(t.ownerDb)).rows[0]!.n;

describe("killed during a proof render", () => {
  test("after a restart the render is retried: one proof version, one intact PDF, one event", async () => {
    // A long list, so the render takes a while and the kill lands inside it.
    const job = await jobReadyToSubmit(t, admin, recipientsCsv(40_000));
    const cookie = `__Host-plh_session=${await sessionToken(t, admin)}`;
    server = await startServerProcess({ ...env, PORT: String(await freePort()) });
    expect((await postForm(server.origin, TEST_ORIGIN, cookie, `/jobs/${job.id}/submit`, {})).status).toBe(303);
    const proofRow = () => t.ownerDb.selectFrom("proofs").selectAll().where("job_id", "=", job.id).executeTakeFirst();
    await waitFor("the render to start", async () => (await proofRow())?.status === "rendering", 30_000);
    await server.kill();
    // Killed mid-render: the proof is still marked as rendering, after one attempt.
    expect(await proofRow()).toMatchObject({ status: "rendering", attempts: 1 });

    server = await startServerProcess({ ...env, PORT: String(await freePort()) });
    await waitFor("the retried render", async () => (await proofRow())?.status === "ready", 60_000);

    const proofs = await t.ownerDb.selectFrom("proofs").selectAll().where("job_id", "=", job.id).execute();
    expect(proofs.map((p) => [p.version, p.status, p.attempts])).toEqual([[1, "ready", 2]]);
    const proof = proofs[0]!;
    // One PDF under the job's proofs, whole: its bytes are the recorded size and SHA-256.
    const stored = await t.blob.list(`practices/${job.practice_id}/jobs/${job.id}/proofs/`);
    expect(stored.map((b) => b.name)).toEqual([proof.blob_name!]);
    const chunks: Uint8Array[] = [];
    for await (const chunk of await t.blob.readStream(proof.blob_name!)) chunks.push(chunk);
    const pdf = Buffer.concat(chunks);
    expect(pdf.length).toBe(Number(proof.bytes));
    expect(sha256Hex(pdf)).toBe(proof.sha256!);
    expect(pdf.subarray(0, 5).toString()).toBe("%PDF-");
    expect(pdf.subarray(-6).toString()).toContain("%%EOF");
    // The job moved once; the render was recorded once.
    expect((await t.ownerDb.selectFrom("jobs").select("status").where("id", "=", job.id).executeTakeFirstOrThrow()).status).toBe("proof_ready");
    expect(await count(sql<{ n: number }>`SELECT count(*)::int AS n FROM audit_events WHERE action = 'proof.rendered' AND target_id = ${job.reference}`)).toBe(1);
    expect(await count(sql<{ n: number }>`SELECT count(*)::int AS n FROM audit_events WHERE action = 'job.status.changed' AND target_id = ${job.reference} AND details->>'to' = 'proof_ready'`)).toBe(1);
    await server.stop();
    server = undefined;
    await expectAuditChainsIntact(t.ownerDb);
  }, 120_000);
});

describe("killed during a sweep", () => {
  const JOBS = 24;
  const CUTOFF = "2031-06-01T00:00:00.000Z";
  const sweep = () => Bun.spawn([process.execPath, "scripts/sweep.ts", "--only", "job-purge", "--now", CUTOFF], {
    cwd: `${import.meta.dir}/..`, env: { PATH: process.env.PATH ?? "", ...env, RETENTION_BATCH_SIZE: "1" } as Record<string, string>, stdout: "pipe", stderr: "pipe",
  });

  test("run again with the same cutoff, it finishes the rest: one certificate per job, counts not doubled", async () => {
    // Jobs completed long before the cutoff, each with two blobs under its prefix.
    const jobs: { id: string; practice_id: string }[] = [];
    for (let i = 0; i < JOBS; i++) {
      const job = await createJob(t, actorOf(admin), { title: `Done ${i}`, letterType: "other", mailClass: "first_class", returnName: "Clinic", returnLine1: "1 Main St", returnLine2: null, returnCity: "Springfield", returnState: "MA", returnZip: "01103" });
      for (const name of ["proofs/a.pdf", "production/b.pdf"]) await t.blob.putPrivate(`practices/${job.practice_id}/jobs/${job.id}/${name}`, new Uint8Array(64), "application/pdf");
      jobs.push(job);
    }
    await t.ownerDb.updateTable("jobs").set({ status: "completed", completed_at: new Date("2031-01-01T00:00:00Z") }).where("id", "in", jobs.map((j) => j.id)).execute();
    const certificates = () => count(sql<{ n: number }>`SELECT count(*)::int AS n FROM destruction_certificates`);

    const first = sweep();
    await waitFor("the sweep to be under way", async () => {
      if (first.exitCode !== null) throw new Error(`the sweep ended before it was killed (${first.exitCode}): ${await new Response(first.stderr).text()}`);
      return (await certificates()) >= 3;
    }, 45_000);
    first.kill("SIGKILL");
    await first.exited;
    const done = await certificates();
    expect(done).toBeLessThan(JOBS); // killed with work left
    // The killed run left its row unfinished; what it committed is whole (one certificate per job).
    expect(await count(sql<{ n: number }>`SELECT count(*)::int AS n FROM sweep_runs WHERE name = 'job-purge' AND finished_at IS NULL`)).toBe(1);

    const second = sweep();
    const [out, err, code] = await Promise.all([new Response(second.stdout).text(), new Response(second.stderr).text(), second.exited]);
    expect({ code, err }).toEqual({ code: 0, err: "" });
    expect(out).toContain(`job-purge: swept practices=1, jobs=${JOBS - done}`);
    expect(out).toContain(`cutoff ${CUTOFF}`);

    // Every job purged once, with exactly one certificate whose manifest is whole (it hashes to the
    // SHA-256 recorded with it; the PDF is rendered from it on download, ADR 0018).
    expect(await count(sql<{ n: number }>`SELECT count(*)::int AS n FROM jobs WHERE purged_at IS NOT NULL`)).toBe(JOBS);
    const rows = await t.ownerDb.selectFrom("destruction_certificates").select(["job_id", "manifest", "manifest_sha256"]).execute();
    expect(rows.length).toBe(JOBS);
    expect(new Set(rows.map((r) => r.job_id)).size).toBe(JOBS);
    for (const row of rows) expect(sha256Hex(row.manifest!)).toBe(row.manifest_sha256!);
    // Nothing left in storage under any job; the audited counts add up to the jobs, not more.
    for (const job of jobs) expect(await t.blob.list(`practices/${job.practice_id}/jobs/${job.id}/`)).toEqual([]);
    expect(await count(sql<{ n: number }>`SELECT count(*)::int AS n FROM audit_events WHERE action = 'job.data.purged'`)).toBe(JOBS);
    expect(await count(sql<{ n: number }>`SELECT coalesce(sum((details->>'jobs')::int), 0)::int AS n FROM audit_events WHERE action = 'retention.swept' AND details->>'sweep' = 'job-purge'`)).toBe(JOBS);
    // A third run finds nothing.
    const third = sweep();
    expect(await third.exited).toBe(0);
    expect(await new Response(third.stdout).text()).toContain("job-purge: swept practices=0, jobs=0");
    await expectAuditChainsIntact(t.ownerDb);
  }, 120_000);
});
