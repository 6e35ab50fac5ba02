// The Data and retention page (admins; auditors read-only): the policy, the sweep history, the
// certificates of destruction. Pure function of its props.
import type { Child } from "hono/jsx";

export type PolicyView = { jobDataDays: number; draftDays: number; auditYears: number };
export type SweepRunView = { name: string; started: string; startedUtc: string; cutoffUtc: string; state: string };
export type CertificateView = { reference: string; jobId: string; verificationId: string; purged: string; purgedUtc: string; blobs: number; bytes: string; sha256: string; hashOf: "manifest" | "PDF"; href: string };

export type RetentionPageProps = {
  policy: PolicyView;
  runs: SweepRunView[];
  certificates: CertificateView[];
  /**
   * The "Data requests" section (exports and deletion requests), rendered in its own place on the
   * page when given: src/retention/requests* fills it.
   */
  dataRequests?: Child;
};

export function RetentionPage(props: RetentionPageProps) {
  const p = props.policy;
  return (
    <section id="retention-page" aria-labelledby="retention-title">
      <h1 id="retention-title">Data and retention</h1>

      <h2>Policy</h2>
      <ul id="retention-policy">
        <li>Job files (uploads, proofs, print file) and the letter text are deleted <strong>{p.jobDataDays} days</strong> after a job is completed or cancelled; a certificate of destruction is kept for each job: an unchangeable record of every file deleted (name, size and SHA-256), whose fingerprint is in the audit trail, downloadable as a PDF.</li>
        <li>Drafts without activity for <strong>{p.draftDays} days</strong> are cancelled, then deleted on the same rule.</li>
        <li>Uploads whose upload link expired unverified are deleted within minutes.</li>
        <li>The audit trail is kept <strong>{p.auditYears} years</strong>.</li>
      </ul>

      {/* Data requests (export, deletion): a section of its own, filled by the data-requests feature. */}
      <div id="data-requests-slot">{props.dataRequests ?? null}</div>

      <h2>Certificates of destruction</h2>
      {props.certificates.length ? (
        <div class="table-wrap">
          <table class="data-table" id="certificates">
            <thead><tr><th scope="col">Job</th><th scope="col">Deleted</th><th scope="col">Files</th><th scope="col">Verification id</th><th scope="col">Certificate</th></tr></thead>
            <tbody>{props.certificates.map((c) => (
              <tr>
                <td><a href={`/jobs/${c.jobId}`}>{c.reference}</a></td>
                <td><time datetime={c.purgedUtc}>{c.purged}</time></td>
                <td>{c.blobs} ({c.bytes})</td>
                <td><code>{c.verificationId}</code></td>
                <td><a href={c.href}>Download PDF</a> <span class="muted">{c.hashOf === "manifest" ? "Manifest SHA-256" : "SHA-256"} <code>{c.sha256.slice(0, 16)}…</code></span></td>
              </tr>
            ))}</tbody>
          </table>
        </div>
      ) : <p class="muted">No job's data has been deleted yet.</p>}

      <h2>Sweep history</h2>
      <p class="muted">The latest runs of the retention sweeps (platform-wide; what they did in this practice is in the audit trail as retention.swept). A run shown as interrupted stopped before it finished (its process was stopped): the batches it completed stay and are in the audit trail, and the next run did or will do the rest.</p>
      {props.runs.length ? (
        <div class="table-wrap">
          <table class="data-table" id="sweep-runs">
            <thead><tr><th scope="col">Sweep</th><th scope="col">Started</th><th scope="col">Cutoff (UTC)</th><th scope="col">Result</th></tr></thead>
            <tbody>{props.runs.map((r) => (
              <tr><td>{r.name}</td><td><time datetime={r.startedUtc}>{r.started}</time></td><td>{r.cutoffUtc}</td><td>{r.state}</td></tr>
            ))}</tbody>
          </table>
        </div>
      ) : <p class="muted">No sweep has run yet.</p>}
    </section>
  );
}
