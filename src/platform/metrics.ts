// A small metrics registry and the Prometheus text exposition format (version 0.0.4), in house:
// counters and histograms kept in this process, plus gauges collected at scrape time. prom-client
// would bring default collectors built for Node's internals and a global registry; what we need is
// a few labelled series, so this stays a page of code with no dependency.
// Series names and label values must never carry PHI or ids: callers label by route pattern,
// queue name and sweep name only.

export type Labels = Readonly<Record<string, string>>;
export type MetricType = "counter" | "gauge" | "histogram";
export type Sample = { labels: Labels; value: number; suffix?: "_bucket" | "_sum" | "_count" };
/** One metric family as it is written out: its HELP and TYPE lines, then its samples. */
export type MetricFamily = { name: string; help: string; type: MetricType; samples: Sample[] };

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Request latencies in seconds: from a cached page (a few ms) to a large streamed export. */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

function checkNames(name: string, labelNames: readonly string[]) {
  if (!METRIC_NAME.test(name)) throw new Error(`metric name "${name}" is not valid`);
  for (const label of labelNames) {
    if (!LABEL_NAME.test(label) || label.startsWith("__") || label === "le") throw new Error(`label name "${label}" is not valid`);
  }
}

function seriesKey(labelNames: readonly string[], labels: Labels): string {
  return JSON.stringify(labelNames.map((l) => {
    const value = labels[l];
    if (value === undefined) throw new Error(`label "${l}" is missing`);
    return value;
  }));
}

function labelsOf(labelNames: readonly string[], key: string): Labels {
  const values = JSON.parse(key) as string[];
  return Object.fromEntries(labelNames.map((l, i) => [l, values[i]!]));
}

export class Counter {
  readonly #values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string, readonly labelNames: readonly string[]) {
    checkNames(name, labelNames);
  }
  inc(labels: Labels, by = 1): void {
    if (!(by >= 0)) throw new Error("a counter only goes up");
    const key = seriesKey(this.labelNames, labels);
    this.#values.set(key, (this.#values.get(key) ?? 0) + by);
  }
  collect(): MetricFamily {
    const samples = [...this.#values].map(([key, value]) => ({ labels: labelsOf(this.labelNames, key), value }));
    return { name: this.name, help: this.help, type: "counter", samples };
  }
}

export class Histogram {
  readonly #series = new Map<string, { buckets: number[]; sum: number; count: number }>();
  readonly buckets: readonly number[];
  constructor(readonly name: string, readonly help: string, readonly labelNames: readonly string[], buckets: readonly number[]) {
    checkNames(name, labelNames);
    if (buckets.length === 0 || buckets.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= buckets[i - 1]!))) {
      throw new Error("histogram buckets must be finite and increasing");
    }
    this.buckets = [...buckets];
  }
  observe(labels: Labels, value: number): void {
    const key = seriesKey(this.labelNames, labels);
    let series = this.#series.get(key);
    if (!series) this.#series.set(key, (series = { buckets: this.buckets.map(() => 0), sum: 0, count: 0 }));
    // Buckets are stored per range here and made cumulative when written out.
    const index = this.buckets.findIndex((upper) => value <= upper);
    if (index >= 0) series.buckets[index]!++;
    series.sum += value;
    series.count++;
  }
  collect(): MetricFamily {
    const samples: Sample[] = [];
    for (const [key, series] of this.#series) {
      const labels = labelsOf(this.labelNames, key);
      let cumulative = 0;
      this.buckets.forEach((upper, i) => {
        cumulative += series.buckets[i]!;
        samples.push({ labels: { ...labels, le: formatNumber(upper) }, value: cumulative, suffix: "_bucket" });
      });
      samples.push({ labels: { ...labels, le: "+Inf" }, value: series.count, suffix: "_bucket" });
      samples.push({ labels, value: series.sum, suffix: "_sum" });
      samples.push({ labels, value: series.count, suffix: "_count" });
    }
    return { name: this.name, help: this.help, type: "histogram", samples };
  }
}

/** A gauge whose samples are known at scrape time (queue depths, memory). */
export function gauge(name: string, help: string, samples: Sample[]): MetricFamily {
  checkNames(name, [...new Set(samples.flatMap((s) => Object.keys(s.labels)))]);
  return { name, help, type: "gauge", samples };
}

function formatNumber(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

const escapeHelp = (text: string) => text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
const escapeLabel = (text: string) => text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');

/** The text exposition format: one HELP and TYPE per family, then its samples; ends with a newline. */
export function exposition(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const family of families) {
    if (seen.has(family.name)) throw new Error(`metric "${family.name}" is written twice`);
    seen.add(family.name);
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) {
      const labels = Object.entries(sample.labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",");
      lines.push(`${family.name}${sample.suffix ?? ""}${labels ? `{${labels}}` : ""} ${formatNumber(sample.value)}`);
    }
  }
  return lines.length ? `${lines.join("\n")}\n` : "";
}

/** The Content-Type Prometheus expects for the text format. */
export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const STARTED_AT_SECONDS = Math.floor(Date.now() / 1000 - process.uptime());

/** This process's memory (resident set, JavaScript heap, buffers outside the heap) and start time. */
export function processMetrics(): MetricFamily[] {
  const memory = process.memoryUsage();
  return [
    gauge("process_resident_memory_bytes", "Resident memory size of this process in bytes.", [{ labels: {}, value: memory.rss }]),
    gauge("process_heap_bytes", "JavaScript heap of this process in bytes: used and total (reserved).", [
      { labels: { kind: "used" }, value: memory.heapUsed }, { labels: { kind: "total" }, value: memory.heapTotal },
    ]),
    gauge("process_external_memory_bytes", "Memory held outside the JavaScript heap (buffers, native objects) in bytes.", [{ labels: {}, value: memory.external }]),
    gauge("process_start_time_seconds", "When this process started, in seconds since the Unix epoch.", [{ labels: {}, value: STARTED_AT_SECONDS }]),
  ];
}
