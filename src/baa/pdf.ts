// The BAA as PDF (pdfkit, in memory: no file ever touches the disk). Two forms: the agreement for
// review (unsigned, marked so), and the executed agreement: the text, the parties, the signature
// block and a certificate page listing every evidence field, the document hash and the
// verification id. Standard PDF fonts (Helvetica, Courier): text outside Latin-1 is replaced.
import PDFDocument from "pdfkit";
import { baaBlocks } from "./text.ts";

export type PdfVersion = { version: number; title: string; body: string; sha256: string; effectiveAt: Date };

export type PdfEvidence = {
  signatureId: string;
  verificationId: string;
  practiceId: string;
  practiceLegalName: string;
  practiceDba: string | null;
  practiceAddress: string;
  practiceNpi: string | null;
  signerUserId: string;
  signerAccountName: string;
  signerEmail: string;
  typedName: string;
  title: string;
  authorityStatement: string;
  consentText: string;
  signedAt: Date;
  ip: string | null;
  userAgent: string | null;
  sessionId: string;
  evidenceSha256: string;
};

const MARGIN = 72;

/** Characters the standard fonts (WinAnsi) can show; anything else becomes "?". */
function latin1(text: string): string {
  return text.normalize("NFC").replace(/[^\x20-\x7E\xA0-\xFF\n]/g, "?");
}

function collect(doc: PDFKit.PDFDocument): Promise<Buffer> {
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    doc.on("data", (chunk: Buffer) => chunks.push(chunk));
    doc.on("end", () => resolve(Buffer.concat(chunks)));
    doc.on("error", reject);
    doc.end();
  });
}

function newDocument(title: string, created: Date, options: { compress: boolean }) {
  return new PDFDocument({
    size: "LETTER",
    margin: MARGIN,
    compress: options.compress,
    bufferPages: true,
    info: { Title: latin1(title), Author: "PatientLetterHub", Creator: "PatientLetterHub", CreationDate: created, ModDate: created },
  });
}

function header(doc: PDFKit.PDFDocument, version: PdfVersion, state: string) {
  const title = baaBlocks(version.body).find((b) => b.kind === "title")?.text ?? version.title;
  doc.font("Helvetica-Bold").fontSize(18).text(latin1(title), { align: "center" });
  doc.moveDown(0.3);
  doc.font("Helvetica").fontSize(9).fillColor("#444444")
    .text(`Version ${version.version}, in effect from ${version.effectiveAt.toISOString().slice(0, 10)}. ${state}`, { align: "center" });
  doc.font("Courier").fontSize(8).text(`SHA-256 of the agreement text: ${version.sha256}`, { align: "center" });
  doc.fillColor("#000000").moveDown(1);
}

function body(doc: PDFKit.PDFDocument, version: PdfVersion) {
  for (const block of baaBlocks(version.body)) {
    if (block.kind === "title") continue;
    if (block.kind === "heading") {
      doc.moveDown(0.4).font("Helvetica-Bold").fontSize(12).text(latin1(block.text));
      doc.moveDown(0.2);
    } else {
      doc.font("Helvetica").fontSize(10).text(latin1(block.text), { align: "left", lineGap: 1.5 });
      doc.moveDown(0.5);
    }
  }
}

function pageNumbers(doc: PDFKit.PDFDocument, footer: string) {
  const range = doc.bufferedPageRange();
  for (let i = range.start; i < range.start + range.count; i++) {
    doc.switchToPage(i);
    const bottom = doc.page.height - MARGIN / 2 - 10;
    doc.page.margins.bottom = 0; // writing in the margin must not start a new page
    doc.font("Helvetica").fontSize(8).fillColor("#555555")
      .text(`${latin1(footer)} - page ${i + 1} of ${range.count}`, MARGIN, bottom, { width: doc.page.width - 2 * MARGIN, align: "center", lineBreak: false });
    doc.page.margins.bottom = MARGIN;
  }
  doc.fillColor("#000000");
}

/** The current agreement for review before signing: clearly not an executed copy. */
export function agreementPdf(version: PdfVersion, options: { compress?: boolean; now?: Date } = {}): Promise<Buffer> {
  const doc = newDocument(`${version.title} (version ${version.version}) - for review`, options.now ?? new Date(), { compress: options.compress ?? true });
  header(doc, version, "For review: not signed.");
  body(doc, version);
  doc.moveDown(1).font("Helvetica-Oblique").fontSize(10)
    .text("This copy is for review only. The agreement is executed when an administrator of the Covered Entity signs it in PatientLetterHub; the executed copy carries a signature block and a certificate of signature.");
  pageNumbers(doc, `BAA version ${version.version} - for review, not signed`);
  return collect(doc);
}

