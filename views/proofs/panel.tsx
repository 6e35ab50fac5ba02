// The proof section of a job page: the proof's state in words, a signed "View proof" link for those
// who may open it, approve / request changes for reviewers, and a retry after a failed render.

export type ProofSectionProps = {
  jobId: string;
  proof: {
    id: string; version: number; status: "queued" | "rendering" | "ready" | "failed"; attempts: number; maxAttempts: number;
    sha256: string | null; pages: number | null; valid: number | null; invalid: number | null; envelopeFailures: number | null;
    totalSheets: number | null; readyAt: string | null; changesComment: string | null;
    /** When the practice letterhead this proof prints was recorded (the job's submission); null on older proofs. */
    letterheadAt?: string | null;
  } | null;
  viewPath: string | null;
  canReview: boolean;
  reviewBlocked: string | null;
  canRetry: boolean;
  approved: { by: string; at: string; sha256: string } | null;
  errors?: Record<string, string>;
  comment?: string;
};

function state(p: NonNullable<ProofSectionProps["proof"]>): string {
  switch (p.status) {
    case "queued": return `Proof ${p.version} is waiting to be rendered.`;
    case "rendering": return `Proof ${p.version} is being rendered.`;
    case "ready": return `Proof ${p.version} is ready: ${p.pages} pages. ${p.valid} letters will be mailed${p.invalid ? `, ${p.invalid} rows will not (listed on the proof's cover)` : ""}${p.envelopeFailures ? `, including ${p.envelopeFailures} addresses that do not fit the envelope window` : ""}; about ${p.totalSheets} sheets.`;
    case "failed": return p.attempts >= p.maxAttempts
      ? `Proof ${p.version} could not be rendered after ${p.attempts} attempts.`
      : `Rendering proof ${p.version} failed (attempt ${p.attempts} of ${p.maxAttempts}); it is retried automatically.`;
  }
}

export function ProofSection(props: ProofSectionProps) {
  const p = props.proof;
  const e = props.errors ?? {};
  return (
    <section aria-labelledby="proof-title" id="proof">
      <h2 id="proof-title">Proof</h2>
      {!p ? <p>No proof yet: one is rendered when the job is submitted.</p> : (
        <>
          <p role="status">{state(p)}</p>
          {p.changesComment ? <p>Changes requested on this proof: <q>{p.changesComment}</q></p> : null}
          {p.letterheadAt ? (
            <p class="muted" id="proof-letterhead">
              This proof, and the print file made from it, use the practice letterhead (practice name, phone, signer and logo) as it was on {p.letterheadAt},
              when the proof was requested. Changes made in practice settings since then apply to the next submission, not to this proof.
            </p>
          ) : null}
          {props.viewPath ? (
            <p>
              <a class="button" href={props.viewPath} target="_blank" rel="noopener noreferrer">View proof {p.version}<span class="visually-hidden"> (PDF, opens in a new tab)</span></a>{" "}
              <span class="muted">The link works for you for 5 minutes; each opening is recorded.</span>
            </p>
          ) : null}
          {props.approved ? <p>Approved by {props.approved.by} on {props.approved.at}. The approval covers exactly the proof with SHA-256 <code class="hash">{props.approved.sha256}</code>.</p> : null}
          {props.reviewBlocked ? <p class="alert alert-info">{props.reviewBlocked}</p> : null}
          {props.canReview && !props.reviewBlocked && p.sha256 ? (
            <div class="review">
              <form method="post" action={`/jobs/${props.jobId}/proofs/${p.id}/approve`}>
                <input type="hidden" name="sha256" value={p.sha256} />
                <p>Approve only after opening the proof and checking every page: approval sends exactly this proof to print.</p>
                <button type="submit" class="button">Approve proof {p.version}</button>
              </form>
              <form method="post" action={`/jobs/${props.jobId}/proofs/${p.id}/changes`}>
                <div class="field">
                  <label for="field-comment">What should change? (no patient names or details)</label>
                  <textarea id="field-comment" name="comment" rows={3} maxlength={2000} required aria-invalid={e.comment ? "true" : undefined} aria-describedby={e.comment ? "field-comment-error" : undefined}>{props.comment ?? ""}</textarea>
                  {e.comment ? <p class="field-error" id="field-comment-error">{e.comment}</p> : null}
                </div>
                <button type="submit" class="button button-secondary">Request changes</button>
              </form>
            </div>
          ) : null}
          {props.canRetry ? (
            <form method="post" action={`/jobs/${props.jobId}/proofs/retry`}>
              <button type="submit" class="button">Render the proof again</button>
            </form>
          ) : null}
        </>
      )}
    </section>
  );
}

/** The two-person approval rule, for admins. */
export function ApprovalRuleForm(props: { on: boolean }) {
  return (
    <form method="post" action="/practice/approval-rule" class="inline-form" aria-labelledby="approval-rule-title">
      <h2 id="approval-rule-title">Proof approval</h2>
      <p>{props.on ? "The two-person rule is on: whoever submits a job cannot approve its proof." : "Anyone who may approve proofs can approve any job's proof, including one they submitted."}</p>
      <input type="hidden" name="twoPerson" value={props.on ? "off" : "on"} />
      <button type="submit" class="button button-secondary">{props.on ? "Turn the two-person rule off" : "Turn the two-person rule on"}</button>
    </form>
  );
}
