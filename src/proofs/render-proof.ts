// The proof renderer, run by the queue when a job is submitted. One pass over the recipient list
// counts what can be mailed (list check and envelope check for every letter) and keeps only the
// letters the proof shows: the first five, the last, and the one with the longest address. Then
// the proof (cover + those letters, watermarked PROOF) streams straight into blob storage.
// Idempotent: a proof already ready is left alone; a retry starts over under the same name.
import PDFDocument from "pdfkit";
import type { Config } from "../config.ts";
import { recordAudit } from "../audit/record.ts";
import type { BlobStore } from "../platform/blob.ts";
import { type Db, withContext } from "../platform/db.ts";
import type { Logger } from "../platform/log.ts";
import type { Mailer } from "../platform/mail.ts";
import type { Proof } from "../platform/schema.ts";
import { findJob } from "../jobs/repo.ts";
import { moveJobAs, jobTarget } from "../jobs/service.ts";
import { notifyProofReady } from "../jobs/notifications.ts";
import { drawCover } from "./cover.ts";
import { gatherInputs, letterDate } from "./inputs.ts";
import { checkAddress, recipientLines } from "./layout.ts";
import { fastStandardFonts } from "./pdf-stream.ts";
import { readRecipients, type Recipient } from "./recipients.ts";
import { renderLetters } from "./render.ts";
import { findProof, updateProof } from "./repo.ts";

export const PROOF_ATTEMPTS = 4;
const ACTOR = "system:proof-renderer" as const;
const SHOWN_PROBLEMS = 500;

export type RenderDeps = { db: Db; blob: BlobStore; config: Config; mailer: Mailer; logger: Logger };

export function proofBlobName(proof: Pick<Proof, "id" | "practice_id" | "job_id">): string {
  return `practices/${proof.practice_id}/jobs/${proof.job_id}/proofs/${proof.id}.pdf`;
}

type Sample = { first: Recipient[]; last: Recipient | null; longest: Recipient | null; longestLength: number };

/** One pass: counts, problems (list and envelope) and the letters to show. */
async function survey(source: AsyncIterable<Uint8Array>, maxRows: number) {
  const metrics = new PDFDocument({ autoFirstPage: false });
  fastStandardFonts(metrics);
  const sample: Sample = { first: [], last: null, longest: null, longestLength: -1 };
  const problems: { row: number; reasons: string[] }[] = [];
  let rows = 0;
  let valid = 0;
  let envelopeFailures = 0;
  await readRecipients(source, (recipient, reasons) => {
    rows++;
    const lines = recipientLines(recipient.fields);
    const envelope = reasons.length ? null : checkAddress(metrics, lines, "recipient");
    if (envelope && !envelope.ok) {
      envelopeFailures++;
      reasons = envelope.reasons.map((r) => `envelope: ${r}`);
    }
    if (reasons.length) {
      if (problems.length < SHOWN_PROBLEMS) problems.push({ row: recipient.row, reasons });
      return;
    }
    valid++;
    if (sample.first.length < 5) sample.first.push(recipient);
    else sample.last = recipient;
    const length = lines.join("\n").length;
    if (length > sample.longestLength) {
      sample.longest = recipient;
      sample.longestLength = length;
    }
  }, { maxRows });
  return { rows, valid, invalid: rows - valid, envelopeFailures, problems, sample };
}

function sampleLetters(s: Sample): { letters: Recipient[]; words: string } {
  const letters = [...s.first];
  if (s.last) letters.push(s.last);
  if (s.longest && !letters.includes(s.longest)) letters.push(s.longest);
  const parts = [`the first ${s.first.length} letter${s.first.length === 1 ? "" : "s"} (rows ${s.first.map((r) => r.row).join(", ")})`];
  if (s.last) parts.push(`the last letter (row ${s.last.row})`);
  if (s.longest) parts.push(`the letter with the longest address (row ${s.longest.row})${s.first.includes(s.longest) || s.longest === s.last ? ", already among these" : ""}`);
  return { letters, words: `This proof shows ${parts.join(", ")}. Every page carries its letter's match code.` };
}

