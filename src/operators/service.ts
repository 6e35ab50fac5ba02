// What platform operators do with approved jobs: start production, mark mailed (date and piece
// count), complete. The lifecycle module decides each move; the event goes into the job's practice
// chain (moveJobAs), so the practice sees it in its trail and on the job's timeline.
import type { Config } from "../config.ts";
import type { RequestMeta } from "../context.ts";
import type { BlobStore } from "../platform/blob.ts";
import { findProductionFile } from "../proofs/repo.ts";
import { isOperator } from "../auth/operators.ts";
import { type Db, type Tx, withContext } from "../platform/db.ts";
import type { Logger } from "../platform/log.ts";
import type { Mailer } from "../platform/mail.ts";
import type { Job } from "../platform/schema.ts";
import { JobError, lockJob, moveJobAs } from "../jobs/service.ts";
import { notifyJobMailed } from "../jobs/notifications.ts";
import { listQueue } from "./repo.ts";

export type OperatorDeps = { db: Db; blob: BlobStore; config: Config; mailer: Mailer; logger: Logger; appOrigin: string };
export type OperatorActor = { userId: string; request?: RequestMeta };

/** A transaction as the operator, outside any practice; refuses anyone who is not an operator. */
function asOperator<T>(deps: { db: Db }, actor: OperatorActor, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return withContext(deps.db, { actor: `operator:${actor.userId}`, userId: actor.userId }, async (tx) => {
    if (!(await isOperator(tx, actor.userId))) throw new JobError("forbidden", "Only platform operators may do this.");
    return fn(tx);
  });
}

export function operatorQueue(deps: { db: Db }, actor: OperatorActor) {
  return asOperator(deps, actor, (tx) => listQueue(tx, { completedLimit: 20 }));
}

function move(
  deps: { db: Db }, actor: OperatorActor, jobId: string, to: "in_production" | "mailed" | "completed",
  values: Parameters<typeof moveJobAs>[4], details: Record<string, string | number> = {},
  precondition?: (tx: Tx, job: Job) => Promise<void>,
): Promise<Job> {
  return asOperator(deps, actor, async (tx) => {
    // Drafts and other practices' unapproved jobs are invisible here (RLS): they answer not_found.
    const job = await lockJob(tx, jobId);
    await precondition?.(tx, job);
    return moveJobAs(tx, job, to, { lifecycle: { kind: "operator" }, audit: { type: "operator", id: actor.userId }, request: actor.request }, values, details);
  });
}

/** Production starts only once the print file is ready (the operator prints exactly what was approved). */
export function startProduction(deps: { db: Db }, actor: OperatorActor, jobId: string): Promise<Job> {
  return move(deps, actor, jobId, "in_production", { production_started_at: new Date() }, {}, async (tx, job) => {
    const file = await findProductionFile(tx, job.id);
    if (file?.status !== "ready") throw new JobError("not_ready", "The print file is not ready yet. Try again in a minute.");
  });
}

export async function markMailed(deps: OperatorDeps, actor: OperatorActor, jobId: string, input: { mailedOn: string; pieces: number }): Promise<Job> {
  const job = await move(deps, actor, jobId, "mailed", { mailed_on: input.mailedOn, mailed_pieces: input.pieces }, { pieces: input.pieces, mailed_on: input.mailedOn });
  await notifyJobMailed(deps, job);
  return job;
}

export function completeJob(deps: { db: Db }, actor: OperatorActor, jobId: string): Promise<Job> {
  return move(deps, actor, jobId, "completed", { completed_at: new Date() });
}
