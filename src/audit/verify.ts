// Walks audit hash chains and names the first broken link of each. Runs with the owner
// connection; each chain is read inside its own tenant context, so RLS applies here too.
import { createHash } from "node:crypto";
import { type Kysely, sql } from "kysely";

export const GENESIS_HASH = "0".repeat(64);
const BATCH = 5_000;

export type ChainBreak = {
  chain: string;
  eventId: string | null;
  chainSeq: string;
  problem: "hash" | "link" | "sequence" | "head";
  expected: string;
  found: string;
};

export type VerifyReport = { chains: number; events: number; breaks: ChainBreak[] };

type Row = { id: string; chain_seq: string; prev_hash: string; hash: string; canonical: string };

export function chainHash(prevHash: string, canonical: string): string {
  return createHash("sha256").update(prevHash + canonical, "utf8").digest("hex");
}

async function verifyChain(db: Kysely<any>, chain: string, head: { last_seq: string; last_hash: string }) {
  return db.transaction().execute(async (tx) => {
    const practiceId = chain === "platform" ? "" : chain;
    await sql`SELECT set_config('app.practice_id', ${practiceId}, true)`.execute(tx);
    let expectedPrev = GENESIS_HASH;
    let expectedSeq = 1n;
    let events = 0;
    let lastSeq = 0n;
    for (;;) {
      const { rows } = await sql<Row>`
        SELECT e.id, e.chain_seq::text AS chain_seq, e.prev_hash, e.hash, audit_canonical(e) AS canonical
        FROM audit_events e
        WHERE e.practice_id IS NOT DISTINCT FROM ${practiceId || null}::uuid AND e.chain_seq > ${lastSeq.toString()}::bigint
        ORDER BY e.chain_seq
        LIMIT ${BATCH}`.execute(tx);
      for (const row of rows) {
        events++;
        const seq = BigInt(row.chain_seq);
        const at = { chain, eventId: row.id, chainSeq: row.chain_seq };
        if (seq !== expectedSeq) {
          return { events, broken: { ...at, problem: "sequence" as const, expected: expectedSeq.toString(), found: row.chain_seq } };
        }
        if (row.prev_hash !== expectedPrev) {
          return { events, broken: { ...at, problem: "link" as const, expected: expectedPrev, found: row.prev_hash } };
        }
        const recomputed = chainHash(row.prev_hash, row.canonical);
        if (recomputed !== row.hash) {
          return { events, broken: { ...at, problem: "hash" as const, expected: recomputed, found: row.hash } };
        }
        expectedPrev = row.hash;
        expectedSeq = seq + 1n;
        lastSeq = seq;
      }
      if (rows.length < BATCH) break;
    }
    // A removed tail leaves every remaining link intact: the head remembers how far the chain went.
    if (lastSeq.toString() !== head.last_seq || expectedPrev !== head.last_hash) {
      return {
        events,
        broken: {
          chain, eventId: null, chainSeq: head.last_seq, problem: "head" as const,
          expected: `${head.last_seq}:${head.last_hash}`, found: `${lastSeq}:${expectedPrev}`,
        },
      };
    }
    return { events, broken: null };
  });
}

export async function verifyAuditChains(db: Kysely<any>, options: { practiceId?: string } = {}): Promise<VerifyReport> {
  let query = db.selectFrom("audit_chain_heads").select(["chain_key", sql<string>`last_seq::text`.as("last_seq"), "last_hash"]).orderBy("chain_key");
  if (options.practiceId) query = query.where("chain_key", "=", options.practiceId);
  const heads = await query.execute();
  const report: VerifyReport = { chains: heads.length, events: 0, breaks: [] };
  for (const head of heads) {
    const result = await verifyChain(db, head.chain_key, head);
    report.events += result.events;
    if (result.broken) report.breaks.push(result.broken);
  }
  return report;
}
