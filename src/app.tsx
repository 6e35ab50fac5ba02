// createApp(deps): the middleware chain in order, then the routes. Everything outside the
// process (database, blob storage, logger) comes in through deps, so tests build the same app.
import path from "node:path";
import { Hono } from "hono";
import { serveStatic } from "hono/bun";
import { csrf } from "hono/csrf";
import type { Config } from "./config.ts";
import type { HonoEnv } from "./context.ts";
import { healthRoutes } from "./health/routes.ts";
import { errorHandler, notFoundHandler } from "./http/errors.tsx";
import { createRequestMetrics, metricsRoutes, requestMetrics } from "./http/metrics.ts";
import { render } from "./http/render.tsx";
import { requestContext } from "./http/request-context.ts";
import { requestLogger } from "./http/request-logger.ts";
import { securityHeaders, type SecurityHeadersOptions } from "./http/security-headers.ts";
import type { BlobStore } from "./platform/blob.ts";
import type { Db } from "./platform/db.ts";
import type { Logger } from "./platform/log.ts";
import type { Mailer } from "./platform/mail.ts";
import type { WorkSender } from "./platform/queue.ts";
import { accountRoutes } from "./auth/account-routes.tsx";
import { accountSettingsRoutes } from "./account/routes.tsx";
import { authRoutes } from "./auth/routes.tsx";
import { clerkContentSecurity, clerkFrontend } from "./auth/clerk.ts";
import { clerkRoutes } from "./auth/clerk-routes.tsx";
import { mfaRoutes } from "./auth/mfa-routes.tsx";
import { devMailRoutes } from "./dev/routes.tsx";
import { sessionLoader } from "./http/session.ts";
import { practiceRoutes } from "./practices/routes.tsx";
import { practiceSettingsRoutes } from "./practices/settings-routes.tsx";
import { supportRoutes } from "./support/routes.tsx";
import { teamRoutes } from "./teams/routes.tsx";
import { auditRoutes } from "./audit/routes.tsx";
import { baaBanner } from "./baa/http.tsx";
import { baaRoutes } from "./baa/routes.tsx";
import { jobRoutes } from "./jobs/routes.tsx";
import { operatorRoutes } from "./operators/routes.tsx";
import { proofRoutes } from "./proofs/routes.tsx";
import { uploadRoutes } from "./jobs/upload-routes.tsx";
import { dataRequestRoutes, dataRequestsSection } from "./retention/requests-routes.tsx";
import { retentionRoutes } from "./retention/routes.tsx";
import { LandingPage } from "../views/landing.tsx";

/** `queue` sends background work (proof and print-file renders); the server's queue also runs it. */
export type AppDeps = { config: Config; db: Db; blob: BlobStore; logger: Logger; mailer: Mailer; queue?: WorkSender };

const PUBLIC_DIR = path.resolve(import.meta.dir, "../public");

