// The BAA onboarding wizard: progress, then one step. Pure functions of the data they get; htmx
// swaps the whole #baa-wizard region, and every form also works without script.
import { useNonce } from "../components/nonce-context.ts";
import { Field, FormErrors, SelectField } from "../components/field.tsx";

export type WizardStep = "profile" | "review" | "sign" | "done";
export const STEPS: { step: WizardStep; label: string }[] = [
  { step: "profile", label: "Practice profile" },
  { step: "review", label: "Review the agreement" },
  { step: "sign", label: "Sign" },
  { step: "done", label: "Done" },
];

export type BlockView = { kind: "title" | "heading" | "paragraph"; text: string };
export type VersionView = { id: string; version: number; title: string; sha256: string; effectiveOn: string };
export type SignedView = {
  typedName: string; title: string; signedAtUtc: string; version: number; verificationId: string; baaSha256: string; pdfSha256: string; downloadHref: string;
};

export type WizardProps = {
  step: WizardStep;
  practiceName: string;
  /** Steps the admin may open (a later step needs the earlier ones). */
  reachable: WizardStep[];
  values?: Record<string, string>;
  errors?: Record<string, string>;
  message?: string;
  version?: VersionView | null;
  blocks?: BlockView[];
  consentText?: string;
  authorityText?: string;
  signed?: SignedView | null;
  timeZones: { value: string; label: string }[];
  states: readonly string[];
  /** An older version was signed: this is a re-signing. */
  outOfDate?: boolean;
};

function Progress(props: { step: WizardStep; reachable: WizardStep[] }) {
  const nonce = useNonce();
  const index = STEPS.findIndex((s) => s.step === props.step);
  return (
    <nav aria-label="Onboarding progress" class="wizard-progress">
      <ol class="wizard-steps">
        {STEPS.map((s, i) => {
          const state = i < index ? "Completed: " : i === index ? "Current: " : "Not started: ";
          const label = <><span class="visually-hidden">{state}</span>Step {i + 1}. {s.label}</>;
          const link = i !== index && props.reachable.includes(s.step) && s.step !== "done";
          return (
            <li class={i < index ? "done" : i === index ? "current" : "todo"} aria-current={i === index ? "step" : undefined}>
              {link ? <a href={`/baa?step=${s.step}`} hx-get={`/baa?step=${s.step}`} hx-target="#baa-wizard" hx-swap="outerHTML" hx-push-url="true" hx-nonce={nonce}>{label}</a> : label}
            </li>
          );
        })}
      </ol>
    </nav>
  );
}

/** The practice profile's fields (the wizard's step 1 and the practice settings page). */
export function ProfileFields(props: { values: Record<string, string>; errors: Record<string, string>; timeZones: { value: string; label: string }[]; states: readonly string[] }) {
  const v = props.values;
  const e = props.errors;
  const zones = props.timeZones.some((z) => z.value === v.timeZone) || !v.timeZone ? props.timeZones : [...props.timeZones, { value: v.timeZone, label: v.timeZone }];
  return (
    <>
      <Field name="legalName" label="Legal name of the practice" value={v.legalName} error={e.legalName} maxlength={200} autocomplete="organization" />
      <Field name="dbaName" label="Doing business as (optional)" value={v.dbaName} error={e.dbaName} maxlength={200} required={false} hint="The name patients know, if it differs from the legal name." />
      <Field name="addressLine1" label="Street address" value={v.addressLine1} error={e.addressLine1} maxlength={200} autocomplete="address-line1" />
      <Field name="addressLine2" label="Suite, floor or unit (optional)" value={v.addressLine2} error={e.addressLine2} maxlength={200} required={false} autocomplete="address-line2" />
      <Field name="city" label="City" value={v.city} error={e.city} maxlength={100} autocomplete="address-level2" />
      <SelectField name="state" label="State" selected={v.state} error={e.state} options={props.states.map((s) => ({ value: s, label: s }))} />
      <Field name="postalCode" label="ZIP code" value={v.postalCode} error={e.postalCode} maxlength={10} autocomplete="postal-code" inputmode="numeric" />
      <Field name="phone" label="Phone" type="tel" value={v.phone} error={e.phone} maxlength={20} autocomplete="tel" hint="10 digits, like (617) 555-0123." />
      <Field name="npi" label="NPI (optional)" value={v.npi} error={e.npi} maxlength={10} required={false} inputmode="numeric" hint="The practice's 10-digit National Provider Identifier (type 2), if it has one." />
      <Field name="privacyOfficerName" label="Privacy officer's name" value={v.privacyOfficerName} error={e.privacyOfficerName} maxlength={200} hint="Receives breach and incident notices under the agreement." />
      <Field name="privacyOfficerEmail" label="Privacy officer's email" type="email" value={v.privacyOfficerEmail} error={e.privacyOfficerEmail} maxlength={254} />
      <SelectField name="timeZone" label="Time zone" selected={v.timeZone} error={e.timeZone} options={zones} hint="Dates in the audit trail and on letters use it." />
    </>
  );
}

