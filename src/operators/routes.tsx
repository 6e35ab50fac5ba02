// The operator console: the production queue, and the moves operators make on approved jobs.
// Every POST answers with the console again (303 on success), so a reload never repeats a move.
import { type Context, Hono } from "hono";
import { z } from "zod";
import type { HonoEnv } from "../context.ts";
import { parseForm } from "../auth/forms.ts";
import { requireOperator } from "../http/guards.ts";
import { render } from "../http/render.tsx";
import { requestMeta } from "../http/request-context.ts";
import { auditDenied } from "../http/audit-denied.ts";
import { LETTER_TYPES, MAIL_CLASSES } from "../jobs/forms.ts";
import { type JobStatus, statusLabel } from "../jobs/lifecycle.ts";
import { JobError } from "../jobs/service.ts";
import { type ConsoleRow, OperatorConsolePage } from "../../views/operators/console.tsx";
import type { QueueRow } from "./repo.ts";
import { openPrintFile, PrintFileError, printFilePath } from "../proofs/print-file.ts";
import { completeJob, markMailed, type OperatorDeps, operatorQueue, startProduction } from "./service.ts";
import { categoryLabel } from "../support/forms.ts";
import { IncidentError, openIncident, operatorIncidents } from "../support/service.ts";
import type { IncidentRow } from "../support/repo.ts";
import { type IncidentListRow, OperatorIncidentPage, OperatorIncidentsPage } from "../../views/operators/incidents.tsx";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const STATUS: Record<JobError["code"], number> = {
  not_found: 404, forbidden: 403, not_allowed: 409, not_editable: 409, not_ready: 409, conflict: 409, stale_statement: 409,
};

const today = () => new Date().toISOString().slice(0, 10);

export const mailedForm = z.object({
  mailedOn: z.string({ error: "Enter the date the letters were handed to the postal service" }).regex(/^\d{4}-\d{2}-\d{2}$/, "Enter the date the letters were handed to the postal service")
    .refine((v) => !Number.isNaN(Date.parse(`${v}T00:00:00Z`)), "Enter a real date")
    .refine((v) => v <= today(), "The mailing date cannot be in the future"),
  pieces: z.coerce.number({ error: "Enter how many pieces were mailed" }).int("Enter a whole number of pieces").min(1, "At least one piece").max(10_000_000, "That is more pieces than any job holds"),
});

function printFileWords(r: QueueRow): string {
  switch (r.print_status) {
    case "ready": return `${r.print_letters} letters, ${r.print_pages} pages.`;
    case "failed": return "Rendering failed; it is retried automatically.";
    case null: return "Not queued.";
    default: return "Being prepared.";
  }
}

function toConsoleRow(r: QueueRow, operatorId: string, config: OperatorDeps["config"]): ConsoleRow {
  const day = (d: Date | null) => (d ? new Date(d).toISOString().slice(0, 16).replace("T", " ") + " UTC" : null);
  return {
    id: r.id, reference: r.reference, practiceName: r.practice_name, status: r.status, statusLabel: statusLabel(r.status as JobStatus),
    letterType: LETTER_TYPES.find((t) => t.value === r.letter_type)?.label ?? r.letter_type,
    mailClass: MAIL_CLASSES.find((m) => m.value === r.mail_class)?.label ?? r.mail_class,
    approvedAt: day(r.approved_at) ?? "", productionStartedAt: day(r.production_started_at), mailedOn: r.mailed_on, pieces: r.mailed_pieces,
    completedAt: day(r.completed_at),
    printFile: {
      words: printFileWords(r),
      downloadPath: r.print_status === "ready" && r.status !== "completed" ? printFilePath(config, operatorId, r.id) : null,
    },
  };
}

function incidentRow(r: Omit<IncidentRow, "description_enc" | "key_id">): IncidentListRow {
  const utc = (d: Date) => new Date(d).toISOString();
  const words = (d: Date) => utc(d).slice(0, 16).replace("T", " ");
  return {
    id: r.id, reference: r.reference, category: categoryLabel(r.category), practiceName: r.practice_name, reporter: `${r.reporter_name} <${r.reporter_email}>`,
    noticed: words(r.noticed_at), noticedUtc: utc(r.noticed_at), reported: words(r.reported_at), reportedUtc: utc(r.reported_at),
  };
}

