// The job wizard: details → PHI attestation → recipient list (views/jobs/uploads.tsx) → letter →
// review and submit. Pure functions of the data they get. Each form posts with htmx into the
// #job-wizard region (a refused form comes back there with its messages, keeping what was typed);
// a saved step sends the browser on to the next step's page. Every form also works without script.
import { Field, FormErrors, SelectField } from "../components/field.tsx";
import { useNonce } from "../components/nonce-context.ts";
import { JobWizardProgress, type JobWizardStep, jobStepPath } from "./wizard-steps.tsx";
import {
  FieldPalette, LetterheadSummary, type LetterheadView, LetterPreview, type LetterPreviewProps, SaveAsTemplate, TemplatePicker, type TemplateOption,
} from "./letter-editor.tsx";

export type Option = { value: string; label: string; hint?: string };

type Common = {
  /** null for a job not created yet. */
  jobId: string | null;
  reference?: string;
  done: readonly JobWizardStep[];
  values?: Record<string, string>;
  errors?: Record<string, string>;
  message?: string;
};

export type DetailsStepProps = Common & { step: "details"; letterTypes: readonly Option[]; mailClasses: readonly Option[]; states: readonly string[] };
export type AttestationStepProps = Common & {
  step: "attestation";
  statement: { version: string; paragraphs: string[]; sha256: string };
  /** Already attested: who, when (practice time), version. */
  attested?: { by: string; at: string; atUtc: string; version: string } | null;
};
export type LetterStepProps = Common & {
  step: "letter";
  body: string;
  fields: readonly string[];
  /** false: shown for reading only (the job was submitted, or the reader may not edit). */
  editable: boolean;
  saved?: { at: string; atUtc: string } | null;
  letterTypeLabel: string;
  /** Who signs the letter (printed under the closing). */
  signer: { name: string; title: string };
  /** The editor's parts (editable only): live preview, letterhead, templates to start from. */
  preview?: LetterPreviewProps;
  letterhead?: LetterheadView;
  templateOptions?: readonly TemplateOption[];
  /** A confirmation to show above the editor (a template saved, a template put in the editor). */
  notice?: string;
};
export type ReviewStepProps = Common & {
  step: "review";
  summary: { title: string; letterType: string; mailClass: string; returnAddress: string[] };
  attestation: { by: string; at: string; atUtc: string; version: string } | null;
  files: FileView[];
  letter: { length: number; fields: string[]; at: string; atUtc: string } | null;
  blockers: string[];
};
export type JobWizardProps = DetailsStepProps | AttestationStepProps | LetterStepProps | ReviewStepProps;

export type FileView = { kind: string; state: string; size: string; when: string };

const STEP_NUMBER: Record<JobWizardStep, number> = { details: 1, attestation: 2, uploads: 3, letter: 4, review: 5 };

function StepTitle(props: { step: JobWizardStep; children: string }) {
  return <h2 id="step-title">Step {STEP_NUMBER[props.step]} of 5: {props.children}</h2>;
}

/** The htmx attributes of a wizard form: post, put the answer in place of #job-wizard. */
function formAttrs(action: string, nonce: string) {
  return { method: "post" as const, action, novalidate: true, "hx-post": action, "hx-target": "#job-wizard", "hx-swap": "outerHTML", "hx-nonce": nonce };
}

function Radios(props: { name: string; legend: string; options: readonly Option[]; selected?: string; error?: string }) {
  const errorId = `field-${props.name}-error`;
  return (
    <fieldset class="field radios">
      <legend>{props.legend}</legend>
      {props.options.map((o, i) => {
        const id = i === 0 ? `field-${props.name}` : `field-${props.name}-${o.value}`;
        return (
          <div class="field-checkbox">
            <input type="radio" id={id} name={props.name} value={o.value} checked={o.value === props.selected} required aria-invalid={props.error ? "true" : undefined}
              aria-describedby={[o.hint ? `${id}-hint` : null, props.error ? errorId : null].filter(Boolean).join(" ") || undefined} />
            <label for={id}>{o.label}{o.hint ? <span class="hint" id={`${id}-hint`}>{o.hint}</span> : null}</label>
          </div>
        );
      })}
      {props.error ? <p class="field-error" id={errorId}>{props.error}</p> : null}
    </fieldset>
  );
}

