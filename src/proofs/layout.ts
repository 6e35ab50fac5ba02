// One patient letter on US Letter paper, laid out for a #10 double-window envelope: the geometry
// (docs/letter-layout.md gives every number and its source), the function that draws one letter
// onto a pdfkit document, and the envelope check that proves the address shows through the window
// wherever the tri-folded sheet slides inside the envelope. Nothing here touches the disk, the
// network or a log: letters are PHI.
//
// Coordinates: pdfkit points (1/72 in), origin at the page's top-left corner, y growing downwards.
// Standard PDF fonts only (Helvetica): they encode Latin-1 (WinAnsi), so other characters print
// as "?" — the envelope check refuses an address that would lose characters that way.
import type PDFDocument from "pdfkit";

type Doc = InstanceType<typeof PDFDocument>;

export const PT_PER_IN = 72;
const inch = (n: number) => n * PT_PER_IN;

export type Box = { x: number; y: number; width: number; height: number };

// ── The envelope (Lob's published #10 double-window spec; see docs/letter-layout.md) ──────────
/** In inches, from the envelope's top-left corner, flap on top. */
export const ENVELOPE = {
  width: 9.5,
  height: 4.125,
  /** What a #10 holds: 9.25 × 3.875 in, i.e. 1/8 in lost to the seams and folds on each side. */
  interior: { left: 0.125, top: 0.125, width: 9.25, height: 3.875 },
  returnWindow: { x: 0.625, y: 4.125 - 2.375 - 0.875, width: 3.25, height: 0.875 },
  recipientWindow: { x: 0.625, y: 4.125 - 1 - 1, width: 4, height: 1 },
} as const;

/** US Letter, tri-folded into equal panels; the top panel (y 0 … 11/3 in) faces the windows. */
export const PAGE = { width: 8.5, height: 11, panel: 11 / 3 } as const;

/** DMM 601.6.3: 1/8 in of clear space around the delivery address at every insert position. */
export const ADDRESS_CLEARANCE = 0.125;

/**
 * How far the sheet's top-left corner can sit from the envelope's top-left corner, in inches.
 * The folded sheet (8.5 × 3.667 in) moves freely inside the interior (9.25 × 3.875 in).
 */
export const SHIFT = {
  x: { min: ENVELOPE.interior.left, max: ENVELOPE.interior.left + ENVELOPE.interior.width - PAGE.width },
  y: { min: ENVELOPE.interior.top, max: ENVELOPE.interior.top + ENVELOPE.interior.height - PAGE.panel },
} as const;

type InchBox = { x: number; y: number; width: number; height: number };

/** The part of the page that shows through `window` whatever the shift, less `clearance`. */
function alwaysVisible(window: InchBox, clearance: number): Box {
  const x0 = window.x + clearance - SHIFT.x.min;
  const x1 = window.x + window.width - clearance - SHIFT.x.max;
  const y0 = window.y + clearance - SHIFT.y.min;
  const y1 = window.y + window.height - clearance - SHIFT.y.max;
  return { x: inch(x0), y: inch(y0), width: inch(x1 - x0), height: inch(y1 - y0) };
}

/** The part of the page that can show through `window` at some shift: nothing else may go there. */
function everVisible(window: InchBox): Box {
  const x0 = Math.max(0, window.x - SHIFT.x.max);
  const x1 = window.x + window.width - SHIFT.x.min;
  const y0 = window.y - SHIFT.y.max;
  const y1 = window.y + window.height - SHIFT.y.min;
  return { x: inch(x0), y: inch(y0), width: inch(x1 - x0), height: inch(y1 - y0) };
}

/** Page boxes, in points. */
export const ZONES = {
  /** Where the delivery address must sit (1/8 in clearance at both ends of every shift). */
  recipientSafe: alwaysVisible(ENVELOPE.recipientWindow, ADDRESS_CLEARANCE),
  /** Where the return address must sit (inside the window at every shift; the 1/8 in rule is for the delivery address). */
  returnSafe: alwaysVisible(ENVELOPE.returnWindow, 0),
  /** Everything that can ever show through each window: only its address may be drawn there. */
  recipientKeepOut: everVisible(ENVELOPE.recipientWindow),
  returnKeepOut: everVisible(ENVELOPE.returnWindow),
} as const;

// ── The page ───────────────────────────────────────────────────────────────────────────────
export const FONT = "Helvetica";
export const FONT_BOLD = "Helvetica-Bold";
/** Address blocks: 10 pt with pdfkit's natural Helvetica leading (11.56 pt a line). */
export const ADDRESS_FONT_SIZE = 10;
export const BODY_FONT_SIZE = 11;
export const SMALL_FONT_SIZE = 10; // footer, letterhead lines: nothing is printed below 10 pt
const MARGIN = inch(1);
/** Right of both keep-out zones (they end at 4.5 in), for the logo, letterhead and date. */
const RIGHT_COLUMN_X = inch(4.75);
const RIGHT_COLUMN_WIDTH = inch(PAGE.width) - MARGIN - RIGHT_COLUMN_X;
/** The body starts below the recipient window's keep-out zone (3.0 in), still on the top panel. */
const BODY_TOP_FIRST_PAGE = inch(3.25);
const FOOTER_Y = inch(10.35);

