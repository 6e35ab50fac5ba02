// Reading back what a (compressed) pdfkit PDF draws: each content stream inflated, each TJ's hex
// strings decoded, one line per TJ (kerning splits a line into several strings, joined here).
import { inflateSync } from "node:zlib";

export function inflatedText(pdf: Buffer): string {
  const raw = pdf.toString("latin1");
  const streams = [...raw.matchAll(/stream\n([\s\S]*?)\nendstream/g)].map((m) => {
    try {
      return inflateSync(Buffer.from(m[1]!, "latin1")).toString("latin1");
    } catch {
      return "";
    }
  });
  return streams.flatMap((s) => [...s.matchAll(/\[([^\]]*)\] TJ/g)].map((m) =>
    [...m[1]!.matchAll(/<([0-9a-f]*)>/g)].map((h) => Buffer.from(h[1]!, "hex").toString("latin1")).join(""))).join("\n");
}