function ProfileStep(props: WizardProps) {
  const nonce = useNonce();
  const e = props.errors ?? {};
  return (
    <>
      <h2 id="step-title">Step 1 of 4: Practice profile</h2>
      <p>The agreement names your practice as the Covered Entity. Enter the details exactly as they appear on your legal documents.</p>
      <FormErrors errors={e} message={props.message} />
      <form method="post" action="/baa/profile" novalidate hx-post="/baa/profile" hx-target="#baa-wizard" hx-swap="outerHTML" hx-nonce={nonce}>
        <ProfileFields values={props.values ?? {}} errors={e} timeZones={props.timeZones} states={props.states} />
        <button type="submit" class="button">Save and continue</button>
      </form>
    </>
  );
}

export function AgreementText(props: { blocks: BlockView[]; labelledBy?: string }) {
  return (
    <article class="agreement" aria-labelledby={props.labelledBy} tabindex={0}>
      {props.blocks.map((b) => (b.kind === "title" ? <h3>{b.text}</h3> : b.kind === "heading" ? <h4>{b.text}</h4> : <p>{b.text}</p>))}
    </article>
  );
}

function ReviewStep(props: WizardProps) {
  const nonce = useNonce();
  const version = props.version!;
  return (
    <>
      <h2 id="step-title">Step 2 of 4: Review the agreement</h2>
      {props.outOfDate ? <div class="alert alert-info"><p>A new version of the agreement is in effect. Your practice must sign it before adding patient information again.</p></div> : null}
      <p>
        {version.title}, version {version.version}, in effect from {version.effectiveOn}. SHA-256 of this text: <code class="hash">{version.sha256}</code>
      </p>
      <p><a href="/baa/agreement.pdf" download>Download this agreement as PDF</a> (for review; not signed).</p>
      <AgreementText blocks={props.blocks ?? []} labelledBy="step-title" />
      <p class="actions">
        <a class="button" href="/baa?step=sign" hx-get="/baa?step=sign" hx-target="#baa-wizard" hx-swap="outerHTML" hx-push-url="true" hx-nonce={nonce}>Continue to signing</a>
      </p>
    </>
  );
}

function Checkbox(props: { name: string; label: string; error?: string; checked?: boolean; describedBy?: string }) {
  const id = `field-${props.name}`;
  const described = [props.describedBy, props.error ? `${id}-error` : null].filter(Boolean).join(" ");
  return (
    <div class="field field-checkbox">
      <input type="checkbox" id={id} name={props.name} value="yes" checked={props.checked} required aria-invalid={props.error ? "true" : undefined} aria-describedby={described || undefined} />
      <label for={id}>{props.label}</label>
      {props.error ? <p class="field-error" id={`${id}-error`}>{props.error}</p> : null}
    </div>
  );
}

