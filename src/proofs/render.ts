// A whole mailing as one PDF, streamed: letters are drawn one at a time, each letter's pages are
// written as soon as its footers are, and the bytes are hashed on the way out (pdf-stream.ts).
// Memory stays bounded by one letter plus the output's own buffer (we wait for 'drain'),
// whatever the number of recipients — the real pipeline streams into a block blob, never to disk.
import type { Writable } from "node:stream";
import PDFDocument from "pdfkit";
import { checkAddress, drawLetter, latin1, matchCode, recipientLines, returnLines, type Address, type EnvelopeCheck, type LetterTemplate, type Letterhead, type OpenedImages } from "./layout.ts";
import { compactPageTree, fastStandardFonts, streamPdf } from "./pdf-stream.ts";
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

  // pdfkit ignores backpressure: its output is taken as it is written, handed on after each
  // letter, and the render loop waits for the output's 'drain' between letters.
  const output = streamPdf(doc, out);
  compactPageTree(doc);
  fastStandardFonts(doc);
  let failed: Error | null = null;
  out.on("error", (error) => { failed = error; });

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
    output.flush();
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
    output.flush();
    letters++;
    pages += drawn.pages;
    await options.onLetter?.({ seq: recipient.seq, matchCode: code, pages: drawn.pages, envelope, replaced: drawn.replaced });
    if (out.writableNeedDrain) await drained(out);
  }
  if (failed) throw failed;
  doc.end();
  const { bytes, sha256 } = output.finish();
  await new Promise<void>((resolve, reject) => {
    if (failed) return reject(failed);
    out.once("error", reject);
    out.end(() => resolve());
  });
  return { letters, pages: pages + coverPages, bytes, sha256, returnAddress };
}

/** Resolves when the output has room again (or has failed: the loop then stops on `failed`). */
function drained(out: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => { out.off("drain", done); out.off("error", done); resolve(); };
    out.on("drain", done);
    out.on("error", done);
  });
}