export function createApp(deps: AppDeps) {
  const { config } = deps;
  const app = new Hono<HonoEnv>();

  // 0. Request metrics for GET /metrics: counts by method, route pattern and status, and latency.
  const metrics = createRequestMetrics();
  app.use(requestMetrics(metrics));
  // 1. Request id, client IP (proxy headers only with TRUST_PROXY) and a per-request logger.
  app.use(requestContext({ logger: deps.logger, trustProxy: config.trustProxy }));
  // 2. One log line per request: method, path, status, time; never bodies or query strings.
  app.use(requestLogger());
  // 3. CSP with a per-request nonce, no framing, no referrer, nosniff, HSTS in production, no-store.
  //    In clerk mode the CSP also names Clerk's Frontend API (its sign-in form and token refresh).
  //    connect-src also names the blob endpoint: browsers upload files straight to storage (public/upload.js).
  const clerkSources: SecurityHeadersOptions = config.auth.clerk ? clerkContentSecurity(config.auth.clerk) : {};
  const blobOrigin = new URL(deps.blob.container.url).origin;
  app.use(securityHeaders({ production: config.production, ...clerkSources, connectSrc: [...(clerkSources.connectSrc ?? []), blobOrigin] }));
  // 4. Static assets (htmx, CSS, scripts) from public/, before anything that needs a session.
  app.use("/static/*", serveStatic({ root: PUBLIC_DIR, rewriteRequestPath: (p) => p.replace(/^\/static/, "") }));
  // 5. CSRF: an unsafe method must come from our own origin (Origin or Sec-Fetch-Site); SameSite
  //    cookies are the second layer. Cross-site form posts get 403.
  //    Except one-click unsubscribe (RFC 8058): mail providers POST it from their own servers, and
  //    its signed link, not a cookie, is its only authority (account/routes.tsx).
  const sameOrigin = csrf({ origin: config.appOrigin });
  app.use(function csrfExceptOneClickUnsubscribe(c, next) {
    return c.req.path === "/unsubscribe" ? next() : sameOrigin(c, next);
  });
  // 6. Session: the __Host- cookie's live session and user, if any (guards on routes decide access).
  app.use(sessionLoader({ db: deps.db, config }));
  //    In clerk mode every signed-in page also loads Clerk's script, which keeps its short-lived
  //    __session token fresh (views/layout.tsx).
  if (config.auth.clerk) {
    const frontend = clerkFrontend(config.auth.clerk);
    app.use(async function clerkFrontendForViews(c, next) {
      c.set("clerkFrontend", { scriptUrl: frontend.scriptUrl, publishableKey: frontend.publishableKey });
      await next();
    });
  }

  //    Admins of a practice without the BAA in force see a banner on every full page (baa/http.tsx).
  app.use(baaBanner({ db: deps.db }));

  // Routes.
  const auth = { db: deps.db, config, mailer: deps.mailer, logger: deps.logger };
  app.route("/", healthRoutes({ db: deps.db, blob: deps.blob }));
  app.route("/", metricsRoutes({ db: deps.db, metrics, token: config.metrics.token }));
  app.get("/", (c) => render(c, { title: "Patient letters, mailed safely", page: <LandingPage /> }));
  // Clerk mode: its GET /login wins; the local-only paths (sign-up, password, e-mail confirmation)
  // answer 404 there, and two-step sign-in is Clerk's, so our TOTP routes are not mounted.
  if (config.auth.clerk) app.route("/", clerkRoutes({ db: deps.db, config }));
  app.route("/", authRoutes(auth));
  if (config.auth.provider === "local") app.route("/", mfaRoutes(auth));
  app.route("/", practiceRoutes({ db: deps.db }));
  app.route("/", accountRoutes({ db: deps.db, config }));
  app.route("/", accountSettingsRoutes(auth));
  app.route("/", teamRoutes(auth));
  app.route("/", baaRoutes({ db: deps.db, blob: deps.blob, config }));
  app.route("/", jobRoutes({ db: deps.db, config, queue: deps.queue, blob: deps.blob }));
  app.route("/", proofRoutes({ db: deps.db, blob: deps.blob, config, queue: deps.queue }));
  app.route("/", operatorRoutes({ db: deps.db, blob: deps.blob, config, mailer: deps.mailer, logger: deps.logger, appOrigin: config.appOrigin }));
  app.route("/", auditRoutes({ db: deps.db, hmacKeys: config.keys.hmac }));
  app.route("/", uploadRoutes({ db: deps.db, blob: deps.blob, config }));
  const dataRequestDeps = { db: deps.db, blob: deps.blob, config, queue: deps.queue };
  app.route("/", dataRequestRoutes(dataRequestDeps));
  app.route("/", practiceSettingsRoutes({ db: deps.db, blob: deps.blob, config, logger: deps.logger }));
  app.route("/", supportRoutes({ db: deps.db, config, mailer: deps.mailer, logger: deps.logger }));
  app.route("/", retentionRoutes({ db: deps.db, blob: deps.blob, config }, { dataRequests: (c) => dataRequestsSection(dataRequestDeps, c) }));
  // The development mailbox reads mail written to files; production sends real mail and never mounts it.
  if (!config.production) app.route("/", devMailRoutes({ mailDir: config.mail.dir }));

  // 7. Errors: a page for browsers, a fragment for htmx, JSON for API callers; 404 for the rest.
  app.onError(errorHandler({ exposeDetails: config.env === "development" }));
  app.notFound(notFoundHandler());
  return app;
}

export type App = ReturnType<typeof createApp>;
