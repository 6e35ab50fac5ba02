// The daily signed checkpoints of each audit chain, what the viewer says about them, the pg-boss
// schedule that runs them, and the monthly partitions created ahead of time.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type RawBuilder, sql } from "kysely";
import { writeCheckpoints } from "../src/audit/checkpoint.ts";
import { ensureAuditPartitions } from "../src/audit/partitions.ts";
import { recordAudit } from "../src/audit/record.ts";
import { chainHash, verifyAuditChains } from "../src/audit/verify.ts";
import { hmacHex, type KeyRing } from "../src/platform/crypto.ts";
import { withTenant } from "../src/platform/db.ts";
import { createLogger } from "../src/platform/log.ts";
import { createQueue } from "../src/platform/queue.ts";
import { scheduledTasks } from "../src/schedules.ts";
import { createTestApp, type TestApp } from "./support/app.ts";
import { tamper as tamperAudit } from "./support/tamper.ts";
import { Client } from "./support/browserless.ts";
import { makePerson, type Member, sessionToken } from "./support/people.ts";

let t: TestApp;
let keys: KeyRing;

beforeAll(async () => {
  t = await createTestApp();
  keys = t.config.keys.hmac;
});
afterAll(() => t.close());

async function practiceWithEvents(n: number): Promise<Member> {
  const admin = await makePerson(t);
  for (let i = 0; i < n; i++) {
    await withTenant(t.db, { practiceId: admin.practiceId, actor: "test" }, (tx) =>
      recordAudit(tx, { practiceId: admin.practiceId, actor: { type: "user", id: admin.userId, role: "admin" }, action: "team.invited", target: { type: "invitation", id: `inv-${i}` } }),
    );
  }
  return admin;
}

const tamper = (statement: RawBuilder<unknown>) => tamperAudit(t.ownerDb, statement);

function checkpointsOf(practiceId: string) {
  return t.ownerDb.selectFrom("audit_checkpoints").selectAll().where("practice_id", "=", practiceId).orderBy("checked_at", "desc").execute();
}

async function integrityNotice(person: Member): Promise<string> {
  const client = new Client(t);
  client.cookies.set("__Host-plh_session", await sessionToken(t, person));
  const html = await (await client.get("/audit")).text();
  const match = /<p class="alert [^"]*" role="(?:status|alert)" id="audit-integrity">([\s\S]*?)<\/p>/.exec(html);
  expect(match).not.toBeNull();
  return match![0].replace(/<[^>]+>/g, "").replace(/\s+/g, " ");
}

