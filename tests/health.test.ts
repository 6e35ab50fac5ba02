import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createApp } from "../src/app.tsx";
import { loadConfig } from "../src/config.ts";
import { createBlobStore } from "../src/platform/blob.ts";
import { createDb } from "../src/platform/db.ts";
import { createLogger } from "../src/platform/log.ts";
import { freePort, postgresUrl, startAzurite } from "../src/platform/embedded.ts";
import { createTestApp, type TestApp, testEnv } from "./support/app.ts";

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

describe("/healthz", () => {
  test("answers 200 while the process is alive", async () => {
    const res = await t.app.request("/healthz");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });
});

describe("/readyz", () => {
  test("is ready when Postgres and Blob storage answer", async () => {
    const res = await t.app.request("/readyz");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ready", checks: { postgres: "ok", blob: "ok" } });
  });

  test("answers 503 naming blob storage when Azurite is stopped", async () => {
    // A second, private Azurite so stopping it leaves the shared one running for other files.
    const azurite = await startAzurite({ port: await freePort() });
    const config = loadConfig(testEnv({ DATABASE_URL: t.database.appUrl, AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString }));
    const blob = createBlobStore(config.blob);
    await blob.ensureContainer();
    const app = createApp({ config, db: t.db, blob, logger: createLogger({ level: "silent" }), mailer: t.mailer });
    expect((await app.request("/readyz")).status).toBe(200);

    await azurite.stop();
    const res = await app.request("/readyz");
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: "unavailable", checks: { postgres: "ok", blob: "unavailable" }, message: "Not ready: Blob storage is not answering." });
  }, 20_000);

  test("answers 503 naming Postgres when the database cannot be reached", async () => {
    const port = await freePort(); // nothing listens here
    const config = loadConfig(testEnv({ DATABASE_URL: postgresUrl("plh_app", "x", port, "none") }));
    const db = createDb(config.database.url, { max: 1 });
    const app = createApp({ config, db, blob: t.blob, logger: createLogger({ level: "silent" }), mailer: t.mailer });
    try {
      const res = await app.request("/readyz");
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ status: "unavailable", checks: { postgres: "unavailable", blob: "ok" }, message: "Not ready: PostgreSQL is not answering." });
    } finally {
      await db.destroy();
    }
  });
});