/** Renders one proof. Throws (for the queue to retry) after recording the failure on the proof. */
export async function renderProof(deps: RenderDeps, data: { proofId: string; practiceId: string }): Promise<{ status: string }> {
  const ctx = { actor: ACTOR, practiceId: data.practiceId };
  const started = await withContext(deps.db, ctx, async (tx) => {
    const proof = await findProof(tx, data.proofId, { forUpdate: true });
    if (!proof || proof.status === "ready") return null;
    const job = await findJob(tx, proof.job_id);
    if (!job) return null;
    const inputs = await gatherInputs(tx, deps, job, proof);
    const updated = await updateProof(tx, proof.id, { status: "rendering", attempts: proof.attempts + 1, started_at: new Date(), error: null });
    return { proof: updated, inputs };
  });
  if (!started) return { status: "skipped" };
  const { proof, inputs } = started;
  try {
    const found = await survey(await deps.blob.readStream(inputs.recipients.blob_name, { leaseId: inputs.recipients.blob_lease_id ?? undefined }), deps.config.uploads.maxRecipients);
    const { letters, words } = sampleLetters(found.sample);
    const name = proofBlobName(proof);
    // A retry after a crash may find a half-written blob of its own: start over under the same name.
    await deps.blob.remove(name);
    const out = deps.blob.writeStream(name, "application/pdf");
    let maxPages = 1;
    const rendered = await renderLetters({
      job: { reference: inputs.job.reference, title: `Proof ${proof.version}`, returnAddress: inputs.returnAddress, date: letterDate(inputs.practice) },
      letterhead: inputs.letterhead, template: inputs.template, recipients: letters, watermark: true, out: out.stream,
      onLetter: (l) => { maxPages = Math.max(maxPages, l.pages); },
      cover: (doc) => drawCover(doc, {
        reference: inputs.job.reference, practiceName: inputs.letterhead.name, letterType: inputs.letterType, mailClass: inputs.mailClass,
        version: proof.version, recipients: found.rows, valid: found.valid, invalid: found.invalid, pagesPerLetter: maxPages,
        totalSheets: found.valid * maxPages, inputsSha256: inputs.inputsSha256, envelopeFailures: found.envelopeFailures,
        returnAddressOk: checkAddress(new PDFDocument({ autoFirstPage: false }), [inputs.returnAddress.name, inputs.returnAddress.line1, inputs.returnAddress.line2 ?? "", `${inputs.returnAddress.city}, ${inputs.returnAddress.state} ${inputs.returnAddress.zip}`].filter(Boolean), "return").ok,
        problems: found.problems, sample: words, generatedAt: new Date().toISOString(),
      }),
    });
    await out.done;
    const ready = await withContext(deps.db, ctx, async (tx) => {
      const current = await findProof(tx, proof.id, { forUpdate: true });
      if (!current || current.status === "ready") return null;
      const done = await updateProof(tx, proof.id, {
        status: "ready", blob_name: name, sha256: rendered.sha256, bytes: rendered.bytes, page_count: rendered.pages, inputs_sha256: inputs.inputsSha256,
        recipients: found.rows, valid: found.valid, invalid: found.invalid, envelope_failures: found.envelopeFailures,
        pages_per_letter: maxPages, total_sheets: found.valid * maxPages, report: JSON.stringify({ problems: found.problems, returnAddress: rendered.returnAddress.ok ? [] : rendered.returnAddress.reasons }),
        ready_at: new Date(),
      });
      await recordAudit(tx, {
        practiceId: data.practiceId, actor: { type: "system", id: ACTOR }, action: "proof.rendered", target: jobTarget(inputs.job),
        details: { proof_id: proof.id, version: proof.version, valid: found.valid, invalid: found.invalid, pages: rendered.pages, sha256: rendered.sha256 },
      });
      // The job moves on only if it still waits for this proof (it may have been cancelled meanwhile).
      const job = await findJob(tx, inputs.job.id, { forUpdate: true });
      if (job?.status === "submitted") {
        await moveJobAs(tx, job, "proof_ready", { lifecycle: { kind: "system" }, audit: { type: "system", id: ACTOR } }, {}, { proof_version: proof.version });
        return { proof: done, job };
      }
      return null;
    });
    if (ready) await notifyProofReady({ ...deps, appOrigin: deps.config.appOrigin }, ready.job, ready.proof.version);
    return { status: "ready" };
  } catch (error) {
    const message = error instanceof Error ? error.message.slice(0, 300) : "unknown error";
    await withContext(deps.db, ctx, async (tx) => {
      const failed = await updateProof(tx, proof.id, { status: "failed", error: message });
      if (failed.attempts >= PROOF_ATTEMPTS) {
        await recordAudit(tx, {
          practiceId: data.practiceId, actor: { type: "system", id: ACTOR }, action: "proof.rendered", outcome: "error", target: jobTarget(inputs.job),
          details: { proof_id: proof.id, version: proof.version, attempts: failed.attempts },
        });
      }
    }).catch(() => {});
    throw error;
  }
}
