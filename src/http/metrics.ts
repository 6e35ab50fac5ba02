// Operations metrics: the request-metrics middleware (counts by method, route pattern and status;
// latency histogram; requests in flight) and GET /metrics, which writes them in Prometheus's text
// format with the background queue's depths, the retention sweeps' counts and this process's
// memory. /metrics needs `Authorization: Bearer <METRICS_TOKEN>`; without METRICS_TOKEN it is 404.
// Labels carry route patterns ("/jobs/:id"), never a raw path, so no id or PHI reaches a series.
import { createHash, timingSafeEqual } from "node:crypto";
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import { type Kysely, sql } from "kysely";
import type { HonoEnv } from "../context.ts";
import {
  Counter, exposition, EXPOSITION_CONTENT_TYPE, gauge, Histogram, LATENCY_BUCKETS, type MetricFamily, processMetrics, type Sample,
} from "../platform/metrics.ts";
import { queueDepths } from "../platform/queue.ts";

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);
/** The label of a request no route matched (scanners, typos): one series, whatever the path. */
export const UNMATCHED_ROUTE = "(unmatched)";

export type RequestMetrics = { requests: Counter; duration: Histogram; inFlight: { count: number } };

export function createRequestMetrics(): RequestMetrics {
  return {
    requests: new Counter("plh_http_requests_total", "HTTP requests answered, by method, route pattern and status.", ["method", "route", "status"]),
    duration: new Histogram(
      "plh_http_request_duration_seconds",
      "Time from receiving a request to its response headers (a streamed body may take longer), by method and route pattern.",
      ["method", "route"], LATENCY_BUCKETS,
    ),
    inFlight: { count: 0 },
  };
}

/**
 * The pattern of the route that answered (or would have: a guard may answer before its handler),
 * read from Hono's match. Handlers are registered per method; `use` middleware is "ALL". A request
 * only middleware matched is labelled by that middleware's pattern ("/static/*"), or UNMATCHED_ROUTE.
 */
export function routeLabel(c: Context): string {
  const routes = matchedRoutes(c);
  const responder = routes[c.req.routeIndex];
  if (responder && responder.method !== "ALL") return responder.path;
  const handler = routes.findLast((r) => r.method !== "ALL");
  if (handler) return handler.path;
  if (responder && responder.path !== "/*" && responder.path !== "*") return responder.path;
  return UNMATCHED_ROUTE;
}

export function requestMetrics(metrics: RequestMetrics): MiddlewareHandler<HonoEnv> {
  return async function requestMetrics(c, next) {
    const started = performance.now();
    metrics.inFlight.count++;
    try {
      await next();
    } finally {
      metrics.inFlight.count--;
      const method = METHODS.has(c.req.method) ? c.req.method : "other";
      const route = routeLabel(c);
      // Errors thrown past the handler are answered 500 by app.onError before we get here.
      metrics.requests.inc({ method, route, status: String(c.res?.status ?? 500) });
      metrics.duration.observe({ method, route }, (performance.now() - started) / 1000);
    }
  };
}

const digest = (text: string) => createHash("sha256").update(text, "utf8").digest();

/** Constant-time check of the bearer token: both sides hashed first, so lengths never differ. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer ([^\s]+)$/i.exec(header?.trim() ?? "");
  return timingSafeEqual(digest(match?.[1] ?? ""), digest(token)) && match !== null;
}

type SweepRow = { sweep: string; finished: string; failed: string; unfinished: string; last_finished: string | null };
type SweepItemRow = { sweep: string; item: string; total: string };

/**
 * The retention sweeps' runs (table sweep_runs, written by src/retention/runs.ts), read-only. Dry
 * runs change nothing and are left out. These come from the database, so every instance reports the
 * same cluster-wide figures.
 */
