// SQL for incident reports (migration 202611232521_incident_reports). Typed through sql<…>: only
// this module reads or writes the table. RLS decides what a transaction sees: a practice its own
// reports, a reporter without a practice their own, an operator (outside any tenant) all of them.
import { sql } from "kysely";
import type { Tx } from "../platform/db.ts";

export type IncidentRow = {
  id: string; reference: string; practice_id: string | null; practice_name: string | null;
  reported_by: string; reporter_name: string; reporter_email: string; category: string;
  description_enc: string; key_id: string; description_length: number; noticed_at: Date; reported_at: Date;
};

export async function insertIncident(tx: Tx, row: Omit<IncidentRow, "reported_at">): Promise<Pick<IncidentRow, "category" | "noticed_at" | "reported_at">> {
  // No RETURNING: a reporter without a practice may insert but a RETURNING row must also pass the
  // read policy; the database clock for the report time comes from now() in this transaction.
  await sql`
    INSERT INTO incident_reports (id, reference, practice_id, practice_name, reported_by, reporter_name, reporter_email, category,
                                  description_enc, key_id, description_length, noticed_at)
    VALUES (${row.id}, ${row.reference}, ${row.practice_id}, ${row.practice_name}, ${row.reported_by}, ${row.reporter_name}, ${row.reporter_email},
            ${row.category}, ${row.description_enc}, ${row.key_id}, ${row.description_length}, ${row.noticed_at})`.execute(tx);
  const { rows } = await sql<{ now: Date }>`SELECT now() AS now`.execute(tx);
  return { category: row.category, noticed_at: row.noticed_at, reported_at: new Date(rows[0]!.now) };
}

export async function listIncidents(tx: Tx, limit: number): Promise<Omit<IncidentRow, "description_enc" | "key_id">[]> {
  const { rows } = await sql<Omit<IncidentRow, "description_enc" | "key_id">>`
    SELECT id, reference, practice_id, practice_name, reported_by, reporter_name, reporter_email, category, description_length, noticed_at, reported_at
      FROM incident_reports ORDER BY reported_at DESC LIMIT ${limit}`.execute(tx);
  return rows;
}

export async function findIncident(tx: Tx, id: string): Promise<IncidentRow | undefined> {
  const { rows } = await sql<IncidentRow>`SELECT * FROM incident_reports WHERE id = ${id}`.execute(tx);
  return rows[0];
}
