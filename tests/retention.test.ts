// Retention sweeps (issue 8, first part) against real PostgreSQL and Azurite: each sweep from a fixed
// cutoff does what it should and nothing more, in batches, once (idempotent), with its sweep run and
// audit events; a dry run changes nothing but counts the same. Then `bun run worker` and
// `bun run sweep` as processes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "kysely";
import { attestationStatement } from "../src/jobs/attestation.ts";
import { attestJob, createJob } from "../src/jobs/service.ts";
import { issueUploadUrl } from "../src/jobs/uploads.ts";
import { loadConfig } from "../src/config.ts";
import { createDatabaseIfMissing } from "../src/platform/embedded.ts";
import { sweepAuditPartitions } from "../src/retention/audit-partitions.ts";
import { sweepExpiredCredentials } from "../src/retention/expired-credentials.ts";
import { EXPIRED_UPLOAD_REASON, sweepPendingUploads } from "../src/retention/pending-uploads.ts";
import { createTestApp, type TestApp, testEnv } from "./support/app.ts";
import { makeSignedPractice } from "./support/baa.ts";
import { actorOf } from "./support/jobs.ts";
import type { Member } from "./support/people.ts";
import { makePerson } from "./support/people.ts";
import { testStack } from "./support/stack.ts";

const CUTOFF = new Date("2030-01-15T12:00:00.000Z");
const at = (msBeforeCutoff: number) => new Date(CUTOFF.getTime() - msBeforeCutoff);

function sweepRuns(t: TestApp, name: string) {
  return t.ownerDb.selectFrom("sweep_runs").selectAll().where("name", "=", name).orderBy("started_at").execute();
}

function sweptEvents(t: TestApp, sweep: string, practiceId: string | null) {
  return t.ownerDb.selectFrom("audit_events").selectAll().where("action", "=", "retention.swept")
    .where(sql<boolean>`details->>'sweep' = ${sweep}`)
    .$call((q) => (practiceId ? q.where("practice_id", "=", practiceId) : q.where("practice_id", "is", null)))
    .orderBy("chain_seq").execute();
}

