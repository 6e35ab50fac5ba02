// Practice letter templates (issue 7 item 1): save the letter being written as a named template,
// start a job's letter from one (or from the starter for the letter type), rename and delete them.
// Templates are PHI-bearing free text: AES-256-GCM with the context "letter-template:<id>", and the
// text and the name never reach the audit trail (length and field count only). Every use case needs
// jobs.write (auditors never open a template); storing one needs the BAA in force, like any PHI.
import { recordAudit } from "../audit/record.ts";
import { assertCurrentBaa } from "../baa/service.ts";
import { decryptField, encryptField } from "../platform/crypto.ts";
import { findPractice } from "../practices/repo.ts";
import type { LetterTemplate } from "../platform/schema.ts";
import type { LetterTemplateInput } from "./forms.ts";
import { isEditable } from "./lifecycle.ts";
import { checkLetter, letterProblem, starterLetter } from "./letters.ts";
import { userNames } from "./repo.ts";
import {
  asMember, findInPractice, JobError, jobTarget, type LetterDeps, LetterError, type MemberActor, memberAudit, practiceName, wizardState, type WizardState,
} from "./service.ts";
import { deleteTemplate, findTemplate, insertTemplate, listTemplates, renameTemplate, type TemplateSummary, templateNameTaken } from "./template-repo.ts";

/** Where a template's text lives: bound into the ciphertext, so a body moved to another row fails to decrypt. */
export function templateContext(templateId: string): string {
  return `letter-template:${templateId}`;
}

/** A name already used by another template of the practice (shown on the name field). */
export class TemplateNameTaken extends Error {
  constructor() {
    super("Your practice already has a template with this name. Choose another name.");
  }
}

