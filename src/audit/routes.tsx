// The audit trail for admins and auditors: the viewer (filters, newest first, "Load more" by
// keyset) and the streamed CSV export, which is itself audited.
import { type Context, Hono } from "hono";
import type { HonoEnv } from "../context.ts";
import { requirePermission } from "../http/guards.ts";
import { render } from "../http/render.tsx";
import { requestMeta } from "../http/request-context.ts";
import { listMembers } from "../teams/repo.ts";
import { findPractice } from "../practices/repo.ts";
import { type Db, withContext } from "../platform/db.ts";
import { AuditTrailPage, type TrailIntegrity, type TrailRow, TrailRows } from "../../views/audit/trail.tsx";
import type { KeyRing } from "../platform/crypto.ts";
import { type CheckpointStatus, checkpointStatus } from "./checkpoint.ts";
import { auditCsvStream } from "./export.ts";
import { ACTION_GROUPS, type AuditFilters, auditFilterSchema, describeFilters } from "./filters.ts";
import { recordAudit } from "./record.ts";
import { type AuditCursor, type AuditRow, listEventsPage } from "./repo.ts";
import { parseForm } from "../auth/forms.ts";
import { dateFormat } from "../platform/time.ts";

const PAGE = 50;

function filterQuery(f: AuditFilters, extra: Record<string, string> = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...f, ...extra })) if (v) params.set(k, String(v));
  const text = params.toString();
  return text ? `?${text}` : "";
}

function parseCursor(raw: string | undefined): AuditCursor | null {
  const match = raw ? /^(\d{4}-\d{2}-\d{2}T[\d:.]+Z)_(\d{1,18})$/.exec(raw) : null;
  return match ? { at: match[1]!, seq: match[2]! } : null;
}

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 40) || "practice";
}

function describeIntegrity(status: CheckpointStatus, timeZone: string): TrailIntegrity {
  const format = (d: Date) => dateFormat(timeZone, "dateTime").format(d);
  switch (status.kind) {
    case "none":
      return status;
    case "verified":
      return status.throughAt
        ? { kind: "verified", through: format(status.throughAt), throughUtc: status.throughAt.toISOString(), checked: format(status.checkedAt) }
        : { kind: "none" };
    case "broken":
      return { kind: "broken", checked: format(status.checkedAt), brokenSeq: status.brokenSeq };
    default:
      return { kind: status.kind, checked: format(status.checkedAt) };
  }
}

export function auditRoutes(deps: { db: Db; hmacKeys: KeyRing }) {
  const app = new Hono<HonoEnv>();
  const read = requirePermission(deps, "audit.read");

  /** The practice, the filters (or their errors) and the scope every audit route works in. */
  async function scope(c: Context<HonoEnv>) {
    const userId = c.get("session")!.user_id;
    const practiceId = c.get("membership")!.practiceId;
    const practice = await withContext(deps.db, { actor: `user:${userId}`, userId, practiceId }, (tx) => findPractice(tx, practiceId));
    const form = parseForm(auditFilterSchema, c.req.query());
    return { userId, practiceId, practice: practice!, form };
  }

  function toRows(rows: AuditRow[], timeZone: string): TrailRow[] {
    const format = dateFormat(timeZone, "dateTimeSeconds");
    return rows.map((r) => ({
      id: r.id,
      when: format.format(new Date(r.occurred_at)),
      whenUtc: new Date(r.occurred_at).toISOString(),
      person: r.actor_name ?? (r.actor_type === "anonymous" ? "Not signed in" : (r.actor_id ?? r.actor_type)),
      role: r.actor_role ?? "",
      action: r.action,
      target: r.target_type ? `${r.target_type} ${r.target_id ?? ""}`.trim() : "",
      outcome: r.outcome,
      ip: r.ip ?? "",
      requestId: r.request_id ?? "",
      details: JSON.stringify(r.details ?? {}),
      hash: r.hash,
    }));
  }

  function nextUrl(rows: AuditRow[], f: AuditFilters): string | null {
    if (rows.length < PAGE) return null;
    const last = rows.at(-1)!;
    return `/audit/events${filterQuery(f, { after: `${new Date(last.occurred_at).toISOString()}_${last.chain_seq}` })}`;
  }

  app.get("/audit", read, async (c) => {
    const { userId, practiceId, practice, form } = await scope(c);
    const filters: AuditFilters = form.ok ? form.data : {};
    const { rows, people, integrity } = await withContext(deps.db, { actor: `user:${userId}`, userId, practiceId }, async (tx) => ({
      rows: await listEventsPage(tx, practiceId, filters, practice.time_zone, null, PAGE),
      people: (await listMembers(tx, practiceId)).map((m) => ({ id: m.userId, name: m.fullName })),
      integrity: await checkpointStatus(tx, deps.hmacKeys, practiceId),
    }));
    return render(c, {
      title: "Audit trail",
      status: form.ok ? 200 : 422,
      page: (
        <AuditTrailPage
          integrity={describeIntegrity(integrity, practice.time_zone)} practiceName={practice.name} timeZone={practice.time_zone} filters={form.ok ? form.data : (c.req.query() as Record<string, string>)}
          errors={form.ok ? undefined : form.errors} people={people} groups={ACTION_GROUPS} rows={toRows(rows, practice.time_zone)}
          nextUrl={nextUrl(rows, filters)} exportUrl={`/audit/export.csv${filterQuery(filters)}`}
        />
      ),
    });
  });

  // The next page, as rows for htmx to put in place of the "Load more" row.
  app.get("/audit/events", read, async (c) => {
    const { userId, practiceId, practice, form } = await scope(c);
    const after = parseCursor(c.req.query("after"));
    if (!form.ok || !after) return c.text("Bad filters or position", 400);
    const rows = await withContext(deps.db, { actor: `user:${userId}`, userId, practiceId }, (tx) =>
      listEventsPage(tx, practiceId, form.data, practice.time_zone, after, PAGE),
    );
    return render(c, { title: "Audit trail", page: <TrailRows rows={toRows(rows, practice.time_zone)} nextUrl={nextUrl(rows, form.data)} /> });
  });

  app.get("/audit/export.csv", read, async (c) => {
    const { userId, practiceId, practice, form } = await scope(c);
    if (!form.ok) return c.redirect(`/audit${filterQuery(c.req.query() as AuditFilters)}`, 303);
    const role = c.get("membership")!.role;
    // The export is recorded before a byte leaves (the stream reads in its own transaction).
    await withContext(deps.db, { actor: `user:${userId}`, userId, practiceId }, (tx) =>
      recordAudit(tx, {
        practiceId, actor: { type: "user", id: userId, role }, action: "audit.exported",
        target: { type: "practice", id: practiceId }, details: describeFilters(form.data), request: requestMeta(c),
      }),
    );
    const today = new Date().toISOString().slice(0, 10);
    const name = `audit-${slug(practice.name)}-${form.data.from ?? "start"}-to-${form.data.to ?? today}.csv`;
    return new Response(auditCsvStream(deps.db, { practiceId, userId, timeZone: practice.time_zone }, form.data), {
      headers: {
        "content-type": "text/csv; charset=utf-8",
        "content-disposition": `attachment; filename="${name}"`,
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
      },
    });
  });
  return app;
}
