// Proofs end to end against real Postgres, Azurite and pg-boss: submitting renders a proof in the
// background; signed links open it; approval binds to its SHA-256 (two-person rule), requests for
// changes lead to a new version; approval renders the print file, which operators download through
// their own signed link before production starts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { signLink } from "../src/platform/crypto.ts";
import { listDevMail, readDevMail } from "../src/platform/mail.ts";
import { PROOF_LINK_MINUTES } from "../src/proofs/service.ts";
import { waitFor } from "./support/wait.ts";
import { createTestApp, type TestApp } from "./support/app.ts";
import { makeSignedPractice } from "./support/baa.ts";
import { Client, clientAs } from "./support/browserless.ts";
import { jobReadyToSubmit, recipientsCsv } from "./support/jobs.ts";
import { makeOperator, makePerson, type Member, type Person, sessionToken } from "./support/people.ts";

let t: TestApp;
let admin: Member;
let staff: Member;
let auditor: Member;

beforeAll(async () => {
  t = await createTestApp({ background: true });
  admin = await makeSignedPractice(t, "Proof Clinic");
  staff = await makePerson(t, { practiceId: admin.practiceId, role: "staff" });
  auditor = await makePerson(t, { practiceId: admin.practiceId, role: "auditor" });
}, 30_000);
afterAll(() => t.close());

const clientFor = (person: Person) => clientAs(t, person);

const jobRow = (id: string) => t.ownerDb.selectFrom("jobs").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
const proofsOf = (jobId: string) => t.ownerDb.selectFrom("proofs").selectAll().where("job_id", "=", jobId).orderBy("version").execute();

async function blobBytes(name: string) {
  return t.blob.container.getBlobClient(name).downloadToBuffer();
}
const pageCount = (pdf: Buffer) => (pdf.toString("latin1").match(/\/Type \/Page\b/g) ?? []).length;

/** Submits through the app and waits until its newest proof is ready. */
async function submitAndWait(client: Client, jobId: string, version = 1) {
  const res = await client.post(`/jobs/${jobId}/submit`, {});
  expect(res.status).toBeLessThan(400);
  return waitFor(`proof ${version}`, async () => (await proofsOf(jobId)).find((p) => p.version === version && p.status === "ready"));
}

/** The signed "View proof" link on the job page. */
async function viewLink(client: Client, jobId: string): Promise<string> {
  const html = await (await client.get(`/jobs/${jobId}`)).text();
  const match = /href="(\/jobs\/[^"]+\/proofs\/[^"]+\/view\?token=[^"]+)"/.exec(html);
  expect(match).not.toBeNull();
  return match![1]!.replace(/&amp;/g, "&");
}

describe("a submitted job gets a proof", () => {
  test("rendered in the background: cover + the first five, the last and the longest-address letters; counts, hashes and events recorded; the creator is emailed", async () => {
    const csv = recipientsCsv(12).replace("Pat11,Zyxwv11,111 Elm Street,,", "Pat11,Zyxwv11,111 Elm Street,Apartment 4B,").replace("Pat5,Zyxwv5,105 Elm Street,,Springfield,MA,01103", "Pat5,Zyxwv5,105 Elm Street,,Springfield,XX,01103");
    const job = await jobReadyToSubmit(t, admin, csv);
    const proof = await submitAndWait(await clientFor(admin), job.id);
    // A four-line address does not fit the 1-inch window over the full fold shift (docs/letter-layout.md).
    expect(proof).toMatchObject({ version: 1, recipients: 12, valid: 10, invalid: 2, envelope_failures: 1, pages_per_letter: 1, total_sheets: 10 });
    const problems = (proof.report as { problems: { row: number; reasons: string[] }[] }).problems;
    expect(problems[0]).toEqual({ row: 7, reasons: ["state is not a US state or territory code"] });
    expect(problems[1]!.row).toBe(13);
    expect(problems[1]!.reasons[0]).toMatch(/^envelope: address is 4 lines/);
    const pdf = await blobBytes(proof.blob_name!);
    expect(new Bun.CryptoHasher("sha256").update(pdf).digest("hex")).toBe(proof.sha256!);
    // 1 cover + rows 2-6 (the first five) + row 12 (the last mailable letter, also the longest address).
    expect(pageCount(pdf)).toBe(proof.page_count!);
    expect(proof.page_count).toBe(1 + 5 + 1);
    expect((await jobRow(job.id)).status).toBe("proof_ready");
    const events = await t.ownerDb.selectFrom("audit_events").select(["action", "actor_id", "details"]).where("target_id", "=", job.reference).orderBy("chain_seq").execute();
    expect(events.map((e) => e.action)).toEqual(expect.arrayContaining(["proof.rendered", "job.status.changed"]));
    expect(JSON.stringify(events)).not.toContain("Zyxwv");
    const creator = await t.ownerDb.selectFrom("users").select("email").where("id", "=", admin.userId).executeTakeFirstOrThrow();
    const mails = (await listDevMail(t.config.mail.dir)).filter((m) => m.to.includes(creator.email) && m.subject.includes(job.reference));
    expect(mails.map((m) => m.subject)).toContain(`Proof 1 of ${job.reference} is ready for review`);
    expect((await readDevMail(t.config.mail.dir, mails[0]!.id))!.text).not.toContain("Zyxwv");
  }, 60_000);
});

