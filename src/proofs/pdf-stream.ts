// What lets one PDFDocument hold 50,000 letters in bounded memory and at pdfkit's own speed or
// better. Three adjustments to pdfkit internals (0.20), each checked by tests/pdf-stream.test.ts
// against plain pdfkit output, byte for byte:
//  - the output is taken where pdfkit writes it (`_write`), packed into large chunks, hashed and
//    handed to the output stream, instead of going through pdfkit's Readable buffer one small
//    Buffer per write (at the end that buffer held the whole cross-reference table: 300,000
//    entries for 50,000 letters, the peak of the process);
//  - the page tree keeps pages' object numbers, not their dictionaries (and contents, resources);
//  - the standard fonts' metrics (widths, kerning, WinAnsi codes) come from tables built once per
//    font instead of a string-keyed lookup per glyph pair; the numbers are pdfkit's own.
import { createHash } from "node:crypto";
import type { Writable } from "node:stream";
import type PDFDocument from "pdfkit";

type Doc = InstanceType<typeof PDFDocument>;

/** pdfkit's private parts used here (pdfkit 0.20). */
type DocInternals = {
  _write(data: string | Uint8Array): void;
  _offset: number;
  _waiting: number;
  _offsets: number[];
  _finalize(): void;
  _root: { data: { Pages: { data: { Kids: Ref[] } } } };
  _font: unknown;
  font(...args: unknown[]): Doc;
  read(): Buffer | null;
};
type Ref = { id: number; gen: number };

const CHUNK_BYTES = 256 * 1024;
/** A cross-reference entry with offset 0; the offset's digits replace the leading zeros. */
const XREF_LINE = Buffer.from("0000000000 00000 n \n", "latin1");

export type PdfStream = {
  /** Bytes handed to the output so far. */
  readonly bytes: number;
  /** Hands what was written since the last flush to the output (after each letter). */
  flush(): void;
  /** After doc.end(): the last bytes out, and the SHA-256 of the whole file. */
  finish(): { bytes: number; sha256: string };
};

/**
 * From now on, everything `doc` writes is packed into chunks of CHUNK_BYTES and goes to `out`,
 * hashed, at each flush(). The caller flushes after each letter and waits for the output's 'drain'
 * between letters (pdfkit itself ignores backpressure).
 */
export function streamPdf(doc: Doc, out: Writable): PdfStream {
  const d = doc as unknown as DocInternals;
  const hash = createHash("sha256");
  // Bytes [start, used) of the chunk are written but not yet handed out. A flush hands out a view
  // of them and keeps filling the rest of the same chunk: the output may keep what it was given
  // (a block being staged), so a full chunk is never reused, a fresh one is taken.
  let chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  let start = 0;
  let used = 0;
  let bytes = 0;
  const send = (data: Uint8Array) => {
    hash.update(data);
    bytes += data.length;
    out.write(data);
  };
  const flush = () => {
    if (used === start) return;
    send(chunk.subarray(start, used));
    start = used;
  };
  const room = (length: number) => {
    if (length <= CHUNK_BYTES - used) return true;
    flush();
    if (length > CHUNK_BYTES) return false;
    chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    start = used = 0;
    return true;
  };
  const writeBytes = (data: Uint8Array) => {
    // A large stream (a deflated page, an image) goes out as it is: pdfkit does not reuse it.
    if (data.length >= CHUNK_BYTES / 2 || !room(data.length)) {
      flush();
      return send(data);
    }
    chunk.set(data, used);
    used += data.length;
  };
  // pdfkit writes strings as "binary" text plus a newline, one byte per UTF-16 unit (its
  // fromBinaryString keeps the low byte): exactly Buffer's latin1 encoding.
  d._write = (data) => {
    if (typeof data === "string") {
      const length = data.length + 1;
      if (!room(length)) {
        writeBytes(Buffer.from(`${data}\n`, "latin1"));
        d._offset += length;
        return;
      }
      used += chunk.write(data, used, "latin1");
      chunk[used++] = 0x0a;
      d._offset += length;
    } else {
      writeBytes(data);
      d._offset += data.length;
    }
  };
  // The cross-reference table: one 20-byte line per object (300,000 for 50,000 letters), written
  // straight into the chunk. pdfkit's _finalize writes its head, then walks `_offsets` formatting
  // each line as new strings; it is handed an empty walk of the same length instead, the lines
  // being written when the walk starts (same place, same bytes: "0000012345 00000 n \n").
  const finalize = d._finalize.bind(doc);
  d._finalize = () => {
    const offsets = d._offsets;
    d._offsets = {
      length: offsets.length,
      *[Symbol.iterator]() {
        for (const offset of offsets) {
          room(XREF_LINE.length);
          chunk.set(XREF_LINE, used);
          for (let i = used + 9, rest = offset; rest > 0; i--, rest = Math.floor(rest / 10)) chunk[i] = 0x30 + (rest % 10);
          used += XREF_LINE.length;
          d._offset += XREF_LINE.length;
        }
      },
    } as unknown as number[];
    finalize();
  };
  // The header pdfkit wrote in its constructor is still in its Readable buffer.
  for (let early = d.read(); early !== null; early = d.read()) writeBytes(early);
  return {
    get bytes() {
      return bytes + used - start;
    },
    flush,
    finish() {
      // Every object pdfkit opened must have been written, or the file would be cut short.
      if (d._waiting !== 0) throw new Error(`pdfkit left ${d._waiting} PDF objects unwritten`);
      flush();
      return { bytes, sha256: hash.digest("hex") };
    },
  };
}