// ---------------------------------------------------------------------------------------------
describe("pending-uploads", () => {
  let t: TestApp;
  let a: Member;
  let b: Member;
  beforeAll(async () => {
    t = await createTestApp();
    [a, b] = [await makeSignedPractice(t, "Practice A"), await makeSignedPractice(t, "Practice B")];
  }, 60_000);
  afterAll(() => t.close());

  /** A pending upload whose URL (we then say) expired at `expiresAt`; its blob uploaded when `put`. */
  async function pendingFile(member: Member, jobId: string, expiresAt: Date, options: { put?: boolean; lease?: boolean } = {}) {
    const actor = actorOf(member);
    const issued = await issueUploadUrl(t, actor, jobId, { kind: "logo", name: "logo.png", size: 8, type: "image/png", sha256: "a".repeat(64) });
    const file = await t.ownerDb.selectFrom("job_files").select(["id", "blob_name"]).where("id", "=", issued.fileId).executeTakeFirstOrThrow();
    if (options.put) {
      const put = await fetch(issued.uploadUrl, { method: "PUT", headers: { "x-ms-blob-type": "BlockBlob", "x-ms-blob-content-type": "image/png" }, body: new Uint8Array(8) });
      expect(put.status).toBe(201);
    }
    const leaseId = options.lease ? crypto.randomUUID() : null;
    if (leaseId) expect(await t.blob.lease(file.blob_name, leaseId)).toBe(true);
    await t.ownerDb.updateTable("job_files").set({ upload_expires_at: expiresAt, blob_lease_id: leaseId }).where("id", "=", file.id).execute();
    return file;
  }

  async function jobOf(member: Member) {
    const actor = actorOf(member);
    const job = await createJob(t, actor, {
      title: "Closure", letterType: "provider_departure", mailClass: "first_class", returnName: "Clinic",
      returnLine1: "1 Main St", returnLine2: null, returnCity: "Springfield", returnState: "MA", returnZip: "01103",
    });
    await attestJob(t, actor, job.id, { statementVersion: attestationStatement().version, confirm: "yes", initials: "AA" });
    return job;
  }

  const statusOf = async (id: string) => (await t.ownerDb.selectFrom("job_files").select(["status", "rejected_reason"]).where("id", "=", id).executeTakeFirstOrThrow());

  test("expired unverified uploads lose their blob and become rejected, practice by practice, in batches, once", async () => {
    const jobA = await jobOf(a);
    const jobB = await jobOf(b);
    // A: five expired (more than one batch of 2), one of them uploaded and one leased; B: one expired.
    const expiredA = [
      await pendingFile(a, jobA.id, at(61_000), { put: true }),
      await pendingFile(a, jobA.id, at(62_000), { put: true, lease: true }),
      await pendingFile(a, jobA.id, at(3_600_000)),
      await pendingFile(a, jobA.id, at(86_400_000)),
      await pendingFile(a, jobA.id, at(120_000)),
    ];
    const expiredB = [await pendingFile(b, jobB.id, at(90_000), { put: true })];
    // Just inside: expired less than the grace minute before the cutoff, or not yet expired.
    const inside = [await pendingFile(a, jobA.id, at(60_000), { put: true }), await pendingFile(b, jobB.id, at(-600_000), { put: true })];
    // Decided files are never touched, however old.
    const verifiedLike = await pendingFile(a, jobA.id, at(86_400_000), { put: true });
    await t.ownerDb.updateTable("job_files").set({ status: "rejected", rejected_reason: "checksum mismatch" }).where("id", "=", verifiedLike.id).execute();

    const dry = await sweepPendingUploads(t, { now: CUTOFF, dryRun: true, batchSize: 2 });
    expect(dry.counts).toEqual({ practices: 2, files: 6 });
    for (const f of [...expiredA, ...expiredB]) expect((await statusOf(f.id)).status).toBe("pending");
    expect(await t.blob.inspect(expiredA[0]!.blob_name)).not.toBeNull();
    expect(await sweptEvents(t, "pending-uploads", a.practiceId)).toHaveLength(0);

    const run = await sweepPendingUploads(t, { now: CUTOFF, batchSize: 2 });
    expect(run.counts).toEqual(dry.counts);
    for (const f of [...expiredA, ...expiredB]) {
      expect(await statusOf(f.id)).toEqual({ status: "rejected", rejected_reason: EXPIRED_UPLOAD_REASON });
      expect(await t.blob.inspect(f.blob_name)).toBeNull();
    }
    for (const f of inside) {
      expect((await statusOf(f.id)).status).toBe("pending");
      expect(await t.blob.inspect(f.blob_name)).not.toBeNull();
    }
    expect(await statusOf(verifiedLike.id)).toEqual({ status: "rejected", rejected_reason: "checksum mismatch" });
    expect(await t.blob.inspect(verifiedLike.blob_name)).not.toBeNull();

    // One event per batch, in each practice's own chain: A 2 + 2 + 1, B 1.
    const eventsA = await sweptEvents(t, "pending-uploads", a.practiceId);
    expect(eventsA.map((e) => e.details.files)).toEqual([2, 2, 1]);
    expect(eventsA[0]).toMatchObject({ actor_type: "system", actor_id: "system:pending-uploads", outcome: "success" });
    expect(eventsA[0]!.details).toMatchObject({ cutoff: CUTOFF.toISOString() });
    expect((await sweptEvents(t, "pending-uploads", b.practiceId)).map((e) => e.details.files)).toEqual([1]);
    expect(await sweptEvents(t, "pending-uploads", null)).toHaveLength(0);

    // Idempotent: nothing left, nothing changed, nothing audited.
    const again = await sweepPendingUploads(t, { now: CUTOFF, batchSize: 2 });
    expect(again.counts).toEqual({ practices: 0, files: 0 });
    expect(await sweptEvents(t, "pending-uploads", a.practiceId)).toHaveLength(3);

    const runs = await sweepRuns(t, "pending-uploads");
    expect(runs.map((r) => [r.dry_run, r.counts])).toEqual([[true, { practices: 2, files: 6 }], [false, { practices: 2, files: 6 }], [false, { practices: 0, files: 0 }]]);
    for (const r of runs) {
      expect(r.cutoff.toISOString()).toBe(CUTOFF.toISOString());
      expect(r.finished_at).not.toBeNull();
      expect(r.error).toBeNull();
    }
  }, 60_000);
});

