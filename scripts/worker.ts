// `bun run worker`: the background work alone (scheduled tasks and queued workers, the same lists as
// the server: src/schedules.ts backgroundWork), for a deployment that runs it apart from the web
// processes. pg-boss sends each cron tick once across instances, so running it beside servers is safe.
// Stops on SIGTERM/SIGINT after running work finishes (up to SHUTDOWN_TIMEOUT_SECONDS), then exits 0.
import { boot } from "../src/boot.ts";

const { config, logger, db, queue, work } = await boot("The PatientLetterHub worker");
logger.info({ tasks: work.tasks.map((t) => `${t.name} (${t.cron})`), queues: work.workers.map((w) => w.name) }, "PatientLetterHub worker is running");

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, "shutting down: finishing running background work");
  await queue.stop(config.shutdownTimeoutMs);
  await db.destroy();
  logger.info("stopped");
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
