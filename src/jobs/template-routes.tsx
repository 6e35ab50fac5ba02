// The letter editor's routes (issue 7 item 1), mounted by jobRoutes: the live preview, "start from
// a template", "save as practice template", and the practice's template list (rename, delete).
// Thin: parse with the forms, call the service, pick a view. letterStepProps() builds the letter
// step's view for these routes and for GET/POST /jobs/:id/letter (routes.tsx).
import { type Context, Hono } from "hono";
import type { HonoEnv } from "../context.ts";
import type { AuditAction } from "../audit/actions.ts";
import { formValues, parseForm } from "../auth/forms.ts";
import { refuseWithoutBaa, respondBaaRequired } from "../baa/http.tsx";
import { BaaRequiredError } from "../baa/service.ts";
import { auditDenied } from "../http/audit-denied.ts";
import { respondWithError } from "../http/errors.tsx";
import { requirePermission } from "../http/guards.ts";
import { isFragmentRequest, render, goTo } from "../http/render.tsx";

import { memberOf } from "../http/member.ts";
import type { Db } from "../platform/db.ts";
import type { Config } from "../config.ts";
import { LetterPreview, type LetterPreviewProps, TemplatesPage, type TemplatesPageProps } from "../../views/jobs/letter-editor.tsx";
import { JobWizard, JobWizardPage, type LetterStepProps } from "../../views/jobs/wizard.tsx";
import { jobStepPath } from "../../views/jobs/wizard-steps.tsx";
import { LETTER_TYPES, letterPreviewForm, letterTemplateForm, renameTemplateForm } from "./forms.ts";
import { isEditable } from "./lifecycle.ts";
import { previewLetter } from "./letters.ts";
import { JobError, type LetterDeps, LetterError, letterPreview, practiceName, type WizardState } from "./service.ts";
import type { TemplateSummary } from "./template-repo.ts";
import { letterSigner } from "../practices/letterhead.ts";
import { deletePracticeTemplate, letterEditor, practiceTemplates, renamePracticeTemplate, saveTemplateFromJob, startFromTemplate, TemplateNameTaken } from "./templates.ts";
import { clock, dateFormat } from "../platform/time.ts";

const typeLabel = (value: string) => LETTER_TYPES.find((t) => t.value === value)?.label ?? value;

export type LetterStepInput = {
  body: string;
  signer: { name: string; title: string };
  templates: readonly TemplateSummary[];
  editable: boolean;
  errors?: Record<string, string>;
  values?: Record<string, string>;
  message?: string;
  notice?: string;
};

/** The preview of `body` for the made-up sample recipient, with the job's letterhead and the signer typed. */
export function previewProps(s: WizardState, body: string, signer: { name: string; title: string }): LetterPreviewProps {
  const preview = previewLetter(body, s.fields);
  return {
    jobId: s.job.id,
    date: dateFormat(s.practice.time_zone, "longDate").format(new Date()),
    letterhead: letterheadOf(s), recipient: preview.recipient, paragraphs: preview.paragraphs, signer,
    problem: preview.problem, unknown: preview.check.unknown,
  };
}

function letterheadOf(s: WizardState) {
  const j = s.job;
  const verified = (kind: string) => s.files.some((f) => f.kind === kind && f.status === "verified");
  return {
    practiceName: practiceName(s.practice),
    returnAddress: [j.return_name, j.return_line1, j.return_line2 ?? "", `${j.return_city}, ${j.return_state} ${j.return_zip}`],
    logo: verified("logo") ? "job" as const : s.letterhead?.logo_blob ? "practice" as const : null, signature: verified("signature"), uploadsHref: jobStepPath(j.id, "uploads"),
  };
}

