// The operator console: approved jobs across practices, metadata only (no titles, letters or
// recipients), with the next action for each.
import { Field, FormErrors } from "../components/field.tsx";

export type ConsoleRow = {
  id: string; reference: string; practiceName: string; letterType: string; mailClass: string; status: string; statusLabel: string;
  approvedAt: string; productionStartedAt: string | null; mailedOn: string | null; pieces: number | null; completedAt: string | null;
  /** The print-ready file: its state in words, and a signed download link once ready. */
  printFile: { words: string; downloadPath: string | null };
};

function NextAction(props: { row: ConsoleRow; today: string; error?: { jobId: string; errors: Record<string, string>; values: Record<string, string> } }) {
  const r = props.row;
  if (r.status === "approved") {
    return (
      <form method="post" action={`/operator/jobs/${r.id}/start`}>
        <button type="submit" class="button">Start production<span class="visually-hidden"> of {r.reference}</span></button>
      </form>
    );
  }
  if (r.status === "in_production") {
    const mine = props.error?.jobId === r.id ? props.error : undefined;
    return (
      <form method="post" action={`/operator/jobs/${r.id}/mailed`} class="inline-form" aria-label={`Mark ${r.reference} mailed`}>
        <Field id={`mailed-on-${r.id}`} name="mailedOn" label="Mailed on" type="date" value={mine?.values.mailedOn ?? props.today} error={mine?.errors.mailedOn} />
        <Field id={`pieces-${r.id}`} name="pieces" label="Pieces mailed" type="number" inputmode="numeric" value={mine?.values.pieces} error={mine?.errors.pieces} />
        <button type="submit" class="button">Mark mailed</button>
      </form>
    );
  }
  if (r.status === "mailed") {
    return (
      <form method="post" action={`/operator/jobs/${r.id}/complete`}>
        <button type="submit" class="button">Complete<span class="visually-hidden"> {r.reference}</span></button>
      </form>
    );
  }
  return null;
}

export function OperatorConsolePage(props: {
  open: ConsoleRow[]; completed: ConsoleRow[]; today: string; notice?: string; message?: string;
  error?: { jobId: string; errors: Record<string, string>; values: Record<string, string> };
}) {
  return (
    <section aria-labelledby="console-title">
      <h1 id="console-title">Production queue</h1>
      <p>Jobs practices have approved, oldest approval first. You see what is needed to produce and mail them, never patient information.</p>
      <p><a href="/operator/incidents">Incident reports</a>: security and privacy incidents reported by practices.</p>
      {props.notice ? <div class="alert alert-success" role="status"><p>{props.notice}</p></div> : null}
      <FormErrors message={props.message} />
      {props.open.length === 0 ? <p>No approved jobs are waiting.</p> : (
        <table>
          <caption>Approved and in production</caption>
          <thead>
            <tr><th scope="col">Job</th><th scope="col">Practice</th><th scope="col">Letter</th><th scope="col">Mail class</th><th scope="col">Approved</th><th scope="col">Status</th><th scope="col">Print file</th><th scope="col">Next step</th></tr>
          </thead>
          <tbody>
            {props.open.map((r) => (
              <tr>
                <th scope="row"><code>{r.reference}</code></th>
                <td>{r.practiceName}</td>
                <td>{r.letterType}</td>
                <td>{r.mailClass}</td>
                <td>{r.approvedAt}</td>
                <td><span class={`badge badge-${r.status}`}>{r.statusLabel}</span>{r.mailedOn ? ` on ${r.mailedOn} (${r.pieces} pieces)` : ""}</td>
                <td>
                  {r.printFile.words}
                  {r.printFile.downloadPath ? <> <a href={r.printFile.downloadPath}>Download<span class="visually-hidden"> the print file of {r.reference}</span></a></> : null}
                </td>
                <td><NextAction row={r} today={props.today} error={props.error} /></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {props.completed.length ? (
        <table>
          <caption>Recently completed</caption>
          <thead><tr><th scope="col">Job</th><th scope="col">Practice</th><th scope="col">Mailed</th><th scope="col">Pieces</th><th scope="col">Completed</th></tr></thead>
          <tbody>
            {props.completed.map((r) => (
              <tr><th scope="row"><code>{r.reference}</code></th><td>{r.practiceName}</td><td>{r.mailedOn}</td><td>{r.pieces}</td><td>{r.completedAt}</td></tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}
