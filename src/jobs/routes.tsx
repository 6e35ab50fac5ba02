// The jobs pages: the dashboard, the wizard (details → attestation → [uploads: upload-routes.tsx]
// → letter → review and submit), the job page with its timeline and live status, and cancelling.
// Thin: parse with the forms, call the service, pick a view. A saved step sends the browser on to
// the next step (303, or HX-Redirect for htmx); a refused one comes back with its messages (422).
import { type Context, Hono } from "hono";
import type { Config } from "../config.ts";
import type { BlobStore } from "../platform/blob.ts";
import type { WorkSender } from "../platform/queue.ts";
import { proofPanel } from "../proofs/service.ts";
import { proofSectionProps } from "../proofs/views.ts";
import type { HonoEnv } from "../context.ts";
import type { AuditAction } from "../audit/actions.ts";
import { can } from "../auth/permissions.ts";
import { formValues, parseForm } from "../auth/forms.ts";
import { US_STATES } from "../baa/forms.ts";
import { refuseWithoutBaa, respondBaaRequired } from "../baa/http.tsx";
import { BaaRequiredError } from "../baa/service.ts";
import { auditDenied } from "../http/audit-denied.ts";
import { respondWithError } from "../http/errors.tsx";
import { requirePermission } from "../http/guards.ts";
import { render, goTo } from "../http/render.tsx";

import { memberOf } from "../http/member.ts";
import type { Db } from "../platform/db.ts";
import type { Job, JobFile } from "../platform/schema.ts";
import { certificatePath, jobCertificate } from "../retention/certificates.ts";
import { JobPage, type JobPageProps, JobResults, JobsDashboardPage, JobStatusRegion, type JobStatusProps, type TimelineEntry } from "../../views/jobs/pages.tsx";
import { type FileView, JobWizard, JobWizardPage, type JobWizardProps } from "../../views/jobs/wizard.tsx";
import { jobStepPath } from "../../views/jobs/wizard-steps.tsx";
import { attestationStatement } from "./attestation.ts";
import { attestationForm, cancelForm, jobDetailsForm, jobListQuery, LETTER_TYPES, letterForm, MAIL_CLASSES } from "./forms.ts";
import { isEditable, JOB_STATUSES, type JobStatus, statusLabel } from "./lifecycle.ts";
import { checkLetter, letterProblem } from "./letters.ts";
import { letterStepProps, letterTemplateRoutes } from "./template-routes.tsx";
import { letterEditor } from "./templates.ts";
import { letterSigner } from "../practices/letterhead.ts";
import { attestJob, cancelJob, createJob, JobError, jobPage, jobStatus, jobWizard, LetterError, listPracticeJobs, newJobDefaults, readLetter, saveLetter, submitJob, updateJobDetails, type WizardState } from "./service.ts";
import { clock } from "../platform/time.ts";

export type JobRouteDeps = { db: Db; config: Config; blob: BlobStore; queue?: WorkSender };

const ERROR_STATUS: Record<JobError["code"], number> = {
  not_found: 404, forbidden: 403, not_allowed: 409, not_editable: 409, not_ready: 422, conflict: 409, stale_statement: 409,
};

/** Statuses someone other than the practice moves on next (the renderer, the print shop): the page polls. */
const MOVING: readonly JobStatus[] = ["submitted", "approved", "in_production", "mailed"];

const EXPLANATIONS: Record<JobStatus, string> = {
  draft: "Being set up by your practice; nothing is sent until it is submitted.",
  submitted: "Submitted: the proof is being prepared.",
  proof_ready: "The proof is ready for your practice to approve or send back.",
  changes_requested: "Changes were requested: edit the job and submit it again.",
  approved: "Approved: waiting for the print shop to start production.",
  in_production: "The letters are being printed.",
  mailed: "The letters were handed to the postal service.",
  completed: "Completed.",
  cancelled: "Cancelled: nothing more will happen to this job.",
};

