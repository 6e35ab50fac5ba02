// What our middleware chain costs per request: GET /healthz through createApp() against a bare
// Bun.serve answering the same JSON, both on loopback, same client, same run.
import { createApp } from "../../src/app.tsx";
import { loadConfig } from "../../src/config.ts";
import { createBlobStore } from "../../src/platform/blob.ts";
import { createDb } from "../../src/platform/db.ts";
import { createLogger } from "../../src/platform/log.ts";
import { createMailer } from "../../src/platform/mail.ts";
import type { BenchStack } from "./index.ts";
import type { BenchResult } from "./table.ts";

const REQUESTS = 5_000;
const CONCURRENCY = 16;

async function hammer(url: string): Promise<{ rps: number; p50: number; p99: number }> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < REQUESTS) {
        next++;
        const t0 = performance.now();
        const res = await fetch(url);
        await res.arrayBuffer();
        if (!res.ok) throw new Error(`${url} answered ${res.status}`);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const elapsed = performance.now() - started;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
  return { rps: Math.round((latencies.length / elapsed) * 1000), p50: at(0.5), p99: at(0.99) };
}

export async function benchHttpChain(stack: BenchStack): Promise<BenchResult> {
  const config = loadConfig({
    NODE_ENV: "test", DATABASE_URL: stack.appUrl, AZURE_STORAGE_CONNECTION_STRING: stack.blobConnectionString,
    HMAC_KEYS: `b:${Buffer.alloc(32, 1).toString("base64")}`, ENCRYPTION_KEYS: `b:${Buffer.alloc(32, 2).toString("base64")}`,
  });
  const db = createDb(config.database.url, { max: 2 });
  const app = createApp({ config, db, blob: createBlobStore(config.blob), logger: createLogger({ level: "silent" }), mailer: createMailer(config.mail) });
  const full = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch });
  const bare = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => Response.json({ status: "ok" }) });
  try {
    await hammer(`http://127.0.0.1:${bare.port}/healthz`); // warm-up, both
    await hammer(`http://127.0.0.1:${full.port}/healthz`);
    const baseline = await hammer(`http://127.0.0.1:${bare.port}/healthz`);
    const chain = await hammer(`http://127.0.0.1:${full.port}/healthz`);
    const ms = (v: number) => `${v.toFixed(2)} ms`;
    const ratio = `${(chain.rps / baseline.rps).toFixed(2)}x`;
    return {
      lines: [
        `http-chain: ${REQUESTS} GET /healthz, ${CONCURRENCY} concurrent, loopback`,
        `  baseline bare Bun.serve   ${baseline.rps} req/s  p50 ${ms(baseline.p50)}  p99 ${ms(baseline.p99)}`,
        `  full middleware chain     ${chain.rps} req/s  p50 ${ms(chain.p50)}  p99 ${ms(chain.p99)}`,
        `  ratio chain/baseline      ${ratio}`,
      ],
      // The foundation issue asked for the figure, with no target.
      rows: [{ path: "http-chain: GET /healthz through the middleware chain", figure: `${chain.rps} req/s`, baseline: `${baseline.rps} req/s (bare Bun.serve)`, ratio, target: "", met: null }],
    };
  } finally {
    await Promise.all([full.stop(true), bare.stop(true)]);
    await db.destroy();
  }
}