/** The letter step's view: the editor with its palette, preview, letterhead and templates (editable), or the letter to read. */
export function letterStepProps(s: WizardState, input: LetterStepInput): LetterStepProps {
  const at = clock(s.practice.time_zone);
  const job = s.job;
  return {
    jobId: job.id, reference: job.reference, done: [...s.done], step: "letter",
    body: input.body, fields: s.fields, letterTypeLabel: typeLabel(job.letter_type), editable: input.editable, signer: input.signer,
    saved: job.letter_saved_at ? { at: at(job.letter_saved_at).text, atUtc: at(job.letter_saved_at).utc } : null,
    errors: input.errors, values: input.values, message: input.message, notice: input.notice,
    ...(input.editable ? {
      preview: previewProps(s, input.body, input.signer),
      letterhead: letterheadOf(s),
      templateOptions: [
        { value: "starter", label: `Starting text for a ${typeLabel(job.letter_type).toLowerCase()} letter` },
        ...input.templates.map((t) => ({ value: t.id, label: `${t.name} (${typeLabel(t.letter_type).toLowerCase()})` })),
      ],
    } : {}),
  };
}

export function letterTemplateRoutes(deps: { db: Db; config: Config }) {
  const app = new Hono<HonoEnv>();
  const write = requirePermission(deps, "jobs.write");
  const letterDeps: LetterDeps = { db: deps.db, keys: deps.config.keys.encryption };

  const actorOf = memberOf;

  /** A refusal from the service; `audit` names the attempted action of a state change (audited as denied). */
  async function refuse(c: Context<HonoEnv>, error: unknown, audit?: { action: AuditAction; target?: { type: string; id: string } }): Promise<Response> {
    if (error instanceof BaaRequiredError) return audit ? refuseWithoutBaa(deps.db, c, error, audit) : respondBaaRequired(c, error);
    if (!(error instanceof JobError)) throw error;
    if (error.code === "not_found") return c.notFound();
    if (audit) {
      await auditDenied(deps.db, c, { action: audit.action, role: c.get("membership")?.role ?? null, details: { reason: error.code }, ...(audit.target ? { target: audit.target } : {}) });
    }
    return respondWithError(c, error.code === "forbidden" ? 403 : 409, error.message);
  }

  function letterStep(c: Context<HonoEnv>, props: LetterStepProps, status = 200) {
    return render(c, { title: `Job ${props.reference}`, status, page: <JobWizardPage {...props} />, fragment: <JobWizard {...props} /> });
  }

  const typedSigner = (body: Record<string, unknown>) => ({
    name: typeof body.signerName === "string" ? body.signerName.slice(0, 100) : "",
    title: typeof body.signerTitle === "string" ? body.signerTitle.slice(0, 100) : "",
  });

  // ---- the live preview: made-up sample values, not stored, not audited ---------------------------

  app.post("/jobs/:id/letter/preview", write, async (c) => {
    const form = letterPreviewForm.parse(await c.req.parseBody());
    let result: Awaited<ReturnType<typeof letterPreview>>;
    try {
      result = await letterPreview(deps, actorOf(c), c.req.param("id"), form);
    } catch (error) {
      return refuse(c, error);
    }
    const s = result.state;
    const signer = { name: form.signerName, title: form.signerTitle };
    c.header("Cache-Control", "no-store");
    // htmx (typing, or "Update the preview"): the preview alone. Without script: the whole step again, as typed.
    if (isFragmentRequest(c)) return render(c, { title: `Job ${s.job.reference}`, page: <LetterPreview {...previewProps(s, form.body, signer)} /> });
    const { templates } = await letterEditor(letterDeps, actorOf(c), s.job.id);
    const props = letterStepProps(s, { body: form.body, signer, templates, editable: isEditable(s.job.status) });
    return render(c, { title: `Job ${s.job.reference}`, page: <JobWizardPage {...props} /> });
  });

  // ---- start from a template (the starter, or a saved one): fills the editor, saves nothing -------

  app.get("/jobs/:id/letter/start", write, async (c) => {
    const choice = c.req.query("template") ?? "";
    let started: Awaited<ReturnType<typeof startFromTemplate>>;
    try {
      started = await startFromTemplate(letterDeps, actorOf(c), c.req.param("id"), choice || "starter");
    } catch (error) {
      return refuse(c, error);
    }
    const s = started.state;
    const typed = typedSigner(c.req.query());
    const signer = typed.name || typed.title ? typed : letterSigner(s.job, s.letterhead);
    return letterStep(c, letterStepProps(s, {
      body: started.body, signer, templates: started.templates, editable: true,
      notice: `The editor now holds ${started.source}. Review it, then save the letter: nothing is saved until you do.`,
    }));
  });

  // ---- save the editor's text as a practice template ----------------------------------------------

  app.post("/jobs/:id/letter/templates", write, async (c) => {
    const body = await c.req.parseBody();
    const signer = typedSigner(body);
    const typed = typeof body.body === "string" ? body.body : "";
    const audit = { action: "letter_template.saved" as const };
    let editor: Awaited<ReturnType<typeof letterEditor>>;
    try {
      editor = await letterEditor(letterDeps, actorOf(c), c.req.param("id")); // another practice's job: 404; no BAA: refused, audited
    } catch (error) {
      return refuse(c, error, audit);
    }
    const step = (e: typeof editor, extra: Partial<LetterStepInput>, status: number) => letterStep(c, letterStepProps(e.state, {
      body: typed, signer, templates: e.templates, editable: isEditable(e.state.job.status), ...extra,
    }), status);
    const form = parseForm(letterTemplateForm, body);
    if (!form.ok) return step(editor, { errors: form.errors, values: formValues(body) }, 422);
    try {
      await saveTemplateFromJob(letterDeps, actorOf(c), editor.state.job.id, form.data);
    } catch (error) {
      if (error instanceof LetterError) return step(editor, { errors: { body: error.message }, values: formValues(body) }, 422);
      if (error instanceof TemplateNameTaken) return step(editor, { errors: { templateName: error.message }, values: formValues(body) }, 409);
      return refuse(c, error, audit);
    }
    const saved = await letterEditor(letterDeps, actorOf(c), editor.state.job.id);
    return step(saved, { notice: `Saved as the practice template “${form.data.templateName}”. The letter itself is saved when you choose “Save and continue”.` }, 200);
  });

  // ---- the practice's templates -------------------------------------------------------------------

  async function templatesPage(c: Context<HonoEnv>, extra: Partial<TemplatesPageProps> = {}, status = 200) {
    const list = await practiceTemplates(letterDeps, actorOf(c));
    const at = clock(list.timeZone);
    const props: TemplatesPageProps = {
      rows: list.templates.map((t) => ({
        id: t.id, name: t.name, letterType: typeLabel(t.letter_type), length: t.body_length, fields: t.body_fields,
        updated: at(t.updated_at).text, updatedUtc: at(t.updated_at).utc, by: list.names.get(t.updated_by ?? t.created_by) ?? "someone",
      })),
      ...extra,
    };
    return render(c, { title: "Letter templates", status, page: <TemplatesPage {...props} /> });
  }

  app.get("/letter-templates", write, (c) => templatesPage(c));

  app.post("/letter-templates/:id/rename", write, async (c) => {
    const body = await c.req.parseBody();
    const id = c.req.param("id");
    const target = { type: "letter_template", id };
    const form = parseForm(renameTemplateForm, body);
    const typed = typeof body.name === "string" ? body.name.slice(0, 80) : "";
    try {
      if (!form.ok) {
        // Refused before any change, but only for a template that is there (another practice's: 404).
        const list = await practiceTemplates(letterDeps, actorOf(c));
        if (!list.templates.some((t) => t.id === id)) return c.notFound();
        return templatesPage(c, { rename: { id, value: typed, error: form.errors.name ?? "Enter a name" } }, 422);
      }
      await renamePracticeTemplate(letterDeps, actorOf(c), id, form.data.name);
    } catch (error) {
      if (error instanceof TemplateNameTaken) return templatesPage(c, { rename: { id, value: typed, error: error.message } }, 409);
      return refuse(c, error, { action: "letter_template.renamed", target });
    }
    return goTo(c, "/letter-templates");
  });

  app.post("/letter-templates/:id/delete", write, async (c) => {
    const id = c.req.param("id");
    try {
      await deletePracticeTemplate(letterDeps, actorOf(c), id);
    } catch (error) {
      return refuse(c, error, { action: "letter_template.deleted", target: { type: "letter_template", id } });
    }
    return goTo(c, "/letter-templates");
  });

  return app;
}
