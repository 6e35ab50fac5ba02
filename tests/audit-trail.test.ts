// The audit trail viewer and its CSV export, for admins and auditors.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { parse } from "csv-parse/sync";
import { stringify } from "csv-stringify/sync";
import { CompiledQuery, sql } from "kysely";
import { CSV_COLUMNS } from "../src/audit/export.ts";
import { recordAudit } from "../src/audit/record.ts";
import { exportQuery } from "../src/audit/repo.ts";
import { withTenant } from "../src/platform/db.ts";
import { createTestApp, type TestApp } from "./support/app.ts";
import { Client, clientAs } from "./support/browserless.ts";
import { makePerson, type Member, sessionToken } from "./support/people.ts";
import { waitFor } from "./support/wait.ts";

let t: TestApp;
let admin: Member;
let auditor: Member;
let other: Member;

async function seed(person: Member, n: number, extra: Partial<Parameters<typeof recordAudit>[1]> = {}) {
  for (let i = 0; i < n; i++) {
    await withTenant(t.db, { practiceId: person.practiceId, actor: "test" }, (tx) =>
      recordAudit(tx, { practiceId: person.practiceId, actor: { type: "user", id: person.userId, role: "admin" }, action: "team.invited", target: { type: "invitation", id: `inv-${i}` }, details: { role: "staff" }, ...extra }),
    );
  }
}

const clientFor = (person: Member) => clientAs(t, person);

beforeAll(async () => {
  t = await createTestApp();
  admin = await makePerson(t, { practiceName: "Riverbend Family Practice" });
  auditor = await makePerson(t, { practiceId: admin.practiceId, role: "auditor" });
  other = await makePerson(t, { practiceName: "Elsewhere Clinic" });
  await seed(admin, 55);
  await seed(admin, 1, { action: "access.denied", outcome: "denied", target: { type: "route", id: "=HYPERLINK(\"http://evil\")" }, details: { reason: "+1-not-a-formula" } });
  await seed(other, 3);
});
afterAll(() => t.close());

