// Security headers through Hono's secureHeaders: a strict CSP with a per-request script nonce and
// no inline script or style, no framing, no referrer, HSTS in production. Dynamic responses are
// never cached (they may carry PHI); only /static assets are cacheable.
import type { MiddlewareHandler } from "hono";
import { NONCE, secureHeaders } from "hono/secure-headers";
import type { HonoEnv } from "../context.ts";

/**
 * Extra sources are added to the strict defaults, never replacing them; only an identity provider's
 * frontend (AUTH_PROVIDER=clerk: see clerkContentSecurity in auth/clerk.ts) should need them.
 * Scripts always need the nonce too: an extra script source allows a host, not inline script.
 */
export type SecurityHeadersOptions = {
  production?: boolean;
  connectSrc?: string[];
  scriptSrc?: string[];
  imgSrc?: string[];
  frameSrc?: string[];
  workerSrc?: string[];
  styleSrc?: string[];
};

export function securityHeaders(options: SecurityHeadersOptions = {}): MiddlewareHandler<HonoEnv> {
  const { production = false, connectSrc = [], scriptSrc = [], imgSrc = [], frameSrc = [], workerSrc = [], styleSrc = [] } = options;
  const headers = secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'self'"],
      scriptSrc: [NONCE, ...scriptSrc],
      styleSrc: ["'self'", ...styleSrc],
      imgSrc: ["'self'", "data:", ...imgSrc],
      fontSrc: ["'self'"],
      connectSrc: ["'self'", ...connectSrc],
      // Without extras these stay unset and fall back to default-src 'self' (worker-src to script-src).
      ...(frameSrc.length ? { frameSrc: ["'self'", ...frameSrc] } : {}),
      ...(workerSrc.length ? { workerSrc } : {}),
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
