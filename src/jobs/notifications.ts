// Emails about a job to the person who created it. No PHI: the job's reference, the practice's
// name, dates and counts, and a link to sign in; never the title, the letter or any recipient.
// Sent after the change has committed; a failed send is logged, never undoes the change.
import { sql } from "kysely";
import { type Db, withContext } from "../platform/db.ts";
import type { Logger } from "../platform/log.ts";
import type { Mailer, MailMessage } from "../platform/mail.ts";
import type { Job } from "../platform/schema.ts";

export type NotifyDeps = { db: Db; mailer: Mailer; logger: Logger; appOrigin: string };

export function jobMailedEmail(to: string, input: { practiceName: string; reference: string; mailedOn: string; pieces: number; link: string }): MailMessage {
  return {
    category: "service",
    to,
    subject: `${input.reference} has been mailed`,
    text: [
      `The mailing job ${input.reference} of ${input.practiceName} was handed to the postal service on ${input.mailedOn} (${input.pieces} ${input.pieces === 1 ? "piece" : "pieces"}).`,
      "",
      "Sign in to see the job and its timeline:",
      input.link,
      "",
      "You receive this email because you created the job. It never contains patient information.",
    ].join("\n"),
  };
}

export function proofReadyEmail(to: string, input: { practiceName: string; reference: string; version: number; link: string }): MailMessage {
  return {
    category: "service",
    to,
    subject: `Proof ${input.version} of ${input.reference} is ready for review`,
    text: [
      `Proof ${input.version} of the mailing job ${input.reference} of ${input.practiceName} is ready.`,
      "Review it and approve it, or request changes: nothing is printed until someone approves.",
      "",
      "Sign in to review it:",
      input.link,
      "",
      "You receive this email because you created the job. It never contains patient information.",
    ].join("\n"),
  };
}

/** The creator's address and the practice's name, read inside the job's practice. */
async function recipientFor(db: Db, job: Job) {
  return withContext(db, { actor: "system:notifications", practiceId: job.practice_id }, async (tx) => {
    const row = await tx.selectFrom("users as u").innerJoin("practices as p", (join) => join.on(sql<boolean>`p.id = ${job.practice_id}::uuid`))
      .select(["u.email", "u.status", "p.name"]).where("u.id", "=", job.created_by).executeTakeFirst();
    return row && row.status === "active" ? row : null;
  });
}

export async function notifyJobMailed(deps: NotifyDeps, job: Job): Promise<void> {
  try {
    const to = await recipientFor(deps.db, job);
    if (!to || !job.mailed_on || !job.mailed_pieces) return;
    await deps.mailer.send(jobMailedEmail(to.email, {
      practiceName: to.name, reference: job.reference, mailedOn: job.mailed_on, pieces: job.mailed_pieces, link: `${deps.appOrigin}/jobs/${job.id}`,
    }));
  } catch (error) {
    deps.logger.error({ err: error, job: job.reference }, "could not send the job-mailed email");
  }
}

export async function notifyProofReady(deps: NotifyDeps, job: Job, version: number): Promise<void> {
  try {
    const to = await recipientFor(deps.db, job);
    if (!to) return;
    await deps.mailer.send(proofReadyEmail(to.email, { practiceName: to.name, reference: job.reference, version, link: `${deps.appOrigin}/jobs/${job.id}` }));
  } catch (error) {
    deps.logger.error({ err: error, job: job.reference }, "could not send the proof-ready email");
  }
}