describe("signed proof links", () => {
  let jobId: string;
  let proofId: string;
  beforeAll(async () => {
    const job = await jobReadyToSubmit(t, admin, recipientsCsv(3));
    jobId = job.id;
    proofId = (await submitAndWait(await clientFor(admin), job.id)).id;
  }, 60_000);

  test("the link redirects to a read SAS valid at most 60 s, inline and never cached; the view is audited", async () => {
    const client = await clientFor(staff);
    const link = await viewLink(client, jobId);
    const res = await client.get(link);
    expect(res.status).toBe(302);
    const sas = new URL(res.headers.get("location")!);
    expect(sas.searchParams.get("sp")).toBe("r");
    expect(sas.searchParams.get("rscd")).toBe("inline");
    expect(sas.searchParams.get("rscc")).toBe("no-store");
    expect(new Date(sas.searchParams.get("se")!).getTime() - Date.now()).toBeLessThanOrEqual(60_000);
    const pdf = await fetch(sas);
    expect(pdf.status).toBe(200);
    expect(pdf.headers.get("cache-control")).toBe("no-store");
    expect((await pdf.arrayBuffer()).byteLength).toBeGreaterThan(1000);
    const viewed = await t.ownerDb.selectFrom("audit_events").select(["outcome", "details"]).where("action", "=", "proof.viewed").where("actor_id", "=", staff.userId).execute();
    expect(viewed).toEqual([{ outcome: "success", details: { proof_id: proofId, version: 1 } }]);
  });

  test("a tampered, expired, foreign or retired-key link gets 403 and a denied event", async () => {
    const client = await clientFor(staff);
    const good = await viewLink(client, jobId);
    const path = good.slice(0, good.indexOf("?"));
    const resource = `proof:${admin.practiceId}:${proofId}`;
    const bad = {
      tampered: good.replace(/token=([^.]+)\.(\d+)\./, (_, k, e) => `token=${k}.${Number(e) + 60}.`),
      expired: `${path}?token=${encodeURIComponent(signLink(t.config.keys.hmac, { resource, userId: staff.userId, expiresAt: new Date(Date.now() - 1000) }))}`,
      foreign: await viewLink(await clientFor(admin), jobId),
      retired: `${path}?token=${encodeURIComponent(signLink([{ id: "old", key: Buffer.alloc(32, 9) }], { resource, userId: staff.userId, expiresAt: new Date(Date.now() + PROOF_LINK_MINUTES * 60_000) }))}`,
    };
    for (const [kind, link] of Object.entries(bad)) expect({ kind, status: (await client.get(link)).status }).toEqual({ kind, status: 403 });
    const denied = await t.ownerDb.selectFrom("audit_events").select("details").where("action", "=", "proof.viewed").where("outcome", "=", "denied").where("actor_id", "=", staff.userId).execute();
    expect(denied.map((d) => (d.details as { reason: string }).reason).sort()).toEqual(["bad-signature", "bad-signature", "expired", "unknown-key"]);
  });

  test("an auditor never gets a link and cannot open one", async () => {
    const client = await clientFor(auditor);
    const html = await (await client.get(`/jobs/${jobId}`)).text();
    expect(html).not.toContain("/view?token=");
    const link = await viewLink(await clientFor(staff), jobId);
    expect((await client.get(link)).status).toBe(403);
  });
});

