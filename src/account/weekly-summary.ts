// The weekly job summary: the non-essential email the preferences page offers as "Weekly job
// summary" (category job_summary). A pg-boss schedule (WEEKLY_SUMMARY_CRON, Monday morning UTC)
// runs it; each active member of each active practice gets one email per membership, about that
// practice: how many jobs are in each stage and which references wait for them. No PHI: job
// references and counts only, never a job title (free text), a letter or a recipient.
//
// It goes through the mailer as category job_summary, so a person who opted out (or whose account
// is deactivated) is skipped there and everyone else gets the signed one-click unsubscribe link.
// A row in weekly_summary_sends (practice, user, week) is written in the transaction that sends,
// so a rerun of the same week sends nothing twice; a failed send rolls its row back and the next
// run retries it. One audit event per run carries the counts (platform chain, no practice facts).
import { sql } from "kysely";
import { can } from "../auth/permissions.ts";
import { recordAudit } from "../audit/record.ts";
import { JOB_STATUSES, statusLabel } from "../jobs/lifecycle.ts";
import { type Db, type Tx, withPlatform, withTenant } from "../platform/db.ts";
import type { Logger } from "../platform/log.ts";
import type { Mailer, NonEssentialMail } from "../platform/mail.ts";
import type { JobStatus, Role } from "../platform/schema.ts";

const ACTOR = "system:weekly-summary" as const;
export const WEEKLY_SUMMARY_SUBJECT = "Your weekly PatientLetterHub job summary";
/** Ended stages are counted over the last seven days only; open stages are counted whole. */
const ENDED: readonly JobStatus[] = ["completed", "cancelled"];

export type WeeklySummaryDeps = { db: Db; mailer: Mailer; logger: Logger; appOrigin: string };
export type WeeklySummaryResult = { week: string; practices: number; sent: number; skipped: number; already: number; failed: number };

/** The Monday (UTC) of the week `now` falls in, as YYYY-MM-DD: the key that makes a rerun harmless. */
export function weekOf(now: Date): string {
  const day = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  day.setUTCDate(day.getUTCDate() - ((day.getUTCDay() + 6) % 7));
  return day.toISOString().slice(0, 10);
}

export type PracticeSummary = {
  practiceName: string;
  counts: Record<JobStatus, number>;
  /** References only (never titles): proofs waiting for a decision, jobs sent back for changes. */
  proofReady: string[];
  changesRequested: string[];
};

async function practiceSummary(tx: Tx, practiceId: string, since: Date): Promise<PracticeSummary> {
  const practice = await tx.selectFrom("practices").select("name").where("id", "=", practiceId).executeTakeFirstOrThrow();
  const rows = await tx.selectFrom("jobs").select(["status", sql<string>`count(*)::text`.as("n")])
    .where("practice_id", "=", practiceId)
    // Ended jobs count when they ended, not when last touched (the job purge updates them 30 days on).
    .where((eb) => eb.or([eb("status", "not in", ENDED), eb(eb.fn.coalesce("completed_at", "cancelled_at"), ">=", since)]))
    .groupBy("status").execute();
  const counts = Object.fromEntries(JOB_STATUSES.map((s) => [s, 0])) as Record<JobStatus, number>;
  for (const row of rows) counts[row.status] = Number(row.n);
  const waiting = await tx.selectFrom("jobs").select(["status", "reference"])
    .where("practice_id", "=", practiceId).where("status", "in", ["proof_ready", "changes_requested"])
    .orderBy("reference").limit(50).execute();
  return {
    practiceName: practice.name, counts,
    proofReady: waiting.filter((j) => j.status === "proof_ready").map((j) => j.reference),
    changesRequested: waiting.filter((j) => j.status === "changes_requested").map((j) => j.reference),
  };
}

