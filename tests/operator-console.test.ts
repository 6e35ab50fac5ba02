// The operator console: approved jobs across practices, metadata only; start production, mark
// mailed (with the creator told by email, without PHI), complete; the practice sees every move.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createJob } from "../src/jobs/service.ts";
import { jobTimeline } from "../src/jobs/repo.ts";
import { withTenant } from "../src/platform/db.ts";
import { listDevMail, readDevMail } from "../src/platform/mail.ts";
import type { JobStatus } from "../src/platform/schema.ts";
import { createTestApp, type TestApp } from "./support/app.ts";
import { givePrintFile } from "./support/jobs.ts";
import { makeSignedPractice } from "./support/baa.ts";
import { Client, clientAs } from "./support/browserless.ts";
import { makeOperator, type Member, type Person, sessionToken } from "./support/people.ts";

let t: TestApp;
let north: Member;
let south: Member;
let operator: Person;
let console_: Client;

const SECRET_TITLE = "Dr. Quillfeather's patients (do not show operators)";

async function jobOf(admin: Member, status: JobStatus) {
  const job = await createJob({ db: t.db }, { userId: admin.userId, practiceId: admin.practiceId, role: "admin" }, {
    title: SECRET_TITLE, letterType: "practice_closure", mailClass: "first_class", returnName: "Clinic", returnLine1: "1 Main St",
    returnLine2: null, returnCity: "Albany", returnState: "NY", returnZip: "12207",
  });
  if (status !== "draft") await t.ownerDb.updateTable("jobs").set({ status, approved_at: new Date(), approved_proof_sha256: "a".repeat(64) }).where("id", "=", job.id).execute();
  if (status !== "draft") await givePrintFile(t, job);
  return job;
}

const clientFor = (person: Person) => clientAs(t, person);

beforeAll(async () => {
  t = await createTestApp();
  north = await makeSignedPractice(t, "North Clinic");
  south = await makeSignedPractice(t, "South Clinic");
  operator = await makeOperator(t);
  console_ = await clientFor(operator);
});
afterAll(() => t.close());

describe("the production queue", () => {
  test("lists approved jobs of every practice with the practice's name, never drafts, titles or another status", async () => {
    const approvedNorth = await jobOf(north, "approved");
    const approvedSouth = await jobOf(south, "approved");
    const draft = await jobOf(north, "draft");
    const proof = await jobOf(south, "proof_ready");
    const html = await (await console_.get("/operator")).text();
    expect(html).toContain(approvedNorth.reference);
    expect(html).toContain(approvedSouth.reference);
    expect(html).toContain("North Clinic");
    expect(html).toContain("South Clinic");
    expect(html).not.toContain(draft.reference);
    expect(html).not.toContain(proof.reference);
    expect(html).not.toContain("Quillfeather");
  });

  test("an operator cannot move a draft (it is not there for them) or skip a step", async () => {
    const draft = await jobOf(north, "draft");
    expect((await console_.post(`/operator/jobs/${draft.id}/start`, {})).status).toBe(404);
    const approved = await jobOf(north, "approved");
    const skipped = await console_.post(`/operator/jobs/${approved.id}/complete`, {});
    expect(skipped.status).toBe(409);
    expect(await skipped.text()).toContain("cannot become completed");
    const row = await t.ownerDb.selectFrom("jobs").select("status").where("id", "=", approved.id).executeTakeFirstOrThrow();
    expect(row.status).toBe("approved");
  });

  test("a practice member, even an admin, cannot open the console", async () => {
    const client = await clientFor(north);
    expect((await client.get("/operator")).status).toBe(403);
    const job = await jobOf(north, "approved");
    expect((await client.post(`/operator/jobs/${job.id}/start`, {})).status).toBe(403);
    const denied = await t.ownerDb.selectFrom("audit_events").select("details").where("action", "=", "access.denied").where("actor_id", "=", north.userId).execute();
    expect(denied.map((d) => d.details)).toContainEqual({ reason: "not_an_operator" });
  });
});

describe("start → mailed → complete", () => {
  test("each move is made, audited in the practice's chain and shown on the job's timeline; the creator is emailed when mailed, without PHI", async () => {
    const job = await jobOf(south, "approved");
    expect((await console_.post(`/operator/jobs/${job.id}/start`, {})).headers.get("location")).toBe("/operator?done=started");

    // Bad mailing facts are refused with messages, and nothing moves.
    const future = new Date(Date.now() + 3 * 86_400_000).toISOString().slice(0, 10);
    const bad = await console_.post(`/operator/jobs/${job.id}/mailed`, { mailedOn: future, pieces: "0" });
    expect(bad.status).toBe(422);
    const page = await bad.text();
    expect(page).toContain("cannot be in the future");
    expect(page).toContain("At least one piece");

    expect((await console_.post(`/operator/jobs/${job.id}/mailed`, { mailedOn: "2026-11-20", pieces: "240" })).status).toBe(303);
    expect((await console_.post(`/operator/jobs/${job.id}/complete`, {})).status).toBe(303);

    const row = await t.ownerDb.selectFrom("jobs").selectAll().where("id", "=", job.id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ status: "completed", mailed_on: "2026-11-20", mailed_pieces: 240 });
    expect(row.production_started_at).not.toBeNull();
    expect(row.completed_at).not.toBeNull();

    // The practice sees each move in its own chain, on the job's timeline.
    const timeline = await withTenant(t.db, { practiceId: south.practiceId, actor: "test" }, (tx) => jobTimeline(tx, south.practiceId, job.reference));
    const moves = timeline.filter((e) => e.action === "job.status.changed");
    expect(moves.map((e) => [e.actor_type, e.actor_id, (e.details as { to: string }).to])).toEqual([
      ["operator", operator.userId, "in_production"],
      ["operator", operator.userId, "mailed"],
      ["operator", operator.userId, "completed"],
    ]);
    expect(moves[1]!.details).toEqual({ from: "in_production", to: "mailed", pieces: 240, mailed_on: "2026-11-20" });

    const creator = await t.ownerDb.selectFrom("users").select("email").where("id", "=", south.userId).executeTakeFirstOrThrow();
    const mails = (await listDevMail(t.config.mail.dir)).filter((m) => m.to.includes(creator.email) && m.subject.includes(job.reference));
    expect(mails).toHaveLength(1);
    const mail = (await readDevMail(t.config.mail.dir, mails[0]!.id))!;
    expect(mail.subject).toBe(`${job.reference} has been mailed`);
    expect(mail.text).toContain("2026-11-20 (240 pieces)");
    expect(mail.text).toContain(`${t.config.appOrigin}/jobs/${job.id}`);
    expect(mail.text).not.toContain("Quillfeather");
  });

  test("the console shows the queue's next step for each job and the recently completed ones", async () => {
    const inProduction = await jobOf(north, "in_production");
    const html = await (await console_.get("/operator")).text();
    expect(html).toContain(`action="/operator/jobs/${inProduction.id}/mailed"`);
    expect(html).toContain('<label for="pieces-');
    expect(html).toContain("Recently completed");
  });
});