describe("daily checkpoints", () => {
  test("each chain gets a signed checkpoint of its head, and the viewer says 'verified through' the last event", async () => {
    const admin = await practiceWithEvents(3);
    expect(await integrityNotice(admin)).toContain("Not verified yet");
    const head = await t.ownerDb.selectFrom("audit_events").select(["chain_seq", "hash", "occurred_at"]).where("practice_id", "=", admin.practiceId).orderBy("chain_seq", "desc").executeTakeFirstOrThrow();

    const run = await writeCheckpoints(t.db, keys);
    expect(run.broken).toBe(0);
    expect(run.verified).toBe(run.chains);

    const [checkpoint] = await checkpointsOf(admin.practiceId);
    expect(checkpoint!).toMatchObject({ status: "verified", through_seq: head.chain_seq, through_hash: head.hash, problem: null, key_id: keys[0]!.id });
    expect(checkpoint!.through_at!.getTime()).toBe(Math.floor(head.occurred_at.getTime()));
    // The checkpoint itself is audited in the chain it checked.
    const event = await t.ownerDb.selectFrom("audit_events").selectAll().where("practice_id", "=", admin.practiceId).where("action", "=", "audit.checkpoint.written").executeTakeFirstOrThrow();
    expect(event).toMatchObject({ actor_type: "system", actor_id: "system:audit-checkpoint", outcome: "success", target_type: "audit_chain", target_id: admin.practiceId });
    expect(event.details).toMatchObject({ status: "verified", through_seq: head.chain_seq, events: 3 });

    const notice = await integrityNotice(admin);
    expect(notice).toContain("Verified through");
    expect(notice).not.toContain("Warning");
  });

  test("the next run resumes from the signed checkpoint: it walks only the newer events", async () => {
    const admin = await practiceWithEvents(5);
    await writeCheckpoints(t.db, keys);
    await practiceWithEventsIn(admin, 2);
    await writeCheckpoints(t.db, keys);
    const events = await t.ownerDb.selectFrom("audit_events").select("details").where("practice_id", "=", admin.practiceId).where("action", "=", "audit.checkpoint.written").orderBy("chain_seq").execute();
    // First: the 5 events before it. Second: the first checkpoint's own event and the 2 new ones.
    expect(events.map((e) => (e.details as { events: number }).events)).toEqual([5, 3]);
  });

  test("an altered event makes the next checkpoint 'broken', audited as an error, and the viewer shows a red warning", async () => {
    const admin = await practiceWithEvents(4);
    await writeCheckpoints(t.db, keys);
    await practiceWithEventsIn(admin, 2);
    const victim = await t.ownerDb.selectFrom("audit_events").select("id").where("practice_id", "=", admin.practiceId).orderBy("chain_seq", "desc").executeTakeFirstOrThrow();
    await tamper(sql`UPDATE audit_events SET outcome = 'denied' WHERE id = ${victim.id}`);

    await writeCheckpoints(t.db, keys);
    const [latest] = await checkpointsOf(admin.practiceId);
    expect(latest!).toMatchObject({ status: "broken" });
    expect(latest!.problem).toMatchObject({ eventId: victim.id, problem: "hash" });
    const event = await t.ownerDb.selectFrom("audit_events").select(["outcome", "details"]).where("practice_id", "=", admin.practiceId).where("action", "=", "audit.checkpoint.written").orderBy("chain_seq", "desc").executeTakeFirstOrThrow();
    expect(event.outcome).toBe("error");
    expect(event.details).toMatchObject({ status: "broken", problem: "hash" });

    const notice = await integrityNotice(admin);
    expect(notice).toContain("Warning.");
    expect(notice).toContain("failed its integrity check");
    // It stays broken on later runs: they resume from the last good checkpoint, not the broken one.
    await writeCheckpoints(t.db, keys);
    expect((await checkpointsOf(admin.practiceId))[0]!.status).toBe("broken");
  });

  test("a chain recomputed end to end after an edit still disagrees with the signed checkpoints", async () => {
    const admin = await practiceWithEvents(3);
    await writeCheckpoints(t.db, keys);
    // The attacker edits event 2 and recomputes every later hash and the head: each link holds.
    await tamper(sql`UPDATE audit_events SET outcome = 'denied' WHERE practice_id = ${admin.practiceId} AND chain_seq = 2`);
    const rows = await sql<{ id: string; chain_seq: string; canonical: string }>`
      SELECT e.id, e.chain_seq::text, audit_canonical(e) AS canonical FROM audit_events e
      WHERE e.practice_id = ${admin.practiceId} ORDER BY e.chain_seq`.execute(t.ownerDb);
    let prev = "0".repeat(64);
    for (const row of rows.rows) {
      const hash = chainHash(prev, row.canonical);
      await tamper(sql`UPDATE audit_events SET prev_hash = ${prev}, hash = ${hash} WHERE id = ${row.id}`);
      prev = hash;
    }
    await tamper(sql`UPDATE audit_chain_heads SET last_hash = ${prev} WHERE chain_key = ${admin.practiceId}`);

    const report = await verifyAuditChains(t.ownerDb, { practiceId: admin.practiceId });
    expect(report.breaks).toHaveLength(1);
    expect(report.breaks[0]).toMatchObject({ problem: "checkpoint" });

    await writeCheckpoints(t.db, keys);
    expect((await checkpointsOf(admin.practiceId))[0]).toMatchObject({ status: "broken" });
  });

  test("a checkpoint whose signature does not verify is reported, and never used as a starting point", async () => {
    const admin = await practiceWithEvents(2);
    const head = await t.ownerDb.selectFrom("audit_events").select(["chain_seq", "hash"]).where("practice_id", "=", admin.practiceId).orderBy("chain_seq", "desc").executeTakeFirstOrThrow();
    // Inserted by someone without the key: signed with a key the app does not hold.
    const wrong = hmacHex([{ id: keys[0]!.id, key: Buffer.alloc(32, 7) }], "anything");
    await t.ownerDb.insertInto("audit_checkpoints").values({
      practice_id: admin.practiceId, through_seq: head.chain_seq, through_hash: head.hash, through_at: new Date(), checked_at: new Date(),
      status: "verified", problem: null, key_id: wrong.keyId, signature: wrong.mac,
    }).execute();
    const notice = await integrityNotice(admin);
    expect(notice).toContain("does not carry a valid signature");

    await writeCheckpoints(t.db, keys);
    const event = await t.ownerDb.selectFrom("audit_events").select("details").where("practice_id", "=", admin.practiceId).where("action", "=", "audit.checkpoint.written").executeTakeFirstOrThrow();
    // Walked from the first event, not from the forged checkpoint (which would have meant 0).
    expect((event.details as { events: number }).events).toBe(2);
    expect(await integrityNotice(admin)).toContain("Verified through");
  });

  test("after retention removed a chain's oldest events, verification starts from the anchor the sweep recorded", async () => {
    const admin = await practiceWithEvents(5);
    const third = await t.ownerDb.selectFrom("audit_events").select(["chain_seq", "hash"]).where("practice_id", "=", admin.practiceId).where("chain_seq", "=", "3").executeTakeFirstOrThrow();
    // What dropping the oldest month does to this chain: events 1-3 are gone.
    await tamper(sql`DELETE FROM audit_events WHERE practice_id = ${admin.practiceId} AND chain_seq <= 3`);
    expect((await verifyAuditChains(t.ownerDb, { practiceId: admin.practiceId })).breaks[0]).toMatchObject({ problem: "sequence" });
    await t.ownerDb.insertInto("audit_retention_anchors").values({ chain_key: admin.practiceId, through_seq: third.chain_seq, through_hash: third.hash, partition_month: "2019-11" }).execute();
    expect((await verifyAuditChains(t.ownerDb, { practiceId: admin.practiceId })).breaks).toEqual([]);
    await writeCheckpoints(t.db, keys);
    expect((await checkpointsOf(admin.practiceId))[0]).toMatchObject({ status: "verified" });
  });

  test("a checkpoint older than two days warns that the daily check has stopped", async () => {
    const admin = await practiceWithEvents(1);
    await writeCheckpoints(t.db, keys, () => new Date(Date.now() - 3 * 86_400_000));
    const notice = await integrityNotice(admin);
    expect(notice).toContain("has not been verified since");
    expect(notice).toContain("Warning.");
  });
});

