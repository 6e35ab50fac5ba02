// Security headers through Hono's secureHeaders: a strict CSP with a per-request script nonce and
// no inline script or style, no framing, no referrer, HSTS in production. Dynamic responses are
// never cached (they may carry PHI); only /static assets are cacheable.
import type { MiddlewareHandler } from "hono";
import { NONCE, secureHeaders } from "hono/secure-headers";
import type { HonoEnv } from "../context.ts";

export type SecurityHeadersOptions = { production?: boolean; connectSrc?: string[] };

export function securityHeaders(options: SecurityHeadersOptions = {}): MiddlewareHandler<HonoEnv> {
  const { production = false, connectSrc = [] } = options;
  const headers = secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'self'"],
      scriptSrc: [NONCE],
      styleSrc: ["'self'"],
      imgSrc: ["'self'", "data:"],
      fontSrc: ["'self'"],
      connectSrc: ["'self'", ...connectSrc],
      objectSrc: ["'none'"],
      baseUri: ["'none'"],
      frameAncestors: ["'none'"],
      formAction: ["'self'"],
    },
    strictTransportSecurity: production ? "max-age=63072000; includeSubDomains" : false,
    xFrameOptions: "DENY",
    referrerPolicy: "no-referrer",
    xContentTypeOptions: "nosniff",
    crossOriginResourcePolicy: "same-origin",
    crossOriginOpenerPolicy: "same-origin",
    permissionsPolicy: { camera: [], microphone: [], geolocation: [], payment: [] },
  });
  return async function securityHeaders(c, next) {
    await headers(c, async () => {
      await next();
      // Only a static asset that was actually served may be cached: an error page under /static/
      // (404 for a missing or traversal path) is dynamic like any other and carries a request id.
      const staticAsset = c.req.path.startsWith("/static/") && c.res.status < 400;
      if (!staticAsset) c.header("Cache-Control", "no-store");
    });
  };
}
