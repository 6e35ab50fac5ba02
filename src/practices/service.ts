// Practice use cases. The id is chosen here so the new row can be written inside its own tenant
// context: RLS's WITH CHECK accepts it only because app.practice_id already names it.
import type { RequestMeta } from "../context.ts";
import { type Actor, recordAudit } from "../audit/record.ts";
import { type Db, withTenant } from "../platform/db.ts";
import type { Practice } from "../platform/schema.ts";
import { insertPractice } from "./repo.ts";

export async function createPractice(
  db: Db,
  input: { name: string; timeZone?: string },
  actor: Actor,
  request?: RequestMeta,
): Promise<Practice> {
  const id = crypto.randomUUID();
  const actorLabel = actor.type === "anonymous" ? "anonymous" : actor.id;
  return withTenant(db, { practiceId: id, actor: actorLabel }, async (tx) => {
    const practice = await insertPractice(tx, { id, name: input.name, timeZone: input.timeZone });
    await recordAudit(tx, { practiceId: id, actor, action: "practice.created", target: { type: "practice", id }, request });
    return practice;
  });
}
