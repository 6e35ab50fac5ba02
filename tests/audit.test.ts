// The audit core: append-only for everyone, chained per practice, verifiable.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type RawBuilder, sql } from "kysely";
import { recordAudit } from "../src/audit/record.ts";
import { chainHash, GENESIS_HASH, verifyAuditChains } from "../src/audit/verify.ts";
import { withPlatform, withTenant } from "../src/platform/db.ts";
import { createPractice } from "../src/practices/service.ts";
import { createTestApp, type TestApp } from "./support/app.ts";
import { tamper as tamperAudit } from "./support/tamper.ts";

let t: TestApp;
let a: string;
let b: string;
const system = { type: "system", id: "system:test" } as const;
const request = { requestId: "req-12345678", ip: "203.0.113.9", userAgent: "TestAgent/1.0" };

async function audit(practiceId: string, n = 1) {
  for (let i = 0; i < n; i++) {
    await withTenant(t.db, { practiceId, actor: "test" }, (tx) =>
      recordAudit(tx, { practiceId, actor: { type: "user", id: "u-1", role: "admin" }, action: "practice.created", target: { type: "practice", id: practiceId }, details: { n: i }, request }),
    );
  }
}

const tamper = (statement: RawBuilder<unknown>) => tamperAudit(t.ownerDb, statement);

beforeAll(async () => {
  t = await createTestApp();
  a = (await createPractice(t.db, { name: "Chain A" }, system, request)).id;
  b = (await createPractice(t.db, { name: "Chain B" }, system)).id;
});
afterAll(() => t.close());

describe("recordAudit", () => {
  test("writes the event in the same transaction as the change, with its request facts", async () => {
    const events = await withTenant(t.db, { practiceId: a, actor: "test" }, (tx) =>
      tx.selectFrom("audit_events").selectAll().where("practice_id", "=", a).execute(),
    );
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      practice_id: a, actor_type: "system", actor_id: "system:test", action: "practice.created", outcome: "success",
      target_type: "practice", target_id: a, ip: "203.0.113.9", user_agent: "TestAgent/1.0", request_id: "req-12345678",
      chain_seq: "1", prev_hash: GENESIS_HASH,
    });
    expect(events[0]!.occurred_at).toBeInstanceOf(Date);
  });

  test("a change that rolls back leaves no event behind", async () => {
    const before = await t.ownerDb.selectFrom("audit_events").select(sql<number>`count(*)::int`.as("n")).executeTakeFirstOrThrow();
    await expect(
      withTenant(t.db, { practiceId: a, actor: "test" }, async (tx) => {
        await recordAudit(tx, { practiceId: a, actor: system, action: "practice.created" });
        throw new Error("the change failed");
      }),
    ).rejects.toThrow("the change failed");
    const after = await t.ownerDb.selectFrom("audit_events").select(sql<number>`count(*)::int`.as("n")).executeTakeFirstOrThrow();
    expect(after.n).toBe(before.n);
  });

  test("refuses free-text details that could carry PHI", async () => {
    await expect(
      withTenant(t.db, { practiceId: a, actor: "test" }, (tx) =>
        recordAudit(tx, { practiceId: a, actor: system, action: "practice.created", details: { note: "x".repeat(201) } }),
      ),
    ).rejects.toThrow(/longer than 200/);
  });

  test("the database computes the chain: the app cannot choose seq, time or hashes", async () => {
    // A time earlier in this month reaches this month's partition and is overwritten with now().
    const monthStart = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), 1));
    await withTenant(t.db, { practiceId: b, actor: "test" }, (tx) =>
      tx.insertInto("audit_events").values({
        practice_id: b, actor_type: "anonymous", action: "practice.created", outcome: "success",
        chain_seq: "999", prev_hash: "f".repeat(64), hash: "e".repeat(64), occurred_at: monthStart,
      } as never).execute(),
    );
    const { rows } = await sql<{ chain_seq: string; prev_hash: string; hash: string; age_s: number }>`
      SELECT chain_seq::text, prev_hash, hash, extract(epoch FROM now() - occurred_at)::float AS age_s FROM audit_events
      WHERE practice_id = ${b} ORDER BY chain_seq DESC LIMIT 1`.execute(t.ownerDb);
    expect(rows[0]!.chain_seq).toBe("2");
    expect(rows[0]!.prev_hash).not.toBe("f".repeat(64));
    expect(rows[0]!.hash).not.toBe("e".repeat(64));
    expect(rows[0]!.age_s).toBeLessThan(60);
    // A backdated time in another month is refused outright: no event can be slipped into the past.
    await expect(
      withTenant(t.db, { practiceId: b, actor: "test" }, (tx) =>
        tx.insertInto("audit_events").values({
          practice_id: b, actor_type: "anonymous", action: "practice.created", outcome: "success",
          chain_seq: "1", prev_hash: "f".repeat(64), hash: "e".repeat(64), occurred_at: new Date("2000-01-01"),
        } as never).execute(),
      ),
    ).rejects.toThrow(/no partition/);
  });

  test("platform events form their own chain and are invisible inside a practice", async () => {
    await withPlatform(t.db, "test", (tx) => recordAudit(tx, { practiceId: null, actor: { type: "anonymous" }, action: "practice.created", request }));
    const inPractice = await withTenant(t.db, { practiceId: a, actor: "test" }, (tx) =>
      tx.selectFrom("audit_events").select("id").where("practice_id", "is", null).execute(),
    );
    expect(inPractice).toEqual([]);
    const platform = await withPlatform(t.db, "test", (tx) => tx.selectFrom("audit_events").select(["chain_seq", "prev_hash"]).execute());
    expect(platform).toEqual([{ chain_seq: "1", prev_hash: GENESIS_HASH }]);
    await expect(
      withTenant(t.db, { practiceId: a, actor: "test" }, (tx) => recordAudit(tx, { practiceId: null, actor: system, action: "practice.created" })),
    ).rejects.toThrow(/row-level security/);
  });
});

