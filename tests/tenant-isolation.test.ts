// Row-level security, exercised through the app role the running server uses.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "kysely";
import { createDb, withPlatform, withTenant } from "../src/platform/db.ts";
import { createPractice } from "../src/practices/service.ts";
import { createTestApp, type TestApp } from "./support/app.ts";

let t: TestApp;
let a: string;
let b: string;
const system = { type: "system", id: "system:test" } as const;

beforeAll(async () => {
  t = await createTestApp();
  a = (await createPractice(t.db, { name: "Practice A" }, system)).id;
  b = (await createPractice(t.db, { name: "Practice B" }, system)).id;
});
afterAll(() => t.close());

describe("the app role", () => {
  test("can log in but is not a superuser, cannot bypass RLS and owns nothing", async () => {
    const { rows } = await sql<{ rolname: string; rolcanlogin: boolean; rolsuper: boolean; rolbypassrls: boolean; rolcreaterole: boolean; rolcreatedb: boolean }>`
      SELECT rolname, rolcanlogin, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user`.execute(t.db);
    expect(rows[0]).toEqual({ rolname: "plh_app", rolcanlogin: true, rolsuper: false, rolbypassrls: false, rolcreaterole: false, rolcreatedb: false });
    const owned = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE r.rolname = 'plh_app'`.execute(t.db);
    expect(owned.rows[0]!.n).toBe(0);
    const ownedFunctions = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM pg_proc p JOIN pg_roles r ON r.oid = p.proowner WHERE r.rolname = 'plh_app'`.execute(t.db);
    expect(ownedFunctions.rows[0]!.n).toBe(0);
  });

  test("cannot create tables or turn row-level security off", async () => {
    await expect(sql`CREATE TABLE sneaky (id int)`.execute(t.db)).rejects.toThrow(/permission denied/);
    await expect(sql`ALTER TABLE practices DISABLE ROW LEVEL SECURITY`.execute(t.db)).rejects.toThrow(/must be owner/);
  });
});

describe("row-level security", () => {
  test("every table with practice_id, and practices itself, has ENABLE + FORCE RLS with USING and WITH CHECK", async () => {
    const { rows } = await sql<{ table: string; enabled: boolean; forced: boolean; policies: number; complete: number }>`
      SELECT c.relname AS table, c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced,
             count(p.polname)::int AS policies,
             count(p.polname) FILTER (WHERE p.polqual IS NOT NULL AND (p.polwithcheck IS NOT NULL OR p.polcmd = 'r'))::int AS complete
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
      LEFT JOIN pg_policy p ON p.polrelid = c.oid
      WHERE c.relkind IN ('r', 'p')
        AND (c.relname = 'practices' OR EXISTS (
          SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'practice_id' AND NOT a.attisdropped))
      GROUP BY c.relname, c.relrowsecurity, c.relforcerowsecurity
      ORDER BY c.relname`.execute(t.ownerDb);
    expect(rows.map((r) => r.table)).toContain("practices");
    expect(rows.map((r) => r.table)).toContain("audit_events");
    for (const row of rows) {
      expect({ table: row.table, enabled: row.enabled, forced: row.forced }).toEqual({ table: row.table, enabled: true, forced: true });
      expect(row.policies).toBeGreaterThan(0);
      expect(row.complete).toBe(row.policies);
    }
  });

  test("a practice sees only itself", async () => {
    const seen = await withTenant(t.db, { practiceId: a, actor: "test" }, (tx) => tx.selectFrom("practices").select("id").execute());
    expect(seen.map((p) => p.id)).toEqual([a]);
  });

  test("with no tenant context nothing is visible (fail closed)", async () => {
    expect(await t.db.selectFrom("practices").select("id").execute()).toEqual([]);
    expect(await withPlatform(t.db, "test", (tx) => tx.selectFrom("practices").select("id").execute())).toEqual([]);
    const events = await t.db.selectFrom("audit_events").select("id").where("practice_id", "is not", null).execute();
    expect(events).toEqual([]);
  });

  test("another practice's rows cannot be read, updated or written", async () => {
    await withTenant(t.db, { practiceId: a, actor: "test" }, async (tx) => {
      expect(await tx.selectFrom("practices").select("id").where("id", "=", b).execute()).toEqual([]);
      const updated = await tx.updateTable("practices").set({ name: "Hijacked" }).where("id", "=", b).executeTakeFirst();
      expect(updated.numUpdatedRows).toBe(0n);
    });
    await expect(
      withTenant(t.db, { practiceId: a, actor: "test" }, (tx) => tx.insertInto("practices").values({ id: crypto.randomUUID(), name: "Rogue" }).execute()),
    ).rejects.toThrow(/row-level security/);
    await expect(
      withTenant(t.db, { practiceId: a, actor: "test" }, (tx) =>
        tx.insertInto("audit_events").values({ practice_id: b, actor_type: "anonymous", action: "practice.created", outcome: "success" } as never).execute(),
      ),
    ).rejects.toThrow(/row-level security/);
    const names = await t.ownerDb.selectFrom("practices").select("name").orderBy("name").execute();
    expect(names.map((p) => p.name)).toEqual(["Practice A", "Practice B"]);
  });

  test("the tenant setting does not outlive its transaction on a pooled connection", async () => {
    const single = createDb(t.database.appUrl, { max: 1 }); // one connection: the next query surely reuses it
    try {
      const pid = await withTenant(single, { practiceId: a, actor: "test" }, async (tx) => {
        const inside = await sql<{ v: string; pid: number }>`SELECT current_setting('app.practice_id', true) AS v, pg_backend_pid() AS pid`.execute(tx);
        expect(inside.rows[0]!.v).toBe(a);
        return inside.rows[0]!.pid;
      });
      const after = await sql<{ v: string | null; pid: number }>`
        SELECT nullif(current_setting('app.practice_id', true), '') AS v, pg_backend_pid() AS pid`.execute(single);
      expect(after.rows[0]!.pid).toBe(pid);
      expect(after.rows[0]!.v).toBeNull();
      expect(await single.selectFrom("practices").select("id").execute()).toEqual([]);
    } finally {
      await single.destroy();
    }
  });
});
