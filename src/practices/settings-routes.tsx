// Practice settings (issue 9 item 3), for admins (practice.settings): the profile (the BAA wizard's
// form and use case), the letterhead and its logo, the two-person approval rule (moved here from
// the Team page), and read-only views of the retention policy and the BAA in force. The logo is
// served to the practice's own members only.
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { HonoEnv } from "../context.ts";
import { formValues, parseForm } from "../auth/forms.ts";
import { profileForm, TIME_ZONES, US_STATES } from "../baa/forms.ts";
import { profileValues } from "../baa/routes.tsx";
import { baaOverview, BaaError, downloadPath, saveProfile } from "../baa/service.ts";
import { auditDenied } from "../http/audit-denied.ts";
import { respondWithError } from "../http/errors.tsx";
import { requirePermission } from "../http/guards.ts";
import { memberOf } from "../http/member.ts";
import { render } from "../http/render.tsx";
import { requestMeta } from "../http/request-context.ts";
import { setApprovalRule } from "../proofs/service.ts";
import { PracticeSettingsPage, type PracticeSettingsProps } from "../../views/practices/settings.tsx";
import { approvalRuleForm, letterheadForm } from "./forms.ts";
import { letterheadReturnAddress } from "./letterhead.ts";
import {
  practiceSettings, readLogo, removeLogo, saveLetterhead, SettingsError, type SettingsDeps, uploadLogo,
} from "./settings.ts";
import { dateFormat } from "../platform/time.ts";

const NOTICES: Record<string, string> = {
  profile: "The practice profile is saved.",
  letterhead: "The letterhead is saved.",
  logo: "The logo is saved.",
  "logo-removed": "The logo is removed.",
  "approval-rule": "The proof approval rule is saved.",
  unchanged: "Nothing had changed, so nothing was saved.",
};

/** Why a staff member or auditor is turned away (the 403 page says it). */
export const SETTINGS_REFUSAL = "Practice settings are for the practice's administrators. Your role does not include them: ask an administrator of your practice to make the change.";

/** requirePermission("practice.settings") whose refusal (audited by it) says who the page is for. */
function adminsOnly(deps: { db: SettingsDeps["db"] }): MiddlewareHandler<HonoEnv> {
  const guard = requirePermission(deps, "practice.settings");
  return async function adminsOnly(c, next) {
    const answer = await guard(c, next);
    if (answer instanceof Response && answer.status === 403) return respondWithError(c, 403, SETTINGS_REFUSAL);
    return answer;
  };
}

type PageExtra = {
  status?: number; notice?: string; message?: string;
  profile?: { values: Record<string, string>; errors: Record<string, string> };
  letterhead?: { values: Record<string, string>; errors: Record<string, string> };
  logoError?: string;
};

