// `bun run storage:setup`: prepares Blob storage for direct browser uploads. Applies the CORS rule
// (the app origin only, PUT and OPTIONS, the x-ms-* headers the upload script sends), reads it back,
// and checks that the PHI container exists and is private (no anonymous access level). Exits 1 with
// a clear message when anything is wrong. Settings: APP_ORIGIN, AZURE_STORAGE_ACCOUNT_URL (managed
// identity: needs a role that may set service properties, e.g. Storage Account Contributor) or
// AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_CONTAINER.
import type { Config } from "../src/config.ts";
import { ConfigError, loadStorageSetupSettings } from "../src/config.ts";
import { allowBrowserUploadsFrom, containerAccess, corsRules } from "../src/platform/blob.ts";

export type StorageSetupResult = { ok: boolean; lines: string[] };

export async function setupStorage(blob: Config["blob"], appOrigin: string): Promise<StorageSetupResult> {
  const lines: string[] = [];
  let ok = true;
  await allowBrowserUploadsFrom(blob, appOrigin);
  const rules = await corsRules(blob);
  const ours = rules.length === 1 && rules[0]!.allowedOrigins === appOrigin && rules[0]!.allowedMethods.split(",").sort().join(",") === "OPTIONS,PUT";
  if (ours) lines.push(`OK: CORS allows PUT and OPTIONS from ${appOrigin} only (headers: ${rules[0]!.allowedHeaders}).`);
  else {
    ok = false;
    lines.push(`FAILED: the CORS rules read back are not the one just set: ${JSON.stringify(rules)}`);
  }
  const access = await containerAccess(blob);
  if (access === "private") lines.push(`OK: container "${blob.container}" is private (no anonymous access).`);
  else if (access === "missing") {
    ok = false;
    lines.push(`FAILED: container "${blob.container}" does not exist. Create it private, e.g. az storage container create --name ${blob.container} --public-access off --auth-mode login`);
  } else {
    ok = false;
    lines.push(
      `FAILED: container "${blob.container}" allows anonymous "${access}" access: anyone could read PHI. Make it private now, e.g. ` +
        `az storage container set-permission --name ${blob.container} --public-access off --auth-mode login (and turn off "Allow Blob anonymous access" on the account).`,
    );
  }
  return { ok, lines };
}

if (import.meta.main) {
  try {
    const settings = loadStorageSetupSettings();
    const where = settings.blob.connectionString ? "the account in AZURE_STORAGE_CONNECTION_STRING" : settings.blob.accountUrl!;
    console.log(`Setting up ${where}, container "${settings.blob.container}", for ${settings.appOrigin}…`);
    const result = await setupStorage(settings.blob, settings.appOrigin);
    console.log(result.lines.join("\n"));
    process.exit(result.ok ? 0 : 1);
  } catch (error) {
    if (error instanceof ConfigError) console.error(error.message);
    else console.error(`FAILED: storage could not be set up: ${(error as Error).message}`);
    process.exit(1);
  }
}
