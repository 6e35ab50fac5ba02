// Proof routes for practice members: open a proof through its signed link, approve it, request
// changes, render it again after a failure. (The two-person approval rule is set on the practice
// settings page: src/practices/settings-routes.tsx.)
import { type Context, Hono } from "hono";
import { z } from "zod";
import type { HonoEnv } from "../context.ts";
import { parseForm } from "../auth/forms.ts";
import { auditDenied } from "../http/audit-denied.ts";
import { respondWithError } from "../http/errors.tsx";
import { requirePermission } from "../http/guards.ts";
import { requestMeta } from "../http/request-context.ts";
import { memberOf } from "../http/member.ts";
import { JobError } from "../jobs/service.ts";
import { approveProof, openProof, type ProofDeps, ProofError, requestChanges, retryProof } from "./service.ts";

const STATUS: Record<ProofError["code"] | JobError["code"], number> = {
  link_invalid: 403, not_found: 404, stale: 409, two_person: 403, not_ready: 409, forbidden: 403,
  not_allowed: 409, not_editable: 409, conflict: 409, stale_statement: 409,
};

const approveForm = z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/, "Open the proof again and approve from its page") });
const changesForm = z.object({
  comment: z.string({ error: "Say what should change" }).trim().min(1, "Say what should change").max(2000, "Use at most 2,000 characters"),
});

export function proofRoutes(deps: ProofDeps) {
  const app = new Hono<HonoEnv>();
  const actorOf = memberOf;
  const back = (c: Context<HonoEnv>, done?: string) => c.redirect(`/jobs/${c.req.param("id")}${done ? `?done=${done}` : ""}#proof`, 303);

  /** A refusal from a service: audited as denied (the change rolled back), answered with why. */
  async function refuse(c: Context<HonoEnv>, error: unknown) {
    if (!(error instanceof ProofError || error instanceof JobError)) throw error;
    if (error instanceof JobError || error.code !== "link_invalid") {
      await auditDenied(deps.db, c, { action: "access.denied", role: c.get("membership")?.role ?? null, details: { reason: error.code } });
    }
    return respondWithError(c, STATUS[error.code] as 403, error.message);
  }

  app.get("/jobs/:id/proofs/:proofId/view", requirePermission(deps, "proofs.view"), async (c) => {
    try {
      const url = await openProof(deps, actorOf(c), c.req.param("id"), c.req.param("proofId"), c.req.query("token") ?? "", requestMeta(c));
      c.header("Cache-Control", "no-store");
      return c.redirect(url, 302);
    } catch (error) {
      return refuse(c, error);
    }
  });

  app.post("/jobs/:id/proofs/:proofId/approve", requirePermission(deps, "proofs.approve"), async (c) => {
    const form = parseForm(approveForm, await c.req.parseBody());
    if (!form.ok) return respondWithError(c, 422, form.errors.sha256 ?? "Open the proof again and approve from its page.");
    try {
      await approveProof(deps, actorOf(c), c.req.param("id"), { proofId: c.req.param("proofId"), sha256: form.data.sha256 });
    } catch (error) {
      return refuse(c, error);
    }
    return back(c, "approved");
  });

  app.post("/jobs/:id/proofs/:proofId/changes", requirePermission(deps, "proofs.approve"), async (c) => {
    const form = parseForm(changesForm, await c.req.parseBody());
    if (!form.ok) return respondWithError(c, 422, form.errors.comment ?? "Say what should change.");
    try {
      await requestChanges(deps, actorOf(c), c.req.param("id"), { proofId: c.req.param("proofId"), comment: form.data.comment });
    } catch (error) {
      return refuse(c, error);
    }
    return back(c, "changes");
  });

  app.post("/jobs/:id/proofs/retry", requirePermission(deps, "jobs.write"), async (c) => {
    try {
      await retryProof(deps, actorOf(c), c.req.param("id"));
    } catch (error) {
      return refuse(c, error);
    }
    return back(c, "retried");
  });

  return app;
}
