// The support page and the incident report form: for every signed-in person (past two-step sign-in),
// practice members and platform operators alike. The description never reaches a log: the request
// logger writes no bodies, and nothing here logs the form.
import { type Context, Hono } from "hono";
import type { HonoEnv } from "../context.ts";
import { formValues, parseForm } from "../auth/forms.ts";
import { auditDenied } from "../http/audit-denied.ts";
import { requireMfa } from "../http/guards.ts";
import { render } from "../http/render.tsx";
import { requestMeta } from "../http/request-context.ts";
import { SupportPage } from "../../views/support/page.tsx";
import { DESCRIPTION_MAX, INCIDENT_CATEGORIES, incidentForm } from "./forms.ts";
import { IncidentError, type Reporter, reportIncident, reporterTimeZone, type SupportDeps } from "./service.ts";

const REFERENCE = /^INC-[0-9A-Z]{4}-[0-9A-Z]{4}$/;

export function supportRoutes(deps: SupportDeps) {
  const app = new Hono<HonoEnv>();
  const reporterOf = (c: Context<HonoEnv>): Reporter => ({ userId: c.get("session")!.user_id, practiceId: c.get("session")!.practice_id, request: requestMeta(c) });

  async function page(c: Context<HonoEnv>, extra: { status?: number; values?: Record<string, string>; errors?: Record<string, string>; reported?: string | null } = {}) {
    return render(c, {
      title: "Support",
      status: extra.status,
      page: (
        <SupportPage supportEmail={deps.config.support.email} categories={INCIDENT_CATEGORIES} timeZone={await reporterTimeZone(deps, reporterOf(c))}
          descriptionMax={DESCRIPTION_MAX} values={extra.values} errors={extra.errors} reported={extra.reported} />
      ),
    });
  }

  app.get("/support", requireMfa(), (c) => {
    const reported = c.req.query("reported") ?? "";
    return page(c, { reported: REFERENCE.test(reported) ? reported : null });
  });

  app.post("/support/incidents", requireMfa(), async (c) => {
    const body = await c.req.parseBody();
    // The person's own text comes back whole on a refused form, so nothing they typed is lost.
    const values = { ...formValues(body), description: typeof body.description === "string" ? body.description.slice(0, DESCRIPTION_MAX) : "" };
    const form = parseForm(incidentForm, body);
    if (!form.ok) return page(c, { status: 422, values, errors: form.errors });
    try {
      const { reference } = await reportIncident(deps, reporterOf(c), form.data);
      return c.redirect(`/support?reported=${reference}`, 303);
    } catch (error) {
      if (!(error instanceof IncidentError)) throw error;
      if (error.code === "forbidden") await auditDenied(deps.db, c, { action: "incident.reported", details: { reason: error.code } });
      return page(c, { status: error.code === "forbidden" ? 403 : 422, values, errors: { [error.field ?? "form"]: error.message } });
    }
  });

  return app;
}