// ---------------------------------------------------------------------------------------------
describe("expired-credentials", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  const hash = () => Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("hex");

  test("expired or ended sessions, tokens, unaccepted invitations and TOTP re-enrolments are deleted in batches, once; live ones stay", async () => {
    const admin = await makePerson(t);
    const u = admin.userId;
    const session = (expires: Date, revoked: Date | null = null) =>
      t.ownerDb.insertInto("sessions").values({ token_hash: hash(), user_id: u, expires_at: expires, revoked_at: revoked }).returning("id").executeTakeFirstOrThrow();
    const token = (expires: Date, used: Date | null = null) =>
      t.ownerDb.insertInto("email_tokens").values({ user_id: u, purpose: "reset_password", token_hash: hash(), expires_at: expires, used_at: used }).returning("id").executeTakeFirstOrThrow();
    const invitation = (expires: Date, extra: { revoked_at?: Date; accepted_at?: Date; accepted_by?: string } = {}) =>
      t.ownerDb.insertInto("invitations").values({ practice_id: admin.practiceId, email: `${crypto.randomUUID()}@x.example`, role: "staff", token_hash: hash(), invited_by: u, expires_at: expires, ...extra }).returning("id").executeTakeFirstOrThrow();

    const gone = {
      sessions: [await session(at(1)), await session(at(0)), await session(at(3_600_000)), await session(at(-3_600_000), at(5_000))],
      email_tokens: [await token(at(10)), await token(at(-3_600_000), at(1_000)), await token(at(86_400_000))],
      invitations: [await invitation(at(1_000)), await invitation(at(-86_400_000), { revoked_at: at(60_000) })],
    };
    const kept = {
      sessions: [await session(at(-1)), await session(at(-3_600_000), at(-1_000))],
      email_tokens: [await token(at(-1)), await token(at(-3_600_000), at(-1))],
      invitations: [await invitation(at(-1)), await invitation(at(86_400_000), { accepted_at: at(90_000_000), accepted_by: u })],
    };
    // An authenticator change started and never finished: its encrypted secret waits in
    // totp_reenrolments (one row per user) until it expires; then the sweep deletes it.
    const reenrolment = async (expires: Date) => {
      const { userId } = await makePerson(t);
      await t.ownerDb.insertInto("totp_reenrolments").values({ user_id: userId, secret: "v1.k1.iv.aad.ct", expires_at: expires }).execute();
      return { id: userId };
    };
    const goneReenrolments = [await reenrolment(at(1)), await reenrolment(at(0)), await reenrolment(at(86_400_000))];
    const keptReenrolments = [await reenrolment(at(-1))];
    const exists = async (table: string, id: string) => {
      const key = table === "totp_reenrolments" ? "user_id" : "id";
      return (await t.ownerDb.selectFrom(table).select(key).where(key, "=", id).executeTakeFirst()) !== undefined;
    };
    Object.assign(gone, { totp_reenrolments: goneReenrolments });
    Object.assign(kept, { totp_reenrolments: keptReenrolments });

    const dry = await sweepExpiredCredentials(t, { now: CUTOFF, dryRun: true, batchSize: 2 });
    expect(dry.counts).toEqual({ sessions: 4, email_tokens: 3, invitations: 2, totp_reenrolments: 3 });
    for (const [table, rows] of Object.entries(gone)) for (const r of rows) expect(await exists(table, r.id)).toBe(true);

    const run = await sweepExpiredCredentials(t, { now: CUTOFF, batchSize: 2 });
    expect(run.counts).toEqual(dry.counts);
    for (const [table, rows] of Object.entries(gone)) for (const r of rows) expect(await exists(table, r.id)).toBe(false);
    for (const [table, rows] of Object.entries(kept)) for (const r of rows) expect(await exists(table, r.id)).toBe(true);

    // Batches of 2: sessions 2 + 2, tokens 2 + 1, invitations 2, re-enrolments 2 + 1; platform chain, system actor.
    const events = await sweptEvents(t, "expired-credentials", null);
    expect(events.map((e) => { const { sweep: _s, cutoff: _c, ...counts } = e.details; return counts; }))
      .toEqual([{ sessions: 2 }, { sessions: 2 }, { email_tokens: 2 }, { email_tokens: 1 }, { invitations: 2 }, { totp_reenrolments: 2 }, { totp_reenrolments: 1 }]);
    expect(events[0]).toMatchObject({ actor_type: "system", actor_id: "system:expired-credentials" });

    const again = await sweepExpiredCredentials(t, { now: CUTOFF, batchSize: 2 });
    expect(again.counts).toEqual({ sessions: 0, email_tokens: 0, invitations: 0, totp_reenrolments: 0 });
    expect(await sweptEvents(t, "expired-credentials", null)).toHaveLength(7);
    expect((await sweepRuns(t, "expired-credentials")).map((r) => [r.dry_run, r.counts])).toEqual([
      [true, dry.counts], [false, dry.counts], [false, again.counts],
    ]);
  });

  test("the app role cannot delete these rows itself: only through the sweep's function", async () => {
    await expect(sql`DELETE FROM email_tokens`.execute(t.db)).rejects.toThrow(/permission denied/);
    // The app role may delete its own user's re-enrolment (RLS), but sees nobody else's: only the function sweeps them.
    const other = await makePerson(t);
    await t.ownerDb.insertInto("totp_reenrolments").values({ user_id: other.userId, secret: "v1.k1.iv.aad.ct", expires_at: at(1) }).execute();
    expect(Number((await sql`DELETE FROM totp_reenrolments`.execute(t.db)).numAffectedRows ?? 0)).toBe(0);
    await expect(sql`SELECT retention_delete_expired_credentials('users', now(), 10)`.execute(t.db)).rejects.toThrow(/unknown kind/);
  });
});

