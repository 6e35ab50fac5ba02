// The job wizard's progress indicator, shared by every step (the uploads step renders it too).
// Steps are plain links (a full page each), so any step's page can render it whatever its own
// htmx target is; the current step carries aria-current="step" and every state is said in words.

export type JobWizardStep = "details" | "attestation" | "uploads" | "letter" | "review";

export const JOB_WIZARD_STEPS: readonly { step: JobWizardStep; label: string }[] = [
  { step: "details", label: "Details" },
  { step: "attestation", label: "PHI attestation" },
  { step: "uploads", label: "Recipient list" },
  { step: "letter", label: "Letter" },
  { step: "review", label: "Review and submit" },
];

export type JobWizardProgressProps = {
  /** null while the job does not exist yet (the first step of a new job). */
  jobId: string | null;
  current: JobWizardStep;
  /** Steps already finished. */
  done: ReadonlySet<JobWizardStep> | readonly JobWizardStep[];
};

/** The path of a step of a job's wizard. */
export function jobStepPath(jobId: string, step: JobWizardStep): string {
  return `/jobs/${jobId}/${step}`;
}

export function JobWizardProgress(props: JobWizardProgressProps) {
  const done = new Set<JobWizardStep>(props.done);
  // Uploads, letter and review open once the attestation is made (no upload before it).
  const reachable = (step: JobWizardStep) =>
    props.jobId !== null && (step === "details" || step === "attestation" || done.has("attestation"));
  return (
    <nav aria-label="Job progress" class="wizard-progress">
      <ol class="wizard-steps">
        {JOB_WIZARD_STEPS.map((s, i) => {
          const current = s.step === props.current;
          const finished = done.has(s.step);
          const state = current ? "Current: " : finished ? "Completed: " : "Not started: ";
          const label = <><span class="visually-hidden">{state}</span>Step {i + 1}. {s.label}{finished && !current ? <span class="step-done" aria-hidden="true"> ✓</span> : null}</>;
          return (
            <li class={current ? "current" : finished ? "done" : "todo"} aria-current={current ? "step" : undefined}>
              {!current && reachable(s.step) ? <a href={jobStepPath(props.jobId!, s.step)}>{label}</a> : label}
            </li>
          );
        })}
      </ol>
    </nav>
  );
}