export const LAYOUT = {
  pageSize: [inch(PAGE.width), inch(PAGE.height)] as [number, number],
  margins: { top: MARGIN, bottom: MARGIN, left: MARGIN, right: MARGIN },
  returnAddress: { x: ZONES.returnSafe.x, y: ZONES.returnSafe.y },
  recipientAddress: { x: ZONES.recipientSafe.x, y: ZONES.recipientSafe.y },
  logo: { x: RIGHT_COLUMN_X, y: inch(0.5), width: RIGHT_COLUMN_WIDTH, height: inch(0.75) },
  letterheadY: inch(1.35),
  dateY: ZONES.recipientSafe.y,
  bodyTopFirstPage: BODY_TOP_FIRST_PAGE,
  footerY: FOOTER_Y,
} as const;

// ── Letters ────────────────────────────────────────────────────────────────────────────────
export type Address = { name: string; line1: string; line2?: string | null; city: string; state: string; zip: string };

export type Letterhead = { name: string; phone?: string | null; logo?: Uint8Array | null };
export type LetterTemplate = {
  /** Paragraphs separated by a blank line; `{{field}}` merge fields. */
  body: string;
  closing?: string;
  signer: { name: string; title: string; image?: Uint8Array | null };
};

/** Images opened once per document (pdfkit embeds each once and every page refers to it). */
export type OpenedImages = { logo?: unknown; signature?: unknown };

export type LetterInput = {
  matchCode: string;
  date: string;
  returnAddress: Address;
  recipientLines: string[];
  letterhead: Letterhead;
  template: LetterTemplate;
  fields: Record<string, string>;
  images: OpenedImages;
  watermark: boolean;
};

export type DrawnLetter = {
  /** Absolute page indexes (0-based) this letter occupies. */
  firstPage: number;
  pages: number;
  /** What was drawn on the first page, by kind: the tests compare these with the zones. */
  boxes: { kind: "return" | "recipient" | "logo" | "letterhead" | "date" | "body" | "signature" | "footer"; page: number; box: Box }[];
  /** Characters the standard font could not print and that became "?" (in merge values or text). */
  replaced: number;
};

const NOT_LATIN1 = /[^\x20-\x7E\xA0-\xFF\n]/g;

/** Characters the standard fonts (WinAnsi) can show; anything else becomes "?". */
export function latin1(text: string): { text: string; replaced: number } {
  let replaced = 0;
  const out = text.normalize("NFC").replace(/\t/g, " ").replace(/\r\n?/g, "\n").replace(NOT_LATIN1, () => (replaced++, "?"));
  return { text: out, replaced };
}

const MERGE_FIELD = /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g;

/** Fills `{{field}}` from the recipient's fields; a field the row does not have becomes empty. */
export function mergeFields(template: string, fields: Record<string, string>): string {
  return template.replace(MERGE_FIELD, (_, name: string) => fields[name.toLowerCase()] ?? "");
}

/** The recipient block as printed: name, street, optional second line, city/state/ZIP. */
export function recipientLines(f: Record<string, string>): string[] {
  const name = [f.first_name, f.last_name].filter(Boolean).join(" ");
  return [name, f.address1 ?? "", f.address2 ?? "", `${f.city ?? ""}, ${f.state ?? ""} ${f.zip ?? ""}`].filter((l) => l.trim() !== "");
}

export function returnLines(a: Address): string[] {
  return [a.name, a.line1, a.line2 ?? "", `${a.city}, ${a.state} ${a.zip}`].filter((l) => l.trim() !== "");
}

/** Job reference + recipient sequence: pages of different letters cannot be mixed up unnoticed. */
export function matchCode(reference: string, seq: number): string {
  return `${reference}-${String(seq).padStart(5, "0")}`;
}

function addressBlock(doc: Doc, lines: string[], x: number, y: number): Box {
  doc.font(FONT).fontSize(ADDRESS_FONT_SIZE).fillColor("#000000");
  let width = 0;
  let top = y;
  for (const line of lines) {
    const t = latin1(line).text;
    width = Math.max(width, doc.widthOfString(t));
    doc.text(t, x, top, { lineBreak: false });
    top += doc.currentLineHeight(true);
  }
  return { x, y, width, height: top - y };
}

