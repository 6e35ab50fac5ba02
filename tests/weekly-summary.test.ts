// The weekly job summary (src/account/weekly-summary.ts): the non-essential email the preferences
// page offers. Real Postgres and the files-mode mail outbox: who gets it, what it says (counts and
// references, never titles or recipients), the unsubscribe headers, and that a rerun of the same week
// sends nothing twice.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sendWeeklySummaries, WEEKLY_SUMMARY_SUBJECT, weekOf } from "../src/account/weekly-summary.ts";
import { createLogger } from "../src/platform/log.ts";
import { scheduledTasks } from "../src/schedules.ts";
import { createTestApp, TEST_ORIGIN, type TestApp } from "./support/app.ts";
import { clientAs } from "./support/browserless.ts";
import { signedTeams } from "./support/baa.ts";
import { makePerson, type Member } from "./support/people.ts";
import { listDevMail, readDevMail, readDevMailHeader } from "../src/platform/mail.ts";

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

const logger = createLogger({ level: "silent" });
const run = (now = new Date(), batchSize = 2) => sendWeeklySummaries({ db: t.db, mailer: t.mailer, logger, appOrigin: t.config.appOrigin }, { batchSize, now });
const addressOf = (p: Member) => `${p.userId}@people.example`;
const mailsTo = async (p: Member) => (await listDevMail(t.config.mail.dir)).filter((m) => m.to.includes(addressOf(p)) && m.subject === WEEKLY_SUMMARY_SUBJECT);
const TITLE = "Closure letters for Zyxwv Quorpel";

async function addJob(admin: Member, status: string, ended: Record<string, Date> = {}): Promise<string> {
  const row = await t.ownerDb.insertInto("jobs").values({
    practice_id: admin.practiceId, created_by: admin.userId, title: TITLE, letter_type: "other", mail_class: "first_class",
    return_name: "Zyxwv Quorpel", return_line1: "1 Main St", return_city: "Springfield", return_state: "MA", return_zip: "01103", status, ...ended,
  } as never).returning("reference").executeTakeFirstOrThrow();
  return row.reference as string;
}

