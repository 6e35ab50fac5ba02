// The real entry point, src/server.ts, as a child process on loopback: for `bun run load` and the
// fault tests, which need the app exactly as it runs in production (its own pools, pg-boss, signal
// handling), and need to stop it, or kill it, from outside.
import path from "node:path";

const ROOT = path.join(import.meta.dir, "../..");
const KEEP_LINES = 200;

export type ServerProcess = {
  readonly origin: string;
  readonly pid: number;
  /** Null while it runs. */
  exitCode(): number | null;
  /** The last lines it wrote (stdout and stderr), for a failure message. */
  output(): string;
  /** SIGTERM (graceful: in-flight requests and jobs finish), then its exit code. */
  stop(timeoutMs?: number): Promise<number>;
  /** SIGKILL: nothing runs after it, as when a machine or container dies. */
  kill(): Promise<void>;
};

/** Keeps the last lines of a stream, reading it to the end so the child never blocks on a full pipe. */
function drain(stream: ReadableStream<Uint8Array>, lines: string[]): void {
  void (async () => {
    const decoder = new TextDecoder();
    let partial = "";
    for await (const chunk of stream) {
      partial += decoder.decode(chunk, { stream: true });
      const parts = partial.split("\n");
      partial = parts.pop() ?? "";
      lines.push(...parts);
      if (lines.length > KEEP_LINES) lines.splice(0, lines.length - KEEP_LINES);
    }
    if (partial) lines.push(partial);
  })().catch(() => {});
}

/**
 * Starts src/server.ts with exactly `env` (plus PATH) on 127.0.0.1:`env.PORT` and waits until
 * /readyz answers 200. Fails with the server's own output when it exits or is not ready in time.
 */
export async function startServerProcess(env: Record<string, string | undefined>, options: { readyTimeoutMs?: number } = {}): Promise<ServerProcess> {
  const port = Number(env.PORT);
  if (!Number.isInteger(port) || port <= 0) throw new Error("startServerProcess: env.PORT must be a port number");
  const lines: string[] = [];
  const proc = Bun.spawn([process.execPath, path.join(ROOT, "src/server.ts")], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOST: "127.0.0.1", ...Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)) } as Record<string, string>,
    stdin: "ignore", stdout: "pipe", stderr: "pipe",
  });
  drain(proc.stdout, lines);
  drain(proc.stderr, lines);
  // If we end without stopping it (a crash, an interrupted run), take the server with us.
  const killOnExit = () => proc.kill("SIGKILL");
  process.once("exit", killOnExit);
  const origin = `http://127.0.0.1:${port}`;
  const server: ServerProcess = {
    origin,
    pid: proc.pid,
    exitCode: () => proc.exitCode,
    output: () => lines.join("\n"),
    async stop(timeoutMs = 15_000) {
      process.off("exit", killOnExit);
      if (proc.exitCode === null) proc.kill("SIGTERM");
      const exited = await Promise.race([proc.exited.then(() => true), Bun.sleep(timeoutMs).then(() => false)]);
      if (!exited) proc.kill("SIGKILL");
      return proc.exited;
    },
    async kill() {
      process.off("exit", killOnExit);
      proc.kill("SIGKILL");
      await proc.exited;
    },
  };
  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
  for (;;) {
    if (proc.exitCode !== null) {
      await Bun.sleep(50); // let the pipes deliver its last words
      throw new Error(`src/server.ts exited with code ${proc.exitCode} before it was ready:\n${server.output()}`);
    }
    const ready = await fetch(`${origin}/readyz`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.status === 200, () => false);
    if (ready) return server;
    if (Date.now() > deadline) {
      await server.kill();
      throw new Error(`src/server.ts was not ready on ${origin} within ${options.readyTimeoutMs ?? 30_000} ms:\n${server.output()}`);
    }
    await Bun.sleep(100);
  }
}
