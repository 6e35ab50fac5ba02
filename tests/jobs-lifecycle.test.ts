// The job lifecycle: every allowed and every forbidden move, by every kind of actor, in the
// module and through the database; and the BAA gate on jobs, proven without the UI.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "kysely";
import { can } from "../src/auth/permissions.ts";
import { BaaRequiredError } from "../src/baa/service.ts";
import { attestationStatement } from "../src/jobs/attestation.ts";
import { checkTransition, JOB_STATUSES, type JobStatus, type LifecycleActor, nextStatuses } from "../src/jobs/lifecycle.ts";
import { attestJob, cancelJob, createJob, JobError, moveJobAs, submitJob } from "../src/jobs/service.ts";
import { sha256Hex } from "../src/platform/crypto.ts";
import { withContext, withTenant } from "../src/platform/db.ts";
import type { Role } from "../src/platform/schema.ts";
import { createTestApp, type TestApp } from "./support/app.ts";
import { makeSignedPractice } from "./support/baa.ts";
import { makePerson, type Member } from "./support/people.ts";

// The lifecycle as the issue states it, written out independently of the module: [from, to, who].
const ALLOWED: [JobStatus, JobStatus, "editor" | "approver" | "operator" | "system" | "editorOrSystem"][] = [
  ["draft", "submitted", "editor"],
  ["submitted", "proof_ready", "system"],
  ["proof_ready", "changes_requested", "approver"],
  ["changes_requested", "submitted", "editor"],
  ["proof_ready", "approved", "approver"],
  ["approved", "in_production", "operator"],
  ["in_production", "mailed", "operator"],
  ["mailed", "completed", "operator"],
  // The system cancels drafts left without activity (retention: abandoned-drafts), and every job
  // before production when the practice's deletion is carried out (retention: data-requests).
  ["draft", "cancelled", "editorOrSystem"],
  ["submitted", "cancelled", "editorOrSystem"],
  ["proof_ready", "cancelled", "editorOrSystem"],
  ["changes_requested", "cancelled", "editorOrSystem"],
  ["approved", "cancelled", "editorOrSystem"],
];

const member = (role: Role): LifecycleActor => ({ kind: "member", can: (p) => can(role, p) });
const ACTORS: Record<string, LifecycleActor> = {
  admin: member("admin"), staff: member("staff"), auditor: member("auditor"), operator: { kind: "operator" }, system: { kind: "system" },
};
// Which actors fill each "who" (admins and staff both hold jobs.write and proofs.approve).
const FILLED_BY: Record<string, string[]> = { editor: ["admin", "staff"], approver: ["admin", "staff"], operator: ["operator"], system: ["system"], editorOrSystem: ["admin", "staff", "system"] };

describe("the lifecycle module", () => {
  test("every (from, to, actor) combination: exactly the listed moves are allowed", () => {
    let checked = 0;
    for (const from of JOB_STATUSES) {
      for (const to of JOB_STATUSES) {
        const rule = ALLOWED.find(([f, t]) => f === from && t === to);
        for (const [name, actor] of Object.entries(ACTORS)) {
          const result = checkTransition(from, to, actor);
          const expected = rule ? FILLED_BY[rule[2]]!.includes(name) : false;
          expect({ from, to, name, ok: result.ok }).toEqual({ from, to, name, ok: expected });
          if (!result.ok) expect(result.reason).toBe(rule ? "forbidden" : "not_allowed");
          checked++;
        }
      }
    }
    expect(checked).toBe(9 * 9 * 5);
  });

  test("nothing leaves completed or cancelled, and nothing is cancelled once production starts", () => {
    for (const actor of Object.values(ACTORS)) {
      expect(nextStatuses("completed", actor)).toEqual([]);
      expect(nextStatuses("cancelled", actor)).toEqual([]);
      for (const from of ["in_production", "mailed"] as const) expect(nextStatuses(from, actor)).not.toContain("cancelled");
    }
  });
});