async function practiceWithEventsIn(admin: Member, n: number) {
  for (let i = 0; i < n; i++) {
    await withTenant(t.db, { practiceId: admin.practiceId, actor: "test" }, (tx) =>
      recordAudit(tx, { practiceId: admin.practiceId, actor: { type: "user", id: admin.userId, role: "admin" }, action: "team.invitation_revoked", target: { type: "invitation", id: `more-${i}` } }),
    );
  }
}

describe("monthly partitions", () => {
  test("the task creates the months ahead once, audits that, and does nothing when they exist", async () => {
    const future = new Date(Date.UTC(new Date().getUTCFullYear() + 2, 0, 15));
    const first = await ensureAuditPartitions(t.db, future);
    expect(first.created).toBe(4);
    expect(first.through).toBe(`${future.getUTCFullYear()}-04`);
    const second = await ensureAuditPartitions(t.db, future);
    expect(second.created).toBe(0);
    const events = await t.ownerDb.selectFrom("audit_events").select(["actor_id", "details"]).where("action", "=", "audit.partitions.created").execute();
    expect(events).toEqual([{ actor_id: "system:audit-partitions", details: { created: 4, through: `${future.getUTCFullYear()}-04` } }]);
    const { rows } = await sql<{ name: string }>`
      SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'audit_events'::regclass AND c.relname LIKE ${`audit_events_y${future.getUTCFullYear()}%`} ORDER BY 1`.execute(t.ownerDb);
    expect(rows.map((r) => r.name)).toEqual(["01", "02", "03", "04"].map((m) => `audit_events_y${future.getUTCFullYear()}m${m}`));
  });

  test("retention drops a whole month as the owner; the app role cannot", async () => {
    const year = new Date().getUTCFullYear() + 3;
    await ensureAuditPartitions(t.db, new Date(Date.UTC(year, 5, 1)));
    await expect(sql`DROP TABLE ${sql.table(`audit_events_y${year}m06`)}`.execute(t.db)).rejects.toThrow(/must be owner/);
    await sql`DROP TABLE ${sql.table(`audit_events_y${year}m06`)}`.execute(t.ownerDb);
    const left = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_class WHERE relname = ${`audit_events_y${year}m06`}`.execute(t.ownerDb);
    expect(left.rows[0]!.n).toBe(0);
  });

  test("the partition function refuses reversed or over-long ranges", async () => {
    await expect(sql`SELECT audit_ensure_partitions(now(), now() - interval '1 day')`.execute(t.db)).rejects.toThrow(/must not be after/);
    await expect(sql`SELECT audit_ensure_partitions(now(), now() + interval '11 years')`.execute(t.db)).rejects.toThrow(/at most 120 months/);
  });

  test("the viewer's person and target filters are served by indexes", async () => {
    const plans: string[] = [];
    await t.ownerDb.connection().execute(async (conn) => {
      await sql`SET enable_seqscan = off`.execute(conn);
      for (const where of [sql`actor_id = 'someone'`, sql`target_id = 'PLH-2026-000001'`]) {
        const { rows } = await sql<{ "QUERY PLAN": string }>`
          EXPLAIN SELECT id FROM audit_events WHERE practice_id = gen_random_uuid() AND ${where} ORDER BY occurred_at DESC LIMIT 50`.execute(conn);
        plans.push(rows.map((r) => r["QUERY PLAN"]).join("\n"));
      }
    });
    expect(plans[0]).toContain("audit_events_y");
    expect(plans[0]).toMatch(/actor_idx|_actor_id_/);
    expect(plans[1]).toMatch(/target_idx|_target_id_/);
  });
});

describe("the background queue", () => {
  test("the server's schedules are registered with pg-boss, and a triggered task runs once at a time", async () => {
    const queue = createQueue({ url: t.database.appUrl, logger: createLogger({ level: "silent" }), tasks: scheduledTasks({ config: t.config, db: t.db, blob: t.blob, mailer: t.mailer, logger: createLogger({ level: "silent" }) }) });
    await queue.start();
    try {
      const schedules = await queue.boss.getSchedules();
      expect(schedules.map((s) => [s.name, s.cron, s.timezone]).sort()).toEqual([
        ["audit-checkpoint", "15 2 * * *", "UTC"],
        ["audit-partitions", "5 2 * * *", "UTC"],
        ["sweep-abandoned-drafts", "40 2 * * *", "UTC"],
        ["sweep-data-requests", "23 * * * *", "UTC"],
        ["sweep-expired-credentials", "35 2 * * *", "UTC"],
        ["sweep-job-purge", "45 2 * * *", "UTC"],
        ["sweep-pending-uploads", "*/15 * * * *", "UTC"],
        ["weekly-summary", "0 8 * * 1", "UTC"],
      ]);
      const admin = await practiceWithEvents(1);
      const first = await queue.trigger("audit-checkpoint");
      const second = await queue.trigger("audit-checkpoint");
      expect(first).not.toBeNull();
      // Exclusive: while one run is queued or active, another is refused.
      expect(second).toBeNull();
      for (let i = 0; i < 100 && (await checkpointsOf(admin.practiceId)).length === 0; i++) await Bun.sleep(100);
      expect((await checkpointsOf(admin.practiceId))[0]).toMatchObject({ status: "verified" });
    } finally {
      await queue.stop(5_000);
    }
  }, 30_000);
});