describe("CSV export", () => {
  test("streams the practice's events with a header, UTC times and the hash chain, under a telling file name", async () => {
    const client = await clientFor(auditor);
    const res = await client.get("/audit/export.csv");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    const today = new Date().toISOString().slice(0, 10);
    expect(res.headers.get("content-disposition")).toBe(`attachment; filename="audit-riverbend-family-practice-start-to-${today}.csv"`);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const text = await res.text();
    const records = parse(text) as string[][];
    expect(records[0]).toEqual([...CSV_COLUMNS]);
    const rows = records.slice(1);
    const expected = await t.ownerDb.selectFrom("audit_events").select(["chain_seq", "hash", "prev_hash"]).where("practice_id", "=", admin.practiceId).orderBy("chain_seq").execute();
    // The export itself was recorded before the first byte, so it is the last row.
    expect(rows.map((r) => r[1])).toEqual(expected.map((e) => e.chain_seq));
    expect(rows.map((r) => r[15])).toEqual(expected.map((e) => e.hash));
    expect(rows.map((r) => r[14])).toEqual(expected.map((e) => e.prev_hash));
    for (const r of rows) expect(r[0]).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(rows.at(-1)![9]).toBe("audit.exported");
    expect(text).not.toContain("Elsewhere");
  });

  test("times and details are PostgreSQL's own exact text: UTC milliseconds, and jsonb as stored", async () => {
    const rows = (parse(await (await (await clientFor(admin)).get("/audit/export.csv")).text()) as string[][]).slice(1);
    const stored = await t.ownerDb
      .selectFrom("audit_events")
      .select(["occurred_at", sql<string>`details::text`.as("details_text")])
      .where("practice_id", "=", admin.practiceId)
      .orderBy("occurred_at")
      .orderBy("chain_seq")
      .execute();
    expect(rows.map((r) => r[0])).toEqual(stored.slice(0, rows.length).map((e) => new Date(e.occurred_at).toISOString()));
    // jsonb's text form ({"role": "staff"}), not a JavaScript re-serialisation of it.
    expect(rows.map((r) => r[13])).toEqual(stored.slice(0, rows.length).map((e) => e.details_text));
    expect(rows[0]![13]).toBe('{"role": "staff"}');
  });

  test("times are ISO-8601 UTC to the millisecond, cut not rounded, whatever fraction PostgreSQL stored", async () => {
    const clock = await makePerson(t, { practiceName: "Clock Clinic" });
    await seed(clock, 5);
    // Offsets into the current month (the audit table has partitions for it and months ahead).
    const offsets = ["0", "0.1 second", "0.12 second", "1 day 23:59:59.999999", "2 days 08:15:30.0405"];
    // Audit events cannot be changed by anyone (a trigger); the owner steps past it to set exact times.
    await t.ownerDb.connection().execute(async (conn) => {
      await sql`SET session_replication_role = replica`.execute(conn);
      await sql`UPDATE audit_events
        SET occurred_at = (date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')
          + (${sql.val(offsets)}::interval[])[chain_seq - (SELECT min(chain_seq) FROM audit_events WHERE practice_id = ${clock.practiceId}) + 1]
        WHERE practice_id = ${clock.practiceId}`.execute(conn);
      await sql`SET session_replication_role = origin`.execute(conn);
    });
    const rows = (parse(await (await clientFor(clock)).get("/audit/export.csv").then((r) => r.text())) as string[][]).slice(1).filter((r) => r[9] === "team.invited");
    const month = new Date().toISOString().slice(0, 8); // YYYY-MM-
    expect(rows.map((r) => r[0])).toEqual([`${month}01T00:00:00.000Z`, `${month}01T00:00:00.100Z`, `${month}01T00:00:00.120Z`, `${month}02T23:59:59.999Z`, `${month}03T08:15:30.040Z`]);
  });

  test("cells that a spreadsheet would run as formulas are neutralised", async () => {
    const starts = ["=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠"];
    const formulas = await makePerson(t, { practiceName: "Formula Clinic" });
    for (const start of starts) {
      await seed(formulas, 1, { target: { type: "route", id: `${start}x` }, request: { ip: "192.0.2.9", userAgent: `${start}agent`, requestId: "req-f" } });
    }
    await seed(formulas, 1, { target: { type: "route", id: "plain-=" }, request: { ip: "192.0.2.9", userAgent: "Zoë – Ärztin, 東京", requestId: "req-f" } });
    const exported = (parse(await (await clientFor(formulas)).get("/audit/export.csv").then((r) => r.text())) as string[][]).slice(1)
      .filter((r) => r[9] === "team.invited");
    expect(exported.map((r) => r[11])).toEqual([...starts.map((start) => `'${start}x`), "plain-="]);
    // UTF-8 leaves as it came (the export copies PostgreSQL's bytes; only ASCII bytes are looked at).
    expect(exported.map((r) => r[7])).toEqual([...starts.map((start) => `'${start}agent`), "Zoë – Ärztin, 東京"]);
    // Columns we write in fixed shapes are left alone (a hash or an id never starts like a formula,
    // and a time would not be touched if it did).
    expect(exported.every((r) => /^[0-9a-f]{64}$/.test(r[15]!))).toBe(true);
    const rows = parse(await (await (await clientFor(admin)).get("/audit/export.csv?outcome=denied")).text()) as string[][];
    const denied = rows.slice(1).filter((r) => r[9] === "access.denied");
    expect(denied).toHaveLength(1);
    expect(denied[0]![11]).toBe(`'=HYPERLINK("http://evil")`);
  });

  test("cells are written byte for byte as csv-stringify writes them: quotes, commas, line breaks", async () => {
    const tricky = await makePerson(t, { practiceName: "Quoting Clinic" });
    await seed(tricky, 1, {
      target: { type: "route", id: 'a "quoted", comma' },
      details: { note: "line\r\nbreak, \"q\"" },
      request: { ip: "192.0.2.7", userAgent: "Mozilla/5.0 (X11; Linux x86_64) KHTML, like Gecko\n\"x\"", requestId: "req-1" },
    });
    const text = await (await clientFor(tricky)).get("/audit/export.csv").then((r) => r.text());
    const records = parse(text) as string[][];
    const row = records.find((r) => r[9] === "team.invited")!;
    expect(row[7]).toBe('Mozilla/5.0 (X11; Linux x86_64) KHTML, like Gecko\n"x"');
    expect(row[11]).toBe('a "quoted", comma');
    expect(JSON.parse(row[13]!)).toEqual({ note: 'line\r\nbreak, "q"' });
    // The whole file is what csv-stringify writes for the same cells.
    expect(text).toBe(stringify(records));
  });

  test("filters apply, and the export is audited with which filters were used but not their values", async () => {
    const client = await clientFor(admin);
    const res = await client.get(`/audit/export.csv?group=access&target=${encodeURIComponent('=HYPERLINK("http://evil")')}`);
    const rows = (parse(await res.text()) as string[][]).slice(1);
    expect(rows.map((r) => r[9])).toEqual(["access.denied"]);
    const event = await t.ownerDb.selectFrom("audit_events").select(["details", "actor_id", "outcome"]).where("action", "=", "audit.exported").where("practice_id", "=", admin.practiceId).orderBy("chain_seq", "desc").limit(1).executeTakeFirstOrThrow();
    expect(event).toMatchObject({ actor_id: admin.userId, outcome: "success", details: { group: "access", by_target: true, by_person: false, from: null, to: null, outcome: null } });
    expect(JSON.stringify(event.details)).not.toContain("HYPERLINK");
  });

  test("a day range is read in the practice's time zone", async () => {
    // Kiritimati (UTC+14) and Pago Pago (UTC-11) are 25 hours apart: their "today" always differ.
    const island = await makePerson(t, { practiceName: "Island Clinic" });
    await t.ownerDb.updateTable("practices").set({ time_zone: "Pacific/Kiritimati" }).where("id", "=", island.practiceId).execute();
    await seed(island, 1);
    const localDay = (timeZone: string) => new Intl.DateTimeFormat("en-CA", { timeZone }).format(new Date());
    const client = await clientFor(island);
    const actions = async (day: string) =>
      (parse(await (await client.get(`/audit/export.csv?from=${day}&to=${day}`)).text()) as string[][]).slice(1).map((r) => r[9]);
    expect(await actions(localDay("Pacific/Kiritimati"))).toContain("team.invited");
    expect(await actions(localDay("Pacific/Pago_Pago"))).not.toContain("team.invited");
    expect((await client.get("/audit/export.csv?from=2026-99-01")).status).toBe(303);
  });

  test("a reader that goes away mid-export ends its transaction and gives its connection back", async () => {
    const big = await makePerson(t, { practiceName: "Long Trail Clinic" });
    await seed(big, 1);
    // 5,000 more events than one batch or one stream buffer holds, written past the chain trigger.
    await t.ownerDb.connection().execute(async (conn) => {
      await sql`SET session_replication_role = replica`.execute(conn);
      await sql`INSERT INTO audit_events (practice_id, chain_seq, occurred_at, actor_type, actor_id, actor_role, action, target_type, target_id, outcome, details, prev_hash, hash)
        SELECT ${big.practiceId}::uuid, 1000 + g, now(), 'user', ${big.userId}, 'admin', 'team.invited', 'invitation', 'inv-' || g, 'success', '{}'::jsonb, repeat('0', 64), repeat('1', 64)
        FROM generate_series(1, 5000) g`.execute(conn);
      await sql`SET session_replication_role = origin`.execute(conn);
    });
    const client = await clientFor(big);
    // More walk-aways than the export's connections: each must have given its connection back.
    for (let i = 0; i < 5; i++) {
      const res = await client.get("/audit/export.csv");
      const reader = res.body!.getReader();
      expect((await reader.read()).done).toBe(false);
      await reader.cancel();
    }
    const open = () => sql<{ n: string }>`SELECT count(*) AS n FROM pg_stat_activity WHERE application_name LIKE '%-raw' AND state <> 'idle' AND datname = current_database()`.execute(t.ownerDb);
    await waitFor("the abandoned exports' transactions to end", async () => ((await open()).rows[0]!.n === "0" ? true : null), 10_000);
    const whole = await (await client.get("/audit/export.csv")).text();
    expect(whole.trimEnd().split("\n").length).toBeGreaterThanOrEqual(5_002);
    // Six exports, run one after another, shared the pool's connections rather than each keeping one.
    const raw = await sql<{ n: string }>`SELECT count(*) AS n FROM pg_stat_activity WHERE application_name LIKE '%-raw' AND datname = current_database()`.execute(t.ownerDb);
    expect(Number(raw.rows[0]!.n)).toBeLessThanOrEqual(3);
  });

  test("each event's actor name is one index lookup, not a pass over every user (thousands of users)", async () => {
    await sql`INSERT INTO users (email, full_name) SELECT 'bulk-' || g || '@example.test', 'Bulk ' || g FROM generate_series(1, 3000) g`.execute(t.ownerDb);
    await sql`ANALYZE users`.execute(t.ownerDb);
    const query = exportQuery(t.db, admin.practiceId, {}, "UTC").compile();
    const plan = await withTenant(t.db, { practiceId: admin.practiceId, actor: "test" }, (tx) =>
      tx.executeQuery<{ "QUERY PLAN": string }>(CompiledQuery.raw(`EXPLAIN DECLARE plan_check NO SCROLL CURSOR FOR ${query.sql}`, [...query.parameters])));
    const text = plan.rows.map((r) => r["QUERY PLAN"]).join("\n");
    expect(text).toContain("users_id_text");
    expect(text).not.toContain("Seq Scan on users");
  });
});

