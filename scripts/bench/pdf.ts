// `bun run bench pdf`: the production letter file for 50,000 synthetic recipients (made-up names,
// generated on the fly: nothing on disk) rendered by renderLetters into a byte-counting sink,
// against raw pdfkit drawing the same text on the same pages with minimal code into a null sink,
// in the same run. Peak RSS (VmHWM) at 5,000 and 50,000 letters, each in a fresh child process.
// Also: validating a 100,000-row CSV held in memory with validateRecipients, against csv-parse
// alone over the same bytes.
import { parse } from "csv-parse";
import { readFileSync } from "node:fs";
import { Writable } from "node:stream";
import PDFDocument from "pdfkit";
import { LAYOUT, PT_PER_IN, mergeFields, matchCode, recipientLines, returnLines, type LetterTemplate, type Letterhead } from "../../src/proofs/layout.ts";
import { validateRecipients } from "../../src/proofs/recipients.ts";
import { renderLetters, type RenderJob } from "../../src/proofs/render.ts";
import type { BenchStack } from "./index.ts";

const LETTERS = 50_000;
const SMALL = 5_000;
const CSV_ROWS = 100_000;

// ── Synthetic letters ──────────────────────────────────────────────────────────────────────
const FIRST = ["Avery", "Jordan", "Riley", "Casey", "Morgan", "Quinn", "Rowan", "Emerson", "Finley", "Harper", "Sage", "Reese"];
const LAST = ["Testperson", "Samplesen", "Madeupson", "Fictionelli", "Placeholder", "Exampleton", "Dummington", "Mockridge"];
const STREETS = ["Maple Avenue", "Harbor Street", "Elm Court", "Ridge Road", "Willow Lane", "Summit Drive"];

/** Deterministic made-up recipients (a small LCG), produced one at a time. */
function* recipients(n: number): Generator<{ seq: number; fields: Record<string, string> }> {
  let s = 12345;
  const next = (m: number) => ((s = (s * 1103515245 + 12345) >>> 0) >>> 8) % m;
  for (let seq = 1; seq <= n; seq++) {
    yield {
      seq,
      fields: {
        first_name: FIRST[next(FIRST.length)]!, last_name: `${LAST[next(LAST.length)]}${seq}`,
        address1: `${1 + next(9800)} ${STREETS[next(STREETS.length)]}`, address2: next(4) === 0 ? `Apt ${1 + next(400)}` : "",
        city: "Springfield", state: "IL", zip: "62704", appointment_date: "2026-12-01",
      },
    };
  }
}

const PARAGRAPH = "We are writing to let you know that the practice will close its Harbor Street office. Your medical records remain safe, and you may ask for a copy or have them sent to a new provider at any time. ";
const job: RenderJob = { reference: "PLH-2026-000123", title: "Practice closure", date: "March 3, 2026", returnAddress: { name: "Lakeside Family Medicine", line1: "12 Harbor Street", line2: "Suite 200", city: "Portland", state: "ME", zip: "04101" } };
const letterhead: Letterhead = { name: "Lakeside Family Medicine", phone: "(207) 555-0100" };
// About one and a half pages per letter: every letter paginates and carries "Page 2 of 2".
const template: LetterTemplate = {
  body: ["Dear {{first_name}} {{last_name}},", ...Array.from({ length: 9 }, () => PARAGRAPH.repeat(2)), "Your next visit was set for {{appointment_date}}."].join("\n\n"),
  signer: { name: "Dana Example, MD", title: "Medical Director" },
};

const countingSink = () => {
  const sink = { bytes: 0, out: null as unknown as Writable };
  sink.out = new Writable({ highWaterMark: 1 << 20, write(chunk: Buffer, _e, done) { sink.bytes += chunk.length; done(); } });
  return sink;
};

export async function production(n: number, pageCounts?: Uint8Array) {
  const sink = countingSink();
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const result = await renderLetters({
    job, letterhead, template, recipients: recipients(n), watermark: false, out: sink.out, now: new Date("2026-03-03T12:00:00Z"),
    onLetter: pageCounts ? (l) => { pageCounts[l.seq - 1] = l.pages; } : undefined,
  });
  const ms = performance.now() - start;
  return { ms, cpuMs: cpuMs(cpu0), ...result, sinkBytes: sink.bytes };
}

