// src/server.ts as a process: it checks migrations before serving and stops cleanly on SIGTERM.
import { expect, test } from "bun:test";
import { loadConfig } from "../src/config.ts";
import { createBlobStore } from "../src/platform/blob.ts";
import { createDatabaseIfMissing, freePort } from "../src/platform/embedded.ts";
import { testEnv } from "./support/app.ts";
import { freshDatabase, testStack } from "./support/stack.ts";

function startServer(env: Record<string, string | undefined>) {
  return Bun.spawn([process.execPath, "src/server.ts"], {
    cwd: `${import.meta.dir}/..`,
    env: { PATH: process.env.PATH ?? "", ...env } as Record<string, string>,
    stdout: "pipe",
    stderr: "pipe",
  });
}

test("refuses to serve while migrations are pending", async () => {
  const name = `e_${crypto.randomUUID().slice(0, 8)}`;
  await createDatabaseIfMissing(testStack().postgres.ownerUrl("postgres"), name);
  const proc = startServer(testEnv({ DATABASE_URL: testStack().postgres.ownerUrl(name), PORT: String(await freePort()) }));
  expect(await proc.exited).toBe(1);
  const stderr = await new Response(proc.stderr).text();
  expect(stderr).toContain("pending migration(s): 202611231200_foundation");
  expect(stderr).toContain("bun run migrate");
}, 20_000);

test("serves as the app role and exits 0 on SIGTERM", async () => {
  const database = await freshDatabase();
  const port = await freePort();
  const env = testEnv({ DATABASE_URL: database.appUrl, PORT: String(port), LOG_LEVEL: "info" });
  await createBlobStore(loadConfig(env).blob).ensureContainer();
  const proc = startServer(env);
  let ready = false;
  for (let i = 0; i < 200 && !ready; i++) {
    ready = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status === 200, () => false);
    if (!ready) await Bun.sleep(50);
  }
  expect(ready).toBe(true);
  proc.kill("SIGTERM");
  expect(await proc.exited).toBe(0);
  const logs = await new Response(proc.stdout).text();
  expect(logs).toContain('"msg":"PatientLetterHub is serving"');
  expect(logs).toContain('"msg":"stopped"');
}, 20_000);