function field(doc: PDFKit.PDFDocument, label: string, value: string, mono = false) {
  doc.font("Helvetica-Bold").fontSize(9).text(latin1(label));
  doc.font(mono ? "Courier" : "Helvetica").fontSize(mono ? 8.5 : 10).text(latin1(value || "(none)"), { indent: 12 });
  doc.moveDown(0.35);
}

/** The executed agreement: text, parties and signature block, then the certificate of signature. */
export function executedPdf(version: PdfVersion, e: PdfEvidence, options: { compress?: boolean } = {}): Promise<Buffer> {
  const doc = newDocument(`${version.title} (version ${version.version}) - executed`, e.signedAt, { compress: options.compress ?? true });
  const signedUtc = e.signedAt.toISOString();
  header(doc, version, `Executed ${signedUtc.slice(0, 10)} (UTC). Verification id ${e.verificationId}.`);

  doc.font("Helvetica-Bold").fontSize(11).text("The Parties");
  doc.font("Helvetica").fontSize(10)
    .text(latin1(`Covered Entity: ${e.practiceLegalName}${e.practiceDba ? `, doing business as ${e.practiceDba}` : ""}, ${e.practiceAddress}${e.practiceNpi ? ` (NPI ${e.practiceNpi})` : ""}.`))
    .text("Business Associate: PatientLetterHub.");
  doc.moveDown(1);
  body(doc, version);

  // Signature block.
  doc.moveDown(1);
  if (doc.y > doc.page.height - MARGIN - 200) doc.addPage();
  doc.font("Helvetica-Bold").fontSize(12).text("Signatures");
  doc.moveDown(0.5);
  doc.font("Helvetica-Bold").fontSize(10).text(latin1(`COVERED ENTITY: ${e.practiceLegalName}`));
  doc.font("Helvetica").fontSize(10)
    .text(latin1(`By: /s/ ${e.typedName}`))
    .text(latin1(`Name: ${e.typedName}`))
    .text(latin1(`Title: ${e.title}`))
    .text(`Date: ${signedUtc} (UTC)`)
    .text(latin1(e.authorityStatement));
  doc.moveDown(0.8);
  doc.font("Helvetica-Bold").text("BUSINESS ASSOCIATE: PatientLetterHub");
  doc.font("Helvetica").text("Agreed by Business Associate by publishing this version for signature, and effective upon the Covered Entity's signature above.");

  // Certificate page.
  doc.addPage();
  doc.font("Helvetica-Bold").fontSize(16).text("Certificate of electronic signature", { align: "center" });
  doc.moveDown(0.3);
  doc.font("Helvetica").fontSize(9).fillColor("#444444")
    .text("Every fact recorded when this agreement was signed. The signature record is kept append-only by PatientLetterHub; the verification id finds it.", { align: "center" });
  doc.fillColor("#000000").moveDown(1);
  field(doc, "Verification id", e.verificationId, true);
  field(doc, "Signature record id", e.signatureId, true);
  field(doc, "Agreement", `${version.title}, version ${version.version}, in effect from ${version.effectiveAt.toISOString().slice(0, 10)}`);
  field(doc, "Document hash (SHA-256 of the agreement text)", version.sha256, true);
  field(doc, "Evidence hash (SHA-256 of the signature record's fields)", e.evidenceSha256, true);
  field(doc, "Covered Entity", `${e.practiceLegalName}${e.practiceDba ? ` (doing business as ${e.practiceDba})` : ""}; practice id ${e.practiceId}`);
  field(doc, "Signer (typed full legal name)", e.typedName);
  field(doc, "Signer's title", e.title);
  field(doc, "Signer's account", `${e.signerAccountName} <${e.signerEmail}>; user id ${e.signerUserId}`);
  field(doc, "Authority", e.authorityStatement);
  field(doc, "Consent to sign electronically (as shown to the signer)", e.consentText);
  field(doc, "Signed at (UTC)", signedUtc, true);
  field(doc, "IP address", e.ip ?? "", true);
  field(doc, "User agent", e.userAgent ?? "", true);
  field(doc, "Session id", e.sessionId, true);
  field(doc, "Authentication", "The signer's session had passed two-step sign-in (a second factor) before signing.");

  pageNumbers(doc, `BAA version ${version.version} - executed - ${e.verificationId}`);
  return collect(doc);
}
