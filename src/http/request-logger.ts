// One JSON line per request: method, path without its query string, status and duration.
// Bodies, query strings, cookies and headers are never logged (they may carry PHI or secrets).
import type { MiddlewareHandler } from "hono";
import type { HonoEnv } from "../context.ts";

export function requestLogger(): MiddlewareHandler<HonoEnv> {
  return async function requestLogger(c, next) {
    const started = performance.now();
    await next();
    const status = c.res.status;
    const entry = {
      method: c.req.method,
      path: c.req.path,
      status,
      ms: Math.round((performance.now() - started) * 10) / 10,
      ip: c.get("clientIp"),
    };
    const log = c.get("log");
    if (status >= 500) log.error(entry, "request failed");
    else log.info(entry, "request");
  };
}