/**
 * Draws one letter, starting on a new page. The caller buffers pages (bufferPages: true) so the
 * footers ("Page 1 of 2") can be written once the letter's length is known; it then flushes them.
 */
export function drawLetter(doc: Doc, input: LetterInput): DrawnLetter {
  doc.addPage({ size: LAYOUT.pageSize, margins: LAYOUT.margins });
  const firstPage = doc.bufferedPageRange().start + doc.bufferedPageRange().count - 1;
  const boxes: DrawnLetter["boxes"] = [];
  let replaced = 0;
  const clean = (s: string) => {
    const r = latin1(s);
    replaced += r.replaced;
    return r.text;
  };

  // Addresses, inside their windows' safe zones.
  boxes.push({ kind: "return", page: firstPage, box: addressBlock(doc, returnLines(input.returnAddress), LAYOUT.returnAddress.x, LAYOUT.returnAddress.y) });
  boxes.push({ kind: "recipient", page: firstPage, box: addressBlock(doc, input.recipientLines, LAYOUT.recipientAddress.x, LAYOUT.recipientAddress.y) });

  // Logo and letterhead in the right column, clear of both windows.
  if (input.images.logo) {
    const l = LAYOUT.logo;
    doc.image(input.images.logo as PDFKit.Mixins.ImageSrc, l.x, l.y, { fit: [l.width, l.height], align: "right", valign: "center" });
    boxes.push({ kind: "logo", page: firstPage, box: { ...l } });
  }
  doc.font(FONT_BOLD).fontSize(SMALL_FONT_SIZE);
  const head = [clean(input.letterhead.name), input.letterhead.phone ? clean(input.letterhead.phone) : ""].filter(Boolean).join("\n");
  const headHeight = doc.heightOfString(head, { width: RIGHT_COLUMN_WIDTH, align: "right" });
  doc.text(head, RIGHT_COLUMN_X, LAYOUT.letterheadY, { width: RIGHT_COLUMN_WIDTH, align: "right" });
  boxes.push({ kind: "letterhead", page: firstPage, box: { x: RIGHT_COLUMN_X, y: LAYOUT.letterheadY, width: RIGHT_COLUMN_WIDTH, height: headHeight } });

  doc.font(FONT).fontSize(BODY_FONT_SIZE);
  doc.text(clean(input.date), RIGHT_COLUMN_X, LAYOUT.dateY, { width: RIGHT_COLUMN_WIDTH, align: "right", lineBreak: false });
  boxes.push({ kind: "date", page: firstPage, box: { x: RIGHT_COLUMN_X, y: LAYOUT.dateY, width: RIGHT_COLUMN_WIDTH, height: doc.currentLineHeight(true) } });

  // The body: pdfkit wraps each paragraph to the text width and continues on new pages by itself.
  const width = inch(PAGE.width) - 2 * MARGIN;
  doc.x = MARGIN;
  doc.y = LAYOUT.bodyTopFirstPage;
  const paragraphs = mergeFields(input.template.body, input.fields).replace(/\r\n?/g, "\n").split(/\n[ \t]*\n+/).map((p) => p.trim()).filter(Boolean);
  for (const paragraph of paragraphs) {
    const page = currentPage(doc);
    const y = doc.y;
    doc.font(FONT).fontSize(BODY_FONT_SIZE).text(clean(paragraph), MARGIN, doc.y, { width, lineGap: 2 });
    boxes.push({ kind: "body", page, box: { x: MARGIN, y, width, height: (currentPage(doc) === page ? doc.y : inch(PAGE.height) - MARGIN) - y } });
    doc.moveDown(0.8);
  }

  // Signature block, kept in one piece: closing, optional image, name, title.
  const imageHeight = input.images.signature ? inch(0.6) : inch(0.35);
  const blockHeight = doc.currentLineHeight(true) * 3 + imageHeight + 8;
  if (doc.y + blockHeight > inch(PAGE.height) - MARGIN) doc.addPage({ size: LAYOUT.pageSize, margins: LAYOUT.margins });
  const signatureTop = doc.y;
  doc.font(FONT).fontSize(BODY_FONT_SIZE).text(clean(input.template.closing ?? "Sincerely,"), MARGIN, doc.y);
  if (input.images.signature) {
    doc.image(input.images.signature as PDFKit.Mixins.ImageSrc, MARGIN, doc.y + 2, { fit: [inch(2.5), imageHeight - 4], valign: "center" });
  }
  doc.y += imageHeight;
  doc.font(FONT_BOLD).text(clean(input.template.signer.name), MARGIN, doc.y);
  doc.font(FONT).text(clean(input.template.signer.title), MARGIN, doc.y);
  boxes.push({ kind: "signature", page: currentPage(doc), box: { x: MARGIN, y: signatureTop, width: inch(2.5), height: doc.y - signatureTop } });

  // Now the length is known: footers (match code, page n of N) and the watermark on every page.
  const pages = currentPage(doc) - firstPage + 1;
  for (let i = 0; i < pages; i++) {
    doc.switchToPage(firstPage + i);
    boxes.push({ kind: "footer", page: firstPage + i, box: footer(doc, input.matchCode, i + 1, pages) });
    if (input.watermark) watermark(doc);
  }
  return { firstPage, pages, boxes, replaced };
}

