// The "Data requests" section: admins request an export or the deletion of the practice's data (and
// withdraw a scheduled deletion); auditors read the list. Pure function of what the route gives it;
// the /retention page embeds <DataRequestsSection> (or links to /retention/requests).

export type DataRequestRow = {
  id: string;
  kind: "export" | "deletion";
  status: string;
  requestedBy: string;
  requestedAtUtc: string;
  dueAtUtc: string | null;
  processedAtUtc: string | null;
  expiresAtUtc: string | null;
  sha256: string | null;
  /** A signed link (the export's requester, or any reader for a certificate); null when none. */
  downloadHref: string | null;
  canWithdraw: boolean;
  /** An export that failed, for an admin: "Try again". */
  canRetry: boolean;
  /** Build attempts of an export. */
  attempts: number;
};

export type DataRequestsProps = {
  practiceName: string;
  practiceStatus: string;
  confirmationName: string;
  canManage: boolean;
  rows: DataRequestRow[];
  /** Jobs in production or mailed now (a deletion falling due waits for them). */
  jobsInProduction: number;
  /** How many times an export is attempted before it fails. */
  exportAttempts: number;
  notice?: string;
  error?: string;
};

const STATUS_WORDS: Record<string, string> = {
  queued: "Being prepared", ready: "Ready", failed: "Failed", purged: "Expired and deleted",
  scheduled: "Scheduled", withdrawn: "Withdrawn", processing: "In progress", completed: "Completed",
};

export function DataRequestsSection(props: DataRequestsProps) {
  const scheduled = props.rows.find((r) => r.kind === "deletion" && r.status === "scheduled");
  return (
    <section id="data-requests" aria-labelledby="data-requests-title">
      <h2 id="data-requests-title">Data requests</h2>
      {props.notice ? <div class="alert alert-success" role="status"><p>{props.notice}</p></div> : null}
      {props.error ? <div class="alert alert-error" role="alert"><p>{props.error}</p></div> : null}
      {props.practiceStatus === "suspended" ? <div class="alert alert-info" role="status"><p>This practice is closed.</p></div> : null}
      <p>
        An export is a ZIP of the practice profile, members, job details (no letters, no recipients), the audit trail, the BAA
        signature records and executed agreements, the letterhead and logo, the incident reports made from the practice (with their
        descriptions), and certificates of destruction. Only the administrator who asked for it can
        download it, for 7 days; then it is deleted.
      </p>
      <p>
        A deletion is carried out 30 days after it is requested and can be withdrawn until then. It cancels every job not yet in
        production, deletes all job data (files, proofs, print files, letters, templates, the letterhead and logo, and exports),
        anonymises members who belong to no other practice (with their email preferences), ends sessions and closes the practice: from
        then on nobody, including members of other practices, can open it. <strong> The audit trail and the Business Associate Agreement
        record are kept, as the law requires</strong>, with a certificate of destruction for each job and a final certificate of deletion.
        <span id="deletion-incident-rule"> Incident reports made from the practice are security records and are kept too; the name and
        email of a reporter who is anonymised are removed from them.</span>
      </p>
      <p id="deletion-production-rule">
        Jobs already in production or mailed when the deletion falls due cannot be stopped: the print shop finishes them, and their data
        is deleted as soon as each is completed (checked every hour); the final certificate is issued then.
        {props.jobsInProduction > 0 ? <> This practice has <strong>{props.jobsInProduction} job{props.jobsInProduction === 1 ? "" : "s"} in production or mailed</strong> now.</> : null}
      </p>
      {props.canManage ? (
        <div class="data-request-forms">
          <form method="post" action="/retention/requests/export">
            <button type="submit">Request a data export</button>
          </form>
          {scheduled ? (
            <p>A deletion is scheduled for {scheduled.dueAtUtc?.slice(0, 10)} (UTC).</p>
          ) : (
            <form method="post" action="/retention/requests/deletion">
              <label for="confirmation">To request the deletion of {props.practiceName}'s data, type the practice's legal name: <strong>{props.confirmationName}</strong></label>
              <input id="confirmation" name="confirmation" type="text" autocomplete="off" required />
              <button type="submit" class="danger">Request deletion in 30 days</button>
            </form>
          )}
        </div>
      ) : (
        <p>Only an administrator can make data requests; you can see them here.</p>
      )}
      {props.rows.length ? (
        <table>
          <caption>Requests, newest first</caption>
          <thead><tr><th scope="col">Kind</th><th scope="col">Status</th><th scope="col">Requested (UTC)</th><th scope="col">By</th><th scope="col">Due / expires (UTC)</th><th scope="col">Done (UTC)</th><th scope="col"></th></tr></thead>
          <tbody>
            {props.rows.map((r) => (
              <tr>
                <td>{r.kind === "export" ? "Export" : "Deletion"}</td>
                <td>
                  {STATUS_WORDS[r.status] ?? r.status}
                  {r.kind === "export" && r.status === "failed" ? <span class="muted"> — the export could not be built{r.attempts ? ` (${r.attempts} of ${props.exportAttempts} attempts)` : ""}.</span> : null}
                </td>
                <td>{r.requestedAtUtc.slice(0, 16).replace("T", " ")}</td>
                <td>{r.requestedBy}</td>
                <td>{(r.kind === "deletion" ? r.dueAtUtc : r.expiresAtUtc)?.slice(0, 16).replace("T", " ") ?? ""}</td>
                <td>{r.processedAtUtc?.slice(0, 16).replace("T", " ") ?? ""}</td>
                <td>
                  {r.downloadHref ? <a href={r.downloadHref}>{r.kind === "export" ? "Download ZIP" : "Certificate (PDF)"}</a> : null}
                  {r.canRetry ? (
                    <form method="post" action={`/retention/requests/${r.id}/retry`}><button type="submit" aria-label="Try the export again">Try again</button></form>
                  ) : null}
                  {r.canWithdraw ? (
                    <form method="post" action={`/retention/requests/${r.id}/withdraw`}><button type="submit">Withdraw</button></form>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : <p>No data requests yet.</p>}
    </section>
  );
}

export function DataRequestsPage(props: DataRequestsProps) {
  return (
    <section aria-labelledby="retention-title">
      <h1 id="retention-title">Data requests</h1>
      <p><a href="/retention">Retention</a></p>
      <DataRequestsSection {...props} />
    </section>
  );
}
