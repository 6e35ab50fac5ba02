import type { Tx } from "../platform/db.ts";
import type { Practice } from "../platform/schema.ts";

export async function insertPractice(tx: Tx, practice: { id: string; name: string; timeZone?: string }): Promise<Practice> {
  return tx
    .insertInto("practices")
    .values({ id: practice.id, name: practice.name.trim(), ...(practice.timeZone ? { time_zone: practice.timeZone } : {}) })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function findPractice(tx: Tx, id: string): Promise<Practice | undefined> {
  return tx.selectFrom("practices").selectAll().where("id", "=", id).executeTakeFirst();
}