function currentPage(doc: Doc): number {
  const range = doc.bufferedPageRange();
  // pdfkit keeps `page` pointing at the page being written; its index is its place in the buffer.
  const buffered = (doc as unknown as { _pageBuffer: unknown[] })._pageBuffer;
  return range.start + buffered.indexOf(doc.page);
}

function footer(doc: Doc, code: string, page: number, of: number): Box {
  const bottom = doc.page.margins.bottom;
  doc.page.margins.bottom = 0; // writing in the margin must not start a new page
  const width = inch(PAGE.width) - 2 * MARGIN;
  doc.font(FONT).fontSize(SMALL_FONT_SIZE).fillColor("#333333");
  doc.text(code, MARGIN, LAYOUT.footerY, { width, align: "left", lineBreak: false });
  doc.text(`Page ${page} of ${of}`, MARGIN, LAYOUT.footerY, { width, align: "right", lineBreak: false });
  doc.fillColor("#000000");
  doc.page.margins.bottom = bottom;
  return { x: MARGIN, y: LAYOUT.footerY, width, height: doc.currentLineHeight(true) };
}

export const WATERMARK_TEXT = "PROOF";

/** A large, light, diagonal "PROOF" across the page (proofs only, never the production file). */
function watermark(doc: Doc) {
  const cx = inch(PAGE.width) / 2;
  const cy = inch(PAGE.height) / 2;
  const bottom = doc.page.margins.bottom;
  doc.page.margins.bottom = 0;
  doc.save();
  doc.rotate(-50, { origin: [cx, cy] });
  doc.font(FONT_BOLD).fontSize(150).fillColor("#999999").fillOpacity(0.18);
  const w = doc.widthOfString(WATERMARK_TEXT);
  doc.text(WATERMARK_TEXT, cx - w / 2, cy - 75, { lineBreak: false });
  doc.restore();
  doc.page.margins.bottom = bottom;
  doc.fillColor("#000000").fillOpacity(1);
}

// ── The envelope check ─────────────────────────────────────────────────────────────────────
export type EnvelopeCheck = { ok: true } | { ok: false; reasons: string[] };

const fmt = (points: number) => (points / PT_PER_IN).toFixed(2);

/**
 * Does this address block, measured with pdfkit's own metrics in the font and size it is printed
 * in, stay inside its window's safe zone? Reasons name lines by number and give sizes in inches:
 * never the address itself.
 */
export function checkAddress(doc: Doc, lines: string[], which: "recipient" | "return" = "recipient"): EnvelopeCheck {
  const zone = which === "recipient" ? ZONES.recipientSafe : ZONES.returnSafe;
  const origin = which === "recipient" ? LAYOUT.recipientAddress : LAYOUT.returnAddress;
  const after = which === "recipient" ? `after 1/8 in clearance and ${SHIFT.y.max - SHIFT.y.min < 0.005 ? "no" : `${(SHIFT.y.max - SHIFT.y.min).toFixed(2)} in of`} fold shift` : `over ${(SHIFT.y.max - SHIFT.y.min).toFixed(2)} in of fold shift`;
  const sideways = `${(SHIFT.x.max - SHIFT.x.min).toFixed(2)} in of side-to-side play`;
  doc.font(FONT).fontSize(ADDRESS_FONT_SIZE);
  const reasons: string[] = [];
  if (lines.length === 0) reasons.push("the address is empty");
  const height = lines.length * doc.currentLineHeight(true);
  const bottom = origin.y + height;
  if (bottom > zone.y + zone.height + 0.01) {
    reasons.push(`address is ${lines.length} lines: ${fmt(height)} in tall, the window leaves ${fmt(zone.height)} in ${after}`);
  }
  const room = zone.x + zone.width - origin.x;
  lines.forEach((line, i) => {
    const { text, replaced } = latin1(line);
    if (replaced) reasons.push(`line ${i + 1} has ${replaced} character${replaced === 1 ? "" : "s"} the letter font cannot print`);
    const w = doc.widthOfString(text);
    if (w > room + 0.01) reasons.push(`line ${i + 1} is ${fmt(w)} in wide, the window leaves ${fmt(room)} in after ${which === "recipient" ? "1/8 in clearance and " : ""}${sideways}`);
  });
  return reasons.length ? { ok: false, reasons } : { ok: true };
}
