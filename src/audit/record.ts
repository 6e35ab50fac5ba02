// recordAudit(tx, …): the one way to write an audit event, always inside the transaction of the
// change it describes. The database links it into its practice's hash chain (see the migration).
import type { RequestMeta } from "../context.ts";
import type { Tx } from "../platform/db.ts";
import type { AuditAction } from "./actions.ts";

export type Actor =
  | { type: "user"; id: string; role?: string | null }
  | { type: "operator"; id: string }
  | { type: "system"; id: `system:${string}` }
  | { type: "anonymous" };

/** Flat facts only: ids, counts, flags, codes. Long free text is refused so PHI cannot ride along. */
export type AuditDetails = Record<string, string | number | boolean | null>;

export type AuditInput = {
  practiceId: string | null;
  actor: Actor;
  action: AuditAction;
  outcome?: "success" | "denied" | "error";
  target?: { type: string; id: string };
  details?: AuditDetails;
  request?: RequestMeta;
};

const MAX_DETAIL_STRING = 200;

function checkDetails(details: AuditDetails): string {
  for (const [key, value] of Object.entries(details)) {
    if (!/^[a-zA-Z][a-zA-Z0-9_]{0,63}$/.test(key)) throw new Error(`audit detail key "${key}" is not a plain identifier`);
    if (typeof value === "string" && value.length > MAX_DETAIL_STRING) {
      throw new Error(`audit detail "${key}" is longer than ${MAX_DETAIL_STRING} characters`);
    }
  }
  return JSON.stringify(details);
}

export async function recordAudit(tx: Tx, input: AuditInput): Promise<{ id: string; hash: string; chainSeq: string }> {
  const actor = input.actor;
  const row = await tx
    .insertInto("audit_events")
    .values({
      practice_id: input.practiceId,
      actor_type: actor.type,
      actor_id: actor.type === "anonymous" ? null : actor.id,
      actor_role: actor.type === "user" ? (actor.role ?? null) : actor.type === "operator" ? "operator" : null,
      ip: input.request?.ip ?? null,
      user_agent: input.request?.userAgent || null,
      request_id: input.request?.requestId ?? null,
      action: input.action,
      target_type: input.target?.type ?? null,
      target_id: input.target?.id ?? null,
      outcome: input.outcome ?? "success",
      details: checkDetails(input.details ?? {}),
    })
    .returning(["id", "hash", "chain_seq"])
    .executeTakeFirstOrThrow();
  return { id: row.id, hash: row.hash, chainSeq: row.chain_seq };
}
