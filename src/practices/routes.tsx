// The practice home: the first page behind two-step sign-in.
import { Hono } from "hono";
import type { HonoEnv } from "../context.ts";
import { requireMfa } from "../http/guards.ts";
import { render } from "../http/render.tsx";
import { listActiveMemberships } from "../auth/repo.ts";
import { can } from "../auth/permissions.ts";
import { isOperator } from "../auth/operators.ts";
import { OperatorHomePage } from "../../views/operators/home.tsx";
import { type Db, withContext } from "../platform/db.ts";
import { PracticeHomePage } from "../../views/practices/home.tsx";
import { baaOverview } from "../baa/service.ts";

export function practiceRoutes(deps: { db: Db }) {
  const app = new Hono<HonoEnv>();
  app.get("/app", requireMfa(), async (c) => {
    const session = c.get("session")!;
    const user = c.get("user")!;
    const { memberships, operator } = await withContext(deps.db, { actor: `user:${user.id}`, userId: user.id }, async (tx) => ({
      memberships: await listActiveMemberships(tx, user.id),
      operator: await isOperator(tx, user.id),
    }));
    if (operator) return render(c, { title: "Platform operator", page: <OperatorHomePage userName={user.full_name} /> });
    const current = memberships.find((m) => m.practiceId === session.practice_id) ?? null;
    // Onboarding: who must sign the BAA, and (for admins) the wizard's next step.
    const baa = current ? await baaOverview(deps, { userId: user.id, practiceId: current.practiceId }) : null;
    return render(c, {
      title: current?.practiceName ?? "Your practices",
      page: (
        <PracticeHomePage
          userName={user.full_name}
          practice={current ? { name: current.practiceName, status: current.practiceStatus } : null}
          role={current?.role ?? null}
          otherPractices={memberships.filter((m) => m !== current)}
          canManageTeam={can(current?.role, "team.manage")}
          canManageSettings={can(current?.role, "practice.settings")}
          baa={baa && {
            state: baa.state,
            admins: baa.admins.map((a) => a.fullName),
            canSign: can(baa.role, "baa.sign"),
            profileDone: Boolean(baa.practice.profile_completed_at),
          }}
        />
      ),
    });
  });
  return app;
}
