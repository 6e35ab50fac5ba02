// Practice letter templates: SQL only. RLS scopes every row to the transaction's practice, so
// another practice's template is simply not there.
import { sql, type Insertable } from "kysely";
import type { Tx } from "../platform/db.ts";
import type { LetterTemplate, LetterTemplatesTable } from "../platform/schema.ts";

/** A template without its text: what lists and pickers show. */
export type TemplateSummary = Omit<LetterTemplate, "body_enc" | "key_id" | "practice_id">;

const SUMMARY = ["id", "name", "letter_type", "body_length", "body_fields", "created_by", "updated_by", "created_at", "updated_at"] as const;

export function listTemplates(tx: Tx): Promise<TemplateSummary[]> {
  return tx.selectFrom("letter_templates").select(SUMMARY).orderBy(sql`lower(name)`).orderBy("id").execute();
}

export function findTemplate(tx: Tx, id: string, options: { forUpdate?: boolean } = {}): Promise<LetterTemplate | undefined> {
  return tx.selectFrom("letter_templates").selectAll().where("id", "=", id).$if(Boolean(options.forUpdate), (q) => q.forUpdate()).executeTakeFirst();
}

/** Whether another template of the practice already has this name (case and outer spaces ignored). */
export async function templateNameTaken(tx: Tx, name: string, exceptId?: string): Promise<boolean> {
  const row = await tx.selectFrom("letter_templates").select("id").where(sql<boolean>`lower(btrim(name)) = lower(btrim(${name}))`)
    .$if(Boolean(exceptId), (q) => q.where("id", "<>", exceptId!)).executeTakeFirst();
  return Boolean(row);
}

export function insertTemplate(tx: Tx, values: Insertable<LetterTemplatesTable>): Promise<LetterTemplate> {
  return tx.insertInto("letter_templates").values(values).returningAll().executeTakeFirstOrThrow();
}

export function renameTemplate(tx: Tx, id: string, name: string, userId: string): Promise<LetterTemplate> {
  return tx.updateTable("letter_templates").set({ name, updated_by: userId, updated_at: sql`now()` }).where("id", "=", id).returningAll().executeTakeFirstOrThrow();
}

export async function deleteTemplate(tx: Tx, id: string): Promise<void> {
  await tx.deleteFrom("letter_templates").where("id", "=", id).execute();
}
