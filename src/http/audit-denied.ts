// Records a refused attempt (outcome "denied") in its own transaction, so it stays even though the
// refused change rolled back: in the practice's chain when the session has one, else the platform's.
import type { Context } from "hono";
import type { HonoEnv } from "../context.ts";
import type { AuditAction } from "../audit/actions.ts";
import { type AuditDetails, recordAudit } from "../audit/record.ts";
import { type Db, withContext } from "../platform/db.ts";
import { requestMeta } from "./request-context.ts";

export async function auditDenied(
  db: Db,
  c: Context<HonoEnv>,
  input: { action: AuditAction; details: AuditDetails; target?: { type: string; id: string }; role?: string | null },
): Promise<void> {
  const session = c.get("session");
  const practiceId = session?.practice_id ?? null;
  const target = input.target ?? { type: "route", id: `${c.req.method} ${c.req.routePath}` };
  await withContext(db, { actor: session ? `user:${session.user_id}` : "anonymous", userId: session?.user_id ?? null, practiceId }, (tx) =>
    recordAudit(tx, {
      practiceId,
      actor: session ? { type: "user", id: session.user_id, role: input.role ?? null } : { type: "anonymous" },
      action: input.action, outcome: "denied", target, details: input.details, request: requestMeta(c),
    }),
  );
}
