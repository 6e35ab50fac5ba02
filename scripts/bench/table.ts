// The one table `bun run bench` prints at the end: a row per measured figure with its baseline
// from the same run, their ratio and the target, MET or MISSED (or "—" where the issue
// sets no target). A benchmark returns its rows beside its detailed lines; for one that returns
// lines only, rows are read from its lines that name a target and say met or MISSED.

export type BenchRow = { path: string; figure: string; baseline: string; ratio: string; target: string; met: boolean | null };

export type BenchResult = string[] | { lines: string[]; rows: BenchRow[] };

export function linesOf(result: BenchResult): string[] {
  return Array.isArray(result) ? result : result.lines;
}

/** Rows a benchmark gave, or read from its lines (its own reader below, else the generic one). */
export function rowsOf(name: string, result: BenchResult): BenchRow[] {
  if (!Array.isArray(result)) return result.rows;
  const rows = READERS[name]?.(result) ?? generic(name, result);
  return rows.length ? rows : [{ path: `${name}: (no target line found; see its output above)`, figure: "", baseline: "", ratio: "", target: "", met: null }];
}

/** The first match of `re` in any line, or null. */
function find(lines: string[], re: RegExp): RegExpExecArray | null {
  for (const line of lines) {
    const m = re.exec(line);
    if (m) return m;
  }
  return null;
}
const verdictOf = (word: string) => word.toLowerCase() === "met";

// Readers for the benchmarks that return lines only, written against the lines they print today;
// when a line changes shape the reader returns null and the generic reader takes over.
const READERS: Record<string, (lines: string[]) => BenchRow[] | null> = {
  pdf(lines) {
    const raw = find(lines, /raw pdfkit → null sink\s+([\d,]+) letters\/s/);
    const prod = find(lines, /renderLetters → counting sink\s+([\d,]+) letters\/s/);
    const ratio = find(lines, /ratio production\/raw\s+([\d.]+x)\s+\(target (≥ [\d.]+x): (met|MISSED)/);
    const rss = find(lines, /peak RSS \(VmHWM, fresh process\)\s+([\d,]+) letters: (\d+ MB); ([\d,]+) letters: (\d+ MB)/);
    const rssRatio = find(lines, /ratio RSS \S+\s+([\d.]+x)\s+\(target (≤ [\d.]+x): (met|MISSED)/);
    if (!raw || !prod || !ratio || !rss || !rssRatio) return null;
    return [
      { path: "pdf: production letter file, 50,000 letters", figure: `${prod[1]} letters/s`, baseline: `${raw[1]} letters/s (raw pdfkit)`, ratio: ratio[1]!, target: ratio[2]!, met: verdictOf(ratio[3]!) },
      { path: `pdf: peak RSS at ${rss[3]} letters`, figure: rss[4]!, baseline: `${rss[2]} (at ${rss[1]} letters)`, ratio: rssRatio[1]!, target: rssRatio[2]!, met: verdictOf(rssRatio[3]!) },
    ];
  },
  proof(lines) {
    const floor = find(lines, /csv-parse alone over the same bytes\s+([\d.]+ s)/);
    const proof = find(lines, /proof rendered \(survey \+ PDF \+ blob\)\s+([\d.]+ s)\s+= ([\d.]+×)/);
    const target = find(lines, /target (≤ [\d.]+ s)\s+(met|MISSED)/);
    if (!floor || !proof || !target) return null;
    return [{ path: "proof: proof of a 100,000-row list ready", figure: proof[1]!, baseline: `${floor[1]} (csv-parse alone)`, ratio: proof[2]!, target: target[1]!, met: verdictOf(target[2]!) }];
  },
  purge(lines) {
    const head = find(lines, /^purge: ([\d,]+) completed jobs/);
    const raw = find(lines, /= ([\d,]+) blobs\/s\s+← baseline/);
    const sweep = find(lines, /job-purge sweep .*= ([\d,]+) blobs\/s\s*$/);
    const ratio = find(lines, /ratio ([\d.]+×)\s+target (≥ [\d.]+×)\s+(MET|MISSED)/);
    if (!head || !raw || !sweep || !ratio) return null;
    return [{ path: `purge: job-purge sweep, ${head[1]} jobs × 3 blobs`, figure: `${sweep[1]} blobs/s`, baseline: `${raw[1]} blobs/s (raw Blob batch delete)`, ratio: ratio[1]!, target: ratio[2]!, met: verdictOf(ratio[3]!) }];
  },
};

/** Any line that names a target and says met or MISSED becomes a row with what it shows. */
function generic(name: string, lines: string[]): BenchRow[] {
  const rows: BenchRow[] = [];
  for (const line of lines) {
    const verdict = /\b(met|MET|MISSED)\b/.exec(line);
    const target = /target\s*([≥≤<>]=?\s*[\d.,]+\s*(?:[x×]|ms|s|MB)?)/.exec(line);
    if (!verdict || !target) continue;
    rows.push({ path: `${name}: ${line.slice(0, target.index).replace(/[(:\s]+$/, "").trim()}`, figure: "", baseline: "", ratio: "", target: target[1]!.trim(), met: verdictOf(verdict[1]!) });
  }
  return rows;
}

export function formatTable(rows: BenchRow[]): string[] {
  const head = ["path", "figure", "baseline", "ratio", "target", "verdict"];
  const cells = rows.map((r) => [r.path, r.figure || "—", r.baseline || "—", r.ratio || "—", r.target || "—", r.met === null ? "—" : r.met ? "MET" : "MISSED"]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((v, i) => v.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...cells.map(line)];
}
