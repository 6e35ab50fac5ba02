// The job's uploads step (step 3 of the wizard): one panel per kind of file (the recipient list is
// required; logo and signature are optional), each with its current file, its state in words, and
// a form that public/upload.js turns into a direct upload to blob storage with a progress bar,
// cancel and retry. Without JavaScript the panel still says what is there; uploading needs it.
// FilesPanel is exported for the job page (read-only with editable=false).
import { useNonce } from "../components/nonce-context.ts";
import { JobWizardProgress, type JobWizardStep } from "./wizard-steps.tsx";

export type FileKindView = "recipients_csv" | "logo" | "signature";
export type FileStateView = "pending" | "verified" | "rejected" | "replaced" | "purged";

/** One file as the panel shows it (no blob names, no checksums beyond what a person needs). */
export type FileView = {
  id: string;
  state: FileStateView;
  name: string;
  /** Human size, e.g. "1.2 MB". */
  size: string;
  /** ISO time of the upload URL (pending, rejected) or of the verification (verified). */
  at: string;
  rejectedReason?: string | null;
  /** A verified recipient list's check: counts and the first problems (row numbers and reasons only). */
  csv?: { rows: number; valid: number; invalid: number; duplicates: number; fields: string[]; problems: { row: number; reasons: string[] }[] } | null;
};

/** How many problem rows the panel lists before saying how many more there are. */
const PROBLEMS_SHOWN = 20;

function CsvSummary(props: { csv: NonNullable<FileView["csv"]> }) {
  const c = props.csv;
  const more = c.invalid - Math.min(c.problems.length, PROBLEMS_SHOWN);
  return (
    <div class="csv-summary">
      <p>
        {c.rows.toLocaleString("en-US")} {c.rows === 1 ? "recipient" : "recipients"}: <strong>{c.valid.toLocaleString("en-US")} can be mailed</strong>
        {c.invalid ? <>, {c.invalid.toLocaleString("en-US")} {c.invalid === 1 ? "row has" : "rows have"} a problem and will not be mailed{c.duplicates ? ` (${c.duplicates} duplicate${c.duplicates === 1 ? "" : "s"})` : ""}</> : null}.
        {" "}Merge fields: {c.fields.map((f) => `{{${f}}}`).join(", ")}.
      </p>
      {c.problems.length ? (
        <details>
          <summary>Rows with problems<span class="visually-hidden"> in the recipient list</span></summary>
          <ul class="csv-problems">
            {c.problems.slice(0, PROBLEMS_SHOWN).map((p) => <li>Row {p.row}: {p.reasons.join("; ")}</li>)}
          </ul>
          {more > 0 ? <p class="muted">…and {more.toLocaleString("en-US")} more. Fix them in your spreadsheet and upload the list again if they should be mailed.</p> : null}
        </details>
      ) : null}
    </div>
  );
}

export type FilesPanelProps = {
  jobId: string;
  kind: FileKindView;
  label: string;
  hint: string;
  required: boolean;
  /** The file input's accept attribute. */
  accept: string;
  /** Largest file accepted, in bytes, and the same in words. */
  maxBytes: number;
  maxLabel: string;
  verified: FileView | null;
  /** The latest attempt when newer than the verified file (pending or rejected). */
  latest: FileView | null;
  /** Upload controls shown: the job is editable, attested, and the person may write. */
  editable: boolean;
  /** Why uploading is not possible now (shown when not editable). */
  lockedReason?: string;
  /** A message about the last action, announced to screen readers. */
  notice?: { kind: "success" | "error"; text: string } | null;
};

const STATE_WORDS: Record<FileStateView, string> = {
  pending: "Waiting for the upload",
  verified: "Verified",
  rejected: "Rejected",
  replaced: "Replaced",
  purged: "Deleted",
};

export function panelId(kind: FileKindView): string {
  return `upload-${kind}`;
}

function FileLine(props: { file: FileView; current: boolean }) {
  const f = props.file;
  return (
    <>
    <p class={`file-line file-${f.state}`}>
      <span class={`file-state file-state-${f.state}`} data-file-state={f.state}>{STATE_WORDS[f.state]}</span>{" "}
      <span class="file-name">{f.name}</span> <span class="muted">({f.size}, <time datetime={f.at}>{f.at.slice(0, 16).replace("T", " ")} UTC</time>)</span>
      {props.current ? <span class="visually-hidden"> (the file in use)</span> : null}
      {f.state === "rejected" && f.rejectedReason ? <><br /><span class="file-reason">{f.rejectedReason}</span></> : null}
    </p>
    {f.state === "verified" && f.csv ? <CsvSummary csv={f.csv} /> : null}
    </>
  );
}

