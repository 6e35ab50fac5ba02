// The Data and retention page (/retention) and certificate downloads, for admins and auditors
// (audit.read; auditors read only: there is nothing here to change). Thin: the service decides.
import { type Context, Hono } from "hono";
import type { Child } from "hono/jsx";
import type { HonoEnv } from "../context.ts";
import { auditDenied } from "../http/audit-denied.ts";
import { respondWithError } from "../http/errors.tsx";
import { requirePermission } from "../http/guards.ts";
import { render } from "../http/render.tsx";
import { requestMeta } from "../http/request-context.ts";
import { findPractice } from "../practices/repo.ts";
import { withContext } from "../platform/db.ts";
import { RetentionPage } from "../../views/retention/page.tsx";
import { certificatePath, openCertificate, type RetentionActor, type RetentionDeps, RetentionError, retentionOverview } from "./certificates.ts";
import { dateFormat } from "../platform/time.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `dataRequests` renders the page's "Data requests" section (src/retention/requests*), when mounted. */
export function retentionRoutes(deps: RetentionDeps, options: { dataRequests?: (c: Context<HonoEnv>) => Promise<Child> } = {}) {
  const app = new Hono<HonoEnv>();
  const read = requirePermission(deps, "audit.read");
  const actorOf = (c: Context<HonoEnv>): RetentionActor => ({ userId: c.get("session")!.user_id, practiceId: c.get("membership")!.practiceId });

  app.get("/retention", read, async (c) => {
    const actor = actorOf(c);
    const overview = await retentionOverview(deps, actor);
    const practice = await withContext(deps.db, { actor: `user:${actor.userId}`, userId: actor.userId, practiceId: actor.practiceId }, (tx) => findPractice(tx, actor.practiceId));
    const format = dateFormat(practice!.time_zone, "dateTime");
    const r = deps.config.retention;
    return render(c, {
      title: "Data and retention",
      page: <RetentionPage
        policy={{ jobDataDays: r.jobDataDays, draftDays: r.draftDays, auditYears: r.auditYears }}
        runs={overview.runs.map((run) => ({
          name: run.dryRun ? `${run.name} (dry run)` : run.name, started: format.format(run.startedAt), startedUtc: run.startedAt.toISOString(),
          cutoffUtc: run.cutoff.toISOString(), state: run.failed ? "Failed" : run.finishedAt ? "Finished" : run.interrupted ? "Interrupted (did not finish)" : "Running",
        }))}
        certificates={overview.certificates.map((cert) => ({
          reference: cert.job_reference, jobId: cert.job_id, verificationId: cert.verification_id, purged: format.format(cert.purged_at),
          purgedUtc: cert.purged_at.toISOString(), blobs: cert.blobs, bytes: `${Number(cert.bytes).toLocaleString("en-US")} bytes`, sha256: cert.manifest_sha256 ?? cert.pdf_sha256 ?? "", hashOf: cert.manifest_sha256 ? "manifest" : "PDF",
          href: certificatePath(deps.config, actor, cert.id),
        }))}
        dataRequests={options.dataRequests ? await options.dataRequests(c) : undefined}
      />,
    });
  });

  app.get("/retention/certificates/:id/download", read, async (c) => {
    const id = c.req.param("id");
    if (!UUID.test(id)) return c.notFound();
    try {
      const download = await openCertificate(deps, actorOf(c), id, c.req.query("token") ?? "", requestMeta(c));
      if ("redirect" in download) return c.redirect(download.redirect, 303);
      return c.body(new Uint8Array(download.pdf), 200, {
        "Content-Type": "application/pdf", "Content-Disposition": `attachment; filename="${download.fileName}"`, "Cache-Control": "no-store",
      });
    } catch (error) {
      if (!(error instanceof RetentionError)) throw error;
      if (error.code === "not_found") return c.notFound();
      if (error.code === "forbidden") await auditDenied(deps.db, c, { action: "retention.certificate.downloaded", target: { type: "destruction_certificate", id }, details: { reason: error.code } });
      return respondWithError(c, 403, error.message);
    }
  });

  return app;
}
