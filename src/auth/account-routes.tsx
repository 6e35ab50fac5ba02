// The signed-in person's own account: their sessions, each of which they may end, and keeping
// the current one alive from the idle warning. The rest of the settings area is src/account/.
import { Hono } from "hono";
import type { HonoEnv } from "../context.ts";
import { requireMfa } from "../http/guards.ts";
import { render } from "../http/render.tsx";
import { requestMeta } from "../http/request-context.ts";
import { recordAudit } from "../audit/record.ts";
import { type Db, withContext } from "../platform/db.ts";
import { SessionsPage } from "../../views/auth/sessions.tsx";
import { AccountFrame } from "../../views/account/settings.tsx";
import { auditDenied } from "../http/audit-denied.ts";
import { listLiveSessions, revokeOwnSession } from "./repo.ts";
import { extendSession } from "./sessions.ts";
import type { Config } from "../config.ts";

const utc = (d: Date) => new Date(d).toISOString().slice(0, 16).replace("T", " ");
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function accountRoutes(deps: { db: Db; config: Config }) {
  const app = new Hono<HonoEnv>();
  app.use("/account/*", requireMfa());

  // "Stay signed in" from the idle warning (public/session-timeout.js): marks the session active.
  app.post("/session/extend", requireMfa(), async (c) => {
    const deadline = await extendSession(deps.db, c.get("session")!, deps.config.session);
    return c.json({ idleSeconds: Math.round((deadline.getTime() - Date.now()) / 1000) });
  });

  app.get("/account/sessions", async (c) => {
    const me = c.get("session")!;
    const rows = await withContext(deps.db, { actor: `user:${me.user_id}`, userId: me.user_id }, (tx) => listLiveSessions(tx, me.user_id));
    const sessions = rows.map((s) => ({
      id: s.id, ip: s.ip, userAgent: s.user_agent, createdAt: utc(s.created_at), lastSeenAt: utc(s.last_seen_at), current: s.id === me.id,
    }));
    return render(c, { title: "Your sessions", page: <AccountFrame current="sessions" clerk={deps.config.auth.provider === "clerk"}><SessionsPage sessions={sessions} /></AccountFrame> });
  });

  app.post("/account/sessions/:id/revoke", async (c) => {
    const me = c.get("session")!;
    const id = c.req.param("id");
    if (!UUID.test(id) || id === me.id) return c.notFound();
    const ended = await withContext(deps.db, { actor: `user:${me.user_id}`, userId: me.user_id, practiceId: me.practice_id }, async (tx) => {
      // Only the user's own live sessions match: anyone else's id is simply not found.
      if (!(await revokeOwnSession(tx, me.user_id, id, "revoked_by_user"))) return false;
      await recordAudit(tx, { practiceId: me.practice_id, actor: { type: "user", id: me.user_id }, action: "auth.session.revoked", target: { type: "session", id }, request: requestMeta(c) });
      return true;
    });
    if (!ended) {
      await auditDenied(deps.db, c, { action: "access.denied", target: { type: "session", id }, details: { reason: "not_own_session" } });
      return c.notFound();
    }
    return c.redirect("/account/sessions", 303);
  });
  return app;
}
