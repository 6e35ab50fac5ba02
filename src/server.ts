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

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, "shutting down: finishing in-flight requests");
  await server.stop(false); // stop accepting, let in-flight requests finish
  await queue.stop(); // let running background tasks finish
  await db.destroy();
  logger.info("stopped");
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
