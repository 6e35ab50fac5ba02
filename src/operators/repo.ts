// The operator console's reads: jobs in the operators' hands across practices, metadata only.
// Runs outside any tenant context; the jobs_operator_* and practices_operator_read policies decide.
import type { Tx } from "../platform/db.ts";

export type QueueRow = {
  id: string; reference: string; practice_name: string; letter_type: string; mail_class: string; status: string;
  approved_at: Date | null; production_started_at: Date | null; mailed_on: string | null; mailed_pieces: number | null; completed_at: Date | null;
  print_status: string | null; print_letters: number | null; print_pages: number | null;
};

/** Approved and in-flight jobs, oldest approval first (first in, first printed); then recent completions. */
export async function listQueue(tx: Tx, options: { completedLimit: number }): Promise<{ open: QueueRow[]; completed: QueueRow[] }> {
  const base = tx.selectFrom("jobs as j").innerJoin("practices as p", "p.id", "j.practice_id")
    .leftJoin("production_files as f", "f.job_id", "j.id")
    .select([
      "j.id", "j.reference", "p.name as practice_name", "j.letter_type", "j.mail_class", "j.status", "j.approved_at",
      "j.production_started_at", "j.mailed_on", "j.mailed_pieces", "j.completed_at",
      "f.status as print_status", "f.letters as print_letters", "f.page_count as print_pages",
    ]);
  const [open, completed] = await Promise.all([
    base.where("j.status", "in", ["approved", "in_production", "mailed"]).orderBy("j.approved_at", "asc").orderBy("j.reference").limit(500).execute(),
    base.where("j.status", "=", "completed").orderBy("j.completed_at", "desc").limit(options.completedLimit).execute(),
  ]);
  return { open, completed };
}
