// `bun run migrate up|down|status` through the real script, as the owner, on an empty database.
import { expect, test } from "bun:test";
import { createDatabaseIfMissing, withOwnerClient } from "../src/platform/embedded.ts";
import { readdirSync } from "node:fs";
import { MIGRATIONS_DIR } from "../src/platform/migrator.ts";
import { testStack } from "./support/stack.ts";

const NAMES = readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith(".ts")).map((f) => f.replace(/\.ts$/, "")).sort();
const FIRST = NAMES[0]!;
const LAST = NAMES.at(-1)!;

async function migrate(url: string, ...args: string[]) {
  const proc = Bun.spawn([process.execPath, "scripts/migrate.ts", ...args], {
    cwd: `${import.meta.dir}/..`,
    env: { PATH: process.env.PATH ?? "", DATABASE_OWNER_URL: url },
    stdout: "pipe",
    stderr: "pipe",
  });
  const code = await proc.exited;
  return { code, out: (await new Response(proc.stdout).text()) + (await new Response(proc.stderr).text()) };
}

test("status, up and down on an empty database; down refuses to drop a non-empty audit trail", async () => {
  const stack = testStack();
  const name = `m_${crypto.randomUUID().slice(0, 8)}`;
  await createDatabaseIfMissing(stack.postgres.ownerUrl("postgres"), name);
  const url = stack.postgres.ownerUrl(name);

  const before = await migrate(url, "status");
  expect(before.code).toBe(0);
  for (const name of NAMES) expect(before.out).toMatch(new RegExp(`pending\\s+${name}`));

  const up = await migrate(url);
  expect(up.code).toBe(0);
  for (const name of NAMES) expect(up.out).toContain(`applied: ${name}`);
  expect((await migrate(url, "up")).out).toContain("up to date");
  expect((await migrate(url, "status")).out).toMatch(new RegExp(`applied \\d{4}-\\d{2}-\\d{2}T.*${LAST}`));

  // down reverts one migration at a time, newest first, all the way to an empty schema.
  for (const name of [...NAMES].reverse()) {
    const down = await migrate(url, "down");
    expect(down.code).toBe(0);
    expect(down.out).toContain(`reverted: ${name}`);
  }
  const tables = await withOwnerClient(url, (c) => c.query("SELECT to_regclass('public.audit_events') AS t"));
  expect(tables.rows[0].t).toBeNull();

  expect((await migrate(url, "up")).code).toBe(0);
  await withOwnerClient(url, (c) =>
    c.query("INSERT INTO audit_events (actor_type, action, outcome) VALUES ('system', 'practice.created', 'success')"),
  );
  for (const name of NAMES.slice(1).reverse()) expect((await migrate(url, "down")).out).toContain(`reverted: ${name}`);
  const refused = await migrate(url, "down");
  expect(refused.code).toBe(1);
  expect(refused.out).toContain("refusing to drop audit_events: it holds 1 events");
  expect((await migrate(url, "status")).out).toMatch(new RegExp(`applied .*${FIRST}`));

  expect((await migrate(url, "sideways")).code).toBe(2);
}, 180_000);

test("migrate refuses a schema owner that would be bound by row-level security, and says how to fix it", async () => {
  const stack = testStack();
  const name = `m_${crypto.randomUUID().slice(0, 8)}`;
  const role = `plh_weak_${crypto.randomUUID().slice(0, 8)}`;
  await createDatabaseIfMissing(stack.postgres.ownerUrl("postgres"), name);
  await withOwnerClient(stack.postgres.ownerUrl(name), async (client) => {
    await client.query(`CREATE ROLE ${role} LOGIN PASSWORD 'weak-owner' CREATEROLE`);
    await client.query(`GRANT ALL ON SCHEMA public TO ${role}`);
    await client.query(`ALTER DATABASE ${name} OWNER TO ${role}`);
  });
  const url = stack.postgres.ownerUrl(name).replace(/\/\/[^@]+@/, `//${role}:weak-owner@`);

  const refused = await migrate(url);
  expect(refused.code).not.toBe(0);
  expect(refused.out).toContain(`ALTER ROLE "${role}" BYPASSRLS`);
  expect((await migrate(url, "status")).out).toMatch(new RegExp(`pending\\s+${FIRST}`));

  await withOwnerClient(stack.postgres.ownerUrl(name), (client) => client.query(`ALTER ROLE ${role} BYPASSRLS`));
  const { assertOwnerBypassesRowSecurity } = await import("../src/platform/migrator.ts");
  const { createOwnerDb } = await import("../src/platform/db.ts");
  const owner = createOwnerDb(url, { max: 1 });
  try {
    await assertOwnerBypassesRowSecurity(owner);
  } finally {
    await owner.destroy();
  }
}, 60_000);
