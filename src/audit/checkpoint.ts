// The daily audit checkpoint: for each chain, verify the links written since the last signed
// checkpoint, then record the head (sequence, hash, time) signed with the current HMAC key. The
// viewer reads the latest one back and checks its signature before it says "verified through".
import { sql } from "kysely";
import { type Db, type Tx, withContext } from "../platform/db.ts";
import { hmacHex, type KeyRing, verifyHmacHex } from "../platform/crypto.ts";
import type { AuditCheckpoint } from "../platform/schema.ts";
import { recordAudit } from "./record.ts";
import { chainKey, type ChainPoint, chainStart, walkChain } from "./verify.ts";

const ACTOR = "system:audit-checkpoint" as const;
/** A checkpoint older than this means the daily task stopped running: the viewer warns. */
export const CHECKPOINT_STALE_HOURS = 48;

type CheckpointRow = Omit<AuditCheckpoint, "id">;

/** The exact text a checkpoint's signature covers; any edited field breaks it. The problem's keys
 *  are sorted because jsonb does not keep the order they were written in. */
function signedText(c: Omit<CheckpointRow, "key_id" | "signature">): string {
  return [
    "plh-audit-checkpoint-v1", chainKey(c.practice_id), c.through_seq, c.through_hash,
    c.through_at?.toISOString() ?? "", c.checked_at.toISOString(), c.status, c.problem ? JSON.stringify(c.problem, Object.keys(c.problem).sort()) : "",
  ].join("|");
}

function signatureValid(keys: KeyRing, c: CheckpointRow): boolean {
  return verifyHmacHex(keys, { keyId: c.key_id, mac: c.signature }, signedText(c));
}

function latestCheckpoints(tx: Tx, practiceId: string | null) {
  return tx
    .selectFrom("audit_checkpoints")
    .select(["practice_id", "through_seq", "through_hash", "through_at", "checked_at", "status", "problem", "key_id", "signature"])
    .$call((q) => (practiceId ? q.where("practice_id", "=", practiceId) : q.where("practice_id", "is", null)))
    .orderBy("checked_at", "desc");
}

export type CheckpointRun = { chains: number; verified: number; broken: number };

/** Checkpoints every chain. Runs as the app role, one transaction per chain. */
export async function writeCheckpoints(db: Db, keys: KeyRing, now: () => Date = () => new Date()): Promise<CheckpointRun> {
  const heads = await withContext(db, { actor: ACTOR }, (tx) =>
    sql<{ practice_id: string | null; last_seq: string; last_hash: string }>`
      SELECT practice_id, last_seq::text, last_hash FROM audit_chain_heads_snapshot()`.execute(tx),
  );
  const run: CheckpointRun = { chains: 0, verified: 0, broken: 0 };
  for (const head of heads.rows) {
    const status = await withContext(db, { actor: ACTOR, practiceId: head.practice_id }, (tx) =>
      checkpointChain(tx, keys, head.practice_id, { seq: head.last_seq, hash: head.last_hash }, now()),
    );
    run.chains++;
    run[status]++;
  }
  return run;
}

async function checkpointChain(tx: Tx, keys: KeyRing, practiceId: string | null, head: ChainPoint, checkedAt: Date): Promise<"verified" | "broken"> {
  // Resume from the newest checkpoint that verified and whose signature still holds; otherwise
  // walk the whole chain. A broken chain therefore stays reported broken until it is repaired.
  const previous = (await latestCheckpoints(tx, practiceId).where("status", "=", "verified").limit(20).execute()).find((c) => signatureValid(keys, c));
  const anchor = await chainStart(tx, practiceId);
  const from: ChainPoint = previous && BigInt(previous.through_seq) >= BigInt(anchor.seq) ? { seq: previous.through_seq, hash: previous.through_hash } : anchor;
  const walk = await walkChain(tx, practiceId, from, head);
  const fields = {
    practice_id: practiceId,
    through_seq: walk.broken ? from.seq : head.seq,
    through_hash: walk.broken ? from.hash : head.hash,
    through_at: walk.broken ? (previous?.through_at ?? null) : (walk.throughAt ?? previous?.through_at ?? null),
    checked_at: checkedAt,
    status: walk.broken ? ("broken" as const) : ("verified" as const),
    problem: walk.broken ? { ...walk.broken } : null,
  };
  const signed = hmacHex(keys, signedText(fields));
  await tx
    .insertInto("audit_checkpoints")
    .values({ ...fields, problem: fields.problem ? JSON.stringify(fields.problem) : null, key_id: signed.keyId, signature: signed.mac })
    .execute();
  await recordAudit(tx, {
    practiceId,
    actor: { type: "system", id: ACTOR },
    action: "audit.checkpoint.written",
    outcome: walk.broken ? "error" : "success",
    target: { type: "audit_chain", id: chainKey(practiceId) },
    details: {
      status: fields.status, through_seq: fields.through_seq, events: walk.events,
      ...(walk.broken ? { broken_seq: walk.broken.chainSeq, problem: walk.broken.problem } : {}),
    },
  });
  return fields.status;
}

export type CheckpointStatus =
  | { kind: "verified"; throughAt: Date | null; checkedAt: Date }
  | { kind: "stale"; throughAt: Date | null; checkedAt: Date }
  | { kind: "broken"; checkedAt: Date; brokenSeq: string }
  | { kind: "forged"; checkedAt: Date }
  | { kind: "none" };

/** What the viewer says about the practice's chain, from its latest checkpoint. */
export async function checkpointStatus(tx: Tx, keys: KeyRing, practiceId: string, now = new Date()): Promise<CheckpointStatus> {
  const latest = await latestCheckpoints(tx, practiceId).limit(1).executeTakeFirst();
  if (!latest) return { kind: "none" };
  if (!signatureValid(keys, latest)) return { kind: "forged", checkedAt: latest.checked_at };
  if (latest.status === "broken") return { kind: "broken", checkedAt: latest.checked_at, brokenSeq: String(latest.problem?.chainSeq ?? "?") };
  const ageHours = (now.getTime() - latest.checked_at.getTime()) / 3_600_000;
  const kind = ageHours > CHECKPOINT_STALE_HOURS ? "stale" : "verified";
  return { kind, throughAt: latest.through_at, checkedAt: latest.checked_at };
}
