// Turns a proof panel (service data) into what the job page's proof section shows.
import type { ProofSectionProps } from "../../views/proofs/panel.tsx";
import { PROOF_ATTEMPTS } from "./render-proof.ts";
import type { ProofPanel } from "./service.ts";

export function proofSectionProps(panel: ProofPanel, at: (d: Date) => { text: string }, name: (id: string | null) => string): ProofSectionProps {
  const p = panel.proof;
  const job = panel.job;
  return {
    jobId: job.id,
    proof: p ? {
      id: p.id, version: p.version, status: p.status, attempts: p.attempts, maxAttempts: PROOF_ATTEMPTS, sha256: p.sha256, pages: p.page_count,
      valid: p.valid, invalid: p.invalid, envelopeFailures: p.envelope_failures, totalSheets: p.total_sheets,
      readyAt: p.ready_at ? at(p.ready_at).text : null, changesComment: p.changes_comment,
      letterheadAt: p.letterhead_at ? at(p.letterhead_at).text : null,
    } : null,
    viewPath: panel.viewPath,
    canReview: panel.canReview,
    reviewBlocked: panel.reviewBlocked,
    canRetry: panel.canRetry,
    approved: job.approved_at && job.approved_proof_sha256 ? { by: name(job.approved_by), at: at(job.approved_at).text, sha256: job.approved_proof_sha256 } : null,
  };
}