describe("the weekly job summary", () => {
  test("weekOf is the Monday of the UTC week", () => {
    expect(weekOf(new Date("2026-11-23T08:00:00Z"))).toBe("2026-11-23"); // a Monday
    expect(weekOf(new Date("2026-11-29T23:59:59Z"))).toBe("2026-11-23"); // the Sunday after
    expect(weekOf(new Date("2026-11-30T00:00:00Z"))).toBe("2026-11-30");
  });

  test("members get counts and the references waiting for them, with the unsubscribe headers; opted-out, deactivated and removed people get nothing; a rerun sends nothing", async () => {
    const { admin, staff, auditor } = await signedTeams(t, "Summary Clinic");
    const optedOut = await makePerson(t, { practiceId: admin.practiceId, role: "staff" });
    const deactivated = await makePerson(t, { practiceId: admin.practiceId, role: "staff" });
    const removed = await makePerson(t, { practiceId: admin.practiceId, role: "staff" });
    await addJob(admin, "draft");
    const ready = [await addJob(admin, "proof_ready"), await addJob(admin, "proof_ready")].sort();
    const sentBack = await addJob(admin, "changes_requested");
    const daysAgo = (n: number) => new Date(Date.now() - n * 86_400_000);
    await addJob(admin, "completed", { completed_at: daysAgo(2) });
    await addJob(admin, "cancelled", { cancelled_at: daysAgo(3) });
    // Ended long ago but touched today, as the job purge leaves it: not "in the last 7 days".
    await addJob(admin, "completed", { completed_at: daysAgo(40), purged_at: new Date() });
    await (await clientAs(t, optedOut)).post("/account/preferences", {});
    await t.ownerDb.updateTable("users").set({ status: "deactivated" }).where("id", "=", deactivated.userId).execute();
    await t.ownerDb.deleteFrom("memberships").where("user_id", "=", removed.userId).execute();

    const now = new Date();
    const first = await run(now);
    expect(first.failed).toBe(0);
    expect(first.sent).toBeGreaterThanOrEqual(3);
    expect(first.skipped).toBeGreaterThanOrEqual(1);

    for (const p of [admin, staff, auditor]) expect((await mailsTo(p)).length).toBe(1);
    for (const p of [optedOut, deactivated, removed]) expect(await mailsTo(p)).toEqual([]);

    const [mail] = await mailsTo(staff);
    const text = (await readDevMail(t.config.mail.dir, mail!.id))!.text;
    expect(text).toContain(`Weekly job summary for Summary Clinic, week of ${weekOf(now)}.`);
    expect(text).toContain("  Draft: 1\n");
    expect(text).toContain("  Proof ready: 2\n");
    expect(text).toContain("  Changes requested: 1\n");
    expect(text).toContain("  In production: 0\n");
    expect(text).toContain("  Completed (last 7 days): 1\n");
    expect(text).toContain("  Cancelled (last 7 days): 1\n");
    expect(text).toContain(`Proofs waiting for approval (2): ${ready.join(", ")}`);
    expect(text).toContain(`Jobs sent back for changes (1): ${sentBack}`);
    expect(text).toContain(`Sign in to see your jobs: ${TEST_ORIGIN}/login`);
    // No PHI: neither the free-text title nor the return name (a recipient-like name) appears.
    expect(text).not.toContain("Zyxwv");
    expect(text).not.toContain("Quorpel");
    const listUnsubscribe = await readDevMailHeader(t.config.mail.dir, mail!.id, "List-Unsubscribe");
    expect(listUnsubscribe).toMatch(new RegExp(`^<${TEST_ORIGIN}/unsubscribe\\?u=${staff.userId}&c=job_summary&t=[^>]+>$`));
    expect(await readDevMailHeader(t.config.mail.dir, mail!.id, "List-Unsubscribe-Post")).toBe("List-Unsubscribe=One-Click");

    // An auditor cannot approve or edit: the counts, but nothing waiting for them.
    const auditorText = (await readDevMail(t.config.mail.dir, (await mailsTo(auditor))[0]!.id))!.text;
    expect(auditorText).toContain("  Proof ready: 2\n");
    expect(auditorText).toContain("Waiting for you:\n  Nothing.");

    // Who got what is recorded per practice, member and week (the opted-out person as skipped).
    const rows = await t.ownerDb.selectFrom("weekly_summary_sends" as never).select(["user_id", "outcome"] as never)
      .where("practice_id" as never, "=", admin.practiceId as never).execute() as { user_id: string; outcome: string }[];
    expect(Object.fromEntries(rows.map((r) => [r.user_id, r.outcome]))).toEqual({
      [admin.userId]: "sent", [staff.userId]: "sent", [auditor.userId]: "sent", [optedOut.userId]: "skipped",
    });

    // The same week again, even later in the week: nothing is sent twice.
    const again = await run(new Date(now.getTime() + 60_000));
    expect(again.sent).toBe(0);
    for (const p of [admin, staff, auditor]) expect((await mailsTo(p)).length).toBe(1);

    // One audit event per run, platform chain, counts only.
    const events = await t.ownerDb.selectFrom("audit_events").select(["actor_type", "actor_id", "practice_id", "details"])
      .where("action", "=", "account.weekly_summary.sent").orderBy("occurred_at").execute();
    expect(events.length).toBeGreaterThanOrEqual(2);
    const last = events.at(-1)!;
    expect([last.actor_type, last.actor_id, last.practice_id]).toEqual(["system", "system:weekly-summary", null]);
    expect(Object.keys(last.details as object).sort()).toEqual(["already", "failed", "practices", "sent", "skipped", "week"]);
    expect(JSON.stringify(events)).not.toContain("Zyxwv");
  });

  test("the task is on the schedule with WEEKLY_SUMMARY_CRON", () => {
    const task = scheduledTasks({ config: t.config, db: t.db, blob: t.blob, mailer: t.mailer, logger }).find((s) => s.name === "weekly-summary");
    expect(task?.cron).toBe("0 8 * * 1");
  });
});
