// The jobs dashboard, the job page and its live status. Pure functions of the data they get:
// times arrive already formatted in the practice's time zone, with their UTC value for <time>.
import { ProofSection, type ProofSectionProps } from "../proofs/panel.tsx";
import { useNonce } from "../components/nonce-context.ts";
import { FormErrors } from "../components/field.tsx";
import type { FileView, Option } from "./wizard.tsx";

export type StatusView = { value: string; label: string };

/** A status as text first; the colour only repeats it. */
export function StatusBadge(props: { status: StatusView }) {
  return <span class={`badge badge-${props.status.value}`}>{props.status.label}</span>;
}

// ---- dashboard -------------------------------------------------------------------------------------

export type JobRowView = { id: string; reference: string; title: string; letterType: string; mailClass: string; status: StatusView; updated: string; updatedUtc: string };

export type DashboardProps = {
  practiceName: string;
  canCreate: boolean;
  q: string;
  status: string;
  statuses: readonly Option[];
  rows: JobRowView[];
  total: number;
  page: number;
  pages: number;
  prevHref: string | null;
  nextHref: string | null;
};

export function JobResults(props: DashboardProps) {
  const filtered = Boolean(props.q || props.status);
  return (
    <div id="job-results">
      <p role="status" class="muted">
        {props.total === 0 ? (filtered ? "No jobs match your search." : "No jobs yet.") : `${props.total} ${props.total === 1 ? "job" : "jobs"}${filtered ? " match" : ""}. Page ${props.page} of ${props.pages}.`}
      </p>
      {props.rows.length ? (
        <div class="table-wrap">
          <table class="data-table">
            <caption class="visually-hidden">Jobs of {props.practiceName}, most recently changed first</caption>
            <thead>
              <tr><th scope="col">Reference</th><th scope="col">Title</th><th scope="col">Kind of letter</th><th scope="col">Mail class</th><th scope="col">Status</th><th scope="col">Last change</th></tr>
            </thead>
            <tbody>
              {props.rows.map((r) => (
                <tr>
                  <th scope="row"><a href={`/jobs/${r.id}`}>{r.reference}</a></th>
                  <td>{r.title}</td>
                  <td>{r.letterType}</td>
                  <td>{r.mailClass}</td>
                  <td><StatusBadge status={r.status} /></td>
                  <td><time datetime={r.updatedUtc}>{r.updated}</time></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {props.pages > 1 ? (
        <nav aria-label="Pages of jobs" class="pager">
          {props.prevHref ? <a href={props.prevHref} rel="prev">Previous page</a> : <span class="muted">Previous page</span>}
          <span>Page {props.page} of {props.pages}</span>
          {props.nextHref ? <a href={props.nextHref} rel="next">Next page</a> : <span class="muted">Next page</span>}
        </nav>
      ) : null}
    </div>
  );
}

export function JobsDashboardPage(props: DashboardProps) {
  const nonce = useNonce();
  return (
    <section aria-labelledby="jobs-title">
      <div class="page-head">
        <h1 id="jobs-title">Jobs</h1>
        {props.canCreate ? <a class="button" href="/jobs/new">New job</a> : null}
      </div>
      <form method="get" action="/jobs" role="search" class="filters" hx-get="/jobs" hx-target="#job-results" hx-swap="outerHTML" hx-push-url="true" hx-nonce={nonce}>
        <div class="field">
          <label for="field-q">Search by reference or title</label>
          <input id="field-q" name="q" type="search" value={props.q} maxlength={120} />
        </div>
        <div class="field">
          <label for="field-status">Status</label>
          <select id="field-status" name="status">
            <option value="">All statuses</option>
            {props.statuses.map((s) => <option value={s.value} selected={s.value === props.status}>{s.label}</option>)}
          </select>
        </div>
        <button type="submit" class="button button-secondary">Search</button>
      </form>
      <JobResults {...props} />
    </section>
  );
}

// ---- job page --------------------------------------------------------------------------------------

export type JobStatusProps = { jobId: string; status: StatusView; explanation: string; updated: string; updatedUtc: string; poll: boolean };

/**
 * The live status. While the job is moving (someone else moves it next) it polls every 5 s and
 * morphs itself in place, so the status region is announced only when its text changes; in any
 * other state the answer carries no trigger, which ends the polling (htmx 4 has no 286).
 */
export function JobStatusRegion(props: JobStatusProps) {
  const nonce = useNonce();
  const polling = props.poll
    ? { "hx-get": `/jobs/${props.jobId}/status`, "hx-trigger": "every 5s", "hx-swap": "outerMorph", "hx-nonce": nonce }
    : {};
  return (
    <div id="job-status" class="job-status" {...polling}>
      <p role="status" aria-live="polite">Status: <StatusBadge status={props.status} /> <span class="muted">(since <time datetime={props.updatedUtc}>{props.updated}</time>)</span></p>
      <p class="hint">{props.explanation}{props.poll ? " This updates by itself." : ""}</p>
    </div>
  );
}

export type TimelineEntry = { when: string; whenUtc: string; what: string; who: string; outcome: string };

export type JobPageProps = {
  jobId: string;
  proof: ProofSectionProps;
  reference: string;
  title: string;
  status: JobStatusProps;
  facts: { label: string; value: string }[];
  returnAddress: string[];
  files: FileView[];
  attestation: { by: string; at: string; atUtc: string; version: string; sha256: string } | null;
  letter: { length: number; fields: string[]; at: string; atUtc: string; by: string } | null;
  /** proofs.view: may open the letter text. */
  canReadLetter: boolean;
  /** jobs.write and editable: the wizard's next step. */
  resumeHref: string | null;
  canCancel: boolean;
  blockers: string[];
  cancelled: { by: string; at: string; atUtc: string; reason: string } | null;
  /** Once the job's data was purged (retention): when, and the certificate link for admins and auditors. */
  purged?: { at: string; atUtc: string; certificateHref: string | null } | null;
  timeline: TimelineEntry[];
  timeZone: string;
  cancelErrors?: Record<string, string>;
  cancelValue?: string;
  message?: string;
};

function CancelForm(props: JobPageProps) {
  const nonce = useNonce();
  const e = props.cancelErrors ?? {};
  return (
    <details class="cancel-job" open={Boolean(props.cancelErrors)}>
      <summary>Cancel this job</summary>
      <form method="post" action={`/jobs/${props.jobId}/cancel`} novalidate hx-post={`/jobs/${props.jobId}/cancel`} hx-target="#job-page" hx-swap="outerHTML" hx-nonce={nonce}>
        <FormErrors errors={e} />
        <div class="field">
          <label for="field-reason">Why is it cancelled?</label>
          <p class="hint" id="field-reason-hint">Kept with the job for your team. No patient information.</p>
          <textarea id="field-reason" name="reason" rows={3} maxlength={500} required aria-invalid={e.reason ? "true" : undefined}
            aria-describedby={["field-reason-hint", e.reason ? "field-reason-error" : null].filter(Boolean).join(" ")}>{props.cancelValue ?? ""}</textarea>
          {e.reason ? <p class="field-error" id="field-reason-error">{e.reason}</p> : null}
        </div>
        <button type="submit" class="button button-danger">Cancel the job</button>
      </form>
    </details>
  );
}

export function JobPage(props: JobPageProps) {
  return (
    <section id="job-page" aria-labelledby="job-title">
      <p class="eyebrow"><a href="/jobs">Jobs</a> / {props.reference}</p>
      <h1 id="job-title">{props.reference}: {props.title}</h1>
      {props.message ? <div class="alert alert-error" role="alert"><p>{props.message}</p></div> : null}
      <JobStatusRegion {...props.status} />
      <ProofSection {...props.proof} />
      {props.cancelled ? (
        <p>Cancelled by {props.cancelled.by} on <time datetime={props.cancelled.atUtc}>{props.cancelled.at}</time>.{props.cancelled.reason ? ` Reason: ${props.cancelled.reason}` : ""}</p>
      ) : null}
      {props.purged ? (
        <div class="alert alert-info" id="job-purged">
          <p>Files deleted on <time datetime={props.purged.atUtc}>{props.purged.at}</time>: the uploads, proofs, print file and letter text are gone; this record stays.
            {props.purged.certificateHref ? <> <a href={props.purged.certificateHref}>Certificate of destruction (PDF)</a></> : null}</p>
        </div>
      ) : null}
      {props.resumeHref ? (
        <div class="actions">
          <a class="button" href={props.resumeHref}>Continue setting up this job</a>
        </div>
      ) : null}
      {props.blockers.length ? (
        <div class="alert alert-info"><p>Before it can be submitted:</p><ul>{props.blockers.map((b) => <li>{b}</li>)}</ul></div>
      ) : null}

      <h2>Details</h2>
      <dl class="facts">
        {props.facts.map((f) => <><dt>{f.label}</dt><dd>{f.value}</dd></>)}
        <dt>Return address</dt><dd>{props.returnAddress.map((l) => <>{l}<br /></>)}</dd>
      </dl>

      <h2>Files</h2>
      {props.files.length ? (
        <div class="table-wrap">
          <table class="data-table">
            <thead><tr><th scope="col">Kind</th><th scope="col">State</th><th scope="col">Size</th><th scope="col">Added</th></tr></thead>
            <tbody>{props.files.map((f) => <tr><td>{f.kind}</td><td>{f.state}</td><td>{f.size}</td><td>{f.when}</td></tr>)}</tbody>
          </table>
        </div>
      ) : <p class="muted">No files yet.</p>}

      <h2>PHI attestation</h2>
      {props.attestation ? (
        <dl class="facts">
          <dt>Attested by</dt><dd>{props.attestation.by}</dd>
          <dt>When</dt><dd><time datetime={props.attestation.atUtc}>{props.attestation.at}</time></dd>
          <dt>Statement version</dt><dd>{props.attestation.version} (SHA-256 <code class="hash">{props.attestation.sha256}</code>)</dd>
        </dl>
      ) : <p class="muted">Not attested yet.</p>}

      <h2>Letter</h2>
      {props.letter ? (
        <p>
          {props.letter.length.toLocaleString("en-US")} characters, merge fields: {props.letter.fields.length ? props.letter.fields.map((f) => `{{${f}}}`).join(", ") : "none"}.
          Saved by {props.letter.by} on <time datetime={props.letter.atUtc}>{props.letter.at}</time>.{" "}
          {props.canReadLetter ? <a href={`/jobs/${props.jobId}/letter`}>Read the letter</a> : <span class="muted">The letter text is shown to practice admins and staff only.</span>}
        </p>
      ) : <p class="muted">No letter saved yet.</p>}

      {props.canCancel ? <CancelForm {...props} /> : null}

      <h2 id="timeline-title">Timeline</h2>
      <p class="hint">Times in {props.timeZone}. From the audit trail: every change to this job, who made it and when.</p>
      <ol class="timeline" aria-labelledby="timeline-title">
        {props.timeline.map((e) => (
          <li>
            <time datetime={e.whenUtc}>{e.when}</time> · <strong>{e.what}</strong> · {e.who}{e.outcome !== "success" ? ` · ${e.outcome}` : ""}
          </li>
        ))}
      </ol>
    </section>
  );
}
