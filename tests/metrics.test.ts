// GET /metrics: Prometheus's text format (checked line by line by a strict reader below), behind a
// bearer token; request counts by route pattern (never a raw path), latency, queue depths from
// pg-boss, retention sweep counts from sweep_runs, and process memory.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { bearerMatches, UNMATCHED_ROUTE } from "../src/http/metrics.ts";
import { Counter, exposition, Histogram } from "../src/platform/metrics.ts";
import { sweepExpiredCredentials } from "../src/retention/expired-credentials.ts";
import { RENDER_PROOF } from "../src/proofs/request.ts";
import { createTestApp, TEST_ORIGIN, type TestApp } from "./support/app.ts";
import { makePerson, sessionToken } from "./support/people.ts";

const TOKEN = "metrics-token-for-tests-0123456789abcdef";

// ---- a strict reader of the text exposition format (version 0.0.4) --------------------------------

type ParsedSample = { name: string; labels: Record<string, string>; value: number };
type Parsed = { types: Map<string, string>; helps: Map<string, string>; samples: ParsedSample[] };

const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const LABEL = `[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"`;
const SAMPLE_LINE = new RegExp(`^(${NAME})(?:\\{(${LABEL}(?:,${LABEL})*)?\\})? (\\S+)$`);
const VALUE = /^(?:[+-]?(?:\d+\.?\d*(?:e[+-]?\d+)?|\.\d+(?:e[+-]?\d+)?)|NaN|[+-]Inf)$/i;

function familyOf(sample: string, types: Map<string, string>): string | undefined {
  if (types.has(sample)) return sample;
  const base = sample.replace(/_(bucket|sum|count)$/, "");
  return types.get(base) === "histogram" ? base : undefined;
}

