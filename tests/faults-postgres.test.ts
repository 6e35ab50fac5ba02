// Fault: PostgreSQL restarted under load. The real server process (src/server.ts) serves signed-in
// staff creating and attesting jobs while its database (a private cluster: the run's shared one is
// never stopped) is shut down fast and started again. The same server process must recover on its
// own (pg pool and pg-boss reconnect), answer the outage with a clear 503 rather than a crash, and
// leave nothing half-written: every job with its job.created event, every attestation with its
// job.attested event, and every audit chain intact.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { sql } from "kysely";
import { loadConfig } from "../src/config.ts";
import { attestationStatement } from "../src/jobs/attestation.ts";
import { type BlobStore, createBlobStore } from "../src/platform/blob.ts";
import { createDb, createOwnerDb, type Db } from "../src/platform/db.ts";
import { freePort } from "../src/platform/embedded.ts";
import { startServerProcess, type ServerProcess } from "../scripts/support/server-process.ts";
import { type SeededUser, seedPracticeWithStaff } from "../scripts/support/seed.ts";
import { TEST_ORIGIN, type TestApp, testEnv } from "./support/app.ts";
import { expectAuditChainsIntact, type OwnPostgres, postForm, startOwnPostgres } from "./support/faults.ts";
import { jobReadyToSubmit, recipientsCsv } from "./support/jobs.ts";
import { sessionToken } from "./support/people.ts";
import { waitFor } from "./support/wait.ts";

let pg: OwnPostgres;
let server: ServerProcess;
let db: Db;
let ownerDb: ReturnType<typeof createOwnerDb>;
let blob: BlobStore;
let users: SeededUser[];
let adminCookie: string;
let readyJobId: string;

beforeAll(async () => {
  pg = await startOwnPostgres();
  const env = testEnv({ DATABASE_URL: pg.appUrl, PORT: String(await freePort()), LOG_LEVEL: "warn" });
  const config = loadConfig(env);
  db = createDb(config.database.url, { max: 3 });
  ownerDb = createOwnerDb(pg.ownerUrl);
  blob = createBlobStore(config.blob);
  await blob.ensureContainer();
  const deps = { db, ownerDb, blob, config };
  const seeded = await seedPracticeWithStaff(deps, { name: "Restart Practice", staff: 6 });
  users = seeded.users;
  const t = deps as unknown as TestApp;
  readyJobId = (await jobReadyToSubmit(t, seeded.admin, recipientsCsv(5))).id;
  adminCookie = `__Host-plh_session=${await sessionToken(t, seeded.admin)}`;
  server = await startServerProcess(env);
}, 90_000);

afterAll(async () => {
  await server?.stop();
  await Promise.allSettled([db?.destroy(), ownerDb?.destroy(), blob?.container.deleteIfExists()]);
  await pg?.destroy();
}, 30_000);

type Outcome = { phase: "before" | "outage" | "after"; ok: boolean; status: number; body: string };