// ---------------------------------------------------------------------------------------------
describe("audit-partitions", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
    // Three old months, the first with two events (written as they were then: triggers off).
    await t.ownerDb.transaction().execute(async (tx) => {
      await sql`SELECT audit_ensure_partitions('2015-01-01T00:00:00Z', '2015-03-01T00:00:00Z')`.execute(tx);
      await sql`SET LOCAL session_replication_role = replica`.execute(tx);
      for (const [seq, day] of [[1, "2015-01-10"], [2, "2015-01-20"]] as const) {
        await sql`INSERT INTO audit_events (practice_id, chain_seq, occurred_at, actor_type, action, outcome, prev_hash, hash)
                  VALUES (NULL, ${seq}, ${`${day}T00:00:00Z`}, 'system', 'audit.partitions.created', 'success', ${String(seq - 1).repeat(64)}, ${String(seq).repeat(64)})`.execute(tx);
      }
    });
  });
  afterAll(() => t.close());

  const partitionNames = async () =>
    (await sql<{ name: string }>`SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'audit_events'::regclass AND c.relname LIKE 'audit_events_y2015%' ORDER BY 1`.execute(t.ownerDb)).rows.map((r) => r.name);

  test("the app role cannot drop a partition", async () => {
    await expect(sql`DROP TABLE audit_events_y2015m01`.execute(t.db)).rejects.toThrow(/must be owner|permission denied/);
  });

  test("partitions wholly older than the retention period are dropped by the owner, once; the month just inside stays", async () => {
    // 7 years before 2022-03-15 is March 2015: January and February end on or before it.
    const now = new Date("2022-03-15T00:00:00Z");
    const dry = await sweepAuditPartitions({ ownerDb: t.ownerDb, years: 7 }, { now, dryRun: true, batchSize: 1 });
    expect(dry.counts).toEqual({ partitions: 2, events: 2 });
    expect(await partitionNames()).toEqual(["audit_events_y2015m01", "audit_events_y2015m02", "audit_events_y2015m03"]);

    const run = await sweepAuditPartitions({ ownerDb: t.ownerDb, years: 7 }, { now, batchSize: 1 });
    expect(run.counts).toEqual(dry.counts);
    expect(await partitionNames()).toEqual(["audit_events_y2015m03"]);
    const events = await sweptEvents(t, "audit-partitions", null);
    expect(events.map((e) => [e.details.partition, e.details.events])).toEqual([["2015-01", 2], ["2015-02", 0]]);
    expect(events[0]).toMatchObject({ actor_type: "system", actor_id: "system:audit-partitions" });
    // The platform chain now starts after its last dropped event: seq 2, its hash.
    expect(await t.ownerDb.selectFrom("audit_retention_anchors").select(["chain_key", "through_seq", "through_hash", "partition_month"]).execute())
      .toEqual([{ chain_key: "platform", through_seq: "2", through_hash: "2".repeat(64), partition_month: "2015-01" }]);

    const again = await sweepAuditPartitions({ ownerDb: t.ownerDb, years: 7 }, { now, batchSize: 1 });
    expect(again.counts).toEqual({ partitions: 0, events: 0 });
    expect(await sweptEvents(t, "audit-partitions", null)).toHaveLength(2);
    expect((await sweepRuns(t, "audit-partitions")).map((r) => [r.dry_run, r.counts])).toEqual([[true, dry.counts], [false, dry.counts], [false, again.counts]]);
  });
});

