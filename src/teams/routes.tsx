// Team management (admins), invitation links (anyone holding one) and the practice switcher.
import { type Context, Hono } from "hono";
import type { HonoEnv } from "../context.ts";
import { formValues, parseForm } from "../auth/forms.ts";
import { requireMfa, requirePermission } from "../http/guards.ts";
import { render } from "../http/render.tsx";
import { requestMeta } from "../http/request-context.ts";
import { setSessionCookie } from "../http/session.ts";
import { auditDenied } from "../http/audit-denied.ts";
import { withContext } from "../platform/db.ts";
import { AcceptInvitationPage } from "../../views/teams/accept.tsx";
import { TeamPage } from "../../views/teams/team.tsx";
import { inviteForm, newAccountForm, roleForm } from "./forms.ts";
import { listMembers, listPendingInvitations } from "./repo.ts";
import {
  acceptAsUser, acceptWithNewAccount, changeRole, describeInvitation, invite, removeMember, resetMemberMfa,
  revokeInvitation, switchPractice, TeamError, type TeamDeps,
} from "./service.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const day = (d: Date | null) => (d ? new Date(d).toISOString().slice(0, 10) : null);
const STATUS: Record<TeamError["code"], number> = {
  not_allowed: 403, last_admin: 409, already_member: 409, not_found: 404, wrong_account: 403, account_exists: 409, other_practices: 409,
};