function DetailsStep(props: DetailsStepProps) {
  const nonce = useNonce();
  const v = props.values ?? {};
  const e = props.errors ?? {};
  const action = props.jobId ? jobStepPath(props.jobId, "details") : "/jobs";
  return (
    <>
      <StepTitle step="details">Details</StepTitle>
      <p>Describe the mailing. Nothing here is patient information: keep patient names out of the title.</p>
      <FormErrors errors={e} message={props.message} />
      <form {...formAttrs(action, nonce)}>
        <Field name="title" label="Title" value={v.title} error={e.title} maxlength={120} hint="For your team, e.g. “Dr. Lee retiring – spring 2027”. No patient names." />
        <SelectField name="letterType" label="Kind of letter" options={props.letterTypes} selected={v.letterType} error={e.letterType} />
        <Radios name="mailClass" legend="Mail class" options={props.mailClasses} selected={v.mailClass} error={e.mailClass} />
        <fieldset class="field">
          <legend>Return address</legend>
          <p class="hint">From your practice profile; change it for this mailing if needed.</p>
          <Field name="returnName" label="Name" value={v.returnName} error={e.returnName} maxlength={100} autocomplete="organization" />
          <Field name="returnLine1" label="Street address" value={v.returnLine1} error={e.returnLine1} maxlength={100} autocomplete="address-line1" />
          <Field name="returnLine2" label="Suite, floor or unit (optional)" value={v.returnLine2} error={e.returnLine2} maxlength={100} required={false} autocomplete="address-line2" />
          <Field name="returnCity" label="City" value={v.returnCity} error={e.returnCity} maxlength={60} autocomplete="address-level2" />
          <SelectField name="returnState" label="State" options={props.states.map((s) => ({ value: s, label: s }))} selected={v.returnState} error={e.returnState} />
          <Field name="returnZip" label="ZIP code" value={v.returnZip} error={e.returnZip} maxlength={10} autocomplete="postal-code" inputmode="numeric" />
        </fieldset>
        <button type="submit" class="button">Save and continue</button>
      </form>
    </>
  );
}

function AttestationStep(props: AttestationStepProps) {
  const nonce = useNonce();
  const v = props.values ?? {};
  const e = props.errors ?? {};
  const s = props.statement;
  if (props.attested) {
    return (
      <>
        <StepTitle step="attestation">PHI attestation</StepTitle>
        <div class="alert alert-success" role="status">
          <p>Attested by {props.attested.by} on <time datetime={props.attested.atUtc}>{props.attested.at}</time> (statement version {props.attested.version}).</p>
        </div>
        <p class="actions"><a class="button" href={jobStepPath(props.jobId!, "uploads")}>Continue to the recipient list</a></p>
      </>
    );
  }
  return (
    <>
      <StepTitle step="attestation">PHI attestation</StepTitle>
      <p>Before any patient information is uploaded, confirm this statement. We keep who confirmed it, when, from which address, and the exact wording (version {s.version}).</p>
      <FormErrors errors={e} message={props.message} />
      <div class="statement" id="attestation-statement" tabindex={0} aria-label={`Attestation statement, version ${s.version}`}>
        {s.paragraphs.map((p) => <p>{p}</p>)}
      </div>
      <p class="hint">Statement version {s.version}, SHA-256 <code class="hash">{s.sha256}</code></p>
      <form {...formAttrs(jobStepPath(props.jobId!, "attestation"), nonce)}>
        <input type="hidden" name="statementVersion" value={s.version} />
        <div class="field field-checkbox">
          <input type="checkbox" id="field-confirm" name="confirm" value="yes" checked={v.confirm === "yes"} required
            aria-invalid={e.confirm ? "true" : undefined} aria-describedby={["attestation-statement", e.confirm ? "field-confirm-error" : null].filter(Boolean).join(" ")} />
          <label for="field-confirm">I have read the statement above and it is true for this job</label>
          {e.confirm ? <p class="field-error" id="field-confirm-error">{e.confirm}</p> : null}
        </div>
        <Field name="initials" label="Your initials" value={v.initials} error={e.initials} maxlength={6} autocomplete="off" hint="1 to 6 letters, like JQD." />
        <button type="submit" class="button">Confirm and continue</button>
      </form>
    </>
  );
}