/** Raw pdfkit: the same text on the same pages, no checks, no measuring, no page buffering. */
export async function raw(n: number, pageCounts: Uint8Array) {
  let bytes = 0;
  const doc = new PDFDocument({ autoFirstPage: false, compress: true });
  // Drained after every letter like renderLetters does (left flowing, pdfkit would hold the whole
  // file until the loop yields, and the baseline would be measuring its own memory pressure).
  const drain = () => { let c: Buffer | null; while ((c = doc.read() as Buffer | null) !== null) bytes += c.length; };
  const margin = 72;
  const width = 8.5 * PT_PER_IN - 2 * margin;
  let code = "";
  let page = 0;
  let of = 0;
  doc.on("pageAdded", () => {
    page++;
    const { x, y } = doc;
    doc.page.margins.bottom = 0;
    doc.font("Helvetica").fontSize(10).text(code, margin, LAYOUT.footerY, { width, lineBreak: false }).text(`Page ${page} of ${of}`, margin, LAYOUT.footerY, { width, align: "right", lineBreak: false });
    doc.page.margins.bottom = margin;
    doc.x = x; doc.y = y;
  });
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const ret = returnLines(job.returnAddress);
  for (const r of recipients(n)) {
    code = matchCode(job.reference, r.seq); page = 0; of = pageCounts[r.seq - 1]!;
    doc.addPage({ size: LAYOUT.pageSize, margins: LAYOUT.margins });
    doc.font("Helvetica").fontSize(10);
    ret.forEach((l, i) => doc.text(l, LAYOUT.returnAddress.x, LAYOUT.returnAddress.y + i * 11.56, { lineBreak: false }));
    recipientLines(r.fields).forEach((l, i) => doc.text(l, LAYOUT.recipientAddress.x, LAYOUT.recipientAddress.y + i * 11.56, { lineBreak: false }));
    doc.font("Helvetica-Bold").text(`${letterhead.name}\n${letterhead.phone}`, 4.75 * PT_PER_IN, LAYOUT.letterheadY, { width: 2.75 * PT_PER_IN, align: "right" });
    doc.font("Helvetica").fontSize(11).text(job.date, 4.75 * PT_PER_IN, LAYOUT.dateY, { width: 2.75 * PT_PER_IN, align: "right", lineBreak: false });
    doc.y = LAYOUT.bodyTopFirstPage;
    for (const p of mergeFields(template.body, r.fields).split("\n\n")) doc.text(p, margin, doc.y, { width, lineGap: 2 }).moveDown(0.8);
    doc.text("Sincerely,", margin, doc.y);
    doc.y += 0.35 * PT_PER_IN;
    doc.font("Helvetica-Bold").text(template.signer.name, margin, doc.y).font("Helvetica").text(template.signer.title, margin, doc.y);
    drain();
  }
  doc.end();
  drain();
  const ms = performance.now() - start;
  return { ms, cpuMs: cpuMs(cpu0), bytes };
}

/** CPU time (all threads: the JS thread, the GC's, zlib's) since `from`, in ms: steadier than wall time on a shared machine. */
function cpuMs(from: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(from);
  return (used.user + used.system) / 1000;
}

// ── Peak memory, in a fresh process per size ──────────────────────────────────────────────
function vmHwmKb(): number {
  const status = readFileSync("/proc/self/status", "utf8");
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]);
}

type ChildReport = { letters: number; pages: number; bytes: number; sinkBytes: number; sha256: string; ms: number; cpuMs: number; vmHwmKb: number; pageCounts: number[] };

/** In a fresh process: warm up, then render n letters; report the time, the peak RSS and each letter's page count. */
async function child(n: number) {
  await production(500);
  const pageCounts = new Uint8Array(n);
  const r = await production(n, pageCounts);
  const report: ChildReport = { letters: r.letters, pages: r.pages, bytes: r.bytes, sinkBytes: r.sinkBytes, sha256: r.sha256, ms: r.ms, cpuMs: r.cpuMs, vmHwmKb: vmHwmKb(), pageCounts: [...pageCounts] };
  console.log(JSON.stringify(report));
}

async function inChild(n: number): Promise<ChildReport> {
  const proc = Bun.spawn([process.execPath, import.meta.path, `--child=${n}`], { stdout: "pipe", stderr: "inherit" });
  const text = await new Response(proc.stdout).text();
  if ((await proc.exited) !== 0) throw new Error(`pdf bench child for ${n} letters failed`);
  return JSON.parse(text.trim().split("\n").pop()!);
}

// ── CSV validation ────────────────────────────────────────────────────────────────────────
function csvBytes(rows: number): Uint8Array {
  const lines = ["first_name,last_name,address1,address2,city,state,zip,appointment_date"];
  for (const r of recipients(rows)) {
    const f = r.fields;
    lines.push([f.first_name, f.last_name, `"${f.address1}"`, f.address2, f.city, f.state, f.zip, f.appointment_date].join(","));
  }
  return new TextEncoder().encode(lines.join("\r\n") + "\r\n");
}

