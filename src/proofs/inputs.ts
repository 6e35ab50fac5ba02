// Everything a render needs, gathered inside the job's practice: the job, its practice, the
// decrypted letter, the letterhead images and the verified recipient list. The practice-level
// values (name, phone, signer, letterhead logo) come from the proof version's snapshot, so the
// print file renders exactly what the approved proof showed whatever the settings say today. Read into memory only
// (images are small; the list is streamed from blob storage by the caller), never to disk.
import { createHash } from "node:crypto";
import type { Config } from "../config.ts";
import type { BlobStore } from "../platform/blob.ts";
import { decryptField, sha256Hex } from "../platform/crypto.ts";
import type { Tx } from "../platform/db.ts";
import type { Job, JobFile, Practice, Proof } from "../platform/schema.ts";
import { findLetterhead, findPractice } from "../practices/repo.ts";
import { letterSigner } from "../practices/letterhead.ts";
import { readBlob } from "../practices/settings.ts";
import { letterContext } from "../jobs/service.ts";
import { findVerifiedFile } from "../jobs/repo.ts";
import { LETTER_TYPES, MAIL_CLASSES } from "../jobs/forms.ts";
import type { Address, LetterTemplate, Letterhead } from "./layout.ts";
import { imageSizeProblem } from "./image-size.ts";
import { dateFormat } from "../platform/time.ts";

export type RenderInputs = {
  job: Job;
  practice: Practice;
  recipients: JobFile;
  template: LetterTemplate;
  letterhead: Letterhead;
  returnAddress: Address;
  letterType: string;
  mailClass: string;
  /** SHA-256 over every input that shapes the letters: a changed input makes a different proof. */
  inputsSha256: string;
};

export class RenderInputError extends Error {}

async function imageOf(blob: BlobStore, file: JobFile | undefined): Promise<Uint8Array | null> {
  if (!file) return null;
  const chunks: Uint8Array[] = [];
  for await (const chunk of await blob.readStream(file.blob_name, { leaseId: file.blob_lease_id ?? undefined })) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/**
 * The practice-level values of a proof version: those recorded when it was requested (the
 * letterhead snapshot, request.ts), or for a version older than the snapshot, the live ones.
 */
async function practiceLevel(tx: Tx, blob: BlobStore, job: Job, practice: Practice, proof: Proof, jobLogo: JobFile | undefined) {
  if (proof.letterhead_at) {
    const logo = !jobLogo && proof.letterhead_logo_blob ? { bytes: await readBlob(blob, proof.letterhead_logo_blob), sha256: proof.letterhead_logo_sha256! } : null;
    if (logo && sha256Hex(logo.bytes) !== logo.sha256) throw new RenderInputError("the letterhead logo recorded for this proof has changed in storage");
    return { name: proof.letterhead_name!, phone: proof.letterhead_phone, signer: { name: proof.letterhead_signer_name!, title: proof.letterhead_signer_title! }, logo };
  }
  const letterhead = await findLetterhead(tx, job.practice_id);
  const logo = !jobLogo && letterhead?.logo_blob ? { bytes: await readBlob(blob, letterhead.logo_blob), sha256: letterhead.logo_sha256! } : null;
  return { name: practice.dba_name ?? practice.legal_name ?? practice.name, phone: practice.phone ?? null, signer: letterSigner(job, letterhead), logo };
}

/** Everything `proof` renders from (the print file: the approved proof's), with the inputs' SHA-256. */
export async function gatherInputs(tx: Tx, deps: { blob: BlobStore; config: Config }, job: Job, proof: Proof): Promise<RenderInputs> {
  const practice = await findPractice(tx, job.practice_id);
  const recipients = await findVerifiedFile(tx, job.id, "recipients_csv");
  if (!practice || !recipients) throw new RenderInputError("the job has no verified recipient list");
  if (!job.letter_body_enc) throw new RenderInputError("the job has no saved letter");
  const [logoFile, signatureFile] = await Promise.all([findVerifiedFile(tx, job.id, "logo"), findVerifiedFile(tx, job.id, "signature")]);
  // The job's own logo wins; without one, the practice letterhead's logo (practice settings) prints.
  const level = await practiceLevel(tx, deps.blob, job, practice, proof, logoFile);
  const [jobLogo, signature] = await Promise.all([imageOf(deps.blob, logoFile), imageOf(deps.blob, signatureFile)]);
  const logo = jobLogo ?? level.logo?.bytes ?? null;
  // Images stored before the pixel limit existed are refused here, before pdfkit inflates them.
  for (const [what, image] of [["The logo", logo], ["The signature image", signature]] as const) {
    const problem = image ? imageSizeProblem(image, what) : null;
    if (problem) throw new RenderInputError(problem);
  }
  const body = decryptField(deps.config.keys.encryption, job.letter_body_enc, letterContext(job.id));
  const practiceName = level.name;
  const named = level.signer;
  const signer = { name: named.name || practiceName, title: named.title, image: signature };
  const returnAddress: Address = {
    name: job.return_name, line1: job.return_line1, line2: job.return_line2, city: job.return_city, state: job.return_state, zip: job.return_zip,
  };
  const inputsSha256 = createHash("sha256").update(JSON.stringify([
    "plh-render-v1", recipients.sha256, createHash("sha256").update(body).digest("hex"), signer.name, signer.title,
    logoFile?.sha256 ?? level.logo?.sha256 ?? null, signatureFile?.sha256 ?? null, returnAddress, practiceName, level.phone ?? null, job.letter_type, job.mail_class,
  ])).digest("hex");
  return {
    job, practice, recipients,
    template: { body, signer },
    letterhead: { name: practiceName, phone: level.phone ?? null, logo },
    returnAddress,
    letterType: LETTER_TYPES.find((t) => t.value === job.letter_type)?.label ?? job.letter_type,
    mailClass: MAIL_CLASSES.find((m) => m.value === job.mail_class)?.label ?? job.mail_class,
    inputsSha256,
  };
}

/** The date printed on the letters: today in the practice's time zone, e.g. "November 23, 2026". */
export function letterDate(practice: Practice, now = new Date()): string {
  return dateFormat(practice.time_zone, "longDate").format(now);
}