describe("review", () => {
  test("approval binds to the proof's SHA-256; a stale hash is refused; the two-person rule stops the submitter", async () => {
    const job = await jobReadyToSubmit(t, admin, recipientsCsv(4));
    const adminClient = await clientFor(admin);
    const proof = await submitAndWait(adminClient, job.id);
    expect((await adminClient.post("/practice/approval-rule", { twoPerson: "on" })).status).toBe(303);
    try {
      expect((await adminClient.post(`/jobs/${job.id}/proofs/${proof.id}/approve`, { sha256: proof.sha256! })).status).toBe(403);
      const staffClient = await clientFor(staff);
      expect((await staffClient.post(`/jobs/${job.id}/proofs/${proof.id}/approve`, { sha256: "0".repeat(64) })).status).toBe(409);
      expect((await jobRow(job.id)).status).toBe("proof_ready");
      expect((await staffClient.post(`/jobs/${job.id}/proofs/${proof.id}/approve`, { sha256: proof.sha256! })).status).toBe(303);
    } finally {
      await adminClient.post("/practice/approval-rule", { twoPerson: "off" });
    }
    const approved = await jobRow(job.id);
    expect(approved).toMatchObject({ status: "approved", approved_by: staff.userId, approved_proof_id: proof.id, approved_proof_sha256: proof.sha256 });
    const event = await t.ownerDb.selectFrom("audit_events").select("details").where("action", "=", "proof.approved").where("target_id", "=", job.reference).executeTakeFirstOrThrow();
    expect(event.details).toEqual({ proof_id: proof.id, version: 1, sha256: proof.sha256 });
  }, 60_000);

  test("requesting changes needs a comment, keeps it off the trail, and resubmitting makes proof version 2", async () => {
    const job = await jobReadyToSubmit(t, admin, recipientsCsv(2));
    const client = await clientFor(admin);
    const proof = await submitAndWait(client, job.id);
    expect((await client.post(`/jobs/${job.id}/proofs/${proof.id}/changes`, { comment: "" })).status).toBe(422);
    expect((await client.post(`/jobs/${job.id}/proofs/${proof.id}/changes`, { comment: "Use the new clinic phone number" })).status).toBe(303);
    expect((await jobRow(job.id)).status).toBe("changes_requested");
    expect((await proofsOf(job.id))[0]!.changes_comment).toBe("Use the new clinic phone number");
    const trail = await t.ownerDb.selectFrom("audit_events").select("details").where("target_id", "=", job.reference).execute();
    expect(JSON.stringify(trail)).not.toContain("phone number");
    const second = await submitAndWait(client, job.id, 2);
    expect(second.version).toBe(2);
    expect((await jobRow(job.id)).status).toBe("proof_ready");
  }, 60_000);
});