test("the app rides out a PostgreSQL restart: clear 503s meanwhile, same process after, nothing half-written", async () => {
  let phase: Outcome["phase"] = "before";
  let running = true;
  const outcomes: Outcome[] = [];
  const record = async (res: Promise<Response>, expected: number, locationLike?: RegExp): Promise<string | null> => {
    const current = phase;
    try {
      const r = await res;
      const body = await r.text();
      const location = r.headers.get("location") ?? "";
      const ok = r.status === expected && (!locationLike || locationLike.test(location));
      outcomes.push({ phase: current, ok, status: r.status, body });
      return ok ? location : null;
    } catch (error) {
      outcomes.push({ phase: current, ok: false, status: 0, body: String(error) });
      return null;
    }
  };
  const statement = attestationStatement().version;
  const details = {
    title: "Restart notice", letterType: "practice_closure", mailClass: "first_class", returnName: "Clinic", returnLine1: "1 Main St",
    returnLine2: "", returnCity: "Boston", returnState: "MA", returnZip: "02110",
  };
  const work = async (user: SeededUser) => {
    while (running) {
      const created = await record(postForm(server.origin, TEST_ORIGIN, user.cookie, "/jobs", details), 303, /\/jobs\/[0-9a-f-]{36}\/attestation$/);
      if (created) await record(postForm(server.origin, TEST_ORIGIN, user.cookie, created, { statementVersion: statement, confirm: "yes", initials: "RS" }), 303, /\/uploads$/);
      await record(fetch(`${server.origin}/jobs`, { headers: { cookie: user.cookie }, signal: AbortSignal.timeout(15_000) }), 200);
    }
  };
  const workers = users.map(work);
  const succeeded = (p: Outcome["phase"]) => outcomes.filter((o) => o.phase === p && o.ok).length;

  await waitFor("requests before the restart", async () => succeeded("before") >= 12);
  phase = "outage";
  await pg.stop();
  await waitFor("requests refused during the outage", async () => outcomes.some((o) => o.phase === "outage" && !o.ok), 15_000);
  await pg.start();
  phase = "after";
  // Recovered: the last 24 answers after the restart all succeeded.
  await waitFor("recovery after the restart", async () => {
    const after = outcomes.filter((o) => o.phase === "after");
    return after.length >= 24 && after.slice(-24).every((o) => o.ok);
  }, 40_000).catch((e) => {
    const summary = outcomes.map((o) => `${o.phase}:${o.ok ? "ok" : o.status + ":" + o.body.slice(0, 200).replace(/\s+/g, " ")}`);
    console.error(summary.slice(-60).join("\n"), "\nSERVER:\n", server.output().slice(-4000));
    throw e;
  });
  running = false;
  await Promise.all(workers);

  // The same process, never restarted, and ready again.
  expect(server.exitCode()).toBeNull();
  expect((await fetch(`${server.origin}/readyz`)).status).toBe(200);
  // While the database was down, requests got the clear page (503, saying what is down), not a crash.
  const refused = outcomes.filter((o) => !o.ok);
  expect(refused.length).toBeGreaterThan(0);
  for (const o of refused) {
    expect(o.status).toBe(503);
    expect(o.body).toContain("cannot reach its database");
  }

  // pg-boss recovered too: a job submitted now gets its proof rendered by this same process.
  expect((await postForm(server.origin, TEST_ORIGIN, adminCookie, `/jobs/${readyJobId}/submit`, {})).status).toBe(303);
  await waitFor("the proof rendered after the restart", () =>
    ownerDb.selectFrom("proofs").select("id").where("job_id", "=", readyJobId).where("status", "=", "ready").executeTakeFirst(), 40_000);

  // Nothing half-written: each job has its job.created event and each event its job; the same for
  // attestations; every chain recomputes.
  const created = await sql<{ jobs: number; events: number; orphans: number }>`
    SELECT (SELECT count(*) FROM jobs)::int AS jobs,
           (SELECT count(*) FROM audit_events WHERE action = 'job.created' AND outcome = 'success')::int AS events,
           (SELECT count(*) FROM jobs j WHERE NOT EXISTS (
              SELECT 1 FROM audit_events e WHERE e.action = 'job.created' AND e.outcome = 'success' AND e.target_id = j.reference))::int AS orphans`.execute(ownerDb);
  expect(created.rows[0]!.jobs).toBeGreaterThan(users.length + 1);
  expect(created.rows[0]!.events).toBe(created.rows[0]!.jobs);
  expect(created.rows[0]!.orphans).toBe(0);
  const attested = await sql<{ rows: number; events: number }>`
    SELECT (SELECT count(*) FROM job_attestations)::int AS rows,
           (SELECT count(*) FROM audit_events WHERE action = 'job.attested' AND outcome = 'success')::int AS events`.execute(ownerDb);
  expect(attested.rows[0]!.events).toBe(attested.rows[0]!.rows);
  await expectAuditChainsIntact(ownerDb);
}, 120_000);
