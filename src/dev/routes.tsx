// The development mailbox: lists and shows the .eml files that files-mode mail writes. Never in
// production: app.tsx mounts it only when config.production is false (and production always has
// SMTP_URL, so there would be nothing to show anyway).
import { Hono } from "hono";
import type { HonoEnv } from "../context.ts";
import { render } from "../http/render.tsx";
import { listDevMail, readDevMail } from "../platform/mail.ts";
import { MailboxListPage, MailboxMessagePage } from "../../views/dev/mailbox.tsx";

export function devMailRoutes(deps: { mailDir: string }) {
  const app = new Hono<HonoEnv>();
  app.get("/dev/mail", async (c) => {
    const messages = await listDevMail(deps.mailDir);
    return render(c, { title: "Development mailbox", page: <MailboxListPage messages={messages} /> });
  });
  app.get("/dev/mail/:id", async (c) => {
    const id = c.req.param("id");
    // readDevMail accepts only mail ids, so a path in :id finds nothing.
    const message = await readDevMail(deps.mailDir, id);
    if (!message) return c.notFound();
    return render(c, { title: `Mail: ${message.subject}`, page: <MailboxMessagePage message={{ id, ...message }} /> });
  });
  return app;
}
