// A job ready to submit, made through the real services: attested, its recipient list uploaded to
// Azurite through an upload URL and verified, its letter saved. Made-up recipients only.
import { attestationStatement } from "../../src/jobs/attestation.ts";
import { attestJob, createJob, type MemberActor, saveLetter } from "../../src/jobs/service.ts";
import { completeUpload, issueUploadUrl } from "../../src/jobs/uploads.ts";
import { sha256Hex } from "../../src/platform/crypto.ts";
import type { Job } from "../../src/platform/schema.ts";
import type { TestApp } from "./app.ts";
import type { Member } from "./people.ts";

export const LETTER_BODY = "Dear {{first_name}} {{last_name}},\n\nDr. Example is retiring on December 31. Your records will move to Riverside Clinic.\n\nCall us at 555-0100 with any questions.";

export function actorOf(member: Member, role: MemberActor["role"] = "admin"): MemberActor {
  return { userId: member.userId, practiceId: member.practiceId, role, request: { requestId: "test-jobs-0002", ip: "127.0.0.1", userAgent: "test" } };
}

export async function uploadCsv(t: TestApp, actor: MemberActor, job: Job, text: string): Promise<void> {
  const bytes = new TextEncoder().encode(text);
  const issued = await issueUploadUrl(t, actor, job.id, { kind: "recipients_csv", name: "list.csv", size: bytes.length, type: "text/csv", sha256: sha256Hex(bytes) });
  const put = await fetch(issued.uploadUrl, { method: "PUT", headers: { "x-ms-blob-type": "BlockBlob", "x-ms-blob-content-type": "text/csv" }, body: bytes });
  if (put.status !== 201) throw new Error(`upload to Azurite failed: ${put.status}`);
  const done = await completeUpload(t, actor, job.id, issued.fileId);
  if (done.outcome !== "verified") throw new Error(`the list was not verified: ${done.reason}`);
}

/** A draft job of the admin's (signed) practice, ready to submit. */
export async function jobReadyToSubmit(t: TestApp, admin: Member, csvText: string): Promise<Job> {
  const actor = actorOf(admin);
  const job = await createJob(t, actor, {
    title: "Retirement notice", letterType: "provider_departure", mailClass: "first_class", returnName: "Riverbend Family Medicine",
    returnLine1: "12 Main Street", returnLine2: null, returnCity: "Springfield", returnState: "MA", returnZip: "01103",
  });
  await attestJob(t, actor, job.id, { statementVersion: attestationStatement().version, confirm: "yes", initials: "AA" });
  await uploadCsv(t, actor, job, csvText);
  return saveLetter({ db: t.db, keys: t.config.keys.encryption }, actor, job.id, { body: LETTER_BODY, signerName: "Avery Example, MD", signerTitle: "Medical Director" });
}

/** Made-up recipients; `marker` is put into every last name so a test can look for it anywhere. */
export function recipientsCsv(count: number, marker = "Zyxwv"): string {
  const rows = Array.from({ length: count }, (_, i) => `Pat${i},${marker}${i},${100 + i} Elm Street,,Springfield,MA,01103`);
  return ["first_name,last_name,address1,address2,city,state,zip", ...rows].join("\n") + "\n";
}

/**
 * Marks a job's print file ready, as the owner (for tests about what operators do next; the real
 * render is tested in tests/proofs.test.ts). The proof row it needs is made ready alongside.
 */
export async function givePrintFile(t: TestApp, job: Pick<Job, "id" | "practice_id">): Promise<void> {
  const proofId = crypto.randomUUID();
  const base = `practices/${job.practice_id}/jobs/${job.id}`;
  await t.ownerDb.insertInto("proofs").values({
    id: proofId, practice_id: job.practice_id, job_id: job.id, version: 1, status: "ready", requested_by: (await t.ownerDb.selectFrom("jobs").select("created_by").where("id", "=", job.id).executeTakeFirstOrThrow()).created_by,
    blob_name: `${base}/proofs/${proofId}.pdf`, sha256: "b".repeat(64), ready_at: new Date(),
  }).execute();
  const fileId = crypto.randomUUID();
  await t.ownerDb.insertInto("production_files").values({
    id: fileId, practice_id: job.practice_id, job_id: job.id, proof_id: proofId, status: "ready", blob_name: `${base}/production/${fileId}.pdf`,
    sha256: "c".repeat(64), bytes: 1000, page_count: 3, letters: 3, ready_at: new Date(),
  }).execute();
}