function parseExposition(text: string): Parsed {
  expect(text.endsWith("\n")).toBe(true);
  const parsed: Parsed = { types: new Map(), helps: new Map(), samples: [] };
  const seen = new Set<string>();
  const closed = new Set<string>(); // a family's samples must be contiguous
  let current: string | undefined;
  for (const line of text.slice(0, -1).split("\n")) {
    const help = new RegExp(`^# HELP (${NAME}) (.*)$`).exec(line);
    const type = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`).exec(line);
    if (help) {
      expect(parsed.helps.has(help[1]!)).toBe(false);
      parsed.helps.set(help[1]!, help[2]!);
      continue;
    }
    if (type) {
      expect(parsed.types.has(type[1]!)).toBe(false);
      expect(parsed.samples.some((s) => familyOf(s.name, parsed.types) === type[1])).toBe(false); // TYPE before its samples
      parsed.types.set(type[1]!, type[2]!);
      continue;
    }
    const match = SAMPLE_LINE.exec(line);
    if (!match) throw new Error(`not a valid exposition line: ${JSON.stringify(line)}`);
    const [, name, labelText, valueText] = match;
    expect(valueText!).toMatch(VALUE);
    const family = familyOf(name!, parsed.types);
    if (!family) throw new Error(`sample ${name} has no TYPE line before it`);
    if (family !== current) {
      expect(closed.has(family)).toBe(false);
      if (current) closed.add(current);
      current = family;
    }
    const labels: Record<string, string> = {};
    for (const m of (labelText ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      expect(labels[m[1]!]).toBeUndefined();
      labels[m[1]!] = m[2]!.replace(/\\(.)/g, (_, ch: string) => (ch === "n" ? "\n" : ch));
    }
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    expect(seen.has(key)).toBe(false);
    seen.add(key);
    parsed.samples.push({ name: name!, labels, value: Number(valueText!.replace(/Inf$/i, "Infinity")) });
  }
  // Histograms: cumulative buckets in increasing le, ending at +Inf, which equals _count.
  for (const [family, kind] of parsed.types) {
    if (kind !== "histogram") continue;
    const series = new Map<string, ParsedSample[]>();
    for (const s of parsed.samples.filter((s) => s.name === `${family}_bucket`)) {
      const { le, ...rest } = s.labels;
      expect(le).toBeDefined();
      const key = JSON.stringify(Object.entries(rest).sort());
      series.set(key, [...(series.get(key) ?? []), s]);
    }
    for (const [key, buckets] of series) {
      const les = buckets.map((b) => (b.labels.le === "+Inf" ? Infinity : Number(b.labels.le)));
      expect(les).toEqual([...les].sort((a, b) => a - b));
      expect(les.at(-1)).toBe(Infinity);
      buckets.forEach((b, i) => i > 0 && expect(b.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value));
      const count = parsed.samples.find((s) => s.name === `${family}_count` && JSON.stringify(Object.entries(s.labels).sort()) === key);
      expect(count?.value).toBe(buckets.at(-1)!.value);
      expect(parsed.samples.some((s) => s.name === `${family}_sum` && JSON.stringify(Object.entries(s.labels).sort()) === key)).toBe(true);
    }
  }
  return parsed;
}

const value = (p: Parsed, name: string, labels: Record<string, string>) =>
  p.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

// ---- the registry alone ------------------------------------------------------------------------------

describe("the in-house registry", () => {
  test("writes counters and histograms in the text format, escaping label values", () => {
    const counter = new Counter("demo_total", "A demo\\counter\nwith two lines.", ["path"]);
    counter.inc({ path: 'say "hi"\\now\n' });
    counter.inc({ path: 'say "hi"\\now\n' }, 2);
    const histogram = new Histogram("demo_seconds", "Demo latency.", ["route"], [0.1, 1]);
    histogram.observe({ route: "/a" }, 0.05);
    histogram.observe({ route: "/a" }, 0.5);
    histogram.observe({ route: "/a" }, 5);
    const text = exposition([counter.collect(), histogram.collect()]);
    expect(text).toBe([
      "# HELP demo_total A demo\\\\counter\\nwith two lines.",
      "# TYPE demo_total counter",
      'demo_total{path="say \\"hi\\"\\\\now\\n"} 3',
      "# HELP demo_seconds Demo latency.",
      "# TYPE demo_seconds histogram",
      'demo_seconds_bucket{route="/a",le="0.1"} 1',
      'demo_seconds_bucket{route="/a",le="1"} 2',
      'demo_seconds_bucket{route="/a",le="+Inf"} 3',
      'demo_seconds_sum{route="/a"} 5.55',
      'demo_seconds_count{route="/a"} 3',
      "",
    ].join("\n"));
    const parsed = parseExposition(text);
    expect(value(parsed, "demo_total", {})).toBe(3);
    expect(parsed.samples[0]!.labels.path).toBe('say "hi"\\now\n');
  });

  test("refuses invalid names, missing labels and a counter going down", () => {
    expect(() => new Counter("bad-name", "x", [])).toThrow("not valid");
    expect(() => new Counter("ok_total", "x", ["le"])).toThrow("not valid");
    expect(() => new Counter("ok_total", "x", ["route"]).inc({})).toThrow('label "route" is missing');
    expect(() => new Counter("ok_total", "x", []).inc({}, -1)).toThrow("only goes up");
    expect(() => new Histogram("h", "x", [], [1, 1])).toThrow("increasing");
  });

  test("the bearer check accepts only the exact token", () => {
    expect(bearerMatches(`Bearer ${TOKEN}`, TOKEN)).toBe(true);
    expect(bearerMatches(`bearer ${TOKEN}`, TOKEN)).toBe(true);
    expect(bearerMatches(`Bearer ${TOKEN}x`, TOKEN)).toBe(false);
    expect(bearerMatches(`Bearer ${TOKEN.slice(0, -1)}`, TOKEN)).toBe(false);
    expect(bearerMatches(`Basic ${TOKEN}`, TOKEN)).toBe(false);
    expect(bearerMatches(TOKEN, TOKEN)).toBe(false);
    expect(bearerMatches(undefined, TOKEN)).toBe(false);
    expect(bearerMatches("Bearer ", TOKEN)).toBe(false);
  });
});

// ---- the endpoint --------------------------------------------------------------------------------------

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ env: { METRICS_TOKEN: TOKEN } });
});
afterAll(() => t.close());

const scrape = (authorization?: string, extra: Record<string, string> = {}) =>
  t.app.request(`${TEST_ORIGIN}/metrics`, { headers: { ...(authorization ? { authorization } : {}), ...extra } });

describe("the token", () => {
  test("is required: none, a wrong one, another scheme or a signed-in session get 401 and no metrics", async () => {
    const admin = await makePerson(t);
    const cookie = `__Host-plh_session=${await sessionToken(t, admin)}`;
    for (const res of [
      await scrape(),
      await scrape(`Bearer ${"x".repeat(TOKEN.length)}`),
      await scrape(`Bearer ${TOKEN}extra`),
      await scrape(`Basic ${Buffer.from(`metrics:${TOKEN}`).toString("base64")}`),
      await scrape(undefined, { cookie }),
    ]) {
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toBe('Bearer realm="metrics"');
      expect(await res.text()).not.toContain("plh_");
    }
    const ok = await scrape(`Bearer ${TOKEN}`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
  });

  test("without METRICS_TOKEN the endpoint does not exist (404), whatever is sent", async () => {
    const plain = await createTestApp();
    try {
      for (const authorization of [undefined, "Bearer ", `Bearer ${TOKEN}`]) {
        const res = await plain.app.request(`${TEST_ORIGIN}/metrics`, { headers: authorization ? { authorization } : {} });
        expect(res.status).toBe(404);
        expect(await res.text()).not.toContain("plh_");
      }
    } finally {
      await plain.close();
    }
  });

  test("a token that is short or has spaces is refused at start-up", async () => {
    const { loadConfig } = await import("../src/config.ts");
    const { testEnv } = await import("./support/app.ts");
    expect(() => loadConfig(testEnv({ DATABASE_URL: "postgres://x@localhost/x", METRICS_TOKEN: "short" }))).toThrow("METRICS_TOKEN: must be 32-256 characters");
    expect(() => loadConfig(testEnv({ DATABASE_URL: "postgres://x@localhost/x", METRICS_TOKEN: `${TOKEN} ${TOKEN}` }))).toThrow("METRICS_TOKEN");
    expect(loadConfig(testEnv({ DATABASE_URL: "postgres://x@localhost/x", METRICS_TOKEN: "" })).metrics.token).toBeNull();
  });
});

describe("what it reports", () => {
  test("requests by method, route pattern and status, never a raw path; latency; in flight; memory", async () => {
    const admin = await makePerson(t);
    const cookie = `__Host-plh_session=${await sessionToken(t, admin)}`;
    const secretId = crypto.randomUUID();
    expect((await t.app.request(`${TEST_ORIGIN}/healthz`)).status).toBe(200);
    expect((await t.app.request(`${TEST_ORIGIN}/healthz`)).status).toBe(200);
    expect((await t.app.request(`${TEST_ORIGIN}/jobs/${secretId}`, { headers: { cookie } })).status).toBe(404);
    expect((await t.app.request(`${TEST_ORIGIN}/jobs/${secretId}`)).status).toBe(303); // anonymous: sent to sign in
    expect((await t.app.request(`${TEST_ORIGIN}/no/such/${secretId}`)).status).toBe(404);
    expect((await t.app.request(`${TEST_ORIGIN}/static/styles.css`)).status).toBe(200);

    const res = await scrape(`Bearer ${TOKEN}`);
    const text = await res.text();
    const parsed = parseExposition(text);
    expect(text).not.toContain(secretId);
    expect(text).not.toContain("/no/such");

    expect(parsed.types.get("plh_http_requests_total")).toBe("counter");
    expect(value(parsed, "plh_http_requests_total", { method: "GET", route: "/healthz", status: "200" })).toBe(2);
    expect(value(parsed, "plh_http_requests_total", { method: "GET", route: "/jobs/:id", status: "404" })).toBe(1);
    expect(value(parsed, "plh_http_requests_total", { method: "GET", route: "/jobs/:id", status: "303" })).toBe(1);
    expect(value(parsed, "plh_http_requests_total", { method: "GET", route: UNMATCHED_ROUTE, status: "404" })).toBe(1);
    expect(value(parsed, "plh_http_requests_total", { method: "GET", route: "/static/*", status: "200" })).toBe(1);
    // The refused scrapes of the token test above went through the same counter.
    expect(value(parsed, "plh_http_requests_total", { method: "GET", route: "/metrics", status: "401" })).toBeGreaterThanOrEqual(5);

    expect(parsed.types.get("plh_http_request_duration_seconds")).toBe("histogram");
    expect(value(parsed, "plh_http_request_duration_seconds_count", { method: "GET", route: "/healthz" })).toBe(2);
    expect(value(parsed, "plh_http_request_duration_seconds_bucket", { method: "GET", route: "/healthz", le: "+Inf" })).toBe(2);
    expect(value(parsed, "plh_http_request_duration_seconds_sum", { method: "GET", route: "/healthz" })).toBeGreaterThan(0);
    expect(value(parsed, "plh_http_requests_in_flight", {})).toBe(1); // this scrape

    expect(value(parsed, "process_resident_memory_bytes", {})).toBeGreaterThan(1_000_000);
    expect(value(parsed, "process_heap_bytes", { kind: "used" })).toBeGreaterThan(0);
    expect(value(parsed, "process_start_time_seconds", {})).toBeLessThanOrEqual(Date.now() / 1000);
    expect(value(parsed, "plh_metrics_source_up", { source: "queue" })).toBe(1);
    expect(value(parsed, "plh_metrics_source_up", { source: "sweeps" })).toBe(1);
  });

  test("queue depths per pg-boss queue and state, counted from pg-boss's tables", async () => {
    // This app only sends work (nothing polls), so what is sent waits in state created.
    await t.queue.send(RENDER_PROOF, { proofId: crypto.randomUUID(), practiceId: crypto.randomUUID() }, { key: "metrics-a" });
    await t.queue.send(RENDER_PROOF, { proofId: crypto.randomUUID(), practiceId: crypto.randomUUID() }, { key: "metrics-b" });
    const parsed = parseExposition(await (await scrape(`Bearer ${TOKEN}`)).text());
    expect(parsed.types.get("plh_queue_jobs")).toBe("gauge");
    expect(value(parsed, "plh_queue_jobs", { queue: RENDER_PROOF, state: "created" })).toBe(2);
    expect(value(parsed, "plh_queue_jobs", { queue: RENDER_PROOF, state: "active" })).toBe(0);
    expect(value(parsed, "plh_queue_jobs", { queue: RENDER_PROOF, state: "retry" })).toBe(0);
  });

  test("retention sweep runs and what they removed, from sweep_runs; dry runs left out", async () => {
    // Two sessions that will be past their absolute expiry at the sweep's cutoff.
    const person = await makePerson(t);
    await sessionToken(t, person);
    await sessionToken(t, person);
    const later = new Date(Date.now() + 2 * 86_400_000);
    await sweepExpiredCredentials({ db: t.db }, { now: later, batchSize: 100, dryRun: true });
    const result = await sweepExpiredCredentials({ db: t.db }, { now: later, batchSize: 100 });
    expect(result.counts.sessions).toBeGreaterThanOrEqual(2);
    const parsed = parseExposition(await (await scrape(`Bearer ${TOKEN}`)).text());
    expect(value(parsed, "plh_sweep_runs_total", { sweep: "expired-credentials", outcome: "finished" })).toBe(1);
    expect(value(parsed, "plh_sweep_runs_total", { sweep: "expired-credentials", outcome: "failed" })).toBe(0);
    expect(value(parsed, "plh_sweep_items_total", { sweep: "expired-credentials", item: "sessions" })).toBe(result.counts.sessions!);
    expect(value(parsed, "plh_sweep_items_total", { sweep: "expired-credentials", item: "invitations" })).toBe(0);
    const last = value(parsed, "plh_sweep_last_finished_timestamp_seconds", { sweep: "expired-credentials" })!;
    expect(Math.abs(last - Date.now() / 1000)).toBeLessThan(600);
  });
});