function* chunks(bytes: Uint8Array, size = 64 * 1024): Generator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function toAsync<T>(it: Iterable<T>): Promise<AsyncIterable<T>> {
  return (async function* () { yield* it; })();
}

// ── The report ────────────────────────────────────────────────────────────────────────────
export async function benchPdf(_stack?: BenchStack): Promise<string[]> {
  const lines = [`pdf: ${LETTERS.toLocaleString("en-US")} synthetic letters, production file (no watermark) vs raw pdfkit, same run`];
  // The production file is rendered in fresh child processes (their peak RSS is the memory
  // figure); the 50,000-letter child's time is the production rate, and its page counts let the
  // raw baseline print the same "Page i of n" footers. Both sides warm up on 500 letters first.
  const small = await inChild(SMALL);
  const prod = await inChild(LETTERS);
  await raw(500, new Uint8Array(prod.pageCounts.slice(0, 500)));
  const base = await raw(LETTERS, new Uint8Array(prod.pageCounts));
  const rate = (ms: number) => Math.round((LETTERS / ms) * 1000);
  const ratio = rate(prod.ms) / rate(base.ms);
  const mem = prod.vmHwmKb / small.vmHwmKb;
  lines.push(
    `  raw pdfkit → null sink             ${rate(base.ms).toLocaleString("en-US")} letters/s (${(base.bytes / 1e6).toFixed(0)} MB)`,
    `  renderLetters → counting sink      ${rate(prod.ms).toLocaleString("en-US")} letters/s (${prod.pages.toLocaleString("en-US")} pages, ${(prod.sinkBytes / 1e6).toFixed(0)} MB, SHA-256 ${prod.sha256.slice(0, 12)}…)`,
    `  ratio production/raw               ${ratio.toFixed(2)}x  (target ≥ 0.80x: ${ratio >= 0.8 ? "met" : "MISSED"}; wall time, the two measured one after the other)`,
    `  CPU per letter (all threads)       raw ${(base.cpuMs / LETTERS).toFixed(2)} ms, production ${(prod.cpuMs / LETTERS).toFixed(2)} ms: ratio ${(base.cpuMs / prod.cpuMs).toFixed(2)}x (less sensitive to other load)`,
    `  peak RSS (VmHWM, fresh process)    ${SMALL.toLocaleString("en-US")} letters: ${(small.vmHwmKb / 1024).toFixed(0)} MB; ${LETTERS.toLocaleString("en-US")} letters: ${(prod.vmHwmKb / 1024).toFixed(0)} MB`,
    `  ratio RSS 50k/5k                   ${mem.toFixed(2)}x  (target ≤ 1.20x: ${mem <= 1.2 ? "met" : "MISSED"})`,
  );
  if (prod.sinkBytes !== prod.bytes) lines.push(`  !! the sink counted ${prod.sinkBytes} bytes, renderLetters ${prod.bytes}`);

  const csv = csvBytes(CSV_ROWS);
  const parseStart = performance.now();
  let parsed = 0;
  const parser = parse({ bom: true, relax_column_count: true });
  const feed = (async () => { for (const c of chunks(csv)) if (!parser.write(Buffer.from(c))) await new Promise((r) => parser.once("drain", r)); parser.end(); })();
  for await (const _ of parser) parsed++;
  await feed;
  const parseMs = performance.now() - parseStart;
  const validateStart = performance.now();
  const report = await validateRecipients(await toAsync(chunks(csv)));
  const validateMs = performance.now() - validateStart;
  const valid = report.ok ? report.valid : 0;
  lines.push(
    `  CSV ${CSV_ROWS.toLocaleString("en-US")} rows (${(csv.length / 1e6).toFixed(1)} MB, in memory): csv-parse alone ${(parseMs / 1000).toFixed(2)} s (${parsed - 1} rows); validateRecipients ${(validateMs / 1000).toFixed(2)} s (${valid.toLocaleString("en-US")} valid), ratio ${(parseMs / validateMs).toFixed(2)}x`,
    `  validation share of the 5 s proof budget: ${((validateMs / 5000) * 100).toFixed(0)}%${validateMs > 5000 ? " (MISSED: over the whole budget)" : ""}`,
  );
  return lines;
}

if (import.meta.main) {
  const arg = process.argv.find((a) => a.startsWith("--child="));
  if (arg) await child(Number(arg.slice("--child=".length)));
  else console.log((await benchPdf()).join("\n"));
}
