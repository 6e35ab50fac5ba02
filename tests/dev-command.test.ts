// `bun run dev` as a developer runs it: no configuration, embedded services, clean shutdown.
import { afterAll, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { freePort } from "../src/platform/embedded.ts";
import { loadOrCreateDevSecrets, saveDevSecrets } from "../scripts/support/dev-stack.ts";

const root = path.resolve(import.meta.dir, "..");
const dataDir = mkdtempSync(path.join(os.tmpdir(), "plh-dev-"));
chmodSync(dataDir, 0o755);
// Dev prefers ports 54320 and 10000; give this data directory its own so a concurrent run
// (another checkout, a developer's dev server) cannot race for them.
saveDevSecrets(dataDir, { ...loadOrCreateDevSecrets(dataDir), postgresPort: await freePort(), azuritePort: await freePort() });
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

function descendants(pid: number): number[] {
  const out = Bun.spawnSync(["ps", "-e", "-o", "pid=,ppid="]).stdout.toString();
  const pairs = out.trim().split("\n").map((l) => l.trim().split(/\s+/).map(Number) as [number, number]);
  const found: number[] = [];
  const walk = (p: number) => {
    for (const [child, parent] of pairs) if (parent === p) { found.push(child); walk(child); }
  };
  walk(pid);
  return found;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function startDev(port: number) {
  const proc = Bun.spawn([process.execPath, "scripts/dev.ts"], {
    cwd: root,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", PORT: String(port), PLH_DATA_DIR: dataDir, LOG_LEVEL: "warn" },
    stdout: "pipe",
    stderr: "pipe",
  });
  let output = "";
  const reader = proc.stdout.getReader();
  const decoder = new TextDecoder();
  const deadline = Date.now() + 60_000;
  while (!output.includes("Press Ctrl-C")) {
    if (Date.now() > deadline || proc.exitCode !== null) {
      throw new Error(`dev did not become ready:\n${output}\n${await new Response(proc.stderr).text()}`);
    }
    const { value, done } = await reader.read();
    if (done) break;
    output += decoder.decode(value);
  }
  reader.releaseLock();
  return { proc, output };
}

async function stopDev(proc: ReturnType<typeof Bun.spawn>) {
  const children = descendants(proc.pid);
  proc.kill("SIGTERM");
  expect(await proc.exited).toBe(0);
  await Bun.sleep(200);
  return children.filter(alive);
}

test("starts with no configuration, prints and records its URLs, keeps data across restarts, stops everything on SIGTERM", async () => {
  const port = await freePort();
  const first = await startDev(port);
  expect(first.output).toContain(`App:        http://localhost:${port}`);
  expect(first.output).toMatch(/PostgreSQL: postgres:\/\/plh_owner:\*\*\*\*@127\.0\.0\.1:\d+\/patientletterhub/);
  expect(first.output).toMatch(/Blob:\s+http:\/\/127\.0\.0\.1:\d+\/devstoreaccount1/);
  expect(first.output).toContain("Applied migrations: 202611231200_foundation");

  const devJson = JSON.parse(readFileSync(path.join(dataDir, "dev.json"), "utf8"));
  expect(Object.keys(devJson).sort()).toEqual(["app", "blob", "postgres"]);
  expect(devJson.app).toBe(`http://localhost:${port}`);
  expect(devJson.postgres).toStartWith("postgres://plh_owner:");
  expect(existsSync(path.join(dataDir, "postgres", "PG_VERSION"))).toBe(true);
  expect(existsSync(path.join(dataDir, "azurite"))).toBe(true);

  const ready = await fetch(`http://localhost:${port}/readyz`);
  expect(ready.status).toBe(200);
  expect((await fetch(`http://localhost:${port}/`)).headers.get("content-security-policy")).toContain("nonce-");
  // The embedded services listen on loopback only.
  expect(new URL(devJson.postgres).hostname).toBe("127.0.0.1");
  expect(new URL(devJson.blob).hostname).toBe("127.0.0.1");

  expect(await stopDev(first.proc)).toEqual([]);
  expect((await fetch(`http://localhost:${port}/healthz`).catch(() => null))).toBeNull();

  // Second start: the same data directory, nothing left to migrate.
  const second = await startDev(port);
  expect(second.output).not.toContain("Applied migrations");
  expect((await fetch(`http://localhost:${port}/readyz`)).status).toBe(200);
  expect(await stopDev(second.proc)).toEqual([]);
}, 120_000);

test("a taken port is named, with the variable to change", async () => {
  const blocker = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("busy") });
  try {
    const proc = Bun.spawn([process.execPath, "scripts/dev.ts"], {
      cwd: root,
      env: { PATH: process.env.PATH ?? "", PORT: String(blocker.port), PLH_DATA_DIR: dataDir },
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(await proc.exited).toBe(1);
    const stderr = await new Response(proc.stderr).text();
    expect(stderr).toContain(`Port ${blocker.port} is already in use`);
    expect(stderr).toContain("Set PORT");
  } finally {
    await blocker.stop(true);
  }
});