// ---------------------------------------------------------------------------------------------
describe("commands", () => {
  let t: TestApp;
  let env: Record<string, string | undefined>;
  beforeAll(async () => {
    t = await createTestApp();
    env = testEnv({ DATABASE_URL: t.database.appUrl, DATABASE_OWNER_URL: t.database.ownerUrl, AZURE_STORAGE_CONTAINER: t.config.blob.container, LOG_LEVEL: "info" });
  });
  afterAll(() => t.close());

  function run(script: string, args: string[], overrides: Record<string, string | undefined> = {}) {
    return Bun.spawn([process.execPath, script, ...args], {
      cwd: `${import.meta.dir}/..`,
      env: { PATH: process.env.PATH ?? "", ...env, ...overrides } as Record<string, string>,
      stdout: "pipe", stderr: "pipe",
    });
  }
  async function sweep(args: string[], overrides: Record<string, string | undefined> = {}) {
    const proc = run("scripts/sweep.ts", args, overrides);
    const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
    return { code, stdout, stderr };
  }

  test("bun run worker runs the background work and stops cleanly on SIGTERM", async () => {
    const proc = run("scripts/worker.ts", []);
    const reader = proc.stdout.getReader();
    let out = "";
    const deadline = Date.now() + 20_000;
    while (!out.includes("worker is running") && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      out += new TextDecoder().decode(value);
    }
    expect(out).toContain('"msg":"PatientLetterHub worker is running"');
    expect(out).toContain("sweep-pending-uploads (*/15 * * * *)");
    const schedules = await sql<{ name: string }>`SELECT name FROM pgboss.schedule ORDER BY name`.execute(t.ownerDb);
    expect(schedules.rows.map((r) => r.name)).toEqual(["audit-checkpoint", "audit-partitions", "sweep-abandoned-drafts", "sweep-data-requests", "sweep-expired-credentials", "sweep-job-purge", "sweep-pending-uploads", "weekly-summary"]);
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      out += new TextDecoder().decode(value);
    }
    expect(out).toContain('"msg":"stopped"');
  }, 30_000);

  test("bun run sweep --dry-run --now prints every sweep with its counts and changes nothing", async () => {
    const admin = await makePerson(t);
    await t.ownerDb.insertInto("email_tokens").values({ user_id: admin.userId, purpose: "verify_email", token_hash: "e".repeat(64), expires_at: at(1_000) }).execute();
    const dry = await sweep(["--dry-run", "--now", CUTOFF.toISOString()]);
    expect(dry.stderr).toBe("");
    expect(dry.code).toBe(0);
    const lines = dry.stdout.trim().split("\n");
    expect(lines).toContain(`pending-uploads: would sweep practices=0, files=0 (dry run, cutoff ${CUTOFF.toISOString()})`);
    expect(lines).toContain(`expired-credentials: would sweep sessions=0, email_tokens=1, invitations=0, totp_reenrolments=0 (dry run, cutoff ${CUTOFF.toISOString()})`);
    expect(lines).toContain(`audit-partitions: would sweep partitions=0, events=0 (dry run, cutoff ${CUTOFF.toISOString()})`);
    expect(await t.ownerDb.selectFrom("email_tokens").select("id").where("token_hash", "=", "e".repeat(64)).executeTakeFirst()).toBeDefined();

    const real = await sweep(["--only", "expired-credentials", "--now", CUTOFF.toISOString()]);
    expect(real.code).toBe(0);
    expect(real.stdout.trim()).toBe(`expired-credentials: swept sessions=0, email_tokens=1, invitations=0, totp_reenrolments=0 (cutoff ${CUTOFF.toISOString()})`);
    expect(await t.ownerDb.selectFrom("email_tokens").select("id").where("token_hash", "=", "e".repeat(64)).executeTakeFirst()).toBeUndefined();
  }, 30_000);

  test("bun run sweep: usage errors exit 2, a failed sweep exits 1 and says which", async () => {
    const badName = await sweep(["--only", "everything"]);
    expect(badName.code).toBe(2);
    expect(badName.stderr).toContain("--only must be one of pending-uploads, expired-credentials, abandoned-drafts, job-purge, data-requests, audit-partitions");
    const badTime = await sweep(["--now", "yesterday"]);
    expect(badTime.code).toBe(2);
    expect(badTime.stderr).toContain("Usage: bun run sweep");

    // A database without the migrations: the sweep cannot record its run.
    const name = `e_${crypto.randomUUID().slice(0, 8)}`;
    await createDatabaseIfMissing(testStack().postgres.ownerUrl("postgres"), name);
    const failed = await sweep(["--only", "expired-credentials"], { DATABASE_URL: testStack().postgres.ownerUrl(name) });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain("expired-credentials: FAILED:");
    expect(failed.stderr).toContain("sweep_runs");
  }, 30_000);
});

// Keep the config import honest: the defaults the README documents.
test("retention settings and schedules have their documented defaults", () => {
  const config = loadConfig(testEnv({ DATABASE_URL: "postgres://x@localhost/x" }));
  expect(config.retention).toEqual({ batchSize: 500, auditYears: 7, jobDataDays: 30, draftDays: 30 });
  expect(config.schedules).toMatchObject({ pendingUploads: "*/15 * * * *", expiredCredentials: "35 2 * * *", abandonedDrafts: "40 2 * * *", jobPurge: "45 2 * * *" });
  expect(() => loadConfig(testEnv({ DATABASE_URL: "postgres://x@localhost/x", AUDIT_RETENTION_YEARS: "3" }))).toThrow(/AUDIT_RETENTION_YEARS: must be at least 7/);
});
