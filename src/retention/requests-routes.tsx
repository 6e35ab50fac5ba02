// Data requests (issue 8, items 4 and 5), under /retention/requests: the list (admins and auditors),
// asking for an export or a deletion and withdrawing one (admins: data_requests.manage), and the
// signed download of an export ZIP or a deletion certificate. The services check and audit again.
import { type Context, Hono } from "hono";
import type { Config } from "../config.ts";
import type { HonoEnv } from "../context.ts";
import { auditDenied } from "../http/audit-denied.ts";
import { respondWithError } from "../http/errors.tsx";
import { requirePermission } from "../http/guards.ts";
import { render } from "../http/render.tsx";
import { requestMeta } from "../http/request-context.ts";
import type { BlobStore } from "../platform/blob.ts";
import type { Db } from "../platform/db.ts";
import type { WorkSender } from "../platform/queue.ts";
import { DataRequestsPage, type DataRequestRow, DataRequestsSection } from "../../views/retention/requests.tsx";
import {
  DataRequestError, downloadPath, EXPORT_ATTEMPTS, openDownload, requestDeletion, requestExport, type RequestActor, requestsOverview, retryExport,
  withdrawDeletion,
} from "./requests.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const STATUS: Record<DataRequestError["code"], number> = {
  not_allowed: 403, confirmation: 422, already_scheduled: 409, not_found: 404, not_withdrawable: 409, not_retryable: 409, link_invalid: 403, not_ready: 403,
};
const NOTICES: Record<string, string> = {
  export: "Your export is being prepared. You will get an email when it is ready to download.",
  deletion: "The deletion is scheduled in 30 days. You can withdraw it until then.",
  withdrawn: "The deletion was withdrawn. Nothing will be deleted.",
  retried: "The export is being prepared again. You will get an email when it is ready to download.",
};

export type DataRequestDeps = { db: Db; blob: BlobStore; config: Config; queue?: WorkSender };

const actorOf = (c: Context<HonoEnv>): RequestActor => ({ userId: c.get("session")!.user_id, practiceId: c.get("membership")!.practiceId });

/** What the data-requests section shows this member (also embedded in the /retention page). */
export async function dataRequestsProps(deps: DataRequestDeps, c: Context<HonoEnv>) {
  const actor = actorOf(c);
  const o = await requestsOverview(deps, actor);
  const rows: DataRequestRow[] = o.requests.map((r) => ({
    id: r.id, kind: r.kind, status: r.status, requestedBy: r.requesterName, requestedAtUtc: new Date(r.requested_at).toISOString(),
    dueAtUtc: r.due_at ? new Date(r.due_at).toISOString() : null, processedAtUtc: r.processed_at ? new Date(r.processed_at).toISOString() : null,
    expiresAtUtc: r.expires_at ? new Date(r.expires_at).toISOString() : null, sha256: r.sha256,
    downloadHref: (r.kind === "export" && r.status === "ready" && r.requested_by === actor.userId && o.canManage) || (r.kind === "deletion" && r.status === "completed" && r.blob_name)
      ? downloadPath(deps.config, actor, r) : null,
    canWithdraw: o.canManage && r.kind === "deletion" && r.status === "scheduled",
    canRetry: o.canManage && r.kind === "export" && r.status === "failed",
    attempts: r.attempts,
  }));
  return {
    practiceName: o.practiceName, practiceStatus: o.practiceStatus, confirmationName: o.confirmationName, canManage: o.canManage, rows,
    jobsInProduction: o.jobsInProduction, exportAttempts: EXPORT_ATTEMPTS,
  };
}

export function dataRequestRoutes(deps: DataRequestDeps) {
  const app = new Hono<HonoEnv>();

  async function page(c: Context<HonoEnv>, extra: { notice?: string; error?: string; status?: number } = {}) {
    const props = await dataRequestsProps(deps, c);
    return render(c, {
      title: "Data requests", status: extra.status,
      page: <DataRequestsPage {...props} notice={extra.notice} error={extra.error} />,
    });
  }

  async function refused(c: Context<HonoEnv>, error: unknown, action: "data_request.export.requested" | "data_request.export.retried" | "data_request.deletion.requested" | "data_request.deletion.withdrawn") {
    if (!(error instanceof DataRequestError)) throw error;
    if (error.code === "not_found") return c.notFound();
    if (error.code === "not_allowed") {
      await auditDenied(deps.db, c, { action, details: { reason: error.code } });
      return respondWithError(c, 403, error.message);
    }
    return page(c, { error: error.message, status: STATUS[error.code] });
  }

  app.get("/retention/requests", requirePermission(deps, "audit.read"), (c) => page(c, { notice: NOTICES[c.req.query("done") ?? ""] }));

  app.post("/retention/requests/export", requirePermission(deps, "data_requests.manage"), async (c) => {
    try {
      await requestExport(deps, actorOf(c), requestMeta(c));
    } catch (error) {
      return refused(c, error, "data_request.export.requested");
    }
    return c.redirect("/retention/requests?done=export", 303);
  });

  app.post("/retention/requests/deletion", requirePermission(deps, "data_requests.manage"), async (c) => {
    const body = await c.req.parseBody();
    const typed = typeof body.confirmation === "string" ? body.confirmation.slice(0, 300) : "";
    try {
      await requestDeletion(deps, actorOf(c), typed, requestMeta(c));
    } catch (error) {
      return refused(c, error, "data_request.deletion.requested");
    }
    return c.redirect("/retention/requests?done=deletion", 303);
  });

  app.post("/retention/requests/:id/withdraw", requirePermission(deps, "data_requests.manage"), async (c) => {
    const id = c.req.param("id");
    if (!UUID.test(id)) return c.notFound();
    try {
      await withdrawDeletion(deps, actorOf(c), id, requestMeta(c));
    } catch (error) {
      return refused(c, error, "data_request.deletion.withdrawn");
    }
    return c.redirect("/retention/requests?done=withdrawn", 303);
  });

  app.post("/retention/requests/:id/retry", requirePermission(deps, "data_requests.manage"), async (c) => {
    const id = c.req.param("id");
    if (!UUID.test(id)) return c.notFound();
    try {
      await retryExport(deps, actorOf(c), id, requestMeta(c));
    } catch (error) {
      return refused(c, error, "data_request.export.retried");
    }
    return c.redirect("/retention/requests?done=retried", 303);
  });

  app.get("/retention/requests/:id/download", requirePermission(deps, "audit.read"), async (c) => {
    const id = c.req.param("id");
    if (!UUID.test(id)) return c.notFound();
    try {
      return c.redirect(await openDownload(deps, actorOf(c), id, c.req.query("token") ?? "", requestMeta(c)), 303);
    } catch (error) {
      if (!(error instanceof DataRequestError)) throw error;
      if (error.code === "not_found") return c.notFound();
      return respondWithError(c, 403, error.message);
    }
  });

  return app;
}

/** The section as the /retention page embeds it. */
export async function dataRequestsSection(deps: DataRequestDeps, c: Context<HonoEnv>) {
  return <DataRequestsSection {...(await dataRequestsProps(deps, c))} />;
}
