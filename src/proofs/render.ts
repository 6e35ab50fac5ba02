// A whole mailing as one PDF, streamed: letters are drawn one at a time, each letter's pages are
// flushed to the output as soon as its footers are written, and the bytes are hashed on the way
// out. Memory stays bounded by one letter plus the output's own buffer (we wait for 'drain'),
// whatever the number of recipients — the real pipeline streams into a block blob, never to disk.
import { createHash } from "node:crypto";
import type { Writable } from "node:stream";
import PDFDocument from "pdfkit";
import { checkAddress, drawLetter, latin1, matchCode, recipientLines, returnLines, type Address, type EnvelopeCheck, type LetterTemplate, type Letterhead, type OpenedImages } from "./layout.ts";
import type { Recipient } from "./recipients.ts";

export type RenderJob = { reference: string; title: string; returnAddress: Address; date: string };

export type LetterResult = { seq: number; matchCode: string; pages: number; envelope: EnvelopeCheck; replaced: number };

export type RenderOptions = {
  job: RenderJob;
  letterhead: Letterhead;
  template: LetterTemplate;
  recipients: AsyncIterable<Pick<Recipient, "seq" | "fields">> | Iterable<Pick<Recipient, "seq" | "fields">>;
  watermark: boolean;
  out: Writable;
  onLetter?: (letter: LetterResult) => void | Promise<void>;
  /** Tests read the content streams back; production compresses. */
  compress?: boolean;
  /** Fixed document dates make the bytes (and the hash) reproducible. */
  now?: Date;
  /** Pages drawn before the letters (a proof's cover); they count in `pages`, not in `letters`. */
  cover?: (doc: InstanceType<typeof PDFDocument>) => void;
};

export type RenderResult = { letters: number; pages: number; bytes: number; sha256: string; returnAddress: EnvelopeCheck };

export async function renderLetters(options: RenderOptions): Promise<RenderResult> {
  const { job, out } = options;
  const now = options.now ?? new Date();
  const doc = new PDFDocument({
    autoFirstPage: false,
    // One letter's pages are held until its footers are written, then flushed (see below).
    bufferPages: true,
    compress: options.compress ?? true,
    info: { Title: latin1(`${job.reference} ${job.title}`).text, Author: "PatientLetterHub", Creator: "PatientLetterHub", CreationDate: now, ModDate: now },
  });

  // pdfkit pushes every object into its Readable side as it is written and ignores backpressure.
  // We keep it paused and drain it ourselves after each letter (read() hands back everything
  // buffered, as one chunk), so the bytes go to the hash and the output at once — left flowing,
  // the buffer would only empty when the event loop turns, i.e. never during a synchronous run
  // of letters — and the render loop then waits for the output's 'drain'.
  const hash = createHash("sha256");
  let bytes = 0;
  let failed: Error | null = null;
  out.on("error", (error) => { failed = error; });
  const pump = () => {
    let chunk: Buffer | null;
    while ((chunk = doc.read() as Buffer | null) !== null) {
      hash.update(chunk);
      bytes += chunk.length;
      out.write(chunk);
    }
  };

  const images: OpenedImages = {};
  const open = (doc as unknown as { openImage(src: Buffer): unknown }).openImage.bind(doc);
  if (options.letterhead.logo) images.logo = open(Buffer.from(options.letterhead.logo));
  if (options.template.signer.image) images.signature = open(Buffer.from(options.template.signer.image));

  const returnAddress = checkAddress(doc, returnLines(job.returnAddress), "return");
  let coverPages = 0;
  if (options.cover) {
    options.cover(doc);
    coverPages = doc.bufferedPageRange().count;
    doc.flushPages();
    releaseFlushedPages(doc);
    pump();
  }
  let letters = 0;
  let pages = 0;
  for await (const recipient of options.recipients) {
    if (failed) break;
    const lines = recipientLines(recipient.fields);
    const code = matchCode(job.reference, recipient.seq);
    const drawn = drawLetter(doc, {
      matchCode: code, date: job.date, returnAddress: job.returnAddress, recipientLines: lines,
      letterhead: options.letterhead, template: options.template, fields: recipient.fields, images, watermark: options.watermark,
    });
    const envelope = checkAddress(doc, lines, "recipient");
    doc.flushPages();
    releaseFlushedPages(doc);
    pump();
    letters++;
    pages += drawn.pages;
    await options.onLetter?.({ seq: recipient.seq, matchCode: code, pages: drawn.pages, envelope, replaced: drawn.replaced });
    if (out.writableNeedDrain) await drained(out);
  }
  if (failed) throw failed;
  doc.end();
  pump();
  await new Promise<void>((resolve, reject) => {
    if (failed) return reject(failed);
    out.once("error", reject);
    out.end(() => resolve());
  });
  return { letters, pages: pages + coverPages, bytes, sha256: hash.digest("hex"), returnAddress };
}

/** Resolves when the output has room again (or has failed: the loop then stops on `failed`). */
function drained(out: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => { out.off("drain", done); out.off("error", done); resolve(); };
    out.on("drain", done);
    out.on("error", done);
  });
}

type Ref = { id: number; gen: number; data: unknown };
const released = new WeakMap<object, number>();

/**
 * pdfkit keeps every page's dictionary (and, through it, its resources and content objects) in the
 * page tree until the document ends, only to print "n 0 R" for each. After a page is written we
 * swap that entry for a bare reference with the same id, so a 50,000-letter file does not hold
 * 50,000 pages' dictionaries in memory. (Relies on pdfkit internals: `_root.data.Pages.data.Kids`
 * holding PDFReference objects whose toString() is "id gen R"; tests check the page tree.)
 */
function releaseFlushedPages(doc: InstanceType<typeof PDFDocument>) {
  const root = (doc as unknown as { _root: { data: { Pages: { data: { Kids: Ref[] } } } } })._root;
  const kids = root.data.Pages.data.Kids;
  const flushed = doc.bufferedPageRange().start;
  for (let i = released.get(doc) ?? 0; i < flushed; i++) {
    const ref = kids[i]!;
    kids[i] = Object.assign(Object.create(Object.getPrototypeOf(ref)), { id: ref.id, gen: ref.gen });
  }
  released.set(doc, flushed);
}