const ACTION_WORDS: Record<string, string> = {
  "job.data.purged": "Files and letter deleted (retention); certificate of destruction issued",
  "job.created": "Job created",
  "job.updated": "Details changed",
  "job.attested": "PHI attestation confirmed",
  "job.letter.saved": "Letter saved",
  "job.letter.viewed": "Letter opened",
  "job.upload_url.issued": "Upload started",
  "job.file.verified": "File verified",
  "job.file.rejected": "File rejected",
  "job.file.replaced": "File replaced",
  "proof.rendered": "Proof rendered",
  "proof.viewed": "Proof opened",
  "proof.approved": "Proof approved",
  "proof.changes_requested": "Changes requested",
  "proof.retry_requested": "Proof rendered again on request",
  "job.print_file.rendered": "Print file ready",
  "job.print_file.downloaded": "Print file downloaded by the print shop",
};

const labelOf = (list: readonly { value: string; label: string }[], value: string) => list.find((o) => o.value === value)?.label ?? value;
const FILE_KINDS: Record<string, string> = { recipients_csv: "Recipient list (CSV)", logo: "Logo", signature: "Signature image" };
const FILE_STATES: Record<string, string> = { pending: "Uploading or being checked", verified: "Verified", rejected: "Rejected", replaced: "Replaced", purged: "Purged" };

