// Production entry (also what `bun run dev` reloads): config → db → migrations check → background
// queue → HTTP.
// It never starts embedded services: those belong to scripts/dev.ts and the tests.
import { createApp } from "./app.tsx";
import { boot, fail } from "./boot.ts";

const { config, logger, db, blob, mailer, queue } = await boot("PatientLetterHub");
const app = createApp({ config, db, blob, logger, mailer, queue });

let server: ReturnType<typeof Bun.serve>;
try {
  server = Bun.serve({ hostname: config.host, port: config.port, fetch: app.fetch, idleTimeout: 30 });
} catch (error) {
  if ((error as { code?: string }).code === "EADDRINUSE") {
    fail(`Port ${config.port} on ${config.host} is already in use. Set PORT to a free port, e.g. PORT=${config.port + 1}.`);
  }
  throw error;
}
logger.info({ url: config.appOrigin, listening: `${server.hostname}:${server.port}` }, "PatientLetterHub is serving");

// Graceful shutdown (SIGTERM from an orchestrator, SIGINT from a terminal): stop accepting
// connections, let in-flight requests finish (streamed bodies included), then let running background
// jobs finish and stop taking new ones, then close the pool and exit 0. In-flight requests go first
// because they may still queue work. SHUTDOWN_TIMEOUT_SECONDS bounds each wait; a request still
// running then has its connection closed and the exit code is 1, so the cut is visible. Give the
// orchestrator a longer grace period than that (compose.yaml: stop_grace_period).
let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  const timeoutMs = config.shutdownTimeoutMs;
  logger.info({ signal, inFlight: server.pendingRequests, timeoutMs }, "shutting down: finishing in-flight requests");
  const drained = await Promise.race([server.stop(false).then(() => true), Bun.sleep(timeoutMs).then(() => false)]);
  if (!drained) {
    logger.warn({ inFlight: server.pendingRequests }, "requests still running at the shutdown timeout: closing their connections");
    await server.stop(true);
  }
  logger.info("HTTP stopped; finishing running background jobs");
  await queue.stop(timeoutMs); // stop taking work, wait for running handlers
  await db.destroy();
  logger.info({ drained }, "stopped");
  process.exit(drained ? 0 : 1);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
