// A labelled form field with its hint and error tied to the input for screen readers.
export type FieldProps = {
  name: string;
  /** Needed when the same field appears more than once on a page (ids must be unique). */
  id?: string;
  label: string;
  type?: string;
  value?: string;
  error?: string;
  hint?: string;
  autocomplete?: string;
  required?: boolean;
  minlength?: number;
  maxlength?: number;
  inputmode?: "numeric" | "text" | "email";
};

export function Field(props: FieldProps) {
  const id = props.id ?? `field-${props.name}`;
  const described = [props.hint ? `${id}-hint` : null, props.error ? `${id}-error` : null].filter(Boolean).join(" ");
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      {props.hint ? <p class="hint" id={`${id}-hint`}>{props.hint}</p> : null}
      <input
        id={id}
        name={props.name}
        type={props.type ?? "text"}
        value={props.type === "password" ? undefined : props.value}
        autocomplete={props.autocomplete}
        required={props.required ?? true}
        minlength={props.minlength}
        maxlength={props.maxlength}
        inputmode={props.inputmode}
        aria-invalid={props.error ? "true" : undefined}
        aria-describedby={described || undefined}
      />
      {props.error ? <p class="field-error" id={`${id}-error`}>{props.error}</p> : null}
    </div>
  );
}

/** A summary at the top of a refused form: a screen reader hears it first. */
export function FormErrors(props: { errors?: Record<string, string>; message?: string }) {
  const count = props.errors ? Object.keys(props.errors).length : 0;
  if (!count && !props.message) return null;
  return (
    <div class="alert alert-error" role="alert">
      <p>{props.message ?? `Please correct ${count === 1 ? "the highlighted field" : `the ${count} highlighted fields`}.`}</p>
    </div>
  );
}

/** A labelled drop-down with a "Choose…" first option, its hint and error tied to it like Field's. */
export function SelectField(props: { name: string; label: string; options: readonly { value: string; label: string }[]; selected?: string; error?: string; hint?: string }) {
  const id = `field-${props.name}`;
  const described = [props.hint ? `${id}-hint` : null, props.error ? `${id}-error` : null].filter(Boolean).join(" ");
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      {props.hint ? <p class="hint" id={`${id}-hint`}>{props.hint}</p> : null}
      <select id={id} name={props.name} required aria-invalid={props.error ? "true" : undefined} aria-describedby={described || undefined}>
        <option value="">Choose…</option>
        {props.options.map((o) => <option value={o.value} selected={o.value === props.selected}>{o.label}</option>)}
      </select>
      {props.error ? <p class="field-error" id={`${id}-error`}>{props.error}</p> : null}
    </div>
  );
}
