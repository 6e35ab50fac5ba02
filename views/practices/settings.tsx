// Practice settings (admins): the profile, the letterhead (return address, signer, logo), the
// two-person approval rule, and read-only views of the retention policy and the BAA in force.
// Pure function of its props; every form works without script.
import { Field, FormErrors, SelectField } from "../components/field.tsx";
import { ProfileFields } from "../baa/wizard.tsx";
import { ApprovalRuleForm } from "../proofs/panel.tsx";

type FormState = { values: Record<string, string>; errors: Record<string, string> };

export type PracticeSettingsProps = {
  practiceName: string;
  notice?: string;
  message?: string;
  profile: FormState & { timeZones: { value: string; label: string }[]; states: readonly string[] };
  letterhead: FormState & {
    states: readonly string[];
    /** The return address comes from the profile until one is saved here. */
    returnFromProfile: boolean;
    logo: { href: string; type: string; kb: number; sha256: string } | null;
    logoError?: string;
    maxLogoKb: number;
  };
  twoPersonApproval: boolean;
  retention: { jobDataDays: number; draftDays: number; auditYears: number };
  baa: { state: "signed" | "never_signed" | "out_of_date"; version: number | null; signedBy: string | null; signedOn: string | null; signedAtUtc: string | null; downloadHref: string | null };
};

function Section(props: { id: string; title: string; children?: any }) {
  return (
    <section class="card settings-section" id={props.id} aria-labelledby={`${props.id}-title`}>
      <h2 id={`${props.id}-title`}>{props.title}</h2>
      {props.children}
    </section>
  );
}

function LetterheadForm(props: PracticeSettingsProps["letterhead"]) {
  const v = props.values;
  const e = props.errors;
  return (
    <form method="post" action="/practice/settings/letterhead" novalidate aria-labelledby="letterhead-address-title">
      <h3 id="letterhead-address-title">Return address and signer</h3>
      <FormErrors errors={e} />
      <p class="hint">
        New jobs start with this return address (printed in the envelope's upper window), and new letters with this signer; each job can still change them.
        {props.returnFromProfile ? " Until you save one here, the practice profile's address is used." : ""}
      </p>
      <Field name="returnName" label="Name on the return address" value={v.returnName} error={e.returnName} maxlength={100} />
      <Field name="returnLine1" label="Return street address" value={v.returnLine1} error={e.returnLine1} maxlength={100} />
      <Field name="returnLine2" label="Suite, floor or unit (optional)" value={v.returnLine2} error={e.returnLine2} maxlength={100} required={false} />
      <Field name="returnCity" label="City" value={v.returnCity} error={e.returnCity} maxlength={60} />
      <SelectField name="returnState" label="State" selected={v.returnState} error={e.returnState} options={props.states.map((s) => ({ value: s, label: s }))} />
      <Field name="returnZip" label="ZIP code" value={v.returnZip} error={e.returnZip} maxlength={10} inputmode="numeric" />
      <Field name="signerName" label="Signer's name (optional)" value={v.signerName} error={e.signerName} maxlength={100} required={false} hint="As it should print under the closing, like “Dana Lee, MD”." />
      <Field name="signerTitle" label="Signer's title (optional)" value={v.signerTitle} error={e.signerTitle} maxlength={100} required={false} hint="Like “Medical Director”." />
      <button type="submit" class="button">Save the letterhead</button>
    </form>
  );
}

function LogoForm(props: PracticeSettingsProps["letterhead"]) {
  return (
    <div aria-labelledby="logo-title" role="group">
      <h3 id="logo-title">Logo</h3>
      {props.logo ? (
        <>
          <p><img src={props.logo.href} alt="The practice logo as it prints on letters" class="settings-logo" /></p>
          <p class="muted">{props.logo.type === "image/png" ? "PNG" : "JPEG"}, {props.logo.kb} KB. Prints at the top right of every letter whose job has no logo of its own.</p>
          <form method="post" action="/practice/settings/logo/remove" class="inline-form">
            <button type="submit" class="button button-secondary">Remove the logo</button>
          </form>
        </>
      ) : <p>No logo: letters show the practice name only, unless a job uploads its own.</p>}
      {props.logoError ? <div class="alert alert-error" role="alert"><p>{props.logoError}</p></div> : null}
      <form method="post" action="/practice/settings/logo" enctype="multipart/form-data">
        <div class="field">
          <label for="field-logo">{props.logo ? "Replace it with" : "Upload a logo"}</label>
          <p class="hint" id="field-logo-hint">PNG or JPEG, at most {props.maxLogoKb} KB. It prints about 2¾ × ¾ inches.</p>
          <input id="field-logo" name="logo" type="file" accept="image/png,image/jpeg" required aria-describedby="field-logo-hint" aria-invalid={props.logoError ? "true" : undefined} />
        </div>
        <button type="submit" class="button">Upload the logo</button>
      </form>
    </div>
  );
}

function BaaFacts(props: PracticeSettingsProps["baa"]) {
  if (props.state !== "signed") {
    return (
      <p>
        {props.state === "out_of_date" ? "A new version of the agreement is in effect and has not been signed yet." : "The agreement has not been signed yet."}{" "}
        <a href="/baa">Open the Business Associate Agreement</a> to sign it.
      </p>
    );
  }
  return (
    <>
      <dl class="facts">
        <dt>Version</dt><dd>{props.version}</dd>
        <dt>Signed by</dt><dd>{props.signedBy}</dd>
        <dt>Signed on</dt><dd><time datetime={props.signedAtUtc ?? undefined}>{props.signedOn}</time></dd>
      </dl>
      <p><a href={props.downloadHref!}>Download the executed agreement (PDF)</a> · <a href="/baa/signatures">Signature history</a></p>
    </>
  );
}

export function PracticeSettingsPage(props: PracticeSettingsProps) {
  const r = props.retention;
  return (
    <section aria-labelledby="settings-title">
      <h1 id="settings-title">Practice settings</h1>
      <p class="lead">Settings for {props.practiceName}. Only administrators see this page; every change is recorded in the audit trail.</p>
      {props.notice ? <div class="alert alert-success" role="status"><p>{props.notice}</p></div> : null}
      <FormErrors message={props.message} />

      <Section id="profile" title="Practice profile">
        <form method="post" action="/practice/settings/profile" novalidate>
          <FormErrors errors={props.profile.errors} />
          <ProfileFields values={props.profile.values} errors={props.profile.errors} timeZones={props.profile.timeZones} states={props.profile.states} />
          <button type="submit" class="button">Save the profile</button>
        </form>
      </Section>

      <Section id="letterhead" title="Letterhead">
        <LetterheadForm {...props.letterhead} />
        <LogoForm {...props.letterhead} />
      </Section>

      {/* The rule's form carries its own heading ("Proof approval"). */}
      <div class="card settings-section" id="approval-rule">
        <ApprovalRuleForm on={props.twoPersonApproval} />
      </div>

      <Section id="retention" title="Data retention (read-only)">
        <dl class="facts">
          <dt>Job files and letter text</dt><dd>Deleted {r.jobDataDays} days after a job is completed or cancelled</dd>
          <dt>Inactive drafts</dt><dd>Cancelled after {r.draftDays} days without activity</dd>
          <dt>Audit trail</dt><dd>Kept {r.auditYears} years</dd>
        </dl>
        <p class="hint">The platform sets these periods. <a href="/retention">Data and retention</a> lists the certificates of destruction and data requests.</p>
      </Section>

      <Section id="baa" title="Business Associate Agreement (read-only)">
        <BaaFacts {...props.baa} />
      </Section>
    </section>
  );
}