async function sweepFamilies(db: Kysely<any>): Promise<MetricFamily[]> {
  const runs = await sql<SweepRow>`
    SELECT name AS sweep,
           count(*) FILTER (WHERE finished_at IS NOT NULL)::text AS finished,
           count(*) FILTER (WHERE finished_at IS NULL AND error IS NOT NULL)::text AS failed,
           count(*) FILTER (WHERE finished_at IS NULL AND error IS NULL)::text AS unfinished,
           extract(epoch FROM max(finished_at))::text AS last_finished
    FROM sweep_runs WHERE NOT dry_run GROUP BY name ORDER BY name`.execute(db);
  const items = await sql<SweepItemRow>`
    SELECT r.name AS sweep, c.key AS item, sum((c.value #>> '{}')::numeric)::text AS total
    FROM sweep_runs r CROSS JOIN LATERAL jsonb_each(r.counts) AS c(key, value)
    WHERE NOT r.dry_run AND r.finished_at IS NOT NULL AND jsonb_typeof(c.value) = 'number'
    GROUP BY r.name, c.key ORDER BY r.name, c.key`.execute(db);
  const outcomes: Sample[] = runs.rows.flatMap((r) => (["finished", "failed", "unfinished"] as const).map((outcome) => ({
    labels: { sweep: r.sweep, outcome }, value: Number(r[outcome]),
  })));
  return [
    { name: "plh_sweep_runs_total", help: "Retention sweep runs (not dry runs) by sweep and outcome: finished, failed, or unfinished (running, or its process died).", type: "counter", samples: outcomes },
    {
      name: "plh_sweep_items_total", help: "What finished retention sweep runs removed or changed, summed per sweep and count (files, sessions, jobs, blobs, bytes, ...).",
      type: "counter", samples: items.rows.map((r) => ({ labels: { sweep: r.sweep, item: r.item }, value: Number(r.total) })),
    },
    gauge("plh_sweep_last_finished_timestamp_seconds", "When each retention sweep last finished a run, in seconds since the Unix epoch.",
      runs.rows.filter((r) => r.last_finished !== null).map((r) => ({ labels: { sweep: r.sweep }, value: Number(r.last_finished) }))),
  ];
}

async function queueFamilies(db: Kysely<any>): Promise<MetricFamily[]> {
  const depths = await queueDepths(db);
  return [gauge("plh_queue_jobs", "Background jobs per pg-boss queue and state: created (waiting), retry (waiting to retry), active (running).",
    depths.map((d) => ({ labels: { queue: d.queue, state: d.state }, value: d.jobs })))];
}

export function metricsRoutes(deps: { db: Kysely<any>; metrics: RequestMetrics; token: string | null }) {
  const app = new Hono<HonoEnv>();
  app.get("/metrics", async (c) => {
    // Not configured: the endpoint does not exist, the same answer as any unknown path.
    if (!deps.token) return c.notFound();
    if (!bearerMatches(c.req.header("authorization"), deps.token)) {
      c.header("WWW-Authenticate", 'Bearer realm="metrics"');
      return c.text("Send Authorization: Bearer <METRICS_TOKEN>.\n", 401);
    }
    // A database that does not answer must not hide the rest: its families are left out and
    // plh_metrics_source_up says which source failed.
    const sources = { queue: () => queueFamilies(deps.db), sweeps: () => sweepFamilies(deps.db) };
    const results = await Promise.all(Object.entries(sources).map(async ([source, collect]) => {
      try {
        return { source, up: true, families: await collect() };
      } catch (error) {
        c.get("log").warn({ source, err: error }, "metrics source failed");
        return { source, up: false, families: [] as MetricFamily[] };
      }
    }));
    const { requests, duration, inFlight } = deps.metrics;
    const body = exposition([
      requests.collect(),
      duration.collect(),
      gauge("plh_http_requests_in_flight", "HTTP requests being answered by this process right now (this scrape included).", [{ labels: {}, value: inFlight.count }]),
      ...results.flatMap((r) => r.families),
      gauge("plh_metrics_source_up", "1 when the source could be read for this scrape, 0 when it failed (see the log).",
        results.map((r) => ({ labels: { source: r.source }, value: r.up ? 1 : 0 }))),
      ...processMetrics(),
    ]);
    return c.body(body, 200, { "Content-Type": EXPOSITION_CONTENT_TYPE });
  });
  return app;
}