let t: TestApp;
let admin: Member;
let staff: Member;
let auditor: Member;
const request = { requestId: "test-jobs-0001", ip: "203.0.113.9", userAgent: "lifecycle-test" };
const DETAILS = {
  title: "Dr. Lee retiring", letterType: "provider_departure" as const, mailClass: "first_class" as const, returnName: "Riverbend Family Medicine",
  returnLine1: "12 Main Street", returnLine2: null, returnCity: "Springfield", returnState: "MA", returnZip: "01103",
};

beforeAll(async () => {
  t = await createTestApp();
  admin = await makeSignedPractice(t);
  staff = await makePerson(t, { practiceId: admin.practiceId, role: "staff" });
  auditor = await makePerson(t, { practiceId: admin.practiceId, role: "auditor" });
});
afterAll(() => t.close());

const asActor = (m: Member, role: Role) => ({ userId: m.userId, practiceId: m.practiceId, role, request });

/** Puts a job straight into a status (as the owner), to test the move out of it. */
async function jobIn(status: JobStatus) {
  const job = await createJob({ db: t.db }, asActor(staff, "staff"), DETAILS);
  if (status !== "draft") {
    await t.ownerDb.updateTable("jobs").set({
      status, ...(status === "cancelled" ? { cancelled_at: new Date() } : {}),
    }).where("id", "=", job.id).execute();
  }
  return (await t.ownerDb.selectFrom("jobs").selectAll().where("id", "=", job.id).executeTakeFirstOrThrow());
}

describe("moves through the database", () => {
  test("each allowed move updates the job and records one job.status.changed event; a refused one changes nothing", async () => {
    for (const [from, to, who] of ALLOWED) {
      const job = await jobIn(from);
      const actor = who === "system" ? { kind: "system" as const } : who === "operator" ? { kind: "operator" as const } : member("staff");
      const audit = who === "system" ? { type: "system" as const, id: "system:test" as const } : { type: "user" as const, id: staff.userId, role: "staff" };
      const moved = await withTenant(t.db, { practiceId: admin.practiceId, actor: "test", userId: staff.userId }, (tx) =>
        moveJobAs(tx, job as never, to, { lifecycle: actor, audit, request }, to === "cancelled" ? { cancelled_at: new Date() } : {}),
      );
      expect(moved.status).toBe(to);
      const events = await t.ownerDb.selectFrom("audit_events").select(["details", "target_id"]).where("action", "=", "job.status.changed").where("target_id", "=", job.reference).execute();
      expect(events.map((e) => e.details)).toEqual([{ from, to }]);
    }
    // Forbidden: an auditor submitting, staff moving an approved job to production.
    for (const [from, to, actor] of [["draft", "submitted", member("auditor")], ["approved", "in_production", member("staff")], ["completed", "cancelled", member("admin")]] as const) {
      const job = await jobIn(from);
      await expect(withTenant(t.db, { practiceId: admin.practiceId, actor: "test" }, (tx) =>
        moveJobAs(tx, job as never, to, { lifecycle: actor, audit: { type: "user", id: staff.userId } }),
      )).rejects.toBeInstanceOf(JobError);
      const after = await t.ownerDb.selectFrom("jobs").select("status").where("id", "=", job.id).executeTakeFirstOrThrow();
      expect(after.status).toBe(from);
    }
  }, 30_000);

  test("submitting needs the attestation and a verified recipient list, and says which is missing", async () => {
    const job = await createJob({ db: t.db }, asActor(admin, "admin"), DETAILS);
    const error = await submitJob({ db: t.db }, asActor(admin, "admin"), job.id).catch((e) => e);
    expect(error).toBeInstanceOf(JobError);
    expect(error.code).toBe("not_ready");
    expect(error.message).toContain("attestation");
    expect(error.message).toContain("recipient list");
  });

  test("cancel keeps the reason on the job, never in the audit trail; an auditor cannot cancel", async () => {
    const job = await createJob({ db: t.db }, asActor(admin, "admin"), DETAILS);
    await expect(cancelJob({ db: t.db }, asActor(auditor, "auditor"), job.id, "no")).rejects.toMatchObject({ code: "forbidden" });
    const cancelled = await cancelJob({ db: t.db }, asActor(staff, "staff"), job.id, "Sent by mistake - duplicate of PLH-2026-000001");
    expect(cancelled).toMatchObject({ status: "cancelled", cancel_reason: "Sent by mistake - duplicate of PLH-2026-000001", cancelled_by: staff.userId });
    const event = await t.ownerDb.selectFrom("audit_events").select("details").where("target_id", "=", job.reference).where("action", "=", "job.status.changed").executeTakeFirstOrThrow();
    expect(event.details).toEqual({ from: "draft", to: "cancelled", reason_given: true });
  });

  test("job references read PLH-<year>-<six digits> and are unique", async () => {
    const a = await createJob({ db: t.db }, asActor(admin, "admin"), DETAILS);
    const b = await createJob({ db: t.db }, asActor(admin, "admin"), DETAILS);
    expect(a.reference).toMatch(new RegExp(`^PLH-${new Date().getUTCFullYear()}-\\d{6}$`));
    expect(a.reference).not.toBe(b.reference);
  });
});

