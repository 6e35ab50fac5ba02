// The print file's speed and memory adjustments to pdfkit (src/proofs/pdf-stream.ts) must not
// change a single byte: renderLetters is compared with the same letters drawn on a plain pdfkit
// document read through its own stream, and the table-driven font metrics with pdfkit's.
// Synthetic people only; nothing is written to disk.
import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { Writable } from "node:stream";
import PDFDocument from "pdfkit";
import { drawCover } from "../src/proofs/cover.ts";
import { checkAddress, drawLetter, latin1, matchCode, recipientLines, returnLines, type OpenedImages } from "../src/proofs/layout.ts";
import { fastStandardFonts } from "../src/proofs/pdf-stream.ts";
import { renderLetters, type RenderOptions } from "../src/proofs/render.ts";
import { png } from "./support/png.ts";


const NAMES = ["Zoë", "Ångström", "Renée", "Jürgen", "Œuvre", "Łukasz", "Avery", "Niño"];
const recipients = (n: number) => Array.from({ length: n }, (_, i) => ({
  seq: i + 1,
  fields: {
    first_name: NAMES[i % NAMES.length]!, last_name: `Testperson${i + 1}`, address1: `${100 + i} Rue de l'Église`, address2: i % 3 ? "" : `Apt ${i}`,
    city: "Springfield", state: "IL", zip: "62704", note: i % 5 ? "café, naïve — “quoted” €5" : "plain",
  },
}));
const paragraph = "We are writing to let you know about a change at the practice: AVAWAY, Tyrannosaurus, Wolf & Yak. Your records remain safe. ";

function options(n: number, over: Partial<RenderOptions> = {}): Omit<RenderOptions, "out"> {
  return {
    job: { reference: "PLH-2026-000777", title: "Practice closure", date: "March 3, 2026", returnAddress: { name: "Lakeside Family Medicine", line1: "12 Harbor Street", line2: "Suite 200", city: "Portland", state: "ME", zip: "04101" } },
    letterhead: { name: "Lakeside Family Medicine", phone: "(207) 555-0100", logo: png(40, 20) },
    template: { body: ["Dear {{first_name}} {{last_name}},", ...Array.from({ length: 6 }, () => paragraph.repeat(3)), "Note: {{note}}"].join("\n\n"), signer: { name: "Dana Example, MD", title: "Medical Director", image: png(30, 10) } },
    recipients: recipients(n),
    watermark: false,
    now: new Date("2026-03-03T12:00:00Z"),
    ...over,
  };
}

/** The same letters as renderLetters draws them, on a plain pdfkit document read through its stream. */
async function plainPdfkit(o: Omit<RenderOptions, "out">): Promise<Buffer> {
  const now = o.now!;
  const doc = new PDFDocument({
    autoFirstPage: false, bufferPages: true, compress: o.compress ?? true,
    info: { Title: latin1(`${o.job.reference} ${o.job.title}`).text, Author: "PatientLetterHub", Creator: "PatientLetterHub", CreationDate: now, ModDate: now },
  });
  const chunks: Buffer[] = [];
  doc.on("data", (c: Buffer) => chunks.push(c));
  const ended = new Promise((resolve) => doc.on("end", resolve));
  const open = (doc as unknown as { openImage(src: Buffer): unknown }).openImage.bind(doc);
  const images: OpenedImages = {};
  if (o.letterhead.logo) images.logo = open(Buffer.from(o.letterhead.logo));
  if (o.template.signer.image) images.signature = open(Buffer.from(o.template.signer.image));
  checkAddress(doc, returnLines(o.job.returnAddress), "return");
  if (o.cover) { o.cover(doc); doc.flushPages(); }
  for (const r of o.recipients as Iterable<{ seq: number; fields: Record<string, string> }>) {
    const lines = recipientLines(r.fields);
    drawLetter(doc, {
      matchCode: matchCode(o.job.reference, r.seq), date: o.job.date, returnAddress: o.job.returnAddress, recipientLines: lines,
      letterhead: o.letterhead, template: o.template, fields: r.fields, images, watermark: o.watermark,
    });
    checkAddress(doc, lines, "recipient");
    doc.flushPages();
  }
  doc.end();
  await ended;
  return Buffer.concat(chunks);
}

