// Incident reports for platform operators: the list across practices (no descriptions), and one
// report with its description (opening it is audited). Pure functions of their props.
export type IncidentListRow = {
  id: string; reference: string; category: string; practiceName: string | null; reporter: string;
  noticed: string; noticedUtc: string; reported: string; reportedUtc: string;
};

export function OperatorIncidentsPage(props: { rows: IncidentListRow[] }) {
  return (
    <section aria-labelledby="incidents-title">
      <h1 id="incidents-title">Incident reports</h1>
      <p>Security and privacy incidents reported by practices and operators, newest first. Opening a report shows what happened and is recorded in the audit trail. <a href="/operator">Production queue</a></p>
      {props.rows.length === 0 ? <p>No incident has been reported.</p> : (
        <div class="table-wrap">
          <table class="data-table" id="incident-reports">
            <caption>Reported incidents</caption>
            <thead><tr><th scope="col">Reference</th><th scope="col">Category</th><th scope="col">Practice</th><th scope="col">Reported by</th><th scope="col">Noticed (UTC)</th><th scope="col">Reported (UTC)</th></tr></thead>
            <tbody>{props.rows.map((r) => (
              <tr>
                <th scope="row"><a href={`/operator/incidents/${r.id}`}>{r.reference}</a></th>
                <td>{r.category}</td>
                <td>{r.practiceName ?? "No practice"}</td>
                <td>{r.reporter}</td>
                <td><time datetime={r.noticedUtc}>{r.noticed}</time></td>
                <td><time datetime={r.reportedUtc}>{r.reported}</time></td>
              </tr>
            ))}</tbody>
          </table>
        </div>
      )}
    </section>
  );
}

export function OperatorIncidentPage(props: { row: IncidentListRow & { description: string } }) {
  const r = props.row;
  return (
    <section aria-labelledby="incident-title">
      <h1 id="incident-title">Incident report {r.reference}</h1>
      <p><a href="/operator/incidents">All incident reports</a></p>
      <dl class="facts">
        <dt>Category</dt><dd>{r.category}</dd>
        <dt>Practice</dt><dd>{r.practiceName ?? "No practice"}</dd>
        <dt>Reported by</dt><dd>{r.reporter}</dd>
        <dt>Noticed</dt><dd><time datetime={r.noticedUtc}>{r.noticed}</time></dd>
        <dt>Reported</dt><dd><time datetime={r.reportedUtc}>{r.reported}</time></dd>
      </dl>
      <h2>What happened</h2>
      <p class="muted">As the reporter wrote it. It may contain patient information despite the form's warning: do not copy it into email or tickets.</p>
      <blockquote class="incident-description">{r.description.split("\n").map((line, i) => (i ? <><br />{line}</> : line))}</blockquote>
    </section>
  );
}