describe("append-only", () => {
  test("the app role may only INSERT and SELECT", async () => {
    const { rows } = await sql<{ privilege_type: string }>`
      SELECT privilege_type FROM information_schema.role_table_grants
      WHERE grantee = 'plh_app' AND table_name = 'audit_events' ORDER BY privilege_type`.execute(t.ownerDb);
    expect(rows.map((r) => r.privilege_type)).toEqual(["INSERT", "SELECT"]);
    await expect(
      withTenant(t.db, { practiceId: a, actor: "test" }, (tx) => sql`UPDATE audit_events SET outcome = 'denied'`.execute(tx)),
    ).rejects.toThrow(/permission denied/);
    await expect(sql`SELECT * FROM audit_chain_heads`.execute(t.db)).rejects.toThrow(/permission denied/);
  });

  test("UPDATE, DELETE and TRUNCATE are refused even for the owner", async () => {
    await expect(sql`UPDATE audit_events SET outcome = 'denied'`.execute(t.ownerDb)).rejects.toThrow(/append-only: UPDATE refused/);
    await expect(sql`DELETE FROM audit_events`.execute(t.ownerDb)).rejects.toThrow(/append-only: DELETE refused/);
    await expect(sql`TRUNCATE audit_events`.execute(t.ownerDb)).rejects.toThrow(/append-only: TRUNCATE refused/);
  });
});

describe("hash chain", () => {
  test("each event links to the previous one: hash = sha256(prev_hash || canonical row)", async () => {
    await audit(a, 3);
    const rows = await withTenant(t.db, { practiceId: a, actor: "test" }, async (tx) => {
      const r = await sql<{ chain_seq: string; prev_hash: string; hash: string; canonical: string }>`
        SELECT chain_seq::text, prev_hash, hash, audit_canonical(e) AS canonical FROM audit_events e ORDER BY chain_seq`.execute(tx);
      return r.rows;
    });
    expect(rows.map((r) => r.chain_seq)).toEqual(["1", "2", "3", "4"]);
    let prev = GENESIS_HASH;
    for (const row of rows) {
      expect(row.prev_hash).toBe(prev);
      expect(row.hash).toBe(chainHash(prev, row.canonical));
      prev = row.hash;
    }
  });

  test("concurrent writers never fork a chain", async () => {
    const c = (await createPractice(t.db, { name: "Busy" }, system)).id;
    await Promise.all(Array.from({ length: 20 }, () => audit(c)));
    const report = await verifyAuditChains(t.ownerDb, { practiceId: c });
    expect(report).toEqual({ chains: 1, events: 21, breaks: [] });
  });

  test("verification passes on an intact trail", async () => {
    const report = await verifyAuditChains(t.ownerDb);
    expect(report.breaks).toEqual([]);
    expect(report.chains).toBeGreaterThanOrEqual(3);
  });

  test("verification names the first altered row", async () => {
    const d = (await createPractice(t.db, { name: "Tampered" }, system)).id;
    await audit(d, 4);
    const target = await t.ownerDb.selectFrom("audit_events").select(["id", "hash"]).where("practice_id", "=", d).where("chain_seq", "=", "3").executeTakeFirstOrThrow();
    await tamper(sql`UPDATE audit_events SET outcome = 'denied' WHERE id = ${target.id}`);
    const report = await verifyAuditChains(t.ownerDb);
    expect(report.breaks).toHaveLength(1);
    expect(report.breaks[0]).toMatchObject({ chain: d, eventId: target.id, chainSeq: "3", problem: "hash", found: target.hash });
    expect(report.breaks[0]!.expected).not.toBe(target.hash);
  });

  test("verification notices a deleted row and a removed tail", async () => {
    const e = (await createPractice(t.db, { name: "Gaps" }, system)).id;
    await audit(e, 4);
    await tamper(sql`DELETE FROM audit_events WHERE practice_id = ${e} AND chain_seq = 2`);
    expect((await verifyAuditChains(t.ownerDb, { practiceId: e })).breaks[0]).toMatchObject({ problem: "sequence", chainSeq: "3" });

    const f = (await createPractice(t.db, { name: "Tail" }, system)).id;
    await audit(f, 2);
    await tamper(sql`DELETE FROM audit_events WHERE practice_id = ${f} AND chain_seq = 3`);
    expect((await verifyAuditChains(t.ownerDb, { practiceId: f })).breaks[0]).toMatchObject({ problem: "head", chainSeq: "3" });
  });

  test("`bun run audit:verify` exits non-zero and names the broken link", async () => {
    const run = (args: string[]) =>
      Bun.spawn([process.execPath, "scripts/audit-verify.ts", ...args], {
        cwd: `${import.meta.dir}/..`,
        env: { PATH: process.env.PATH ?? "", DATABASE_OWNER_URL: t.database.ownerUrl },
        stdout: "pipe", stderr: "pipe",
      });
    const intact = run(["--practice", a]);
    expect(await intact.exited).toBe(0);
    expect(await new Response(intact.stdout).text()).toContain("OK: 1 chain(s)");

    const broken = run([]);
    expect(await broken.exited).toBe(1);
    const out = await new Response(broken.stdout).text();
    expect(out).toContain("BROKEN");
    expect(out).toMatch(/first broken link at seq 3 \(event [0-9a-f-]{36}\): hash mismatch/);
    expect(out).toMatch(/expected [0-9a-f]{64}\n\s+found\s+[0-9a-f]{64}/);
  });
});
