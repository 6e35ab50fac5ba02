// The print-ready file of an approved job: every letter that passed the list and envelope checks,
// no watermark, streamed into a block blob with bounded memory. It is rendered only from the inputs
// the approved proof was made of (same inputs SHA-256): otherwise the approval no longer holds.
// The practice-level inputs (name, phone, signer, letterhead logo) are the approved proof version's
// snapshot, taken when the job was submitted, so practice settings changed since cannot block it.
// Operators download it through a signed link bound to them, audited in the practice's chain.
import PDFDocument from "pdfkit";
import type { RequestMeta } from "../context.ts";
import { recordAudit } from "../audit/record.ts";
import { isOperator } from "../auth/operators.ts";
import type { Config } from "../config.ts";
import { signLink, verifyLink } from "../platform/crypto.ts";
import { setContext, withContext } from "../platform/db.ts";
import { findJob } from "../jobs/repo.ts";
import { jobTarget } from "../jobs/service.ts";
import { gatherInputs, letterDate } from "./inputs.ts";
import { checkAddress, recipientLines } from "./layout.ts";
import { fastStandardFonts } from "./pdf-stream.ts";
import { recipientRows } from "./recipients.ts";
import { renderLetters } from "./render.ts";
import type { RenderDeps } from "./render-proof.ts";
import { findProductionFile, findProof, updateProductionFile } from "./repo.ts";

const ACTOR = "system:print-renderer" as const;
export const PRINT_FILE_ATTEMPTS = 4;
export const PRINT_LINK_MINUTES = 5;
export const PRINT_SAS_SECONDS = 60;

export class PrintFileError extends Error {}

/** The mailable letters of the list, in order, read only as fast as the renderer takes them. */
async function* mailableLetters(source: AsyncIterable<Uint8Array>, maxRows: number) {
  const metrics = new PDFDocument({ autoFirstPage: false });
  fastStandardFonts(metrics);
  for await (const { recipient, problems } of recipientRows(source, { maxRows })) {
    if (problems.length === 0 && checkAddress(metrics, recipientLines(recipient.fields), "recipient").ok) yield recipient;
  }
}

export async function renderPrintFile(deps: RenderDeps, data: { jobId: string; practiceId: string }): Promise<{ status: string }> {
  const ctx = { actor: ACTOR, practiceId: data.practiceId };
  const started = await withContext(deps.db, ctx, async (tx) => {
    const file = await findProductionFile(tx, data.jobId, { forUpdate: true });
    const job = await findJob(tx, data.jobId);
    if (!file || !job || file.status === "ready") return null;
    const proof = await findProof(tx, file.proof_id);
    // The approved proof's own letterhead snapshot: settings changed since do not reach this job.
    const inputs = proof ? await gatherInputs(tx, deps, job, proof) : null;
    if (!proof || !inputs || proof.sha256 !== job.approved_proof_sha256 || proof.inputs_sha256 !== inputs.inputsSha256) {
      // The approval no longer covers what would be printed: stop for good (retrying cannot help).
      await updateProductionFile(tx, file.id, { status: "failed", attempts: PRINT_FILE_ATTEMPTS, error: "the job's inputs are not those of the approved proof" });
      await recordAudit(tx, {
        practiceId: data.practiceId, actor: { type: "system", id: ACTOR }, action: "job.print_file.rendered", outcome: "error", target: jobTarget(job),
        details: { reason: "inputs_changed" },
      });
      return null;
    }
    const updated = await updateProductionFile(tx, file.id, { status: "rendering", attempts: file.attempts + 1, error: null });
    return { file: updated, inputs };
  });
  if (!started) return { status: "skipped" };
  const { file, inputs } = started;
  const name = `practices/${data.practiceId}/jobs/${data.jobId}/production/${file.id}.pdf`;
  try {
    await deps.blob.remove(name);
    const out = deps.blob.writeStream(name, "application/pdf");
    const rendered = await renderLetters({
      job: { reference: inputs.job.reference, title: "Print file", returnAddress: inputs.returnAddress, date: letterDate(inputs.practice) },
      letterhead: inputs.letterhead, template: inputs.template, watermark: false, out: out.stream,
      recipients: mailableLetters(await deps.blob.readStream(inputs.recipients.blob_name, { leaseId: inputs.recipients.blob_lease_id ?? undefined }), deps.config.uploads.maxRecipients),
    });
    await out.done;
    await withContext(deps.db, ctx, async (tx) => {
      await updateProductionFile(tx, file.id, { status: "ready", blob_name: name, sha256: rendered.sha256, bytes: rendered.bytes, page_count: rendered.pages, letters: rendered.letters, ready_at: new Date() });
      await recordAudit(tx, {
        practiceId: data.practiceId, actor: { type: "system", id: ACTOR }, action: "job.print_file.rendered", target: jobTarget(inputs.job),
        details: { letters: rendered.letters, pages: rendered.pages, sha256: rendered.sha256 },
      });
    });
    return { status: "ready" };
  } catch (error) {
    const message = error instanceof Error ? error.message.slice(0, 300) : "unknown error";
    await withContext(deps.db, ctx, async (tx) => {
      const failed = await updateProductionFile(tx, file.id, { status: "failed", error: message });
      if (failed.attempts >= PRINT_FILE_ATTEMPTS) {
        await recordAudit(tx, {
          practiceId: data.practiceId, actor: { type: "system", id: ACTOR }, action: "job.print_file.rendered", outcome: "error", target: jobTarget(inputs.job),
          details: { attempts: failed.attempts },
        });
      }
    }).catch(() => {});
    throw error;
  }
}