describe("viewer", () => {
  test("newest first, fifty at a time, with an htmx 'Load more' that carries the page nonce", async () => {
    const client = await clientFor(admin);
    const res = await client.get("/audit");
    expect(res.status).toBe(200);
    const html = await res.text();
    const nonce = /script-src[^;]*'nonce-([^']+)'/.exec(res.headers.get("content-security-policy")!)![1]!;
    const times = [...html.matchAll(/<time datetime="([^"]+)"/g)].map((m) => m[1]!);
    expect(times).toHaveLength(50);
    expect([...times].sort().reverse()).toEqual(times);
    const more = /<button[^>]*hx-get="([^"]+)"[^>]*hx-nonce="([^"]+)"/.exec(html)!;
    expect(more[2]).toBe(nonce);
    const next = await client.get(more[1]!.replace(/&amp;/g, "&"), { "hx-request": "true" });
    expect(next.status).toBe(200);
    const fragment = await next.text();
    expect(fragment).not.toContain("<html");
    const nextTimes = [...fragment.matchAll(/<time datetime="([^"]+)"/g)].map((m) => m[1]!);
    expect(times.length + nextTimes.length).toBeGreaterThanOrEqual(56);
    expect(nextTimes.every((n) => n <= times.at(-1)!)).toBe(true);
  });

  test("each row expands to its details; filters narrow the list; bad filters are explained", async () => {
    const client = await clientFor(auditor);
    const html = await (await client.get("/audit?outcome=denied")).text();
    expect(html).toContain("<details>");
    expect([...html.matchAll(/<time datetime=/g)]).toHaveLength(1);
    expect(html).toContain("access.denied");
    const bad = await client.get("/audit?from=2026-12-31&to=2026-01-01");
    expect(bad.status).toBe(422);
    expect(await bad.text()).toContain("The end date must not be before the start date");
  });

  test("staff cannot read the audit trail", async () => {
    const staff = await makePerson(t, { practiceId: admin.practiceId, role: "staff" });
    expect((await (await clientFor(staff)).get("/audit")).status).toBe(403);
    expect((await (await clientFor(staff)).get("/audit/export.csv")).status).toBe(403);
  });
});
