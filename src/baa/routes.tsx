// The BAA pages: the onboarding wizard (profile → review → sign → done) for admins, the status for
// other members, the unsigned PDF, the signature history and the executed PDF's signed download.
import { type Context, Hono } from "hono";
import type { HonoEnv } from "../context.ts";
import { can } from "../auth/permissions.ts";
import { formValues, parseForm } from "../auth/forms.ts";
import { auditDenied } from "../http/audit-denied.ts";
import { respondWithError } from "../http/errors.tsx";
import { requirePermission } from "../http/guards.ts";
import { isFragmentRequest, render } from "../http/render.tsx";
import { requestMeta } from "../http/request-context.ts";
import type { BaaSignature, BaaVersion, Practice } from "../platform/schema.ts";
import { BaaHistoryPage, BaaStatusPage } from "../../views/baa/pages.tsx";
import { BaaWizard, BaaWizardPage, type SignedView, type VersionView, type WizardProps, type WizardStep } from "../../views/baa/wizard.tsx";
import { profileForm, signForm, TIME_ZONES, US_STATES } from "./forms.ts";
import { requireMember } from "./http.tsx";
import { agreementPdf } from "./pdf.ts";
import {
  authorityStatement, type BaaActor, type BaaDeps, BaaError, type BaaOverview, baaOverview, CONSENT_TEXT, downloadPath, openDownload,
  pdfVersion, saveProfile, signatureHistory, signBaa, viewAgreement,
} from "./service.ts";
import { baaBlocks } from "./text.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const STEP_NAMES: WizardStep[] = ["profile", "review", "sign", "done"];
const SIGN_STATUS: Record<BaaError["code"], number> = {
  not_allowed: 403, profile_incomplete: 422, version_changed: 409, already_signed: 409, not_found: 404, no_version: 409, link_invalid: 403,
};

function versionView(v: BaaVersion): VersionView {
  return { id: v.id, version: v.version, title: v.title, sha256: v.sha256, effectiveOn: new Date(v.effective_at).toISOString().slice(0, 10) };
}

/** The profile as the form shows it (the wizard's step 1 and the practice settings page). */
export function profileValues(p: Practice): Record<string, string> {
  return {
    legalName: p.legal_name ?? p.name, dbaName: p.dba_name ?? "", addressLine1: p.address_line1 ?? "", addressLine2: p.address_line2 ?? "",
    city: p.city ?? "", state: p.state ?? "", postalCode: p.postal_code ?? "", phone: p.phone ?? "", npi: p.npi ?? "",
    privacyOfficerName: p.privacy_officer_name ?? "", privacyOfficerEmail: p.privacy_officer_email ?? "", timeZone: p.time_zone,
  };
}