/** renderLetters into a sink that takes its time (a write every few ms, a small buffer). */
async function ours(o: Omit<RenderOptions, "out">) {
  const chunks: Buffer[] = [];
  let writes = 0;
  const out = new Writable({
    highWaterMark: 64 * 1024,
    write(chunk: Buffer, _e, done) { chunks.push(Buffer.from(chunk)); writes++; setTimeout(done, 1); },
  });
  const result = await renderLetters({ ...o, out } as RenderOptions);
  return { pdf: Buffer.concat(chunks), result, writes };
}

describe("renderLetters' adjustments to pdfkit change no byte", () => {
  test("a print file of 300 letters (compressed, images, accents) is byte for byte plain pdfkit's, with the hash and size it reports", async () => {
    const o = options(300);
    const [reference, mine] = await Promise.all([plainPdfkit(o), ours(o)]);
    expect(mine.pdf.length).toBeGreaterThan(600 * 1024); // several output chunks, so backpressure was met
    expect(mine.writes).toBeGreaterThan(2);
    expect(mine.pdf.equals(reference)).toBe(true);
    expect(mine.result.bytes).toBe(reference.length);
    expect(mine.result.sha256).toBe(createHash("sha256").update(reference).digest("hex"));
    expect(mine.result.letters).toBe(300);
    const text = reference.toString("latin1");
    expect(Number(/\/Type \/Pages\n\/Count (\d+)/.exec(text)?.[1])).toBe(mine.result.pages);
    expect(text.endsWith("%%EOF\n")).toBe(true);
   }, 120_000); // a generous bound for a loaded machine; nothing here is timed

  test("a watermarked proof with a cover, uncompressed, is byte for byte plain pdfkit's", async () => {
    const cover = (doc: InstanceType<typeof PDFDocument>) => drawCover(doc, {
      reference: "PLH-2026-000777", practiceName: "Lakeside Family Medicine", letterType: "Practice closure", mailClass: "First-Class", version: 2,
      recipients: 13, valid: 12, invalid: 1, pagesPerLetter: 2, totalSheets: 24, inputsSha256: "a".repeat(64), envelopeFailures: 0, returnAddressOk: true,
      problems: [{ row: 4, reasons: ["the ZIP code is not valid"] }], sample: "The first five letters, the last and the longest address.", generatedAt: "2026-03-03T12:00:00Z",
    });
    const o = options(12, { watermark: true, compress: false, cover });
    const [reference, mine] = await Promise.all([plainPdfkit(o), ours(o)]);
    expect(mine.pdf.equals(reference)).toBe(true);
    // The watermark ("PROOF" at 150 pt, hex-encoded) and the cover are there.
    const text = reference.toString("latin1");
    expect(text.includes("/F2 150 Tf\n[<5052> 20 <4f4f46> 0] TJ")).toBe(true);
    expect(text.includes("/Count 25\n")).toBe(true);
  });
});

describe("table-driven font metrics", () => {
  const everyPair = (() => {
    const codes: number[] = [];
    for (let l = 32; l < 256; l++) for (let r = 32; r < 256; r++) codes.push(l, r);
    return String.fromCharCode(...codes);
  })();
  const samples = ["", "A", "AVAWAY Tyrannosaurus", "café naïve Œuvre", "“quoted” — €5 ‰", everyPair];

  for (const name of ["Helvetica", "Helvetica-Bold", "Times-Roman", "Courier-Oblique"]) {
    test(`${name}: widths and encodings are pdfkit's own, for every pair of Latin-1 characters and for other text`, () => {
      const plain = new PDFDocument({ autoFirstPage: false }).font(name);
      const fast = new PDFDocument({ autoFirstPage: false });
      fastStandardFonts(fast);
      fast.font(name);
      type Font = { widthOfString(t: string, s: number): number; encode(t: string): unknown };
      const a = (plain as unknown as { _font: Font })._font;
      const b = (fast as unknown as { _font: Font })._font;
      expect(b.widthOfString).not.toBe(a.widthOfString); // the fast path is in use
      for (const text of samples) {
        for (const size of [10, 11, 9.5]) expect(b.widthOfString(text, size)).toBe(a.widthOfString(text, size));
        expect(b.encode(text)).toEqual(a.encode(text));
      }
    });
  }
});
