// `bun run sweep` as a process, the way operators and the schedules' tests run it: shared by the
// retention tests that drive the sweeps through the command (the controllable clock is --now).
import type { TestApp } from "./app.ts";
import { testEnv } from "./app.ts";

/** The environment a sweep process needs to reach this test app's database and container. */
export function sweepEnv(t: TestApp, extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? "", ...testEnv({ DATABASE_URL: t.database.appUrl, AZURE_STORAGE_CONTAINER: t.config.blob.container, ...extra }) } as Record<string, string>;
}

/** Starts `bun run sweep --only NAME --now ISO` (output piped: drain it, or use runSweep). */
export function spawnSweep(env: Record<string, string>, now: Date, only = "job-purge") {
  return Bun.spawn([process.execPath, "scripts/sweep.ts", "--only", only, "--now", now.toISOString()], {
    cwd: `${import.meta.dir}/../..`, env, stdout: "pipe", stderr: "pipe",
  });
}

/** Runs a sweep process to its end: exit code, trimmed stdout, stderr. */
export async function runSweep(env: Record<string, string>, now: Date, only = "job-purge") {
  const proc = spawnSweep(env, now, only);
  const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return { code, stdout: stdout.trim(), stderr };
}
