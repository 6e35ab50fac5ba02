// Walks audit hash chains and names the first broken link. walkChain() is shared by
// `bun run audit:verify` (owner connection, every chain from its first event) and the daily
// checkpoint task (app role, from the last signed checkpoint). Each chain is read inside its own
// tenant context, so RLS applies to both.
import { createHash } from "node:crypto";
import { type Kysely, sql } from "kysely";

export const GENESIS_HASH = "0".repeat(64);
const BATCH = 5_000;

/** A position in a chain: the event with this sequence number has this hash (seq 0 = genesis). */
export type ChainPoint = { seq: string; hash: string };
export const GENESIS: ChainPoint = { seq: "0", hash: GENESIS_HASH };

export type ChainProblem = "hash" | "link" | "sequence" | "head" | "checkpoint";

export type ChainBreak = {
  chain: string;
  eventId: string | null;
  chainSeq: string;
  problem: ChainProblem;
  expected: string;
  found: string;
};

export type VerifyReport = { chains: number; events: number; breaks: ChainBreak[] };

export type ChainWalk = {
  events: number;
  /** The time of the last event walked (null when there was none). */
  throughAt: Date | null;
  broken: Omit<ChainBreak, "chain"> | null;
};

type Row = { id: string; chain_seq: string; occurred_at: Date; prev_hash: string; hash: string; canonical: string };

export function chainHash(prevHash: string, canonical: string): string {
  return createHash("sha256").update(prevHash + canonical, "utf8").digest("hex");
}

export function chainKey(practiceId: string | null): string {
  return practiceId ?? "platform";
}

/**
 * Recomputes every link after `from` up to and including `to` (normally the chain head read just
 * before). Events written meanwhile lie beyond `to` and are left for the next walk. `expectAt`
 * names hashes known from signed checkpoints: a chain recomputed end to end disagrees with them.
 * The caller's transaction must carry the chain's tenant context.
 */
export async function walkChain(
  tx: Kysely<any>,
  practiceId: string | null,
  from: ChainPoint,
  to: ChainPoint,
  expectAt: ReadonlyMap<string, string> = new Map(),
): Promise<ChainWalk> {
  const inChain = practiceId ? sql`e.practice_id = ${practiceId}::uuid` : sql`e.practice_id IS NULL`;
  let expectedPrev = from.hash;
  let expectedSeq = BigInt(from.seq) + 1n;
  let lastSeq = BigInt(from.seq);
  let throughAt: Date | null = null;
  let events = 0;
  for (;;) {
    const { rows } = await sql<Row>`
      SELECT e.id, e.chain_seq::text AS chain_seq, e.occurred_at, e.prev_hash, e.hash, audit_canonical(e) AS canonical
      FROM audit_events e
      WHERE ${inChain} AND e.chain_seq > ${lastSeq.toString()}::bigint AND e.chain_seq <= ${to.seq}::bigint
      ORDER BY e.chain_seq
      LIMIT ${BATCH}`.execute(tx);
    for (const row of rows) {
      events++;
      const seq = BigInt(row.chain_seq);
      const at = { eventId: row.id, chainSeq: row.chain_seq };
      if (seq !== expectedSeq) return { events, throughAt, broken: { ...at, problem: "sequence", expected: expectedSeq.toString(), found: row.chain_seq } };
      if (row.prev_hash !== expectedPrev) return { events, throughAt, broken: { ...at, problem: "link", expected: expectedPrev, found: row.prev_hash } };
      const recomputed = chainHash(row.prev_hash, row.canonical);
      if (recomputed !== row.hash) return { events, throughAt, broken: { ...at, problem: "hash", expected: recomputed, found: row.hash } };
      const signed = expectAt.get(row.chain_seq);
      if (signed && signed !== row.hash) return { events, throughAt, broken: { ...at, problem: "checkpoint", expected: signed, found: row.hash } };
      expectedPrev = row.hash;
      expectedSeq = seq + 1n;
      lastSeq = seq;
      throughAt = row.occurred_at;
    }
    if (rows.length < BATCH) break;
  }
  // A removed tail leaves every remaining link intact: the head remembers how far the chain went.
  if (lastSeq.toString() !== to.seq || expectedPrev !== to.hash) {
    return { events, throughAt, broken: { eventId: null, chainSeq: to.seq, problem: "head", expected: `${to.seq}:${to.hash}`, found: `${lastSeq}:${expectedPrev}` } };
  }
  return { events, throughAt, broken: null };
}

/**
 * Where a chain can be verified from: its genesis, or, once retention dropped its oldest months,
 * the last event of the newest dropped month (recorded by the owner's sweep before the drop).
 */
export async function chainStart(tx: Kysely<any>, practiceId: string | null): Promise<ChainPoint> {
  const { rows } = await sql<{ seq: string; hash: string }>`
    SELECT through_seq::text AS seq, through_hash AS hash FROM audit_retention_anchors
    WHERE chain_key = ${chainKey(practiceId)} ORDER BY through_seq DESC LIMIT 1`.execute(tx);
  return rows[0] ?? GENESIS;
}

async function verifyChain(db: Kysely<any>, practiceId: string | null, head: ChainPoint): Promise<ChainWalk> {
  return db.transaction().execute(async (tx) => {
    await sql`SELECT set_config('app.practice_id', ${practiceId ?? ""}, true)`.execute(tx);
    // What the daily checkpoints recorded must still be what the chain says.
    const checkpoints = await sql<{ through_seq: string; through_hash: string }>`
      SELECT through_seq::text, through_hash FROM audit_checkpoints
      WHERE ${practiceId ? sql`practice_id = ${practiceId}::uuid` : sql`practice_id IS NULL`} AND status = 'verified' AND through_seq > 0`.execute(tx);
    const expectAt = new Map(checkpoints.rows.map((c) => [c.through_seq, c.through_hash]));
    return walkChain(tx, practiceId, await chainStart(tx, practiceId), head, expectAt);
  });
}

export async function verifyAuditChains(db: Kysely<any>, options: { practiceId?: string } = {}): Promise<VerifyReport> {
  const heads = await sql<{ practice_id: string | null; last_seq: string; last_hash: string }>`
    SELECT practice_id, last_seq::text, last_hash FROM audit_chain_heads_snapshot()`.execute(db);
  const chosen = heads.rows.filter((h) => !options.practiceId || h.practice_id === options.practiceId);
  const report: VerifyReport = { chains: chosen.length, events: 0, breaks: [] };
  for (const head of chosen) {
    const result = await verifyChain(db, head.practice_id, { seq: head.last_seq, hash: head.last_hash });
    report.events += result.events;
    if (result.broken) report.breaks.push({ chain: chainKey(head.practice_id), ...result.broken });
  }
  return report;
}