/** One kind's panel: what is there, and (editable) the upload form, progress, cancel and retry. */
export function FilesPanel(props: FilesPanelProps) {
  const id = panelId(props.kind);
  const titleId = `${id}-title`;
  const inputId = `${id}-file`;
  return (
    <section class="card upload-panel" id={id} aria-labelledby={titleId}
      data-upload-panel data-job-id={props.jobId} data-kind={props.kind} data-max-bytes={String(props.maxBytes)} data-max-label={props.maxLabel}>
      <h2 id={titleId}>{props.label}{props.required ? <span class="muted"> (required)</span> : null}</h2>
      <p class="hint">{props.hint} Up to {props.maxLabel}.</p>
      {props.verified ? <FileLine file={props.verified} current /> : <p class="file-line muted">{props.required ? "No verified file yet." : "None uploaded (optional)."}</p>}
      {props.latest ? <FileLine file={props.latest} current={false} /> : null}
      <div class={`upload-notice${props.notice ? ` alert alert-${props.notice.kind}` : ""}`} data-upload-notice role={props.notice?.kind === "error" ? "alert" : "status"} aria-live="polite">
        {props.notice ? <p>{props.notice.text}</p> : null}
      </div>
      {props.editable ? (
        <form class="upload-form" data-upload-form method="post" action={`/jobs/${props.jobId}/files`} enctype="multipart/form-data" novalidate>
          <input type="hidden" name="kind" value={props.kind} />
          <div class="field">
            <label for={inputId}>{props.verified ? "Choose a file to replace it" : "Choose a file"}</label>
            <input id={inputId} name="file" type="file" accept={props.accept} required={props.required && !props.verified} aria-describedby={`${id}-progress-text`} />
          </div>
          <div class="upload-progress" data-upload-progress hidden>
            <label for={`${id}-progress`}>Upload progress</label>
            <progress id={`${id}-progress`} max="100" value="0" aria-valuemin="0" aria-valuemax="100" aria-valuenow="0"></progress>
            <span id={`${id}-progress-text`} data-upload-percent aria-hidden="true">0%</span>
          </div>
          <div class="actions">
            <button type="submit" data-upload-start>{props.verified ? "Upload replacement" : "Upload"}</button>
            <button type="button" class="button-secondary" data-upload-cancel hidden>Cancel upload</button>
            <button type="button" class="button-secondary" data-upload-retry hidden>Retry</button>
          </div>
          <noscript><p class="alert alert-info">Uploading needs JavaScript: the file goes straight from your browser to encrypted storage.</p></noscript>
        </form>
      ) : props.lockedReason ? <p class="muted">{props.lockedReason}</p> : null}
    </section>
  );
}

export type UploadsPageProps = {
  jobId: string;
  reference: string;
  title: string;
  attested: boolean;
  /** Steps of the wizard already done (for the progress indicator). */
  done: JobWizardStep[];
  panels: FilesPanelProps[];
  /** Shown above the panels (e.g. "attest first"). */
  message?: string | null;
  /** The recipient list is verified: the next step is open. */
  ready: boolean;
};

/** The panels alone: what an htmx request for the step receives. */
export function UploadsStep(props: UploadsPageProps) {
  return (
    <div id="job-uploads">
      {props.message ? <div class="alert alert-info" role="status"><p>{props.message}</p></div> : null}
      {props.panels.map((p) => <FilesPanel {...p} />)}
      <p class="actions">
        <a class="button-secondary button" href={`/jobs/${props.jobId}/attestation`}>Back</a>
        <a class="button" href={`/jobs/${props.jobId}/letter`}>Continue to the letter</a>
      </p>
      {props.ready ? null : <p class="muted">The job can be submitted once its recipient list is verified.</p>}
    </div>
  );
}

export function UploadsPage(props: UploadsPageProps) {
  const nonce = useNonce();
  return (
    <section aria-labelledby="uploads-title">
      <JobWizardProgress jobId={props.jobId} current="uploads" done={props.done} />
      <p class="eyebrow">{props.reference}</p>
      <h1 id="uploads-title">Files for “{props.title}”</h1>
      <p>Files go straight from your browser to the practice's private, encrypted storage; PatientLetterHub then checks each one before it is used.</p>
      <UploadsStep {...props} />
      <script src="/static/upload.js" nonce={nonce} defer></script>
    </section>
  );
}
