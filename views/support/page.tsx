// The support page (every signed-in person): how to reach support, and the form to report a
// security or privacy incident, with a clear warning to leave patient information out.
import { Field, FormErrors, SelectField } from "../components/field.tsx";

export type SupportPageProps = {
  supportEmail: string;
  categories: readonly { value: string; label: string }[];
  /** The time zone "when noticed" is read in (the practice's, else UTC). */
  timeZone: string;
  values?: Record<string, string>;
  errors?: Record<string, string>;
  /** After a report: its reference. */
  reported?: string | null;
  descriptionMax: number;
};

export function SupportPage(props: SupportPageProps) {
  const v = props.values ?? {};
  const e = props.errors ?? {};
  const described = ["incident-phi-warning", "field-description-hint", e.description ? "field-description-error" : null].filter(Boolean).join(" ");
  return (
    <section aria-labelledby="support-title">
      <h1 id="support-title">Support</h1>
      <h2>Contact support</h2>
      <p>
        Email <a href={`mailto:${props.supportEmail}`}>{props.supportEmail}</a> with your practice's name and, for a mailing, its job reference
        (like PLH-2026-000123). Never send patient names, addresses or lists by email: we will never ask for them.
      </p>

      <h2 id="incident-title">Report a security or privacy incident</h2>
      <p>
        Tell us at once if letters went to the wrong people, if someone may have seen information they should not have, or if an account may be
        compromised. The platform's security team is alerted as soon as you send this form.
      </p>
      {props.reported ? (
        <div class="alert alert-success" role="status">
          <p>Report <strong>{props.reported}</strong> received. The security team has been alerted and will contact you. Keep this reference.</p>
        </div>
      ) : null}
      <div class="alert alert-error" id="incident-phi-warning" role="note">
        <p><strong>Do not include patient information.</strong> No patient names, dates of birth, addresses, record numbers or list contents: describe what happened and, if it helps, give job references (PLH-…). The security team will ask for anything else through a secure channel.</p>
      </div>
      <FormErrors errors={e} />
      <form method="post" action="/support/incidents" novalidate aria-labelledby="incident-title">
        <SelectField name="category" label="What kind of incident?" options={props.categories} selected={v.category} error={e.category} />
        <div class="field">
          <label for="field-description">What happened</label>
          <p class="hint" id="field-description-hint">What you saw, what it affects, and what has been done so far. At most {props.descriptionMax.toLocaleString("en-US")} characters.</p>
          <textarea id="field-description" name="description" rows={8} maxlength={props.descriptionMax} required
            aria-invalid={e.description ? "true" : undefined} aria-describedby={described}>{v.description ?? ""}</textarea>
          {e.description ? <p class="field-error" id="field-description-error">{e.description}</p> : null}
        </div>
        <Field name="noticedAt" label="When did you notice it?" type="datetime-local" value={v.noticedAt} error={e.noticedAt}
          hint={`Date and time, in ${props.timeZone === "UTC" ? "UTC" : `your practice's time zone (${props.timeZone})`}.`} />
        <button type="submit" class="button">Send the report</button>
      </form>
    </section>
  );
}