function LetterStep(props: LetterStepProps) {
  const nonce = useNonce();
  const e = props.errors ?? {};
  const v = props.values ?? {};
  const jobId = props.jobId!;
  const previewPath = `/jobs/${jobId}/letter/preview`;
  // The live preview: typing (debounced), or the signer's fields, post the form to the preview route.
  const live = { "hx-post": previewPath, "hx-trigger": "input changed delay:400ms", "hx-target": "#letter-preview", "hx-swap": "outerHTML", "hx-nonce": nonce };
  return (
    <>
      <StepTitle step="letter">Letter</StepTitle>
      {props.saved ? <p class="muted">Last saved <time datetime={props.saved.atUtc}>{props.saved.at}</time>.</p> : null}
      {props.editable ? (
        <>
          <p>{props.saved ? "Edit the letter, then save it." : `A starting text for a ${props.letterTypeLabel.toLowerCase()} letter is below. Replace everything in [square brackets], then save.`}</p>
          <FormErrors errors={e} message={props.message} />
          {props.notice ? <div class="alert alert-success" role="status"><p>{props.notice}</p></div> : null}
          {props.templateOptions ? <TemplatePicker jobId={jobId} options={props.templateOptions} /> : null}
          <div class="letter-editor">
            <form {...formAttrs(jobStepPath(jobId, "letter"), nonce)} class="letter-form">
              <div class="field">
                <label for="field-body">Letter text</label>
                <p class="hint" id="field-body-hint">Merge fields are filled in for each recipient. Write them with two braces, like {"{{first_name}}"}, or insert them from the list below. The closing and the signer are printed under the text.</p>
                <textarea id="field-body" name="body" rows={22} maxlength={10000} required class="letter-text" {...live}
                  aria-invalid={e.body ? "true" : undefined} aria-describedby={["field-body-hint", e.body ? "field-body-error" : null].filter(Boolean).join(" ")}>{props.body}</textarea>
                {e.body ? <p class="field-error" id="field-body-error">{e.body}</p> : null}
              </div>
              <FieldPalette fields={props.fields} />
              <fieldset class="field signer">
                <legend>Signed by</legend>
                <SignerField name="signerName" label="Name" value={props.signer.name} error={e.signerName} hint="As it should print, like “Dana Lee, MD”." live={live} />
                <SignerField name="signerTitle" label="Title" value={props.signer.title} error={e.signerTitle} hint="Like “Medical Director”." live={live} />
              </fieldset>
              <div class="actions">
                <button type="submit" class="button">Save and continue</button>
                <button type="submit" class="button-secondary" formaction={previewPath} formnovalidate
                  hx-post={previewPath} hx-target="#letter-preview" hx-swap="outerHTML" hx-nonce={nonce}>Update the preview</button>
              </div>
              <SaveAsTemplate jobId={jobId} name={v.templateName} error={e.templateName} />
            </form>
            {props.preview ? (
              <section class="letter-preview-panel" aria-labelledby="letter-preview-title">
                <h3 id="letter-preview-title">Preview</h3>
                <LetterPreview {...props.preview} />
              </section>
            ) : null}
          </div>
          {props.letterhead ? <LetterheadSummary {...props.letterhead} /> : null}
        </>
      ) : (
        <>
          <p>This job can no longer be changed; the letter is shown as it was submitted.</p>
          <pre class="letter-text letter-readonly" tabindex={0} aria-label="Letter text">{props.body}</pre>
          {props.signer.name ? <p>Signed by {props.signer.name}, {props.signer.title}.</p> : null}
          {props.jobId ? <p class="actions"><a class="button button-secondary" href={`/jobs/${props.jobId}`}>Back to the job</a></p> : null}
        </>
      )}
    </>
  );
}

/** A signer field that also refreshes the live preview as it is typed in. */
function SignerField(props: { name: string; label: string; value: string; error?: string; hint: string; live: Record<string, string> }) {
  const id = `field-${props.name}`;
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <p class="hint" id={`${id}-hint`}>{props.hint}</p>
      <input id={id} name={props.name} type="text" value={props.value} maxlength={100} required autocomplete="off" {...props.live}
        aria-invalid={props.error ? "true" : undefined} aria-describedby={[`${id}-hint`, props.error ? `${id}-error` : null].filter(Boolean).join(" ")} />
      {props.error ? <p class="field-error" id={`${id}-error`}>{props.error}</p> : null}
    </div>
  );
}