export function baaRoutes(deps: BaaDeps) {
  const app = new Hono<HonoEnv>();
  const member = requireMember(deps);
  const actorOf = (c: Context<HonoEnv>): BaaActor => ({ userId: c.get("session")!.user_id, practiceId: c.get("membership")!.practiceId, sessionId: c.get("session")!.id });
  const signedView = (c: Context<HonoEnv>, s: BaaSignature): SignedView => ({
    typedName: s.typed_name, title: s.signer_title, signedAtUtc: new Date(s.signed_at).toISOString(), version: s.baa_version,
    verificationId: s.verification_id, baaSha256: s.baa_sha256, pdfSha256: s.pdf_sha256, downloadHref: downloadPath(deps.config, actorOf(c), s.id),
  });

  /** The steps an admin may open now, and where they resume. */
  function stepsFor(o: BaaOverview): { reachable: WizardStep[]; resume: WizardStep } {
    if (o.signedCurrent) return { reachable: ["profile", "review", "done"], resume: "done" };
    if (!o.practice.profile_completed_at) return { reachable: ["profile"], resume: "profile" };
    return { reachable: ["profile", "review", "sign"], resume: "review" };
  }

  /** Renders one wizard step (page, or the #baa-wizard fragment for htmx); the review step is audited as a view. */
  async function wizard(c: Context<HonoEnv>, o: BaaOverview, step: WizardStep, extra: Partial<WizardProps> & { status?: number } = {}) {
    const { reachable } = stepsFor(o);
    let blocks: WizardProps["blocks"];
    if (step === "review") blocks = baaBlocks((await viewAgreement(deps, actorOf(c), "text", requestMeta(c))).version.body);
    const practiceName = o.practice.legal_name ?? o.practice.name;
    const props: WizardProps = {
      step, practiceName, reachable, timeZones: [...TIME_ZONES], states: US_STATES,
      values: step === "profile" ? profileValues(o.practice) : {},
      version: o.current ? versionView(o.current) : null, blocks,
      consentText: CONSENT_TEXT, authorityText: authorityStatement(practiceName),
      signed: o.signedCurrent ? signedView(c, o.signedCurrent) : null, outOfDate: o.state === "out_of_date",
      ...extra,
    };
    if (isFragmentRequest(c) && c.req.method === "GET") c.header("HX-Push-Url", `/baa?step=${step}`);
    return render(c, { title: "Business Associate Agreement", status: extra.status, page: <BaaWizardPage {...props} />, fragment: <BaaWizard {...props} /> });
  }

  app.get("/baa", member, async (c) => {
    const o = await baaOverview(deps, actorOf(c));
    if (!o.current) return respondWithError(c, 503, "No Business Associate Agreement has been published yet. Contact support.");
    if (!can(o.role, "baa.sign")) {
      // Members who cannot sign see the state and who can; those who may read the BAA also see its text (a view, audited).
      const canRead = can(o.role, "baa.read");
      const blocks = canRead ? baaBlocks((await viewAgreement(deps, actorOf(c), "text", requestMeta(c))).version.body) : undefined;
      return render(c, {
        title: "Business Associate Agreement",
        page: <BaaStatusPage practiceName={o.practice.legal_name ?? o.practice.name} state={o.state} admins={o.admins.map((a) => a.fullName)}
          signed={o.signedCurrent ? signedView(c, o.signedCurrent) : null} canRead={canRead} version={versionView(o.current)} blocks={blocks} />,
      });
    }
    const requested = c.req.query("step") as WizardStep | undefined;
    const { reachable, resume } = stepsFor(o);
    const step = requested && STEP_NAMES.includes(requested) && reachable.includes(requested) ? requested : resume;
    return wizard(c, o, step);
  });

  app.post("/baa/profile", requirePermission(deps, "practice.settings"), async (c) => {
    const body = await c.req.parseBody();
    const form = parseForm(profileForm, body);
    if (!form.ok) {
      const o = await baaOverview(deps, actorOf(c));
      return wizard(c, o, "profile", { status: 422, values: formValues(body), errors: form.errors });
    }
    try {
      await saveProfile(deps, actorOf(c), form.data, requestMeta(c));
    } catch (error) {
      if (!(error instanceof BaaError)) throw error;
      await auditDenied(deps.db, c, { action: "practice.profile.updated", role: c.get("membership")!.role, target: { type: "practice", id: actorOf(c).practiceId }, details: { reason: error.code } });
      return respondWithError(c, SIGN_STATUS[error.code], error.message);
    }
    return c.redirect("/baa?step=review", 303);
  });

  app.post("/baa/sign", requirePermission(deps, "baa.sign"), async (c) => {
    const body = await c.req.parseBody();
    const form = parseForm(signForm, body);
    if (!form.ok) {
      const o = await baaOverview(deps, actorOf(c));
      return wizard(c, o, o.signedCurrent ? "done" : "sign", { status: 422, values: formValues(body), errors: form.errors });
    }
    try {
      await signBaa(deps, actorOf(c), form.data, requestMeta(c));
    } catch (error) {
      if (!(error instanceof BaaError)) throw error;
      await auditDenied(deps.db, c, { action: "baa.signed", role: c.get("membership")!.role, target: { type: "baa_version", id: form.data.versionId }, details: { reason: error.code } });
      const o = await baaOverview(deps, actorOf(c));
      const step: WizardStep = o.signedCurrent ? "done" : error.code === "profile_incomplete" ? "profile" : "sign";
      return wizard(c, o, step, { status: SIGN_STATUS[error.code], message: error.message, values: step === "sign" ? formValues(body) : undefined });
    }
    return c.redirect("/baa?step=done", 303);
  });

  app.get("/baa/agreement.pdf", requirePermission(deps, "baa.read"), async (c) => {
    const { version } = await viewAgreement(deps, actorOf(c), "pdf", requestMeta(c));
    const pdf = await agreementPdf(pdfVersion(version));
    return c.body(new Uint8Array(pdf), 200, {
      "content-type": "application/pdf",
      "content-disposition": `attachment; filename="BAA-v${version.version}-for-review.pdf"`,
    });
  });

  app.get("/baa/signatures", requirePermission(deps, "baa.read"), async (c) => {
    const { overview, signatures } = await signatureHistory(deps, actorOf(c), requestMeta(c));
    return render(c, {
      title: "BAA signature history",
      page: (
        <BaaHistoryPage
          practiceName={overview.practice.legal_name ?? overview.practice.name}
          state={overview.state}
          rows={signatures.map((s) => ({ ...signedView(c, s), signerAccount: `${s.signer_account_name} <${s.signer_email}>`, ip: s.ip ?? "", current: s.baa_version_id === overview.current?.id }))}
        />
      ),
    });
  });

  app.get("/baa/signatures/:id/download", requirePermission(deps, "baa.read"), async (c) => {
    const id = c.req.param("id");
    if (!UUID.test(id)) return c.notFound();
    try {
      return c.redirect(await openDownload(deps, actorOf(c), id, c.req.query("token") ?? "", requestMeta(c)), 303);
    } catch (error) {
      if (!(error instanceof BaaError)) throw error;
      if (error.code === "not_found") return c.notFound();
      if (error.code === "not_allowed") await auditDenied(deps.db, c, { action: "baa.downloaded", target: { type: "baa_signature", id }, details: { reason: error.code } });
      return respondWithError(c, 403, error.message);
    }
  });

  return app;
}
