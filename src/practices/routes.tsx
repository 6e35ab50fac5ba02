// The practice home: the first page behind two-step sign-in.
import { Hono } from "hono";
import type { HonoEnv } from "../context.ts";
import { requireMfa } from "../http/guards.ts";
import { render } from "../http/render.tsx";
import { listActiveMemberships } from "../auth/repo.ts";
import { can } from "../auth/permissions.ts";
import { type Db, withContext } from "../platform/db.ts";
import { PracticeHomePage } from "../../views/practices/home.tsx";

export function practiceRoutes(deps: { db: Db }) {
  const app = new Hono<HonoEnv>();
  app.get("/app", requireMfa(), async (c) => {
    const session = c.get("session")!;
    const user = c.get("user")!;
    const memberships = await withContext(deps.db, { actor: `user:${user.id}`, userId: user.id }, (tx) => listActiveMemberships(tx, user.id));
    const current = memberships.find((m) => m.practiceId === session.practice_id) ?? null;
    return render(c, {
      title: current?.practiceName ?? "Your practices",
      page: (
        <PracticeHomePage
          userName={user.full_name}
          practice={current ? { name: current.practiceName, status: current.practiceStatus } : null}
          role={current?.role ?? null}
          otherPractices={memberships.filter((m) => m !== current)}
          canManageTeam={can(current?.role, "team.manage")}
        />
      ),
    });
  });
  return app;
}