describe("the print file", () => {
  test("approval renders every mailable letter without watermark; the operator downloads it through a signed link, then starts production", async () => {
    const csv = recipientsCsv(9).replace("Pat3,Zyxwv3,103 Elm Street,,Springfield,MA,01103", "Pat3,Zyxwv3,103 Elm Street,,Springfield,MA,99999");
    const job = await jobReadyToSubmit(t, admin, csv);
    const client = await clientFor(admin);
    const proof = await submitAndWait(client, job.id);
    expect((await client.post(`/jobs/${job.id}/proofs/${proof.id}/approve`, { sha256: proof.sha256! })).status).toBe(303);
    const file = await waitFor("the print file", async () => {
      const row = await t.ownerDb.selectFrom("production_files").selectAll().where("job_id", "=", job.id).executeTakeFirst();
      return row?.status === "ready" ? row : null;
    });
    expect(file).toMatchObject({ letters: 8, page_count: 8 });
    const pdf = await blobBytes(file.blob_name!);
    expect(new Bun.CryptoHasher("sha256").update(pdf).digest("hex")).toBe(file.sha256!);

    const operator = await makeOperator(t);
    const console_ = await clientFor(operator);
    const html = await (await console_.get("/operator")).text();
    const link = new RegExp(`href="(/operator/jobs/${job.id}/print-file\\?token=[^"]+)"`).exec(html)![1]!.replace(/&amp;/g, "&");
    const res = await console_.get(link);
    expect(res.status).toBe(302);
    const sas = new URL(res.headers.get("location")!);
    expect(sas.searchParams.get("rscd")).toBe(`attachment; filename="${job.reference}-print.pdf"`);
    expect((await fetch(sas)).status).toBe(200);
    // Another operator's copy of the link is refused.
    const other = await clientFor(await makeOperator(t));
    expect((await other.get(link)).status).toBe(403);
    const downloads = await t.ownerDb.selectFrom("audit_events").select(["outcome", "practice_id", "details"]).where("action", "=", "job.print_file.downloaded").execute();
    expect(downloads).toContainEqual({ outcome: "success", practice_id: admin.practiceId, details: { sha256: file.sha256 } });
    expect((await console_.post(`/operator/jobs/${job.id}/start`, {})).status).toBe(303);
    expect((await jobRow(job.id)).status).toBe("in_production");
  }, 90_000);

  test("a print file is refused for good when the job's inputs are no longer those of the approved proof", async () => {
    const job = await jobReadyToSubmit(t, admin, recipientsCsv(2));
    const client = await clientFor(admin);
    const proof = await submitAndWait(client, job.id);
    // Changed behind the app's back after the proof was made (the app itself refuses edits now).
    // A job-level input: the practice-level ones (signer, name, phone, logo) are the proof's snapshot.
    await t.ownerDb.updateTable("jobs").set({ return_line1: "1 Elsewhere Road" }).where("id", "=", job.id).execute();
    expect((await client.post(`/jobs/${job.id}/proofs/${proof.id}/approve`, { sha256: proof.sha256! })).status).toBe(303);
    const file = await waitFor("the refusal", async () => {
      const row = await t.ownerDb.selectFrom("production_files").selectAll().where("job_id", "=", job.id).executeTakeFirst();
      return row?.status === "failed" ? row : null;
    });
    expect(file.error).toBe("the job's inputs are not those of the approved proof");
    expect(file.blob_name).toBeNull();
    const event = await t.ownerDb.selectFrom("audit_events").select(["outcome", "details"]).where("action", "=", "job.print_file.rendered").where("target_id", "=", job.reference).executeTakeFirstOrThrow();
    expect(event).toEqual({ outcome: "error", details: { reason: "inputs_changed" } });
  }, 60_000);

  test("production cannot start before the print file is ready", async () => {
    const job = await jobReadyToSubmit(t, admin, recipientsCsv(2));
    await t.ownerDb.updateTable("jobs").set({ status: "approved", approved_at: new Date(), approved_proof_sha256: "a".repeat(64) }).where("id", "=", job.id).execute();
    const console_ = await clientFor(await makeOperator(t));
    const res = await console_.post(`/operator/jobs/${job.id}/start`, {});
    expect(res.status).toBe(409);
    expect(await res.text()).toContain("print file is not ready");
  });
});

describe("who may do what", () => {
  test("auditors cannot approve or request changes; another practice's job answers 404", async () => {
    const job = await jobReadyToSubmit(t, admin, recipientsCsv(2));
    const proof = await submitAndWait(await clientFor(admin), job.id);
    const auditorClient = await clientFor(auditor);
    expect((await auditorClient.post(`/jobs/${job.id}/proofs/${proof.id}/approve`, { sha256: proof.sha256! })).status).toBe(403);
    expect((await auditorClient.post(`/jobs/${job.id}/proofs/${proof.id}/changes`, { comment: "x" })).status).toBe(403);
    const stranger = await makeSignedPractice(t, "Stranger Clinic");
    expect((await (await clientFor(stranger)).post(`/jobs/${job.id}/proofs/${proof.id}/approve`, { sha256: proof.sha256! })).status).toBe(404);
    expect((await jobRow(job.id)).status).toBe("proof_ready");
  }, 60_000);
});
