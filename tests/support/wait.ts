// Waiting for background work (pg-boss renders, sweeps) in tests: polls `read` until it returns
// something, or fails naming what never came.
export async function waitFor<T>(what: string, read: () => Promise<T | undefined | null>, timeoutMs = 30_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(100);
  }
}
