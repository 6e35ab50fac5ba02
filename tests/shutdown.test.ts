// Graceful shutdown of the real server (src/server.ts as a child process): on SIGTERM it stops
// accepting connections, lets the in-flight request finish, lets the running background job finish,
// and exits 0. Nothing here is timed: the request and the job are held by row and table locks that
// this test takes as the owner (as another transaction would in production), and are released only
// once the server is seen to have stopped accepting new connections.
import { afterAll, beforeAll, expect, test } from "bun:test";
import pg from "pg";
import { createJob } from "../src/jobs/service.ts";
import { freePort } from "../src/platform/embedded.ts";
import type { KeyRing } from "../src/platform/crypto.ts";
import { createTestApp, TEST_ORIGIN, testEnv, type TestApp } from "./support/app.ts";
import { makeSignedPractice } from "./support/baa.ts";
import { sessionToken } from "./support/people.ts";
import { waitFor } from "./support/wait.ts";

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

const ring = (keys: KeyRing) => keys.map((k) => `${k.id}:${k.key.toString("base64")}`).join(",");

/** The server on this test's database, container and keys, so sessions made here work there. */
async function startServer() {
  const port = await freePort();
  const env = testEnv({
    DATABASE_URL: t.database.appUrl, AZURE_STORAGE_CONTAINER: t.config.blob.container, MAIL_DIR: t.config.mail.dir,
    HMAC_KEYS: ring(t.config.keys.hmac), ENCRYPTION_KEYS: ring(t.config.keys.encryption), PORT: String(port), LOG_LEVEL: "info",
  });
  const proc = Bun.spawn([process.execPath, "src/server.ts"], {
    cwd: `${import.meta.dir}/..`, env: { PATH: process.env.PATH ?? "", ...env } as Record<string, string>, stdout: "pipe", stderr: "pipe",
  });
  const base = `http://127.0.0.1:${port}`;
  await waitFor("the server to be ready", () => fetch(`${base}/readyz`).then((r) => r.status === 200, () => false), 30_000);
  return { proc, base, logs: () => new Response(proc.stdout).text() };
}

/** True once nothing listens on the port any more (a new connection is refused). */
async function refusesConnections(base: string): Promise<boolean> {
  try {
    await fetch(`${base}/healthz`, { keepalive: false });
    return false;
  } catch (error) {
    const code = (error as { code?: string }).code;
    return code === "ECONNREFUSED" || code === "ConnectionRefused";
  }
}

async function ownerClient(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: t.database.ownerUrl });
  await client.connect();
  return client;
}

/** Backends of the app (its pool or pg-boss's) waiting on a lock in this test's database. */
async function appWaitingOnLock(owner: pg.Client): Promise<boolean> {
  const { rows } = await owner.query(
    `SELECT count(*)::int AS n FROM pg_stat_activity
     WHERE datname = $1 AND wait_event_type = 'Lock' AND application_name LIKE 'patientletterhub%'`, [t.database.name],
  );
  return rows[0].n > 0;
}

test("SIGTERM: stops accepting, finishes the in-flight request, exits 0", async () => {
  const admin = await makeSignedPractice(t, "Shutdown Practice");
  const actor = { userId: admin.userId, practiceId: admin.practiceId, role: "admin" as const };
  const job = await createJob({ db: t.db }, actor, {
    title: "Before shutdown", letterType: "other", mailClass: "first_class", returnName: "Shutdown Practice", returnLine1: "1 Main St",
    returnLine2: null, returnCity: "Boston", returnState: "MA", returnZip: "02110",
  });
  const cookie = `__Host-plh_session=${await sessionToken(t, admin)}`;
  const server = await startServer();
  const owner = await ownerClient();
  try {
    // Another transaction holds the job (as an operator or a render would): saving its details waits.
    await owner.query("BEGIN");
    await owner.query("SELECT 1 FROM jobs WHERE id = $1 FOR UPDATE", [job.id]);
    let answered = false;
    const request = fetch(`${server.base}/jobs/${job.id}/details`, {
      method: "POST", redirect: "manual",
      headers: { cookie, origin: TEST_ORIGIN, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        title: "Saved during shutdown", letterType: "other", mailClass: "first_class", returnName: "Shutdown Practice",
        returnLine1: "1 Main St", returnLine2: "", returnCity: "Boston", returnState: "MA", returnZip: "02110",
      }).toString(),
    }).finally(() => { answered = true; });
    await waitFor("the request to wait on the job's lock", () => appWaitingOnLock(owner));

    server.proc.kill("SIGTERM");
    await waitFor("the server to stop accepting connections", () => refusesConnections(server.base));
    // Stopped accepting, yet still running: the request is in flight and the process waits for it.
    expect(answered).toBe(false);
    expect(server.proc.exitCode).toBeNull();

    await owner.query("COMMIT");
    const res = await request;
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toContain(`/jobs/${job.id}`);
    const saved = await t.ownerDb.selectFrom("jobs").select("title").where("id", "=", job.id).executeTakeFirstOrThrow();
    expect(saved.title).toBe("Saved during shutdown");

    expect(await server.proc.exited).toBe(0);
    const logs = await server.logs();
    expect(logs).toMatch(/"inFlight":1,[^\n]*"msg":"shutting down: finishing in-flight requests"/);
    expect(logs).toContain('"drained":true');
    expect(logs).toContain('"msg":"stopped"');
  } finally {
    await owner.query("ROLLBACK").catch(() => {});
    await owner.end();
    server.proc.kill("SIGKILL");
  }
}, 90_000);

test("SIGTERM: a running background job finishes before the process exits 0", async () => {
  await makeSignedPractice(t, "Checkpoint Practice"); // a chain for the checkpoint task to walk
  const server = await startServer();
  const owner = await ownerClient();
  try {
    // The daily audit checkpoint, run now through the queue; it waits to write its checkpoint rows
    // while another transaction holds the table in SHARE mode (reads still go through).
    await owner.query("BEGIN");
    await owner.query("LOCK TABLE audit_checkpoints IN SHARE MODE");
    const jobId = await t.queue.trigger("audit-checkpoint");
    expect(jobId).toBeTruthy();
    const state = async () => (await owner.query("SELECT state::text FROM pgboss.job WHERE id = $1", [jobId])).rows[0]?.state as string | undefined;
    await waitFor("the server to pick the job up", async () => (await state()) === "active");
    await waitFor("the job to wait on the checkpoint table", () => appWaitingOnLock(owner));

    server.proc.kill("SIGTERM");
    await waitFor("the server to stop accepting connections", () => refusesConnections(server.base));
    expect(await state()).toBe("active");
    expect(server.proc.exitCode).toBeNull();

    await owner.query("COMMIT");
    expect(await server.proc.exited).toBe(0);
    expect(await state()).toBe("completed");
    const written = await t.ownerDb.selectFrom("audit_checkpoints").select((eb) => eb.fn.countAll<string>().as("n")).executeTakeFirstOrThrow();
    expect(Number(written.n)).toBeGreaterThan(0);
    const logs = await server.logs();
    expect(logs).toContain('"msg":"HTTP stopped; finishing running background jobs"');
    expect(logs).toContain('"task":"audit-checkpoint"');
  } finally {
    await owner.query("ROLLBACK").catch(() => {});
    await owner.end();
    server.proc.kill("SIGKILL");
  }
}, 90_000);