/**
 * pdfkit keeps every page's dictionary (and through it its resources and content objects) in the
 * page tree's Kids array until the document ends, only to print "n 0 R" for each. The array is
 * replaced by a list of the pages' object numbers (4 bytes a page) that prints the same text.
 * Call before the first page. pdfkit features that look pages up by index in Kids (outline items
 * or links given a page number) are not used by the letters and would not work.
 */
export function compactPageTree(doc: Doc): void {
  const pages = (doc as unknown as DocInternals)._root.data.Pages.data;
  if (pages.Kids.length !== 0) throw new Error("compactPageTree: the document already has pages");
  let ids = new Int32Array(1024);
  let count = 0;
  // A reference's prototype: pdfkit's serializer prints any reference with its toString().
  const kids = Object.create(Object.getPrototypeOf((doc as unknown as DocInternals)._root)) as { push(page: Ref): void; toString(): string; length: number };
  Object.defineProperties(kids, {
    length: { get: () => count },
    push: {
      value: (page: Ref) => {
        if (page.gen !== 0) throw new Error("compactPageTree: pdfkit wrote a page with a generation number");
        if (count === ids.length) {
          const grown = new Int32Array(ids.length * 2);
          grown.set(ids);
          ids = grown;
        }
        ids[count++] = page.id;
      },
    },
    toString: {
      value: () => {
        const parts = new Array<string>(count);
        for (let i = 0; i < count; i++) parts[i] = `${ids[i]} 0 R`;
        return `[${parts.join(" ")}]`;
      },
    },
  });
  pages.Kids = kids as unknown as Ref[];
}

// ── Standard font metrics ─────────────────────────────────────────────────────────────────────

/** pdfkit's StandardFont (the 14 PDF fonts) and its AFM metrics: the parts read or replaced. */
type StandardFont = {
  name: string;
  font: {
    characterToGlyph(code: number): string;
    widthOfGlyph(glyph: string): number;
    getKernPair(left: string, right: string | undefined): number;
    encodeText(text: string): string[];
  };
  widthOfString(text: string, size: number, features?: unknown): number;
  encode(text: string, features?: unknown): [string[], GlyphPosition[]];
};
type GlyphPosition = { xAdvance: number; yAdvance: number; xOffset: number; yOffset: number; advanceWidth: number };

/** Per Latin-1 code: the glyph's width, its WinAnsi code in hex, and the kerning before each next code. */
type Metrics = { width: Float64Array; hex: string[]; kern: Float64Array };

const metricsByFont = new Map<string, Metrics>();

function metricsOf(font: StandardFont): Metrics {
  let m = metricsByFont.get(font.name);
  if (m) return m;
  const afm = font.font;
  const glyphs = Array.from({ length: 256 }, (_, c) => afm.characterToGlyph(c));
  const width = Float64Array.from(glyphs, (g) => afm.widthOfGlyph(g));
  const hex = Array.from({ length: 256 }, (_, c) => afm.encodeText(String.fromCharCode(c))[0]!);
  const kern = new Float64Array(256 * 256);
  for (let l = 0; l < 256; l++) for (let r = 0; r < 256; r++) kern[l * 256 + r] = afm.getKernPair(glyphs[l]!, glyphs[r]!);
  m = { width, hex, kern };
  metricsByFont.set(font.name, m);
  return m;
}

const LATIN1_ONLY = /^[\x00-\xFF]*$/;
const fast = new WeakSet<object>();

/** The same numbers as StandardFont.widthOfString/encode, from tables; other text goes to pdfkit. */
function speedUp(font: StandardFont): void {
  const m = metricsOf(font);
  const { width, hex, kern } = m;
  const slowWidth = font.widthOfString.bind(font);
  const slowEncode = font.encode.bind(font);
  // Same sum in the same order as pdfkit: advance_i = width(glyph_i) + kern(glyph_i, glyph_i+1).
  const advance = (text: string, i: number, code: number) => width[code]! + (i + 1 < text.length ? kern[code * 256 + text.charCodeAt(i + 1)]! : 0);
  font.widthOfString = (text, size, features) => {
    if (!LATIN1_ONLY.test(text)) return slowWidth(text, size, features);
    let w = 0;
    for (let i = 0; i < text.length; i++) w += advance(text, i, text.charCodeAt(i));
    return w * (size / 1000);
  };
  font.encode = (text, features) => {
    if (!LATIN1_ONLY.test(text)) return slowEncode(text, features);
    const encoded = new Array<string>(text.length);
    const positions = new Array<GlyphPosition>(text.length);
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      encoded[i] = hex[code]!;
      positions[i] = { xAdvance: advance(text, i, code), yAdvance: 0, xOffset: 0, yOffset: 0, advanceWidth: width[code]! };
    }
    return [encoded, positions];
  };
  fast.add(font);
}

/** Every standard font `doc` opens from now on measures and encodes text from tables. */
export function fastStandardFonts(doc: Doc): void {
  const d = doc as unknown as DocInternals;
  const open = d.font.bind(doc);
  const adopt = () => {
    const font = d._font as StandardFont | null;
    // Embedded (TrueType) fonts have no AFM metrics (`font.font.getKernPair`): left to pdfkit.
    if (font && !fast.has(font) && typeof font.font?.getKernPair === "function" && typeof font.font.encodeText === "function") speedUp(font);
  };
  adopt();
  d.font = (...args: unknown[]) => {
    const result = open(...args);
    adopt();
    return result;
  };
}
