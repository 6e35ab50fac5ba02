// A proof's cover page: what the practice is approving, in numbers, and what went wrong where (row
// numbers and reasons only: the cover carries no recipient's data).
import type PDFDocument from "pdfkit";
import { FONT, FONT_BOLD, latin1, PT_PER_IN } from "./layout.ts";

export type ProofCover = {
  reference: string;
  practiceName: string;
  letterType: string;
  mailClass: string;
  version: number;
  recipients: number;
  valid: number;
  invalid: number;
  pagesPerLetter: number;
  totalSheets: number;
  inputsSha256: string;
  envelopeFailures: number;
  returnAddressOk: boolean;
  /** Rows that will not be mailed and why (list problems and envelope failures), first ones only. */
  problems: { row: number; reasons: string[] }[];
  /** Which letters follow, in words. */
  sample: string;
  generatedAt: string;
};

const MARGIN = PT_PER_IN;
const MAX_PROBLEMS_ON_COVER = 40;

export function drawCover(doc: InstanceType<typeof PDFDocument>, c: ProofCover): void {
  doc.addPage({ size: "LETTER", margin: MARGIN });
  const width = doc.page.width - 2 * MARGIN;
  const text = (s: string) => latin1(s).text;
  doc.font(FONT_BOLD).fontSize(18).text(text(`Proof ${c.version} - ${c.reference}`), { width });
  doc.moveDown(0.3).font(FONT).fontSize(11).text(text(`${c.practiceName}. Review every page before approving: approval applies to exactly this proof.`), { width });
  doc.moveDown(0.8);
  const rows: [string, string][] = [
    ["Letter type", c.letterType],
    ["Mail class", c.mailClass],
    ["Recipients in the list", c.recipients.toLocaleString("en-US")],
    ["Letters that will be mailed", c.valid.toLocaleString("en-US")],
    ["Rows that will not be mailed", c.invalid.toLocaleString("en-US")],
    ["Pages per letter", String(c.pagesPerLetter)],
    ["Total sheets (at most)", c.totalSheets.toLocaleString("en-US")],
    ["Envelope check", c.envelopeFailures === 0 ? "Every address fits the recipient window" : `${c.envelopeFailures.toLocaleString("en-US")} address(es) do not fit the window`],
    ["Return address", c.returnAddressOk ? "Fits the return window" : "Does not fit the return window: shorten it on the job"],
    ["Inputs (SHA-256)", c.inputsSha256],
    ["Generated (UTC)", c.generatedAt],
  ];
  for (const [label, value] of rows) {
    const y = doc.y;
    doc.font(FONT_BOLD).fontSize(10).text(text(label), MARGIN, y, { width: 2.2 * PT_PER_IN });
    doc.font(FONT).fontSize(10).text(text(value), MARGIN + 2.3 * PT_PER_IN, y, { width: width - 2.3 * PT_PER_IN });
    doc.moveDown(0.25);
  }
  doc.moveDown(0.6).font(FONT_BOLD).fontSize(12).text("Letters in this proof", MARGIN, doc.y, { width });
  doc.font(FONT).fontSize(10).text(text(c.sample), { width });
  doc.moveDown(0.6).font(FONT_BOLD).fontSize(12).text("Rows that will not be mailed", { width });
  if (c.problems.length === 0) {
    doc.font(FONT).fontSize(10).text("None.", { width });
  } else {
    for (const p of c.problems.slice(0, MAX_PROBLEMS_ON_COVER)) {
      if (doc.y > doc.page.height - MARGIN - 14) doc.addPage({ size: "LETTER", margin: MARGIN });
      doc.font(FONT).fontSize(10).text(text(`Row ${p.row}: ${p.reasons.join("; ")}`), MARGIN, doc.y, { width });
    }
    const more = c.invalid - Math.min(c.problems.length, MAX_PROBLEMS_ON_COVER);
    if (more > 0) doc.font(FONT).fontSize(10).text(text(`...and ${more.toLocaleString("en-US")} more (listed on the job's uploads step).`), { width });
  }
}
