import { sql } from "kysely";
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

// ---- the letterhead (migration 202611232520_practice_letterheads) ---------------------------------
// Typed through sql<…> rather than the Database interface: the table is read by a few functions
// here only (the proofs' inputs, the job defaults and the settings page all come through them).

export type PracticeLetterhead = {
  practice_id: string;
  return_name: string | null; return_line1: string | null; return_line2: string | null;
  return_city: string | null; return_state: string | null; return_zip: string | null;
  signer_name: string | null; signer_title: string | null;
  logo_blob: string | null; logo_sha256: string | null; logo_bytes: number | null; logo_content_type: "image/png" | "image/jpeg" | null;
  updated_by: string; updated_at: Date;
};

export type LetterheadText = Pick<PracticeLetterhead, "return_name" | "return_line1" | "return_line2" | "return_city" | "return_state" | "return_zip" | "signer_name" | "signer_title">;
export type LetterheadLogo = Pick<PracticeLetterhead, "logo_blob" | "logo_sha256" | "logo_bytes" | "logo_content_type">;

/** The practice's letterhead (the tenant's own row), locked for a change with forUpdate. */
export async function findLetterhead(tx: Tx, practiceId: string, options: { forUpdate?: boolean } = {}): Promise<PracticeLetterhead | undefined> {
  const lock = options.forUpdate ? sql`FOR UPDATE` : sql``;
  const { rows } = await sql<PracticeLetterhead>`SELECT * FROM practice_letterheads WHERE practice_id = ${practiceId} ${lock}`.execute(tx);
  return rows[0];
}

/** Creates the row or changes the given columns; the other columns keep their values. */
export async function upsertLetterhead(tx: Tx, practiceId: string, userId: string, values: Partial<LetterheadText & LetterheadLogo>): Promise<void> {
  const columns = Object.keys(values) as (keyof typeof values)[];
  const names = sql.join(columns.map((c) => sql.ref(c)));
  const params = sql.join(columns.map((c) => sql`${values[c]}`));
  const updates = sql.join(columns.map((c) => sql`${sql.ref(c)} = excluded.${sql.ref(c)}`));
  await sql`
    INSERT INTO practice_letterheads (practice_id, updated_by, ${names}) VALUES (${practiceId}, ${userId}, ${params})
    ON CONFLICT (practice_id) DO UPDATE SET ${updates}, updated_by = excluded.updated_by, updated_at = now()`.execute(tx);
}
