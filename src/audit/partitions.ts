// Monthly audit partitions, created ahead of time by a daily task so that an event never finds its
// month missing; retention later drops whole months (migrations/202611232100_audit_partitions.ts).
import { sql } from "kysely";
import { type Db, withPlatform } from "../platform/db.ts";
import { recordAudit } from "./record.ts";

const ACTOR = "system:audit-partitions" as const;
export const PARTITION_MONTHS_AHEAD = 3;

/** Makes sure this month and the next PARTITION_MONTHS_AHEAD months have their partitions. */
export async function ensureAuditPartitions(db: Db, now = new Date()): Promise<{ created: number; through: string }> {
  const through = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + PARTITION_MONTHS_AHEAD, 1));
  const throughMonth = through.toISOString().slice(0, 7);
  return withPlatform(db, ACTOR, async (tx) => {
    const { rows } = await sql<{ created: number }>`SELECT audit_ensure_partitions(${now}, ${through}) AS created`.execute(tx);
    const created = rows[0]?.created ?? 0;
    if (created > 0) {
      await recordAudit(tx, { practiceId: null, actor: { type: "system", id: ACTOR }, action: "audit.partitions.created", details: { created, through: throughMonth } });
    }
    return { created, through: throughMonth };
  });
}
