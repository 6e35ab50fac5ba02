// First in the chain: a request id (kept from X-Request-Id when well-formed), the client IP
// (proxy headers only when TRUST_PROXY says a proxy sits in front) and a per-request logger.
import type { MiddlewareHandler } from "hono";
import { getConnInfo } from "hono/bun";
import type { Context } from "hono";
import type { HonoEnv, RequestMeta } from "../context.ts";
import type { Logger } from "../platform/log.ts";

const REQUEST_ID = /^[A-Za-z0-9._-]{8,64}$/;

export type RequestContextOptions = { logger: Logger; trustProxy?: boolean };

function clientIp(c: Context<HonoEnv>, trustProxy: boolean): string {
  if (trustProxy) {
    // The proxy appends the address it saw; the rightmost entry is the one we can trust.
    const forwarded = c.req.header("x-forwarded-for")?.split(",").map((s) => s.trim()).filter(Boolean);
    const last = forwarded?.at(-1);
    if (last) return last.slice(0, 64);
  }
  try {
    return getConnInfo(c).remote.address ?? "unknown";
  } catch {
    return "unknown"; // app.request() in tests has no socket
  }
}

export function requestContext(options: RequestContextOptions): MiddlewareHandler<HonoEnv> {
  const { logger, trustProxy = false } = options;
  return async function requestContext(c, next) {
    const incoming = c.req.header("x-request-id");
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
    c.set("requestId", requestId);
    c.set("clientIp", clientIp(c, trustProxy));
    c.set("log", logger.child({ requestId }));
    c.header("X-Request-Id", requestId);
    await next();
  };
}

/** The request facts an audit event records. */
export function requestMeta(c: Context<HonoEnv>): RequestMeta {
  return {
    requestId: c.get("requestId"),
    ip: c.get("clientIp"),
    userAgent: (c.req.header("user-agent") ?? "").slice(0, 512),
  };
}
