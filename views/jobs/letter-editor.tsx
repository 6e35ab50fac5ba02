// The letter step's editor parts (issue 7 item 1): the merge-field palette, the live preview (a
// made-up recipient, never a real row), what the letterhead will hold, "start from a template",
// and the practice's template list. Pure functions of the data they get; the palette's buttons
// work through public/letter-editor.js, and without script the plain list of fields stays readable.
import { Field, FormErrors, SelectField } from "../components/field.tsx";
import { useNonce } from "../components/nonce-context.ts";

/** A piece of a previewed paragraph (mirrors src/jobs/letters.ts PreviewPiece). */
export type PreviewPieceView = { kind: "text"; text: string } | { kind: "field"; name: string; value: string } | { kind: "unknown"; name: string };

export type LetterPreviewProps = {
  jobId: string;
  date: string;
  letterhead: LetterheadView;
  recipient: string[];
  paragraphs: PreviewPieceView[][];
  signer: { name: string; title: string };
  /** What is wrong with the text (unknown fields named), or null. */
  problem: string | null;
  unknown: string[];
};

export type LetterheadView = {
  practiceName: string;
  returnAddress: string[];
  /** Which logo prints: the job's own upload, the practice letterhead's (practice settings), or none. */
  logo: "job" | "practice" | null;
  /** A verified signature image from the uploads step. */
  signature: boolean;
  uploadsHref: string;
};

export type TemplateOption = { value: string; label: string };

const brace = (name: string) => `{{${name}}}`;

// Replacing the whole step without htmx 4's settle pass: that pass copies style attributes between
// the old and new elements of the same id, which the strict CSP (style-src 'self') reports.
const WIZARD_SWAP = "outerHTML settle:0";

