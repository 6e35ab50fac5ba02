// /healthz: the process is alive. /readyz: it can serve, i.e. Postgres and Blob storage answer.
// Both are public and say nothing beyond which part is unavailable.
import { Hono } from "hono";
import type { HonoEnv } from "../context.ts";
import { type Db, pingDatabase } from "../platform/db.ts";
import type { BlobStore } from "../platform/blob.ts";

const CHECK_TIMEOUT_MS = 2_000;

async function check(name: string, probe: () => Promise<void>, log: HonoEnv["Variables"]["log"]): Promise<boolean> {
  try {
    await Promise.race([
      probe(),
      Bun.sleep(CHECK_TIMEOUT_MS).then(() => Promise.reject(new Error(`timed out after ${CHECK_TIMEOUT_MS} ms`))),
    ]);
    return true;
  } catch (error) {
    log.warn({ check: name, reason: error instanceof Error ? error.message : String(error) }, "readiness check failed");
    return false;
  }
}

export function healthRoutes(deps: { db: Db; blob: BlobStore }) {
  const app = new Hono<HonoEnv>();
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", async (c) => {
    const log = c.get("log");
    const [postgres, blob] = await Promise.all([
      check("postgres", () => pingDatabase(deps.db), log),
      check("blob", () => deps.blob.ping(CHECK_TIMEOUT_MS), log),
    ]);
    const checks = { postgres: postgres ? "ok" : "unavailable", blob: blob ? "ok" : "unavailable" };
    if (postgres && blob) return c.json({ status: "ready", checks });
    // Said plainly for whoever reads the probe's answer during an incident.
    const down = [postgres ? null : "PostgreSQL", blob ? null : "Blob storage"].filter(Boolean);
    const message = `Not ready: ${down.join(" and ")} ${down.length > 1 ? "are" : "is"} not answering.`;
    return c.json({ status: "unavailable", checks, message }, 503);
  });
  return app;
}