describe("the BAA gate on jobs, without the UI", () => {
  test("a practice without the BAA cannot create or attest a job: the service refuses, and so does the database", async () => {
    const unsigned = await makePerson(t, { practiceName: "Unsigned Clinic" });
    const actor = asActor(unsigned, "admin");
    await expect(createJob({ db: t.db }, actor, DETAILS)).rejects.toBeInstanceOf(BaaRequiredError);
    // Straight to the database, past the service: the trigger refuses (SQLSTATE BAA01).
    await expect(withContext(t.db, { actor: "test", userId: unsigned.userId, practiceId: unsigned.practiceId }, (tx) =>
      tx.insertInto("jobs").values({ practice_id: unsigned.practiceId, created_by: unsigned.userId, title: "x", letter_type: "other", mail_class: "first_class",
        return_name: "x", return_line1: "x", return_city: "x", return_state: "MA", return_zip: "01103" }).execute(),
    )).rejects.toMatchObject({ code: "BAA01" });

    // A job made while signed cannot be attested once a newer BAA version is in force.
    const signed = await makeSignedPractice(t, "Soon Out Of Date");
    const job = await createJob({ db: t.db }, asActor(signed, "admin"), DETAILS);
    const v1 = await t.ownerDb.selectFrom("baa_versions").select("body").where("version", "=", 1).executeTakeFirstOrThrow();
    const body = `${v1.body}\n\nRevision 99.`;
    await t.ownerDb.insertInto("baa_versions").values({
      version: 99, title: "Business Associate Agreement", body, sha256: sha256Hex(body), effective_at: new Date(Date.now() - 1000), published_by: "test",
    } as never).execute();
    try {
      await expect(attestJob({ db: t.db }, asActor(signed, "admin"), job.id, { statementVersion: attestationStatement().version, confirm: "yes", initials: "AA" }))
        .rejects.toBeInstanceOf(BaaRequiredError);
      const statement = attestationStatement();
      await expect(withContext(t.db, { actor: "test", userId: signed.userId, practiceId: signed.practiceId }, (tx) =>
        tx.insertInto("job_attestations").values({ practice_id: signed.practiceId, job_id: job.id, user_id: signed.userId, statement_version: statement.version, statement_sha256: statement.sha256, initials: "AA" }).execute(),
      )).rejects.toMatchObject({ code: "BAA01" });
    } finally {
      await t.ownerDb.connection().execute(async (conn) => {
        await sql`SET session_replication_role = replica`.execute(conn);
        await sql`DELETE FROM baa_versions WHERE version = 99`.execute(conn);
        await sql`SET session_replication_role = origin`.execute(conn);
      });
    }
  });

  test("a file cannot be registered for a job without an attestation, even straight in the database", async () => {
    const job = await createJob({ db: t.db }, asActor(admin, "admin"), DETAILS);
    const fileId = crypto.randomUUID();
    await expect(withContext(t.db, { actor: "test", userId: admin.userId, practiceId: admin.practiceId }, (tx) =>
      tx.insertInto("job_files").values({
        practice_id: admin.practiceId, job_id: job.id, kind: "recipients_csv", blob_name: `practices/${admin.practiceId}/jobs/${job.id}/${fileId}`,
        declared_name: "list.csv", declared_size: 100, declared_type: "text/csv", upload_expires_at: new Date(Date.now() + 600_000), created_by: admin.userId,
      }).execute(),
    )).rejects.toMatchObject({ code: "JOB01" });
  });

  test("once a newer BAA is in force, the database refuses to register or verify an upload, whatever the app does", async () => {
    const signed = await makeSignedPractice(t, "Upload Gate Clinic");
    const actor = asActor(signed, "admin");
    const job = await createJob({ db: t.db }, actor, DETAILS);
    await attestJob({ db: t.db }, actor, job.id, { statementVersion: attestationStatement().version, confirm: "yes", initials: "AA" });
    const pending = crypto.randomUUID();
    const file = (id: string) => ({
      id, practice_id: signed.practiceId, job_id: job.id, kind: "recipients_csv" as const, blob_name: `practices/${signed.practiceId}/jobs/${job.id}/${id}`,
      declared_name: "list.csv", declared_size: 100, declared_type: "text/csv", upload_expires_at: new Date(Date.now() + 600_000), created_by: signed.userId,
    });
    const asApp = <T>(fn: Parameters<typeof withContext<T>>[2]) => withContext(t.db, { actor: "test", userId: signed.userId, practiceId: signed.practiceId }, fn);
    await asApp((tx) => tx.insertInto("job_files").values(file(pending)).execute());
    const v1 = await t.ownerDb.selectFrom("baa_versions").select("body").where("version", "=", 1).executeTakeFirstOrThrow();
    const body = `${v1.body}\n\nRevision 98.`;
    await t.ownerDb.insertInto("baa_versions").values({ version: 98, title: "Business Associate Agreement", body, sha256: sha256Hex(body), effective_at: new Date(Date.now() - 1000), published_by: "test" } as never).execute();
    try {
      await expect(asApp((tx) => tx.insertInto("job_files").values(file(crypto.randomUUID())).execute())).rejects.toMatchObject({ code: "BAA01" });
      await expect(asApp((tx) => tx.updateTable("job_files").set({ status: "verified", verified_at: new Date(), size: 100, sha256: "d".repeat(64) }).where("id", "=", pending).execute()))
        .rejects.toMatchObject({ code: "BAA01" });
    } finally {
      await t.ownerDb.connection().execute(async (conn) => {
        await sql`SET session_replication_role = replica`.execute(conn);
        await sql`DELETE FROM baa_versions WHERE version = 98`.execute(conn);
        await sql`SET session_replication_role = origin`.execute(conn);
      });
    }
  });

  test("attestation records who, when, from where and exactly which statement, once", async () => {
    const job = await createJob({ db: t.db }, asActor(staff, "staff"), DETAILS);
    const statement = attestationStatement();
    await attestJob({ db: t.db }, asActor(staff, "staff"), job.id, { statementVersion: statement.version, confirm: "yes", initials: "JQD" });
    const row = await t.ownerDb.selectFrom("job_attestations").selectAll().where("job_id", "=", job.id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ user_id: staff.userId, statement_version: statement.version, statement_sha256: statement.sha256, initials: "JQD", ip: "203.0.113.9", user_agent: "lifecycle-test" });
    await expect(attestJob({ db: t.db }, asActor(staff, "staff"), job.id, { statementVersion: statement.version, confirm: "yes", initials: "JQD" }))
      .rejects.toMatchObject({ code: "conflict" });
    await expect(attestJob({ db: t.db }, asActor(auditor, "auditor"), job.id, { statementVersion: statement.version, confirm: "yes", initials: "AU" }))
      .rejects.toMatchObject({ code: "forbidden" });
  });

  test("another practice's job is not found", async () => {
    const job = await createJob({ db: t.db }, asActor(admin, "admin"), DETAILS);
    const stranger = await makeSignedPractice(t, "Elsewhere");
    await expect(cancelJob({ db: t.db }, asActor(stranger, "admin"), job.id, "mine now")).rejects.toMatchObject({ code: "not_found" });
  });
});