/** The fields the letter may use, as buttons that insert them at the cursor (with script) or a plain list (without). */
export function FieldPalette(props: { fields: readonly string[] }) {
  return (
    <div class="field-palette" role="group" aria-labelledby="palette-title" aria-describedby="palette-hint">
      <p id="palette-title" class="palette-title">Merge fields in your recipient list</p>
      <p id="palette-hint" class="hint palette-hint">Each is replaced by that recipient's value. Choose one to insert it where the cursor is in the letter text.</p>
      <ul class="palette-list">
        {props.fields.map((f) => (
          <li>
            <code class="palette-name">{brace(f)}</code>
            <button type="button" class="palette-insert" data-insert-field={f} aria-controls="field-body">
              <span class="visually-hidden">Insert </span>{brace(f)}
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}

function Lines(props: { lines: readonly string[] }) {
  return <>{props.lines.filter(Boolean).map((l, i) => <>{i ? <br /> : null}{l}</>)}</>;
}

/** The preview region (the htmx target of the editor's live preview). */
export function LetterPreview(props: LetterPreviewProps) {
  const head = props.letterhead;
  return (
    <div id="letter-preview" class="letter-preview">
      <p class="hint">Shown for a made-up recipient (Jordan Sample): a preview never uses anyone on your recipient list.</p>
      {props.problem ? (
        <div class="alert alert-error" id="letter-preview-problem">
          <p>{props.problem}</p>
        </div>
      ) : null}
      <article class="letter-sheet" aria-label="Preview of the letter for a made-up recipient">
        <div class="sheet-top">
          <p class="sheet-return"><Lines lines={head.returnAddress} /></p>
          <div class="sheet-letterhead">
            {head.logo ? <p class="sheet-logo">[Your logo]</p> : null}
            <p class="sheet-practice">{head.practiceName}</p>
            <p class="sheet-date">{props.date}</p>
          </div>
        </div>
        <p class="sheet-recipient"><Lines lines={props.recipient} /></p>
        {props.paragraphs.length ? props.paragraphs.map((pieces) => (
          <p class="sheet-paragraph">
            {pieces.map((p) => p.kind === "text" ? p.text
              : p.kind === "field" ? <span class="merge-value" title={brace(p.name)}>{p.value}</span>
              : <mark class="merge-unknown">{brace(p.name)}<span class="visually-hidden"> (not in your recipient list)</span></mark>)}
          </p>
        )) : <p class="sheet-paragraph muted">(The letter text is empty.)</p>}
        <div class="sheet-signature">
          <p>Sincerely,</p>
          {head.signature ? <p class="sheet-signature-image">[Signature image]</p> : <p class="sheet-signature-space" aria-hidden="true"></p>}
          <p><strong>{props.signer.name || "[Signer's name]"}</strong><br />{props.signer.title || "[Signer's title]"}</p>
        </div>
      </article>
    </div>
  );
}

/** What the letterhead and signature block will print, and where each comes from. */
export function LetterheadSummary(props: LetterheadView) {
  return (
    <section class="card letterhead-summary" aria-labelledby="letterhead-title">
      <h3 id="letterhead-title">What prints around the letter</h3>
      <dl class="facts">
        <dt>Letterhead</dt><dd>{props.practiceName} <span class="muted">(from your practice profile)</span></dd>
        <dt>Return address</dt><dd><Lines lines={props.returnAddress} /> <span class="muted">(this job's details)</span></dd>
        <dt>Logo</dt><dd>{props.logo === "job" ? "Your uploaded logo, top right." : props.logo === "practice" ? "The practice logo from practice settings, top right." : "None: the letterhead shows the practice name only."}</dd>
        <dt>Signature</dt><dd>{props.signature ? "Your uploaded signature image, above the signer's name." : "None: a space is left above the signer's name."}</dd>
      </dl>
      <p><a href={props.uploadsHref}>Add or change the logo and signature image</a> on the uploads step.</p>
    </section>
  );
}

/** "Start from a template": the starter for the letter type or one of the practice's templates. */
export function TemplatePicker(props: { jobId: string; options: readonly TemplateOption[]; selected?: string }) {
  const nonce = useNonce();
  const action = `/jobs/${props.jobId}/letter/start`;
  return (
    <section class="card template-picker" aria-labelledby="template-picker-title">
      <h3 id="template-picker-title">Start from a template</h3>
      <form method="get" action={action} hx-get={action} hx-target="#job-wizard" hx-swap={WIZARD_SWAP} hx-nonce={nonce}
        hx-include="[name='signerName'],[name='signerTitle']" hx-validate="false"
        hx-confirm="Replace the text in the editor with this template? Changes you have not saved will be lost.">
        <SelectField name="template" label="Template" options={props.options} selected={props.selected}
          hint="Replaces the text in the editor. Nothing is saved until you save the letter." />
        <button type="submit" class="button-secondary">Use this template</button>
      </form>
      <p class="hint"><a href="/letter-templates">Rename or delete your practice's templates</a></p>
    </section>
  );
}

/** Inside the letter form: save the text in the editor as a named practice template. */
export function SaveAsTemplate(props: { jobId: string; name?: string; error?: string }) {
  const nonce = useNonce();
  const action = `/jobs/${props.jobId}/letter/templates`;
  return (
    <fieldset class="field save-template">
      <legend>Save as a practice template</legend>
      <p class="hint">Keeps this text (not the signer) for your practice's future letters. The letter itself is saved with “Save and continue”.</p>
      <Field name="templateName" label="Template name" value={props.name} error={props.error} maxlength={80} required={false} autocomplete="off"
        hint="For your team, like “Relocation 2027”. No patient names." />
      <button type="submit" class="button-secondary" formaction={action} formnovalidate
        hx-post={action} hx-target="#job-wizard" hx-swap={WIZARD_SWAP} hx-nonce={nonce}>Save as practice template</button>
    </fieldset>
  );
}

// ---- the practice's templates (/letter-templates) -------------------------------------------------

export type TemplateRow = { id: string; name: string; letterType: string; length: number; fields: string[]; updated: string; updatedUtc: string; by: string };

export type TemplatesPageProps = {
  rows: TemplateRow[];
  /** A refused rename: which row, what was typed, why. */
  rename?: { id: string; value: string; error: string };
  message?: string;
};

export function TemplatesPage(props: TemplatesPageProps) {
  const nonce = useNonce();
  return (
    <>
      <p class="eyebrow"><a href="/jobs">Jobs</a></p>
      <h1>Letter templates</h1>
      <p class="lead">Your practice's saved letter texts. Save one from a job's letter step; start a letter from one there.</p>
      <FormErrors message={props.message} errors={props.rename ? { name: props.rename.error } : undefined} />
      {props.rows.length ? (
        <ul class="plain-list template-list">
          {props.rows.map((r) => {
            const refused = props.rename?.id === r.id ? props.rename : undefined;
            const fieldId = `template-name-${r.id}`;
            return (
              <li class="card template-row">
                <h2 class="template-name">{r.name}</h2>
                <p class="muted">{r.letterType} · {r.length.toLocaleString("en-US")} characters · fields: {r.fields.length ? r.fields.map(brace).join(", ") : "none"} · changed <time datetime={r.updatedUtc}>{r.updated}</time> by {r.by}</p>
                <div class="template-actions">
                  <form method="post" action={`/letter-templates/${r.id}/rename`} class="inline-form" novalidate>
                    <Field id={fieldId} name="name" label={`New name for “${r.name}”`} value={refused?.value ?? r.name} error={refused?.error} maxlength={80} autocomplete="off" />
                    <button type="submit" class="button-secondary">Rename</button>
                  </form>
                  <form method="post" action={`/letter-templates/${r.id}/delete`} class="inline-form"
                    hx-post={`/letter-templates/${r.id}/delete`} hx-nonce={nonce} hx-confirm={`Delete the template “${r.name}”? Letters already written from it do not change.`}>
                    <button type="submit" class="button-danger">Delete<span class="visually-hidden"> “{r.name}”</span></button>
                  </form>
                </div>
              </li>
            );
          })}
        </ul>
      ) : <p>No templates yet. In a job's letter step, use “Save as practice template”.</p>}
    </>
  );
}