const linkResource = (jobId: string) => `print-file:${jobId}`;

export function printFilePath(config: Config, operatorId: string, jobId: string, now = Date.now()): string {
  const token = signLink(config.keys.hmac, { resource: linkResource(jobId), userId: operatorId, expiresAt: new Date(now + PRINT_LINK_MINUTES * 60_000) });
  return `/operator/jobs/${jobId}/print-file?token=${encodeURIComponent(token)}`;
}

/**
 * Follows a print-file link for an operator: the link (signature, expiry, key, this operator),
 * then the job (in the operators' hands) and its ready file; audits the download in the job's
 * practice chain and returns a read URL valid PRINT_SAS_SECONDS. A bad link is audited as denied.
 */
export async function openPrintFile(deps: RenderDeps, operatorId: string, jobId: string, token: string, request: RequestMeta): Promise<string> {
  const check = verifyLink(deps.config.keys.hmac, token, { resource: linkResource(jobId), userId: operatorId });
  const ctx = { actor: `operator:${operatorId}`, userId: operatorId };
  const refuse = async (reason: string, message: string) => {
    await withContext(deps.db, ctx, (tx) => recordAudit(tx, {
      practiceId: null, actor: { type: "operator", id: operatorId }, action: "job.print_file.downloaded", outcome: "denied",
      target: { type: "route", id: "GET /operator/jobs/:id/print-file" }, details: { reason }, request,
    }));
    return new PrintFileError(message);
  };
  if (!check.ok) throw await refuse(check.reason, check.reason === "expired" ? "This download link has expired. Open the queue again for a fresh one." : "This download link is not valid for you.");
  const found = await withContext(deps.db, ctx, async (tx) => {
    if (!(await isOperator(tx, operatorId))) return null;
    const job = /^[0-9a-f-]{36}$/i.test(jobId) ? await findJob(tx, jobId) : undefined;
    const file = job ? await findProductionFile(tx, job.id) : undefined;
    if (!job || !file || file.status !== "ready" || !file.blob_name) return null;
    await setContext(tx, { practiceId: job.practice_id });
    await recordAudit(tx, {
      practiceId: job.practice_id, actor: { type: "operator", id: operatorId }, action: "job.print_file.downloaded", target: jobTarget(job), request,
      details: { sha256: file.sha256! },
    });
    return { file, job };
  });
  if (!found) throw await refuse("not_found", "There is no print file for this job.");
  return deps.blob.readUrl(found.file.blob_name!, { seconds: PRINT_SAS_SECONDS, downloadName: `${found.job.reference}-print.pdf` });
}