export function practiceSettingsRoutes(deps: SettingsDeps) {
  const app = new Hono<HonoEnv>();
  const admins = adminsOnly(deps);
  const baaActor = (c: Context<HonoEnv>) => ({ ...memberOf(c), sessionId: c.get("session")!.id });

  async function settingsPage(c: Context<HonoEnv>, extra: PageExtra = {}) {
    const actor = memberOf(c);
    const { practice, letterhead } = await practiceSettings(deps, actor);
    const baa = await baaOverview(deps, actor);
    const signed = baa.signedCurrent;
    const ret = letterheadReturnAddress(practice, letterhead);
    const when = signed ? new Date(signed.signed_at) : null;
    const props: PracticeSettingsProps = {
      practiceName: practice.legal_name ?? practice.name,
      notice: extra.notice, message: extra.message,
      profile: { values: extra.profile?.values ?? profileValues(practice), errors: extra.profile?.errors ?? {}, timeZones: [...TIME_ZONES], states: US_STATES },
      letterhead: {
        values: extra.letterhead?.values ?? {
          returnName: ret.name, returnLine1: ret.line1, returnLine2: ret.line2 ?? "", returnCity: ret.city, returnState: ret.state, returnZip: ret.zip,
          signerName: letterhead?.signer_name ?? "", signerTitle: letterhead?.signer_title ?? "",
        },
        errors: extra.letterhead?.errors ?? {},
        states: US_STATES,
        returnFromProfile: !letterhead?.return_name,
        logo: letterhead?.logo_blob
          ? { href: `/practice/logo?v=${letterhead.logo_sha256!.slice(0, 12)}`, type: letterhead.logo_content_type!, kb: Math.max(1, Math.round(letterhead.logo_bytes! / 1024)), sha256: letterhead.logo_sha256! }
          : null,
        logoError: extra.logoError,
        maxLogoKb: Math.floor(deps.config.uploads.maxImageBytes / 1024),
      },
      twoPersonApproval: practice.two_person_approval,
      retention: { jobDataDays: deps.config.retention.jobDataDays, draftDays: deps.config.retention.draftDays, auditYears: deps.config.retention.auditYears },
      baa: {
        state: baa.state, version: signed?.baa_version ?? null, signedBy: signed ? `${signed.typed_name}, ${signed.signer_title}` : null,
        signedOn: when ? dateFormat(practice.time_zone, "longDate").format(when) : null,
        signedAtUtc: when?.toISOString() ?? null,
        downloadHref: signed ? downloadPath(deps.config, actor, signed.id) : null,
      },
    };
    return render(c, { title: "Practice settings", status: extra.status, page: <PracticeSettingsPage {...props} /> });
  }

  const done = (c: Context<HonoEnv>, what: string, anchor: string) => c.redirect(`/practice/settings?done=${what}#${anchor}`, 303);

  /** A refusal from the settings service: audited as denied, then the page with the reason. */
  async function refused(c: Context<HonoEnv>, error: unknown, action: "practice.logo.uploaded" | "practice.logo.removed" | "practice.letterhead.updated") {
    if (!(error instanceof SettingsError)) throw error;
    await auditDenied(deps.db, c, { action, role: c.get("membership")!.role, target: { type: "practice", id: c.get("membership")!.practiceId }, details: { reason: error.code } });
    if (error.code === "forbidden") return respondWithError(c, 403, SETTINGS_REFUSAL);
    const status = error.code === "too_large" ? 413 : error.code === "no_logo" ? 409 : 422;
    return settingsPage(c, { status, logoError: error.message });
  }

  app.get("/practice/settings", admins, (c) => settingsPage(c, { notice: NOTICES[c.req.query("done") ?? ""] }));

  app.post("/practice/settings/profile", admins, async (c) => {
    const body = await c.req.parseBody();
    const form = parseForm(profileForm, body);
    if (!form.ok) return settingsPage(c, { status: 422, profile: { values: formValues(body), errors: form.errors } });
    try {
      const changed = await saveProfile(deps, baaActor(c), form.data, requestMeta(c));
      return done(c, changed.length ? "profile" : "unchanged", "profile");
    } catch (error) {
      if (!(error instanceof BaaError)) throw error;
      await auditDenied(deps.db, c, { action: "practice.profile.updated", role: c.get("membership")!.role, target: { type: "practice", id: memberOf(c).practiceId }, details: { reason: error.code } });
      return respondWithError(c, 403, SETTINGS_REFUSAL);
    }
  });

  app.post("/practice/settings/letterhead", admins, async (c) => {
    const body = await c.req.parseBody();
    const form = parseForm(letterheadForm, body);
    if (!form.ok) return settingsPage(c, { status: 422, letterhead: { values: formValues(body), errors: form.errors } });
    try {
      const changed = await saveLetterhead(deps, memberOf(c), form.data);
      return done(c, changed.length ? "letterhead" : "unchanged", "letterhead");
    } catch (error) {
      return refused(c, error, "practice.letterhead.updated");
    }
  });

  // The logo comes through the app (it is not PHI, and small): the body is cut off past the size
  // limit plus room for the multipart envelope, before it is read into memory.
  const logoLimit = bodyLimit({
    maxSize: deps.config.uploads.maxImageBytes + 64 * 1024,
    onError: async (c) => {
      await auditDenied(deps.db, c, { action: "practice.logo.uploaded", role: c.get("membership")?.role ?? null, details: { reason: "too_large" } });
      return settingsPage(c, { status: 413, logoError: `The logo is too large: at most ${Math.floor(deps.config.uploads.maxImageBytes / 1024)} KB.` });
    },
  });
  app.post("/practice/settings/logo", admins, logoLimit, async (c) => {
    const file = (await c.req.parseBody()).logo;
    try {
      if (!(file instanceof File)) throw new SettingsError("bad_image", "Choose a PNG or JPEG file for the logo.");
      await uploadLogo(deps, memberOf(c), new Uint8Array(await file.arrayBuffer()), file.type);
    } catch (error) {
      return refused(c, error, "practice.logo.uploaded");
    }
    return done(c, "logo", "letterhead");
  });

  app.post("/practice/settings/logo/remove", admins, async (c) => {
    try {
      await removeLogo(deps, memberOf(c));
    } catch (error) {
      return refused(c, error, "practice.logo.removed");
    }
    return done(c, "logo-removed", "letterhead");
  });

  // The logo for the practice's own pages: any member (RLS finds only their practice's row).
  app.get("/practice/logo", requirePermission(deps, "jobs.read"), async (c) => {
    const logo = await readLogo(deps, memberOf(c));
    if (!logo) return c.notFound();
    return c.body(new Uint8Array(logo.bytes), 200, { "content-type": logo.contentType, "content-disposition": "inline" });
  });

  // The two-person approval rule (proofs/service.ts decides and audits it), set from this page.
  app.post("/practice/approval-rule", admins, async (c) => {
    const form = parseForm(approvalRuleForm, await c.req.parseBody());
    if (!form.ok) return settingsPage(c, { status: 422, message: "Choose whether the two-person rule is on or off." });
    await setApprovalRule(deps, memberOf(c), form.data.twoPerson === "on");
    return done(c, "approval-rule", "approval-rule");
  });

  return app;
}