function sizeText(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

function fileViews(files: JobFile[], timeZone: string): FileView[] {
  const at = clock(timeZone);
  return files.map((f) => ({
    kind: FILE_KINDS[f.kind] ?? f.kind, state: FILE_STATES[f.status] ?? f.status,
    size: sizeText(Number(f.size ?? f.declared_size)), when: at(f.created_at).text,
  }));
}

function returnAddress(job: Job): string[] {
  return [job.return_name, job.return_line1, job.return_line2, `${job.return_city}, ${job.return_state} ${job.return_zip}`].filter((l): l is string => Boolean(l));
}

function detailsValues(job: Job): Record<string, string> {
  return {
    title: job.title, letterType: job.letter_type, mailClass: job.mail_class, returnName: job.return_name, returnLine1: job.return_line1,
    returnLine2: job.return_line2 ?? "", returnCity: job.return_city, returnState: job.return_state, returnZip: job.return_zip,
  };
}

function statusView(status: JobStatus) {
  return { value: status, label: statusLabel(status) };
}

export function jobRoutes(deps: JobRouteDeps) {
  const app = new Hono<HonoEnv>();
  const read = requirePermission(deps, "jobs.read");
  const write = requirePermission(deps, "jobs.write");
  const letterReader = requirePermission(deps, "proofs.view");
  const letterDeps = { db: deps.db, keys: deps.config.keys.encryption };

  const actorOf = memberOf;

  /** The answer to a refusal from the service; `audit` names the attempted action for state changes. */
  async function refuse(c: Context<HonoEnv>, error: unknown, audit?: { action: AuditAction; jobRef?: string }): Promise<Response> {
    if (error instanceof BaaRequiredError) {
      if (!audit) return respondBaaRequired(c, error);
      return refuseWithoutBaa(deps.db, c, error, { action: audit.action, target: audit.jobRef ? { type: "job", id: audit.jobRef } : undefined });
    }
    if (!(error instanceof JobError)) throw error;
    if (error.code === "not_found") return c.notFound();
    if (audit && error.code !== "not_ready") {
      await auditDenied(deps.db, c, {
        action: audit.action, role: c.get("membership")?.role ?? null, details: { reason: error.code },
        ...(audit.jobRef ? { target: { type: "job", id: audit.jobRef } } : {}),
      });
    }
    return respondWithError(c, ERROR_STATUS[error.code], error.message);
  }

  function wizard(c: Context<HonoEnv>, props: JobWizardProps, status = 200) {
    const title = props.reference ? `Job ${props.reference}` : "New mailing job";
    return render(c, { title, status, page: <JobWizardPage {...props} />, fragment: <JobWizard {...props} /> });
  }

  const common = (s: WizardState) => ({ jobId: s.job.id, reference: s.job.reference, done: [...s.done] });
  const detailsStep = { step: "details" as const, letterTypes: LETTER_TYPES, mailClasses: MAIL_CLASSES, states: US_STATES };

  function attestedView(s: WizardState) {
    if (!s.attestation) return null;
    const at = clock(s.practice.time_zone)(s.attestation.attested_at);
    return { by: s.attestation.full_name, at: at.text, atUtc: at.utc, version: s.attestation.statement_version, sha256: s.attestation.statement_sha256 };
  }

  function attestationProps(s: WizardState, extra: Partial<JobWizardProps> = {}): JobWizardProps {
    const statement = attestationStatement();
    return {
      ...common(s), step: "attestation", attested: attestedView(s),
      statement: { version: statement.version, sha256: statement.sha256, paragraphs: statement.text.split("\n\n") }, ...extra,
    } as JobWizardProps;
  }

  function reviewProps(s: WizardState, message?: string): JobWizardProps {
    const at = clock(s.practice.time_zone);
    const job = s.job;
    return {
      ...common(s), step: "review", message,
      summary: { title: job.title, letterType: labelOf(LETTER_TYPES, job.letter_type), mailClass: labelOf(MAIL_CLASSES, job.mail_class), returnAddress: returnAddress(job) },
      attestation: attestedView(s),
      files: fileViews(s.files, s.practice.time_zone),
      letter: job.letter_saved_at && job.letter_length ? { length: job.letter_length, fields: job.letter_fields ?? [], at: at(job.letter_saved_at).text, atUtc: at(job.letter_saved_at).utc } : null,
      blockers: s.blockers,
    };
  }

  /**
   * Loads the job for a wizard step (another practice's job: 404). With `gate`, an editable job also
   * needs the BAA in force: a refused GET shows the BAA page, a refused POST is also audited as
   * `audit` denied on the job.
   */
  async function step(c: Context<HonoEnv>, gate = true, audit?: AuditAction): Promise<WizardState | Response> {
    let s: WizardState;
    try {
      s = await jobWizard(deps, actorOf(c), c.req.param("id")!);
    } catch (error) {
      return refuse(c, error);
    }
    if (gate && isEditable(s.job.status)) {
      try {
        await newJobDefaults(deps, actorOf(c));
      } catch (error) {
        return refuse(c, error, audit ? { action: audit, jobRef: s.job.reference } : undefined);
      }
    }
    return s;
  }

  // ---- dashboard ---------------------------------------------------------------------------------

  app.get("/jobs", read, async (c) => {
    const query = jobListQuery.parse(c.req.query());
    const list = await listPracticeJobs(deps, actorOf(c), query);
    const at = clock(list.timeZone);
    const href = (page: number) => {
      const params = new URLSearchParams();
      if (query.q) params.set("q", query.q);
      if (query.status) params.set("status", query.status);
      if (page > 1) params.set("page", String(page));
      const text = params.toString();
      return `/jobs${text ? `?${text}` : ""}`;
    };
    const props = {
      practiceName: "your practice", canCreate: can(c.get("membership")!.role, "jobs.write"), q: query.q ?? "", status: query.status ?? "",
      statuses: JOB_STATUSES.map((s) => ({ value: s, label: statusLabel(s) })),
      rows: list.rows.map((r) => ({
        id: r.id, reference: r.reference, title: r.title, letterType: labelOf(LETTER_TYPES, r.letter_type), mailClass: labelOf(MAIL_CLASSES, r.mail_class),
        status: statusView(r.status), updated: at(r.updated_at).text, updatedUtc: at(r.updated_at).utc,
      })),
      total: list.total, page: list.page, pages: list.pages,
      prevHref: list.page > 1 ? href(Math.min(list.page - 1, list.pages)) : null,
      nextHref: list.page < list.pages ? href(list.page + 1) : null,
    };
    return render(c, { title: "Jobs", page: <JobsDashboardPage {...props} />, fragment: <JobResults {...props} /> });
  });

  // ---- wizard: details ---------------------------------------------------------------------------

  app.get("/jobs/new", write, async (c) => {
    try {
      const defaults = await newJobDefaults(deps, actorOf(c));
      return wizard(c, { ...detailsStep, jobId: null, done: [], values: defaults });
    } catch (error) {
      return refuse(c, error);
    }
  });

  app.post("/jobs", write, async (c) => {
    const body = await c.req.parseBody();
    try {
      await newJobDefaults(deps, actorOf(c)); // the gate, before looking at the form
    } catch (error) {
      return refuse(c, error, { action: "job.created" });
    }
    const form = parseForm(jobDetailsForm, body);
    if (!form.ok) return wizard(c, { ...detailsStep, jobId: null, done: [], values: formValues(body), errors: form.errors }, 422);
    let job: Job;
    try {
      job = await createJob(deps, actorOf(c), form.data);
    } catch (error) {
      return refuse(c, error, { action: "job.created" });
    }
    return goTo(c, jobStepPath(job.id, "attestation"));
  });

  /** Resume: the first unfinished step. */
  app.get("/jobs/:id/edit", write, async (c) => {
    const s = await step(c, false);
    if (s instanceof Response) return s;
    return c.redirect(isEditable(s.job.status) ? jobStepPath(s.job.id, s.resume) : `/jobs/${s.job.id}`, 303);
  });

  app.get("/jobs/:id/details", write, async (c) => {
    const s = await step(c);
    if (s instanceof Response) return s;
    if (!isEditable(s.job.status)) return c.redirect(`/jobs/${s.job.id}`, 303);
    return wizard(c, { ...detailsStep, ...common(s), values: detailsValues(s.job) });
  });

  app.post("/jobs/:id/details", write, async (c) => {
    const body = await c.req.parseBody();
    const s = await step(c, true, "job.updated");
    if (s instanceof Response) return s;
    const form = parseForm(jobDetailsForm, body);
    if (!form.ok) return wizard(c, { ...detailsStep, ...common(s), values: formValues(body), errors: form.errors }, 422);
    try {
      await updateJobDetails(deps, actorOf(c), s.job.id, form.data);
    } catch (error) {
      return refuse(c, error, { action: "job.updated", jobRef: s.job.reference });
    }
    return goTo(c, jobStepPath(s.job.id, s.resume));
  });

  // ---- wizard: attestation -----------------------------------------------------------------------

  app.get("/jobs/:id/attestation", write, async (c) => {
    const s = await step(c);
    if (s instanceof Response) return s;
    if (!isEditable(s.job.status)) return c.redirect(`/jobs/${s.job.id}`, 303);
    return wizard(c, attestationProps(s));
  });

  app.post("/jobs/:id/attestation", write, async (c) => {
    const body = await c.req.parseBody();
    const s = await step(c, true, "job.attested");
    if (s instanceof Response) return s;
    const form = parseForm(attestationForm, body);
    if (!form.ok) return wizard(c, attestationProps(s, { values: formValues(body), errors: form.errors }), 422);
    try {
      await attestJob(deps, actorOf(c), s.job.id, form.data);
    } catch (error) {
      if (error instanceof JobError && error.code === "stale_statement") {
        return wizard(c, attestationProps(s, { values: formValues(body), message: error.message }), 409);
      }
      return refuse(c, error, { action: "job.attested", jobRef: s.job.reference });
    }
    return goTo(c, jobStepPath(s.job.id, "uploads"));
  });

  // ---- wizard: letter ----------------------------------------------------------------------------

  app.get("/jobs/:id/letter", letterReader, async (c) => {
    let letter: Awaited<ReturnType<typeof readLetter>>;
    try {
      letter = await readLetter(letterDeps, actorOf(c), c.req.param("id"));
    } catch (error) {
      return refuse(c, error);
    }
    const s = letter.state;
    return wizard(c, letterStepProps(s, {
      body: letter.body, signer: letterSigner(s.job, s.letterhead), templates: letter.templates,
      editable: isEditable(s.job.status) && can(c.get("membership")!.role, "jobs.write"),
    }));
  });

  app.post("/jobs/:id/letter", write, async (c) => {
    const body = await c.req.parseBody();
    const s = await step(c, true, "job.letter.saved");
    if (s instanceof Response) return s;
    const typed = typeof body.body === "string" ? body.body : "";
    const signer = { name: typeof body.signerName === "string" ? body.signerName.slice(0, 100) : "", title: typeof body.signerTitle === "string" ? body.signerTitle.slice(0, 100) : "" };
    const again = async (errors: Record<string, string>, status: number) => wizard(c, letterStepProps(s, {
      body: typed, signer, templates: (await letterEditor(letterDeps, actorOf(c), s.job.id)).templates, editable: true, errors, values: formValues(body),
    }), status);
    const form = parseForm(letterForm, body);
    if (!form.ok) {
      // Every problem at once: unknown merge fields are named even while the signer is missing.
      const problem = letterProblem(checkLetter(typed, s.fields), s.fields);
      return again(problem && !form.errors.body ? { ...form.errors, body: problem } : form.errors, 422);
    }
    try {
      await saveLetter(letterDeps, actorOf(c), s.job.id, form.data);
    } catch (error) {
      if (error instanceof LetterError) return again({ body: error.message }, 422);
      return refuse(c, error, { action: "job.letter.saved", jobRef: s.job.reference });
    }
    return goTo(c, jobStepPath(s.job.id, "review"));
  });

  // The letter editor's preview, templates and template list (template-routes.tsx).
  app.route("/", letterTemplateRoutes(deps));

  // ---- wizard: review and submit -----------------------------------------------------------------

  app.get("/jobs/:id/review", write, async (c) => {
    const s = await step(c, false);
    if (s instanceof Response) return s;
    if (!isEditable(s.job.status)) return c.redirect(`/jobs/${s.job.id}`, 303);
    return wizard(c, reviewProps(s));
  });

  app.post("/jobs/:id/submit", write, async (c) => {
    const s = await step(c, false);
    if (s instanceof Response) return s;
    try {
      await submitJob(deps, actorOf(c), s.job.id);
    } catch (error) {
      if (error instanceof JobError && error.code === "not_ready") return wizard(c, reviewProps(s, "This job is not ready to submit yet."), 422);
      return refuse(c, error, { action: "job.status.changed", jobRef: s.job.reference });
    }
    return goTo(c, `/jobs/${s.job.id}`);
  });

  // ---- the job page ------------------------------------------------------------------------------

  function statusProps(job: Pick<Job, "id" | "status" | "updated_at">, timeZone: string): JobStatusProps {
    const at = clock(timeZone)(job.updated_at);
    return { jobId: job.id, status: statusView(job.status), explanation: EXPLANATIONS[job.status], updated: at.text, updatedUtc: at.utc, poll: MOVING.includes(job.status) };
  }

  async function jobPageProps(c: Context<HonoEnv>, jobId: string): Promise<JobPageProps> {
    const d = await jobPage(deps, actorOf(c), jobId);
    const { job, practice } = d;
    const at = clock(practice.time_zone);
    const role = c.get("membership")!.role;
    const name = (id: string | null) => (id && d.names.get(id)) || "someone";
    const timeline: TimelineEntry[] = d.timeline.map((e) => {
      const details = (e.details ?? {}) as Record<string, unknown>;
      const what = e.action === "job.status.changed" && typeof details.to === "string"
        ? `Status: ${statusLabel(details.from as JobStatus) ?? details.from} → ${statusLabel(details.to as JobStatus) ?? details.to}`
        : ACTION_WORDS[e.action] ?? e.action;
      const who = e.actor_name ? `${e.actor_name}${e.actor_role ? ` (${e.actor_role})` : ""}` : e.actor_type === "system" ? "PatientLetterHub" : e.actor_type === "operator" ? "Print shop" : (e.actor_id ?? e.actor_type);
      const when = at(e.occurred_at);
      return { when: when.text, whenUtc: when.utc, what, who, outcome: e.outcome };
    });
    const letterAt = job.letter_saved_at ? at(job.letter_saved_at) : null;
    const panel = await proofPanel(deps, actorOf(c), job.id);
    const certificate = job.purged_at ? await jobCertificate(deps, { ...actorOf(c), role }, job.id) : null;
    return {
      proof: proofSectionProps(panel, at, name),
      jobId: job.id, reference: job.reference, title: job.title, status: statusProps(job, practice.time_zone),
      facts: [
        { label: "Reference", value: job.reference },
        { label: "Kind of letter", value: labelOf(LETTER_TYPES, job.letter_type) },
        { label: "Mail class", value: labelOf(MAIL_CLASSES, job.mail_class) },
        { label: "Created", value: `${at(job.created_at).text} by ${name(job.created_by)}` },
        ...(job.submitted_at ? [{ label: "Submitted", value: `${at(job.submitted_at).text} by ${name(job.submitted_by)}` }] : []),
        ...(job.mailed_on ? [{ label: "Mailed", value: `${job.mailed_on}${job.mailed_pieces ? `, ${job.mailed_pieces} pieces` : ""}` }] : []),
      ],
      returnAddress: returnAddress(job),
      files: fileViews(d.files, practice.time_zone),
      attestation: attestedView(d),
      letter: letterAt && job.letter_length ? { length: job.letter_length, fields: job.letter_fields ?? [], at: letterAt.text, atUtc: letterAt.utc, by: name(job.letter_saved_by) } : null,
      canReadLetter: can(role, "proofs.view"),
      resumeHref: isEditable(job.status) && can(role, "jobs.write") ? `/jobs/${job.id}/edit` : null,
      canCancel: can(role, "jobs.write") && !["in_production", "mailed", "completed", "cancelled"].includes(job.status),
      blockers: can(role, "jobs.write") ? d.blockers : [],
      cancelled: job.cancelled_at ? { by: job.cancelled_by ? name(job.cancelled_by) : "PatientLetterHub", at: at(job.cancelled_at).text, atUtc: at(job.cancelled_at).utc, reason: job.cancel_reason ?? "" } : null,
      purged: job.purged_at
        ? { at: at(job.purged_at).text, atUtc: at(job.purged_at).utc, certificateHref: certificate ? certificatePath(deps.config, actorOf(c), certificate.id) : null }
        : null,
      timeline, timeZone: practice.time_zone,
    };
  }

  app.get("/jobs/:id", read, async (c) => {
    let props: JobPageProps;
    try {
      props = await jobPageProps(c, c.req.param("id"));
    } catch (error) {
      return refuse(c, error);
    }
    return render(c, { title: `Job ${props.reference}`, page: <JobPage {...props} /> });
  });

  /** The live status fragment the job page polls while the job is moving. */
  app.get("/jobs/:id/status", read, async (c) => {
    let job: Awaited<ReturnType<typeof jobStatus>>;
    try {
      job = await jobStatus(deps, actorOf(c), c.req.param("id"));
    } catch (error) {
      return refuse(c, error);
    }
    return render(c, { title: `Job ${job.reference}`, page: <JobStatusRegion {...statusProps(job, job.timeZone)} /> });
  });

  app.post("/jobs/:id/cancel", write, async (c) => {
    const body = await c.req.parseBody();
    let props: JobPageProps;
    try {
      props = await jobPageProps(c, c.req.param("id"));
    } catch (error) {
      return refuse(c, error);
    }
    const form = parseForm(cancelForm, body);
    if (!form.ok) {
      const page = <JobPage {...props} cancelErrors={form.errors} cancelValue={typeof body.reason === "string" ? body.reason.slice(0, 500) : ""} />;
      return render(c, { title: `Job ${props.reference}`, status: 422, page });
    }
    try {
      await cancelJob(deps, actorOf(c), props.jobId, form.data.reason);
    } catch (error) {
      return refuse(c, error, { action: "job.status.changed", jobRef: props.reference });
    }
    return goTo(c, `/jobs/${props.jobId}`);
  });

  return app;
}
