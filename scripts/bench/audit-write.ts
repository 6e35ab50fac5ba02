// What tamper evidence costs: recordAudit() (trigger-computed hash chain, head row lock) against a
// plain INSERT of the same rows into an unchained copy of the table, same database, same run.
import { sql } from "kysely";
import { recordAudit } from "../../src/audit/record.ts";
import { createDb, withTenant } from "../../src/platform/db.ts";
import { createPractice } from "../../src/practices/service.ts";
import type { BenchStack } from "./index.ts";
import type { BenchResult } from "./table.ts";

const EVENTS = 2_000;

export async function benchAuditWrite(stack: BenchStack): Promise<BenchResult> {
  const db = createDb(stack.appUrl, { max: 4 });
  try {
    const practice = await createPractice(db, { name: "Bench" }, { type: "system", id: "system:bench" });
    await stack.owner.schema.createTable("audit_baseline").as(stack.owner.selectFrom("audit_events").selectAll().where(sql.lit(false))).execute();
    await sql`GRANT INSERT ON audit_baseline TO plh_app`.execute(stack.owner);
    const request = { requestId: "bench-0000001", ip: "127.0.0.1", userAgent: "bench" };
    const row = (i: number) => ({ practiceId: practice.id, actor: { type: "user", id: "u", role: "admin" } as const, action: "practice.created" as const, details: { i }, request });

    const baselineStart = performance.now();
    for (let i = 0; i < EVENTS; i++) {
      await withTenant(db, { practiceId: practice.id, actor: "bench" }, (tx) =>
        sql`INSERT INTO audit_baseline (id, practice_id, chain_seq, occurred_at, actor_type, actor_id, actor_role, ip, user_agent, request_id, action, outcome, details, prev_hash, hash)
            VALUES (gen_random_uuid(), ${practice.id}, ${i}, now(), 'user', 'u', 'admin', '127.0.0.1', 'bench', 'bench-0000001', 'practice.created', 'success', ${JSON.stringify({ i })}, '', '')`.execute(tx),
      );
    }
    const baselineMs = performance.now() - baselineStart;

    const chainedStart = performance.now();
    for (let i = 0; i < EVENTS; i++) {
      await withTenant(db, { practiceId: practice.id, actor: "bench" }, (tx) => recordAudit(tx, row(i)));
    }
    const chainedMs = performance.now() - chainedStart;

    const rate = (ms: number) => Math.round((EVENTS / ms) * 1000);
    const ratio = `${(rate(chainedMs) / rate(baselineMs)).toFixed(2)}x`;
    return {
      lines: [
        `audit-write: ${EVENTS} events, one transaction each`,
        `  baseline plain INSERT     ${rate(baselineMs)} events/s`,
        `  recordAudit (hash chain)  ${rate(chainedMs)} events/s`,
        `  ratio chained/baseline    ${ratio}`,
      ],
      // The foundation issue asked for the figure, with no target.
      rows: [{ path: "audit-write: recordAudit (hash chain)", figure: `${rate(chainedMs)} events/s`, baseline: `${rate(baselineMs)} events/s (plain INSERT)`, ratio, target: "", met: null }],
    };
  } finally {
    await db.destroy();
  }
}
