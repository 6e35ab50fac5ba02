// Row-level security, exercised through the app role the running server uses.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "kysely";
import { createDb, withContext, withPlatform, withTenant } from "../src/platform/db.ts";
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
      WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
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

  test("partitions are reachable only through their parent, whose policies apply: the app role has no privilege on them", async () => {
    const { rows } = await sql<{ partition: string; parent: string; app_privileges: boolean }>`
      SELECT c.relname AS partition, parent.relname AS parent,
             has_table_privilege('plh_app', c.oid, 'SELECT,INSERT,UPDATE,DELETE') AS app_privileges
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
      JOIN pg_inherits i ON i.inhrelid = c.oid
      JOIN pg_class parent ON parent.oid = i.inhparent
      WHERE c.relispartition AND c.relkind = 'r'
      ORDER BY 1`.execute(t.ownerDb);
    expect(rows.length).toBeGreaterThanOrEqual(4); // this month and three ahead
    for (const row of rows) expect(row).toEqual({ partition: row.partition, parent: "audit_events", app_privileges: false });
  });

  // Policies that grant rows by something other than the tenant, each for a stated reason. Any
  // other policy on a practice table must compare practice_id (or id) with app_current_practice()
  // in both USING and WITH CHECK: a policy such as USING (true) fails here.
  const NOT_BY_TENANT: Record<string, string> = {
    "audit_events.audit_events_platform": "platform events: practice_id IS NULL, outside any tenant",
    "practices.practices_operator_read": "platform operators read the names of practices whose jobs they produce (SELECT only)",
    "production_files.production_files_operator_read": "platform operators read the print file of the jobs in their hands (SELECT only)",
    "jobs.jobs_operator_read": "platform operators read approved and later jobs across practices, outside any tenant (SELECT only)",
    "jobs.jobs_operator_update": "platform operators move approved jobs through production, mailing and completion, outside any tenant",
    "audit_checkpoints.audit_checkpoints_platform": "the platform chain's checkpoints: practice_id IS NULL, outside any tenant",
    "memberships.memberships_own_read": "a user reads their own memberships (SELECT only)",
    "practices.practices_member_read": "a member reads the names of their practices (SELECT only)",
    "sessions.sessions_owner": "sessions belong to a user, found by user or by token hash",
    "invitations.invitations_link_holder": "the invitee holds only the link's token hash",
    "invitations.invitations_invitee": "Clerk mode: the invitations addressed to a verified token's email",
    "incident_reports.incident_reports_without_practice": "an incident report by someone with no practice (practice_id IS NULL): only its reporter, outside any tenant",
    "incident_reports.incident_reports_operator_read": "platform operators read every incident report, outside any tenant (SELECT only)",
  };

  test("every other policy on a practice table ties rows to the tenant in USING and WITH CHECK", async () => {
    const { rows } = await sql<{ table: string; policy: string; cmd: string; qual: string | null; check: string | null }>`
      SELECT p.tablename AS table, p.policyname AS policy, p.cmd, p.qual, p.with_check AS check
      FROM pg_policies p
      WHERE p.schemaname = 'public' AND (p.tablename = 'practices' OR EXISTS (
        SELECT 1 FROM information_schema.columns c WHERE c.table_schema = 'public' AND c.table_name = p.tablename AND c.column_name = 'practice_id'))
      ORDER BY 1, 2`.execute(t.ownerDb);
    const tenantPolicies = new Set<string>();
    for (const row of rows) {
      const name = `${row.table}.${row.policy}`;
      if (name in NOT_BY_TENANT) {
        if (row.cmd === "SELECT") expect(row.check).toBeNull();
        continue;
      }
      const column = row.table === "practices" ? "id" : "practice_id";
      const tied = new RegExp(`\\(?${column} = app_current_practice\\(\\)\\)?`);
      expect({ name, qual: tied.test(row.qual ?? "") }).toEqual({ name, qual: true });
      expect({ name, check: tied.test(row.check ?? "") }).toEqual({ name, check: true });
      tenantPolicies.add(row.table);
    }
    // Every practice table has at least one tenant policy, except sessions: there practice_id is the
    // session's active practice, not its owner (a practice admin must not see members' sessions).
    const owned = [...new Set(rows.map((r) => r.table))].filter((table) => table !== "sessions");
    expect([...tenantPolicies].sort()).toEqual(owned.sort());
    // The allow-list names only real policies.
    for (const name of Object.keys(NOT_BY_TENANT)) expect(rows.map((r) => `${r.table}.${r.policy}`)).toContain(name);
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

describe("invitation readers", () => {
  test("holding an invitation link lets a transaction read that invitation, never change it", async () => {
    const inviter = (await t.ownerDb.insertInto("users").values({ email: `inviter.${crypto.randomUUID().slice(0, 8)}@x.example`, full_name: "Inviter" }).returning("id").executeTakeFirstOrThrow()).id;
    const tokenHash = "b".repeat(64);
    await t.ownerDb.insertInto("invitations").values({
      practice_id: a, email: "invitee@x.example", role: "staff", token_hash: tokenHash, invited_by: inviter, expires_at: new Date(Date.now() + 86_400_000),
    }).execute();
    const seen = await withContext(t.db, { actor: "test", invitationTokenHash: tokenHash }, (tx) => tx.selectFrom("invitations").select("role").execute());
    expect(seen).toEqual([{ role: "staff" }]);
    const changed = await withContext(t.db, { actor: "test", invitationTokenHash: tokenHash }, (tx) =>
      tx.updateTable("invitations").set({ role: "admin" }).where("token_hash", "=", tokenHash).executeTakeFirst(),
    );
    expect(changed.numUpdatedRows).toBe(0n);
    const byEmail = await withContext(t.db, { actor: "test", inviteeEmail: "invitee@x.example" }, (tx) =>
      tx.updateTable("invitations").set({ role: "admin" }).where("email", "=", "invitee@x.example").executeTakeFirst(),
    );
    expect(byEmail.numUpdatedRows).toBe(0n);
  });
});
