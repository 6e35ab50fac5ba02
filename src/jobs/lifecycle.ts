// The job lifecycle: which status may follow which, and who may make each move. This module is the
// only place that knows; the service asks it before every change and audits every move.
//
//   draft → submitted → proof_ready ⇄ changes_requested → approved → in_production → mailed → completed
//   cancelled from any status before in_production
import type { Permission } from "../auth/permissions.ts";
import type { JobStatus } from "../platform/schema.ts";

export type { JobStatus };

export const JOB_STATUSES = [
  "draft", "submitted", "proof_ready", "changes_requested", "approved", "in_production", "mailed", "completed", "cancelled",
] as const satisfies readonly JobStatus[];

/** Who is moving the job: a practice member (by permission), a platform operator, or the system (proof renderer). */
export type LifecycleActor =
  | { kind: "member"; can: (permission: Permission) => boolean }
  | { kind: "operator" }
  | { kind: "system" };

type Mover = { kind: "member"; permission: Permission } | { kind: "operator" } | { kind: "system" };

const editor: Mover = { kind: "member", permission: "jobs.write" };
const approver: Mover = { kind: "member", permission: "proofs.approve" };
const operator: Mover = { kind: "operator" };
const system: Mover = { kind: "system" };

/** Every allowed move and its mover(s). Anything not listed is refused. */
const TRANSITIONS: Readonly<Record<JobStatus, Partial<Record<JobStatus, Mover | readonly Mover[]>>>> = {
  // The system cancels a draft left without activity (src/retention/abandoned-drafts.ts), and every
  // job not yet in production when the practice's deletion is carried out (src/retention/requests.ts).
  draft: { submitted: editor, cancelled: [editor, system] },
  submitted: { proof_ready: system, cancelled: [editor, system] },
  // Changes are requested by whoever may approve; resubmission is an edit.
  proof_ready: { approved: approver, changes_requested: approver, cancelled: [editor, system] },
  changes_requested: { submitted: editor, cancelled: [editor, system] },
  approved: { in_production: operator, cancelled: [editor, system] },
  in_production: { mailed: operator },
  mailed: { completed: operator },
  completed: {},
  cancelled: {},
};

export type TransitionCheck = { ok: true } | { ok: false; reason: "not_allowed" | "forbidden"; message: string };

const LABELS: Record<JobStatus, string> = {
  draft: "Draft",
  submitted: "Submitted",
  proof_ready: "Proof ready",
  changes_requested: "Changes requested",
  approved: "Approved",
  in_production: "In production",
  mailed: "Mailed",
  completed: "Completed",
  cancelled: "Cancelled",
};

export function statusLabel(status: JobStatus): string {
  return LABELS[status];
}

function allowedBy(mover: Mover, actor: LifecycleActor): boolean {
  if (mover.kind === "member") return actor.kind === "member" && actor.can(mover.permission);
  return mover.kind === actor.kind;
}

/** May `actor` move a job from `from` to `to`? "not_allowed": no such move; "forbidden": not by this actor. */
export function checkTransition(from: JobStatus, to: JobStatus, actor: LifecycleActor): TransitionCheck {
  const movers = TRANSITIONS[from][to];
  if (!movers) return { ok: false, reason: "not_allowed", message: `A job that is ${LABELS[from].toLowerCase()} cannot become ${LABELS[to].toLowerCase()}.` };
  if (!(Array.isArray(movers) ? movers : [movers as Mover]).some((m) => allowedBy(m, actor))) return { ok: false, reason: "forbidden", message: `You may not mark this job ${LABELS[to].toLowerCase()}.` };
  return { ok: true };
}

/** The moves this actor could make from `from` (what the UI offers). */
export function nextStatuses(from: JobStatus, actor: LifecycleActor): JobStatus[] {
  return (Object.keys(TRANSITIONS[from]) as JobStatus[]).filter((to) => checkTransition(from, to, actor).ok);
}

/** Statuses in which the practice can still change the job's details and files. */
export function isEditable(status: JobStatus): boolean {
  return status === "draft" || status === "changes_requested";
}

/** Cancelling is possible before production starts. */
export function isCancellable(status: JobStatus): boolean {
  return "cancelled" in TRANSITIONS[status];
}