function SignStep(props: WizardProps) {
  const nonce = useNonce();
  const v = props.values ?? {};
  const e = props.errors ?? {};
  const version = props.version!;
  return (
    <>
      <h2 id="step-title">Step 3 of 4: Sign</h2>
      <p>
        You are signing {version.title}, version {version.version} (SHA-256 <code class="hash">{version.sha256}</code>) for {props.practiceName}.{" "}
        <a href="/baa?step=review" hx-get="/baa?step=review" hx-target="#baa-wizard" hx-swap="outerHTML" hx-push-url="true" hx-nonce={nonce}>Read it again</a>.
      </p>
      <FormErrors errors={e} message={props.message} />
      <form method="post" action="/baa/sign" novalidate hx-post="/baa/sign" hx-target="#baa-wizard" hx-swap="outerHTML" hx-nonce={nonce}>
        <input type="hidden" name="versionId" value={version.id} />
        <Field name="typedName" label="Your full legal name" value={v.typedName} error={e.typedName} maxlength={200} autocomplete="name" hint="Typing your name is your signature." />
        <Field name="title" label="Your title" value={v.title} error={e.title} maxlength={200} autocomplete="organization-title" hint="For example Practice Administrator, Owner, Medical Director." />
        <Checkbox name="authorized" label={`I am authorized to sign for ${props.practiceName}`} error={e.authorized} checked={v.authorized === "yes"} />
        <h3 id="consent-title">Consent to sign electronically</h3>
        <p id="consent-text" class="consent-text">{props.consentText}</p>
        <Checkbox name="consent" label="I agree to sign electronically, as described above" error={e.consent} checked={v.consent === "yes"} describedBy="consent-text" />
        <button type="submit" class="button">Sign agreement</button>
      </form>
    </>
  );
}

function DoneStep(props: WizardProps) {
  const s = props.signed!;
  return (
    <>
      <h2 id="step-title">Step 4 of 4: Done</h2>
      <div class="alert alert-success" role="status">
        <p>{props.practiceName} signed the Business Associate Agreement (version {s.version}). Your practice can now create mailing jobs and upload patient information.</p>
      </div>
      <dl class="facts">
        <dt>Signed by</dt><dd>{s.typedName}, {s.title}</dd>
        <dt>Signed at (UTC)</dt><dd><time datetime={s.signedAtUtc}>{s.signedAtUtc}</time></dd>
        <dt>Verification id</dt><dd><code>{s.verificationId}</code></dd>
        <dt>Agreement SHA-256</dt><dd><code class="hash">{s.baaSha256}</code></dd>
        <dt>Executed PDF SHA-256</dt><dd><code class="hash">{s.pdfSha256}</code></dd>
      </dl>
      <p class="actions">
        <a class="button" href={s.downloadHref}>Download the executed agreement (PDF)</a>
        <a class="button button-secondary" href="/baa/signatures">Signature history</a>
        <a class="button button-secondary" href="/app">Go to the practice home</a>
      </p>
      <p class="hint">The download link works for you only, for a few minutes; reload this page for a fresh one.</p>
    </>
  );
}

/** The wizard region (the htmx target): progress plus the current step. */
export function BaaWizard(props: WizardProps) {
  return (
    <section id="baa-wizard" aria-labelledby="step-title" class="wizard">
      <Progress step={props.step} reachable={props.reachable} />
      {props.step === "profile" ? <ProfileStep {...props} /> : props.step === "review" ? <ReviewStep {...props} /> : props.step === "sign" ? <SignStep {...props} /> : <DoneStep {...props} />}
    </section>
  );
}

export function BaaWizardPage(props: WizardProps) {
  return (
    <>
      <h1>Business Associate Agreement</h1>
      <p class="lead">Before {props.practiceName} can add patient information, an administrator signs a Business Associate Agreement (BAA) with PatientLetterHub, as HIPAA requires. Your answers are saved as you go: you can stop and come back.</p>
      <BaaWizard {...props} />
    </>
  );
}
