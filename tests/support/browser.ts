// Debian's Chromium driven by playwright-core: never a downloaded browser. The flags keep it off
// the network (this machine has none) and working as root.
import { type Browser, chromium } from "playwright-core";
import { createTestApp, type TestApp } from "./app.ts";

export const CHROMIUM_PATH = "/usr/bin/chromium";
export const SCREENSHOT_DIR = `${import.meta.dir}/../../screenshots`;

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
      "--disable-sync", "--no-first-run", "--disable-quic",
    ],
  });
}

/** The real app on a real loopback socket, for a real browser. */
export async function serveTestApp(env: Record<string, string> = {}): Promise<TestApp & { origin: string; stop(): Promise<void> }> {
  const probe = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const port = probe.port;
  await probe.stop(true);
  const origin = `http://localhost:${port}`;
  const t = await createTestApp({ env: { APP_ORIGIN: origin, PORT: String(port), ...env } });
  const server = Bun.serve({ hostname: "127.0.0.1", port, fetch: t.app.fetch });
  return {
    ...t,
    origin,
    async stop() {
      await server.stop(true);
      await t.close();
    },
  };
}
