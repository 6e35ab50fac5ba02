// What `bun run dev` and the maintenance scripts share about the embedded development stack:
// where it keeps its data, its generated secrets, and how to start its PostgreSQL.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { isPortFree, freePort, startEmbeddedPostgres, type RunningPostgres } from "../../src/platform/embedded.ts";

export const DEV_DATABASE = "patientletterhub";
export const DEV_OWNER = "plh_owner";

export function devPaths(dataDir: string) {
  const root = path.resolve(dataDir);
  return {
    root,
    postgres: path.join(root, "postgres"),
    azurite: path.join(root, "azurite"),
    mail: path.join(root, "mail"),
    devJson: path.join(root, "dev.json"),
    secrets: path.join(root, "dev-secrets.json"),
  };
}

export type DevSecrets = { ownerPassword: string; appPassword: string; hmacKeys: string; encryptionKeys: string; postgresPort?: number; azuritePort?: number };

const randomSecret = (bytes: number) => Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString("base64url");
const randomKey = () => Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64");

/** Secrets generated on first run and kept (mode 0600) so sessions and data survive restarts. */
export function loadOrCreateDevSecrets(dataDir: string): DevSecrets {
  const paths = devPaths(dataDir);
  mkdirSync(paths.root, { recursive: true });
  if (existsSync(paths.secrets)) return JSON.parse(readFileSync(paths.secrets, "utf8")) as DevSecrets;
  const secrets: DevSecrets = {
    ownerPassword: randomSecret(24),
    appPassword: randomSecret(24),
    hmacKeys: `dev1:${randomKey()}`,
    encryptionKeys: `dev1:${randomKey()}`,
  };
  saveDevSecrets(dataDir, secrets);
  return secrets;
}

export function saveDevSecrets(dataDir: string, secrets: DevSecrets): void {
  const file = devPaths(dataDir).secrets;
  writeFileSync(file, JSON.stringify(secrets, null, 2));
  chmodSync(file, 0o600);
}

/** The port used last time if it is still free (stable URLs), else the default, else any free port. */
export async function choosePort(previous: number | undefined, preferred: number): Promise<number> {
  for (const candidate of [previous, preferred]) {
    if (candidate && (await isPortFree(candidate))) return candidate;
  }
  return freePort();
}

export async function startDevPostgres(dataDir: string, secrets: DevSecrets): Promise<RunningPostgres> {
  const port = await choosePort(secrets.postgresPort, 54320);
  const postgres = await startEmbeddedPostgres({
    dataDir: devPaths(dataDir).postgres, port, ownerUser: DEV_OWNER, ownerPassword: secrets.ownerPassword, persistent: true,
  });
  if (secrets.postgresPort !== port) saveDevSecrets(dataDir, { ...secrets, postgresPort: port });
  return postgres;
}
