# syntax=docker/dockerfile:1
# PatientLetterHub: the production image (`bun run start`: NODE_ENV=production bun src/server.ts).
# NOT BUILT OR RUN HERE: the development machines have no Docker engine, so treat this recipe as
# untested until your CI builds it and runs it against compose.yaml.
#
#   docker build -t patientletterhub .
#   docker run --env-file prod.env -p 127.0.0.1:3000:3000 patientletterhub
#
# No build step: Bun runs the TypeScript and JSX as they are (tsconfig.json carries the JSX settings).
# The same image runs the maintenance commands, e.g. `docker run … patientletterhub bun run migrate`,
# `bun run worker`, `bun run sweep`, `bun run keys:reencrypt`.

FROM oven/bun:1.4.5 AS deps
WORKDIR /app
COPY package.json bun.lock bunfig.toml ./
# patches/ holds our pdfkit patch (patchedDependencies in package.json): install applies it.
COPY patches ./patches
# Production dependencies only, exactly as locked. (embedded-postgres and azurite are dependencies
# because `bun run dev` uses them; the server never starts them.)
RUN bun install --frozen-lockfile --production

FROM oven/bun:1.4.5
WORKDIR /app
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000
COPY --from=deps /app/node_modules ./node_modules
COPY package.json bun.lock bunfig.toml tsconfig.json ./
COPY src ./src
COPY views ./views
COPY public ./public
COPY migrations ./migrations
COPY scripts ./scripts
# The image's unprivileged `bun` user (uid 1000) runs the app; it owns nothing it could rewrite.
# Mail files (MAIL_DIR) are a development fallback: production sends through SMTP_URL.
USER bun
EXPOSE 3000
# /healthz answers 200 while the process lives (readiness, /readyz, also checks Postgres and Blob).
# Bun does the request itself: the image has no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["bun", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM drains in-flight requests for up to SHUTDOWN_TIMEOUT_SECONDS (25 s by default), then
# running jobs for up to that long again, then exits: give the orchestrator a grace period longer
# than twice that (docker stop -t 60, compose stop_grace_period, Kubernetes
# terminationGracePeriodSeconds). Exec form, so Bun is PID 1 and gets
# the signal itself; the server handles SIGTERM and SIGINT.
STOPSIGNAL SIGTERM
CMD ["bun", "src/server.ts"]