function ReviewStep(props: ReviewStepProps) {
  const nonce = useNonce();
  const jobId = props.jobId!;
  return (
    <>
      <StepTitle step="review">Review and submit</StepTitle>
      <FormErrors message={props.message} />
      <dl class="facts">
        <dt>Title</dt><dd>{props.summary.title} <a href={jobStepPath(jobId, "details")}>Change<span class="visually-hidden"> the details</span></a></dd>
        <dt>Kind of letter</dt><dd>{props.summary.letterType}</dd>
        <dt>Mail class</dt><dd>{props.summary.mailClass}</dd>
        <dt>Return address</dt><dd>{props.summary.returnAddress.map((l) => <>{l}<br /></>)}</dd>
        <dt>PHI attestation</dt>
        <dd>{props.attestation ? <>By {props.attestation.by}, <time datetime={props.attestation.atUtc}>{props.attestation.at}</time> (version {props.attestation.version})</> : <>Not yet. <a href={jobStepPath(jobId, "attestation")}>Attest</a></>}</dd>
        <dt>Recipient list</dt>
        <dd>{props.files.length ? <ul class="plain-list">{props.files.map((f) => <li>{f.kind}: {f.state}, {f.size}</li>)}</ul> : <>None yet. <a href={jobStepPath(jobId, "uploads")}>Upload</a></>}</dd>
        <dt>Letter</dt>
        <dd>{props.letter ? <>{props.letter.length.toLocaleString("en-US")} characters, saved <time datetime={props.letter.atUtc}>{props.letter.at}</time>; fields: {props.letter.fields.length ? props.letter.fields.map((f) => `{{${f}}}`).join(", ") : "none"}. <a href={jobStepPath(jobId, "letter")}>Edit<span class="visually-hidden"> the letter</span></a></> : <>Not yet. <a href={jobStepPath(jobId, "letter")}>Write the letter</a></>}</dd>
      </dl>
      {props.blockers.length ? (
        <div class="alert alert-info" role="region" aria-labelledby="missing-title">
          <h3 id="missing-title">Before you can submit</h3>
          <ul>{props.blockers.map((b) => <li>{b}</li>)}</ul>
        </div>
      ) : (
        <form {...formAttrs(`/jobs/${jobId}/submit`, nonce)}>
          <p>Submitting sends the job for a proof. You will approve the proof before anything is printed.</p>
          <button type="submit" class="button">Submit for proof</button>
        </form>
      )}
      <p class="actions"><a class="button button-secondary" href={`/jobs/${jobId}`}>Job page</a></p>
    </>
  );
}

/** The wizard region (the htmx target): progress plus the current step. */
export function JobWizard(props: JobWizardProps) {
  return (
    <section id="job-wizard" aria-labelledby="step-title" class="wizard">
      <JobWizardProgress jobId={props.jobId} current={props.step} done={props.done} />
      {props.step === "details" ? <DetailsStep {...props} />
        : props.step === "attestation" ? <AttestationStep {...props} />
        : props.step === "letter" ? <LetterStep {...props} />
        : <ReviewStep {...props} />}
    </section>
  );
}

export function JobWizardPage(props: JobWizardProps) {
  const nonce = useNonce();
  return (
    <>
      <p class="eyebrow"><a href="/jobs">Jobs</a>{props.reference ? <> / {props.jobId ? <a href={`/jobs/${props.jobId}`}>{props.reference}</a> : props.reference}</> : null}</p>
      <h1>{props.jobId ? `Job ${props.reference ?? ""}`.trim() : "New mailing job"}</h1>
      <p class="lead">Your answers are saved at each step: you can stop and come back.</p>
      <JobWizard {...props} />
      {/* The palette's insert buttons (outside the htmx region, so a swapped step never loads it twice). */}
      {props.step === "letter" && props.editable ? <script src="/static/letter-editor.js" nonce={nonce} defer></script> : null}
    </>
  );
}