function templateTarget(id: string) {
  return { type: "letter_template", id };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function lockTemplate(tx: Parameters<typeof findTemplate>[0], id: string): Promise<LetterTemplate> {
  const template = UUID.test(id) ? await findTemplate(tx, id, { forUpdate: true }) : undefined;
  if (!template) throw new JobError("not_found", "There is no such template in this practice.");
  return template;
}

/** The practice's templates for the management page (jobs.write): names and facts, never the text. */
export async function practiceTemplates(
  deps: LetterDeps, actor: MemberActor,
): Promise<{ templates: TemplateSummary[]; names: Map<string, string>; timeZone: string }> {
  return asMember(deps, actor, "jobs.write", async (tx) => {
    const templates = await listTemplates(tx);
    const names = await userNames(tx, templates.flatMap((t) => [t.created_by, t.updated_by]));
    return { templates, names, timeZone: (await findPractice(tx, actor.practiceId))!.time_zone };
  });
}

/**
 * Saves the text in a job's letter editor as a practice template (jobs.write, BAA in force). The
 * merge fields are checked against the job's fields, like saving the letter; the name must be new.
 */
export async function saveTemplateFromJob(deps: LetterDeps, actor: MemberActor, jobId: string, input: LetterTemplateInput): Promise<LetterTemplate> {
  return asMember(deps, actor, "jobs.write", async (tx) => {
    const job = await findInPractice(tx, jobId);
    await assertCurrentBaa(tx, actor.practiceId);
    const { fields } = await wizardState(tx, job);
    const check = checkLetter(input.body, fields);
    const problem = letterProblem(check, fields);
    if (problem) throw new LetterError(problem, check.unknown);
    if (await templateNameTaken(tx, input.templateName)) throw new TemplateNameTaken();
    const id = crypto.randomUUID();
    const encrypted = encryptField(deps.keys, input.body, templateContext(id));
    const template = await insertTemplate(tx, {
      id, practice_id: actor.practiceId, name: input.templateName, letter_type: job.letter_type, body_enc: encrypted, key_id: encrypted.split(".")[1]!,
      body_length: input.body.length, body_fields: check.fields, created_by: actor.userId,
    });
    await recordAudit(tx, {
      practiceId: actor.practiceId, actor: memberAudit(actor), action: "letter_template.saved", target: templateTarget(id), request: actor.request,
      details: { length: input.body.length, field_count: check.fields.length, letter_type: job.letter_type },
    });
    return template;
  });
}

/**
 * A job's letter editor as the template routes need it (jobs.write): the job (another practice's:
 * not_found), with the BAA in force when it is still editable, and the practice's templates.
 */
export async function letterEditor(deps: LetterDeps, actor: MemberActor, jobId: string): Promise<{ state: WizardState; templates: TemplateSummary[] }> {
  return asMember(deps, actor, "jobs.write", async (tx) => {
    const job = await findInPractice(tx, jobId);
    if (isEditable(job.status)) await assertCurrentBaa(tx, actor.practiceId);
    return { state: await wizardState(tx, job), templates: await listTemplates(tx) };
  });
}

export type TemplateChoice = "starter" | string;

/**
 * The text a job's letter editor starts from (jobs.write; an editable job, BAA in force): the
 * starter for the job's letter type, or a saved template of the practice, decrypted and audited.
 * Nothing is saved: the person reviews the text and saves the letter.
 */
export async function startFromTemplate(
  deps: LetterDeps, actor: MemberActor, jobId: string, choice: TemplateChoice,
): Promise<{ state: WizardState; body: string; source: string; templates: TemplateSummary[] }> {
  return asMember(deps, actor, "jobs.write", async (tx) => {
    const job = await findInPractice(tx, jobId);
    if (!isEditable(job.status)) throw new JobError("not_editable", "This job can no longer be changed.");
    await assertCurrentBaa(tx, actor.practiceId);
    const state = await wizardState(tx, job);
    const templates = await listTemplates(tx);
    if (choice === "starter") {
      return { state, body: starterLetter(job.letter_type, practiceName(state.practice)), source: "the starting text for this kind of letter", templates };
    }
    const template = UUID.test(choice) ? await findTemplate(tx, choice) : undefined;
    if (!template) throw new JobError("not_found", "There is no such template in this practice.");
    const body = decryptField(deps.keys, template.body_enc, templateContext(template.id));
    await recordAudit(tx, {
      practiceId: actor.practiceId, actor: memberAudit(actor), action: "letter_template.viewed", target: templateTarget(template.id), request: actor.request,
      details: { length: body.length, field_count: template.body_fields.length, job: jobTarget(job).id },
    });
    return { state, body, source: `the template “${template.name}”`, templates };
  });
}

/** Renames a template (jobs.write). The name is the team's label: no BAA needed to change it. */
export async function renamePracticeTemplate(deps: LetterDeps, actor: MemberActor, templateId: string, name: string): Promise<LetterTemplate> {
  return asMember(deps, actor, "jobs.write", async (tx) => {
    const template = await lockTemplate(tx, templateId);
    if (await templateNameTaken(tx, name, template.id)) throw new TemplateNameTaken();
    const renamed = await renameTemplate(tx, template.id, name, actor.userId);
    await recordAudit(tx, {
      practiceId: actor.practiceId, actor: memberAudit(actor), action: "letter_template.renamed", target: templateTarget(template.id), request: actor.request,
      details: { length: template.body_length, field_count: template.body_fields.length },
    });
    return renamed;
  });
}

/** Deletes a template and its encrypted text (jobs.write). Jobs that started from it keep their own copy. */
export async function deletePracticeTemplate(deps: LetterDeps, actor: MemberActor, templateId: string): Promise<void> {
  await asMember(deps, actor, "jobs.write", async (tx) => {
    const template = await lockTemplate(tx, templateId);
    await deleteTemplate(tx, template.id);
    await recordAudit(tx, {
      practiceId: actor.practiceId, actor: memberAudit(actor), action: "letter_template.deleted", target: templateTarget(template.id), request: actor.request,
      details: { length: template.body_length, field_count: template.body_fields.length, letter_type: template.letter_type },
    });
  });
}
