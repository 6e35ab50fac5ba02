// `bun run storage:setup` against real Azurite: the CORS rule for the app origin (and what a
// browser's preflight then gets), and the refusal of a missing or public container.
import { afterAll, expect, test } from "bun:test";
import { BlobServiceClient } from "@azure/storage-blob";
import { setupStorage } from "../scripts/storage-setup.ts";
import { testStack } from "./support/stack.ts";

const ORIGIN = "https://letters.example.org";
const created: string[] = [];

function settings(container: string) {
  return { connectionString: testStack().azurite.connectionString, accountUrl: undefined, container };
}
async function container(access?: "blob" | "container") {
  const name = `setup-${crypto.randomUUID().slice(0, 12)}`;
  created.push(name);
  await BlobServiceClient.fromConnectionString(testStack().azurite.connectionString).getContainerClient(name).create(access ? { access } : {});
  return name;
}
afterAll(async () => {
  const service = BlobServiceClient.fromConnectionString(testStack().azurite.connectionString);
  await Promise.allSettled(created.map((n) => service.getContainerClient(n).deleteIfExists()));
});

const preflight = (origin: string, name: string) =>
  fetch(`${testStack().azurite.endpoint}/${name}/x`, {
    method: "OPTIONS",
    headers: { origin, "access-control-request-method": "PUT", "access-control-request-headers": "x-ms-blob-type,x-ms-blob-content-type,x-ms-version" },
  });

test("a private container: CORS for the app origin only (PUT, OPTIONS, the x-ms-* headers), and OK", async () => {
  const name = await container();
  const result = await setupStorage(settings(name), ORIGIN);
  expect(result.ok).toBe(true);
  expect(result.lines.join("\n")).toContain(`CORS allows PUT and OPTIONS from ${ORIGIN} only`);
  expect(result.lines.join("\n")).toContain(`container "${name}" is private`);
  const allowed = await preflight(ORIGIN, name);
  expect(allowed.status).toBe(200);
  expect(allowed.headers.get("access-control-allow-origin")).toBe(ORIGIN);
  expect(allowed.headers.get("access-control-allow-methods")).toMatch(/PUT/);
  expect((await preflight("https://evil.example", name)).status).toBe(403);
});

test("a public container fails with a clear message; so does a missing one", async () => {
  const open = await container("blob");
  const result = await setupStorage(settings(open), ORIGIN);
  expect(result.ok).toBe(false);
  expect(result.lines.join("\n")).toMatch(/allows anonymous "blob" access: anyone could read PHI\. Make it private now/);
  const missing = await setupStorage(settings(`missing-${crypto.randomUUID().slice(0, 8)}`), ORIGIN);
  expect(missing.ok).toBe(false);
  expect(missing.lines.join("\n")).toMatch(/does not exist\. Create it private/);
});

test("the command exits 0 when all is well, 1 otherwise, and names missing settings", async () => {
  const run = async (env: Record<string, string>) => {
    const proc = Bun.spawn([process.execPath, "scripts/storage-setup.ts"], { env: { PATH: process.env.PATH ?? "", ...env }, stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    return { out: out + err, code };
  };
  const conn = testStack().azurite.connectionString;
  const good = await run({ APP_ORIGIN: ORIGIN, AZURE_STORAGE_CONNECTION_STRING: conn, AZURE_STORAGE_CONTAINER: await container() });
  expect(good).toMatchObject({ code: 0 });
  expect(good.out).toContain("OK: container");
  const bad = await run({ APP_ORIGIN: ORIGIN, AZURE_STORAGE_CONNECTION_STRING: conn, AZURE_STORAGE_CONTAINER: await container("container") });
  expect(bad.code).toBe(1);
  expect(bad.out).toContain('allows anonymous "container" access');
  const unset = await run({ AZURE_STORAGE_CONNECTION_STRING: conn });
  expect(unset.code).toBe(1);
  expect(unset.out).toContain("APP_ORIGIN: is required");
}, 30_000);