export function teamRoutes(deps: TeamDeps) {
  const app = new Hono<HonoEnv>();
  const manage = requirePermission(deps, "team.manage");
  const actorOf = (c: Context<HonoEnv>) => ({ userId: c.get("session")!.user_id, practiceId: c.get("membership")!.practiceId });

  async function teamPage(
    c: Context<HonoEnv>,
    extra: { status?: number; values?: Record<string, string>; errors?: Record<string, string>; message?: string; notice?: string; roleEdit?: { userId: string; values: Record<string, string>; errors: Record<string, string> } } = {},
  ) {
    const actor = actorOf(c);
    const { members, invitations } = await withContext(deps.db, { actor: `user:${actor.userId}`, userId: actor.userId, practiceId: actor.practiceId }, async (tx) => ({
      members: await listMembers(tx, actor.practiceId),
      invitations: await listPendingInvitations(tx, actor.practiceId),
    }));
    return render(c, {
      title: "Team",
      status: extra.status,
      page: (
        <TeamPage
          members={members.map((m) => ({ userId: m.userId, fullName: m.fullName, email: m.email, role: m.role, endsAt: day(m.endsAt), mfa: Boolean(m.mfaSince), isMe: m.userId === actor.userId }))}
          invitations={invitations.map((i) => ({ id: i.id, email: i.email, role: i.role, endsAt: day(i.endsAt), expiresAt: day(i.expiresAt)! }))}
          values={extra.values}
          errors={extra.errors}
          message={extra.message}
          notice={extra.notice}
          roleEdit={extra.roleEdit}
        />
      ),
    });
  }

  /** A refused team change: audited as denied (its own transaction), then the reason for the person. */
  async function refused(c: Context<HonoEnv>, error: TeamError) {
    await auditDenied(deps.db, c, { action: "team.change.denied", details: { reason: error.code } });
    return error;
  }

  /** Runs a team change; a refused one re-renders the page with the reason and its status. */
  async function change(c: Context<HonoEnv>, fn: () => Promise<void>) {
    try {
      await fn();
    } catch (error) {
      if (error instanceof TeamError) {
        await refused(c, error);
        return teamPage(c, { status: STATUS[error.code], message: error.message });
      }
      throw error;
    }
    return c.redirect("/team", 303);
  }

  app.get("/team", manage, (c) => teamPage(c));

  app.post("/team/invitations", manage, async (c) => {
    const body = await c.req.parseBody();
    const form = parseForm(inviteForm, body);
    if (!form.ok) return teamPage(c, { status: 422, values: formValues(body), errors: form.errors });
    return change(c, () => invite(deps, actorOf(c), form.data, requestMeta(c)));
  });

  app.post("/team/invitations/:id/revoke", manage, async (c) => {
    const id = c.req.param("id");
    if (!UUID.test(id)) return c.notFound();
    return change(c, () => revokeInvitation(deps, actorOf(c), id, requestMeta(c)));
  });

  app.post("/team/members/:userId/role", manage, async (c) => {
    const userId = c.req.param("userId");
    if (!UUID.test(userId)) return c.notFound();
    const body = await c.req.parseBody();
    const form = parseForm(roleForm, body);
    if (!form.ok) return teamPage(c, { status: 422, message: "The role was not changed: see the highlighted field.", roleEdit: { userId, values: formValues(body), errors: form.errors } });
    return change(c, () => changeRole(deps, actorOf(c), userId, form.data, requestMeta(c)));
  });

  app.post("/team/members/:userId/remove", manage, async (c) => {
    const userId = c.req.param("userId");
    if (!UUID.test(userId)) return c.notFound();
    return change(c, () => removeMember(deps, actorOf(c), userId, requestMeta(c)));
  });

  app.post("/team/members/:userId/reset-mfa", manage, async (c) => {
    const userId = c.req.param("userId");
    if (!UUID.test(userId)) return c.notFound();
    return change(c, () => resetMemberMfa(deps, actorOf(c), userId, requestMeta(c)));
  });

  // Invitation links: anyone holding one may look; accepting needs a signed-in (MFA) account with
  // the invited email, or creates one.
  async function acceptPage(c: Context<HonoEnv>, token: string, extra: { status?: number; errors?: Record<string, string>; message?: string; values?: Record<string, string> } = {}) {
    const invitation = await describeInvitation(deps, token);
    const session = c.get("session");
    const signedInAs = session?.mfa_verified_at ? c.get("user")!.email : null;
    return render(c, {
      title: invitation ? `Join ${invitation.practiceName}` : "Invitation not valid",
      status: extra.status ?? (invitation ? 200 : 404),
      page: <AcceptInvitationPage token={token} invitation={invitation && { ...invitation, endsAt: day(invitation.endsAt) }} signedInAs={signedInAs} provider={deps.config.auth.provider} {...extra} />,
    });
  }

  app.get("/invitations/accept", (c) => acceptPage(c, c.req.query("token") ?? ""));

  app.post("/invitations/accept", requireMfa(), async (c) => {
    const token = String((await c.req.parseBody()).token ?? "");
    const user = c.get("user")!;
    try {
      const practiceId = await acceptAsUser(deps, token, { id: user.id, email: user.email }, requestMeta(c));
      const fresh = await switchPractice(deps, c.get("session")!, practiceId, requestMeta(c));
      if (fresh) setSessionCookie(c, fresh, deps.config);
    } catch (error) {
      if (error instanceof TeamError) {
        await refused(c, error);
        return acceptPage(c, token, { status: STATUS[error.code], message: error.message });
      }
      throw error;
    }
    return c.redirect("/app", 303);
  });

  app.post("/invitations/accept/new-account", async (c) => {
    const body = await c.req.parseBody();
    const token = typeof body.token === "string" ? body.token : "";
    const form = parseForm(newAccountForm, body);
    if (!form.ok) return acceptPage(c, token, { status: 422, errors: form.errors, values: formValues(body) });
    try {
      await acceptWithNewAccount(deps, form.data.token, form.data, requestMeta(c));
    } catch (error) {
      if (error instanceof TeamError) {
        await refused(c, error);
        return acceptPage(c, token, { status: STATUS[error.code], message: error.message });
      }
      throw error;
    }
    return c.redirect("/login", 303);
  });

  app.post("/practice/switch", requireMfa(), async (c) => {
    const practiceId = String((await c.req.parseBody()).practiceId ?? "");
    if (!UUID.test(practiceId)) return c.notFound();
    try {
      const fresh = await switchPractice(deps, c.get("session")!, practiceId, requestMeta(c));
      if (fresh) setSessionCookie(c, fresh, deps.config);
    } catch (error) {
      if (error instanceof TeamError) {
        await auditDenied(deps.db, c, { action: "access.denied", target: { type: "practice", id: practiceId }, details: { reason: "not_a_member" } });
        return c.notFound();
      }
      throw error;
    }
    return c.redirect("/app", 303);
  });
  return app;
}
