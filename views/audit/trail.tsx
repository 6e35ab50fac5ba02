import { useNonce } from "../components/nonce-context.ts";
import { Field, FormErrors } from "../components/field.tsx";

export type TrailRow = {
  id: string; when: string; whenUtc: string; person: string; role: string; action: string; target: string; outcome: string;
  ip: string; requestId: string; details: string; hash: string;
};
export type TrailFilters = { from?: string; to?: string; person?: string; group?: string; target?: string; outcome?: string };

function Rows(props: { rows: TrailRow[]; nextUrl: string | null }) {
  const nonce = useNonce();
  return (
    <>
      {props.rows.map((r) => (
        <tr>
          <td><time datetime={r.whenUtc}>{r.when}</time></td>
          <td>{r.person}{r.role ? ` (${r.role})` : ""}</td>
          <td><code>{r.action}</code></td>
          <td>{r.target}</td>
          <td>{r.outcome}</td>
          <td>
            <details>
              <summary>Details<span class="visually-hidden"> of {r.action} at {r.when}</span></summary>
              <dl class="facts">
                <dt>IP address</dt><dd>{r.ip}</dd>
                <dt>Request</dt><dd><code>{r.requestId}</code></dd>
                <dt>Details</dt><dd><code>{r.details}</code></dd>
                <dt>Hash</dt><dd><code class="hash">{r.hash}</code></dd>
              </dl>
            </details>
          </td>
        </tr>
      ))}
      {props.nextUrl ? (
        <tr class="load-more-row">
          <td colspan={6}>
            <button type="button" class="button button-secondary" hx-get={props.nextUrl} hx-target="closest tr" hx-swap="outerHTML" hx-nonce={nonce}>
              Load more
            </button>
          </td>
        </tr>
      ) : null}
    </>
  );
}

/** The rows of one page (and the next "Load more"), as the htmx fragment. */
export function TrailRows(props: { rows: TrailRow[]; nextUrl: string | null }) {
  return <Rows {...props} />;
}

/** What the latest signed checkpoint says, already worded in the practice's time zone. */
export type TrailIntegrity =
  | { kind: "verified"; through: string; throughUtc: string; checked: string }
  | { kind: "stale" | "broken" | "forged"; checked: string; brokenSeq?: string }
  | { kind: "none" };

function Integrity(props: { integrity: TrailIntegrity }) {
  const i = props.integrity;
  if (i.kind === "verified") {
    return (
      <p class="alert alert-success" role="status" id="audit-integrity">
        Verified through <time datetime={i.throughUtc}>{i.through}</time>: every link of this practice's audit chain up to then was
        recomputed and matches the signed daily checkpoint (checked {i.checked}).
      </p>
    );
  }
  if (i.kind === "none") {
    return (
      <p class="alert alert-info" role="status" id="audit-integrity">
        Not verified yet: the daily integrity check runs early each morning (UTC) and will report here.
      </p>
    );
  }
  const message = {
    stale: `The audit trail has not been verified since ${i.checked}: the daily integrity check has stopped running.`,
    broken: `The audit trail failed its integrity check on ${i.checked}: the chain is broken at event ${i.brokenSeq ?? "?"}.`,
    forged: `The latest integrity checkpoint (${i.checked}) does not carry a valid signature.`,
  }[i.kind];
  return (
    <p class="alert alert-error" role="alert" id="audit-integrity">
      <strong>Warning.</strong> {message} Contact your platform's support; do not rely on this trail until it is explained.
    </p>
  );
}

export function AuditTrailPage(props: {
  integrity: TrailIntegrity;
  practiceName: string;
  timeZone: string;
  filters: TrailFilters;
  errors?: Record<string, string>;
  people: { id: string; name: string }[];
  groups: string[];
  rows: TrailRow[];
  nextUrl: string | null;
  exportUrl: string;
}) {
  const f = props.filters;
  const e = props.errors ?? {};
  return (
    <section aria-labelledby="audit-title">
      <h1 id="audit-title">Audit trail</h1>
      <p>Every action in {props.practiceName}, newest first. Times are shown in {props.timeZone}; the export gives them in UTC.</p>
      <Integrity integrity={props.integrity} />
      <FormErrors errors={e} />
      <form method="get" action="/audit" class="filters" aria-label="Filter the audit trail">
        <Field name="from" label="From (date)" type="date" value={f.from} error={e.from} required={false} />
        <Field name="to" label="To (date)" type="date" value={f.to} error={e.to} required={false} />
        <div class="field">
          <label for="filter-person">Person</label>
          <select id="filter-person" name="person">
            <option value="">Anyone</option>
            {props.people.map((p) => <option value={p.id} selected={p.id === f.person}>{p.name}</option>)}
          </select>
        </div>
        <div class="field">
          <label for="filter-group">Kind of event</label>
          <select id="filter-group" name="group">
            <option value="">Any</option>
            {props.groups.map((g) => <option value={g} selected={g === f.group}>{g}</option>)}
          </select>
        </div>
        <Field name="target" label="Target (id or reference)" value={f.target} error={e.target} required={false} maxlength={200} />
        <div class="field">
          <label for="filter-outcome">Outcome</label>
          <select id="filter-outcome" name="outcome">
            <option value="">Any</option>
            {["success", "denied", "error"].map((o) => <option value={o} selected={o === f.outcome}>{o}</option>)}
          </select>
        </div>
        <button type="submit" class="button">Filter</button>
        <a class="button button-secondary" href={props.exportUrl} download>Export as CSV</a>
      </form>
      <table>
        <caption class="visually-hidden">Audit events, newest first</caption>
        <thead>
          <tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">Action</th><th scope="col">Target</th><th scope="col">Outcome</th><th scope="col">More</th></tr>
        </thead>
        <tbody id="audit-rows">
          <Rows rows={props.rows} nextUrl={props.nextUrl} />
        </tbody>
      </table>
      {props.rows.length === 0 ? <p>No events match these filters.</p> : null}
    </section>
  );
}