/** The email for one member: counts by stage, what waits for someone in their role, a sign-in link. */
export function weeklySummaryEmail(input: { userId: string; to: string; role: Role; week: string; appOrigin: string; summary: PracticeSummary }): NonEssentialMail {
  const { summary } = input;
  const stages = JOB_STATUSES.map((s) => `  ${statusLabel(s)}${ENDED.includes(s) ? " (last 7 days)" : ""}: ${summary.counts[s]}`);
  const attention: string[] = [];
  if (can(input.role, "proofs.approve") && summary.proofReady.length > 0) {
    attention.push(`  Proofs waiting for approval (${summary.proofReady.length}): ${summary.proofReady.join(", ")}`);
  }
  if (can(input.role, "jobs.write") && summary.changesRequested.length > 0) {
    attention.push(`  Jobs sent back for changes (${summary.changesRequested.length}): ${summary.changesRequested.join(", ")}`);
  }
  return {
    category: "job_summary",
    userId: input.userId,
    to: input.to,
    subject: WEEKLY_SUMMARY_SUBJECT,
    text: [
      `Weekly job summary for ${summary.practiceName}, week of ${input.week}.`,
      "",
      "Jobs by stage:",
      ...stages,
      "",
      "Waiting for you:",
      ...(attention.length > 0 ? attention : ["  Nothing."]),
      "",
      `Sign in to see your jobs: ${input.appOrigin}/login`,
      "",
      "This summary lists job references and counts only, never patient information.",
    ].join("\n"),
  };
}

type Member = { userId: string; email: string; role: Role };

/** The next batch of active members who have no row for this week yet, after `afterUserId`. */
function unsentMembers(tx: Tx, practiceId: string, week: string, afterUserId: string, limit: number): Promise<Member[]> {
  return tx.selectFrom("memberships as m").innerJoin("users as u", "u.id", "m.user_id")
    .select(["m.user_id as userId", "u.email", "m.role"])
    .where("m.practice_id", "=", practiceId).where("u.status", "=", "active")
    .where((eb) => eb.or([eb("m.ends_at", "is", null), eb("m.ends_at", ">", sql<Date>`now()`)]))
    .where("m.user_id", ">", afterUserId)
    .where(sql<boolean>`NOT EXISTS (SELECT 1 FROM weekly_summary_sends s WHERE s.practice_id = m.practice_id AND s.user_id = m.user_id AND s.week_of = ${week}::date)`)
    .orderBy("m.user_id").limit(limit).execute();
}

/** One run: every active practice, its members in bounded batches, at most one email each per week. */
export async function sendWeeklySummaries(deps: WeeklySummaryDeps, options: { batchSize: number; now?: Date }): Promise<WeeklySummaryResult> {
  const now = options.now ?? new Date();
  const week = weekOf(now);
  const since = new Date(now.getTime() - 7 * 86_400_000);
  const result: WeeklySummaryResult = { week, practices: 0, sent: 0, skipped: 0, already: 0, failed: 0 };
  const { rows } = await sql<{ id: string }>`SELECT p AS id FROM weekly_summary_practices() AS p`.execute(deps.db);
  for (const { id: practiceId } of rows) {
    result.practices++;
    const context = { practiceId, actor: ACTOR };
    const summary = await withTenant(deps.db, context, (tx) => practiceSummary(tx, practiceId, since));
    let after = "00000000-0000-0000-0000-000000000000";
    for (;;) {
      const batch = await withTenant(deps.db, context, (tx) => unsentMembers(tx, practiceId, week, after, options.batchSize));
      for (const member of batch) {
        after = member.userId;
        try {
          // The row first: a concurrent run (or a rerun racing this one) finds it and sends nothing.
          const outcome = await withTenant(deps.db, context, async (tx) => {
            const claimed = await sql`INSERT INTO weekly_summary_sends (practice_id, user_id, week_of, outcome)
              VALUES (${practiceId}, ${member.userId}, ${week}::date, 'sent') ON CONFLICT DO NOTHING`.execute(tx);
            if (Number(claimed.numAffectedRows ?? 0) === 0) return "already" as const;
            const sent = await deps.mailer.send(weeklySummaryEmail({ ...member, to: member.email, week, appOrigin: deps.appOrigin, summary }));
            if (sent === "skipped") {
              await sql`UPDATE weekly_summary_sends SET outcome = 'skipped' WHERE practice_id = ${practiceId} AND user_id = ${member.userId} AND week_of = ${week}::date`.execute(tx);
            }
            return sent;
          });
          result[outcome]++;
        } catch (error) {
          // Ids only in the log; the row rolled back with the transaction, so the next run retries.
          result.failed++;
          deps.logger.error({ task: "weekly-summary", practiceId, userId: member.userId, err: error instanceof Error ? error.message : String(error) }, "weekly summary not sent");
        }
      }
      if (batch.length < options.batchSize) break;
    }
  }
  await withPlatform(deps.db, ACTOR, (tx) => recordAudit(tx, {
    practiceId: null, actor: { type: "system", id: ACTOR }, action: "account.weekly_summary.sent", details: { ...result },
  }));
  return result;
}