export function operatorRoutes(deps: OperatorDeps) {
  const app = new Hono<HonoEnv>();
  const operatorOnly = requireOperator(deps);
  const actorOf = (c: Context<HonoEnv>) => ({ userId: c.get("session")!.user_id, request: requestMeta(c) });

  async function consolePage(c: Context<HonoEnv>, extra: { status?: number; notice?: string; message?: string; error?: { jobId: string; errors: Record<string, string>; values: Record<string, string> } } = {}) {
    const actor = actorOf(c);
    const queue = await operatorQueue(deps, actor);
    const row = (r: QueueRow) => toConsoleRow(r, actor.userId, deps.config);
    return render(c, {
      title: "Production queue",
      status: extra.status,
      page: <OperatorConsolePage open={queue.open.map(row)} completed={queue.completed.map(row)} today={today()} {...extra} />,
    });
  }

  /** Runs an operator move; refusals are audited as denied and answered with the console and why. */
  async function act(c: Context<HonoEnv>, jobId: string, run: () => Promise<unknown>, done: string) {
    if (!UUID.test(jobId)) return consolePage(c, { status: 404, message: "There is no such job in the queue." });
    try {
      await run();
    } catch (error) {
      if (!(error instanceof JobError)) throw error;
      await auditDenied(deps.db, c, { action: "access.denied", role: "operator", target: { type: "route", id: `${c.req.method} ${c.req.routePath}` }, details: { reason: error.code } });
      return consolePage(c, { status: STATUS[error.code], message: error.code === "not_found" ? "There is no such job in the queue." : error.message });
    }
    return c.redirect(`/operator?done=${done}`, 303);
  }

  const NOTICES: Record<string, string> = { started: "Production started.", mailed: "Marked mailed; the practice has been told.", completed: "Job completed." };

  app.get("/operator", operatorOnly, (c) => consolePage(c, { notice: NOTICES[c.req.query("done") ?? ""] }));

  app.post("/operator/jobs/:id/start", operatorOnly, (c) => act(c, c.req.param("id"), () => startProduction(deps, actorOf(c), c.req.param("id")), "started"));

  app.post("/operator/jobs/:id/mailed", operatorOnly, async (c) => {
    const jobId = c.req.param("id");
    const form = parseForm(mailedForm, await c.req.parseBody());
    if (!form.ok) {
      const values = Object.fromEntries(Object.entries(await c.req.parseBody()).map(([k, v]) => [k, String(v)]));
      return consolePage(c, { status: 422, error: { jobId, errors: form.errors, values } });
    }
    return act(c, jobId, () => markMailed(deps, actorOf(c), jobId, form.data), "mailed");
  });

  // The print file: a signed link bound to this operator, followed to a seconds-long read SAS.
  app.get("/operator/jobs/:id/print-file", operatorOnly, async (c) => {
    try {
      const url = await openPrintFile(deps, c.get("session")!.user_id, c.req.param("id"), c.req.query("token") ?? "", requestMeta(c));
      c.header("Cache-Control", "no-store");
      return c.redirect(url, 302);
    } catch (error) {
      if (!(error instanceof PrintFileError)) throw error;
      return consolePage(c, { status: 403, message: error.message });
    }
  });

  app.post("/operator/jobs/:id/complete", operatorOnly, (c) => act(c, c.req.param("id"), () => completeJob(deps, actorOf(c), c.req.param("id")), "completed"));

  // Incident reports (issue 9 item 4): every practice's, read here by the platform's operators.
  app.get("/operator/incidents", operatorOnly, async (c) => {
    const rows = await operatorIncidents(deps, c.get("session")!.user_id);
    return render(c, { title: "Incident reports", page: <OperatorIncidentsPage rows={rows.map(incidentRow)} /> });
  });

  app.get("/operator/incidents/:id", operatorOnly, async (c) => {
    try {
      const row = await openIncident(deps, c.get("session")!.user_id, c.req.param("id"), requestMeta(c));
      return render(c, { title: `Incident report ${row.reference}`, page: <OperatorIncidentPage row={{ ...incidentRow(row), description: row.description }} /> });
    } catch (error) {
      if (error instanceof IncidentError && error.code === "not_found") return c.notFound();
      throw error;
    }
  });

  return app;
}
