// `bun run load` end to end, shortened: its own throwaway stack, the real server process, a few
// signed-in users for a few seconds. It must finish by itself, report 0 errors and print its figures.
import { expect, test } from "bun:test";

test("bun run load: a short run reports req/s and p50/p99 per kind, and 0 errors", async () => {
  const proc = Bun.spawn([process.execPath, "scripts/load.ts", "--duration", "5", "--users", "8"], {
    cwd: `${import.meta.dir}/..`, env: { PATH: process.env.PATH ?? "" }, stdout: "pipe", stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
  expect(stdout).toContain("load: 8 signed-in users");
  expect(stdout).toMatch(/kind\s+requests\s+req\/s\s+p50 ms\s+p99 ms\s+errors/);
  for (const kind of ["dashboard", "job", "upload-url", "all"]) {
    // e.g. "  dashboard        412      80.1     12.3     48.0       0": some requests, figures, no errors.
    const row = stdout.split("\n").find((line) => line.trim().startsWith(`${kind} `));
    expect(row).toBeDefined();
    const [requests, rps, p50, p99, errors] = row!.trim().split(/\s+/).slice(1).map(Number);
    expect(requests).toBeGreaterThan(0);
    expect(rps).toBeGreaterThan(0);
    expect(p50).toBeGreaterThan(0);
    expect(p99).toBeGreaterThanOrEqual(p50!);
    expect(errors).toBe(0);
  }
  expect(stdout).toContain("UPLOAD_URLS_PER_MINUTE=30 (default, unchanged)");
  expect(stdout).toContain("errors: 0");
}, 150_000);
