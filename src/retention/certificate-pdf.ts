// The certificate of destruction of one purged job, as PDF (pdfkit, in memory: no file touches the
// disk). It holds no PHI: the practice, the job reference, when, and each deleted blob by kind (never
// its name) with its size and SHA-256, plus the verification id that finds the record.
import PDFDocument from "pdfkit";
import type { DestroyedItem } from "../platform/schema.ts";

export type CertificateFacts = {
  verificationId: string;
  certificateId: string;
  practiceId: string;
  practiceName: string;
  jobReference: string;
  jobStatus: string;
  endedAt: Date | null;
  purgedAt: Date;
  cutoff: Date;
  items: DestroyedItem[];
  letterErased: boolean;
  sweep: string;
};

const MARGIN = 64;

/** Characters the standard fonts (WinAnsi) can show; anything else becomes "?". */
function latin1(text: string): string {
  return text.normalize("NFC").replace(/[^\x20-\x7E\xA0-\xFF\n]/g, "?");
}

export const KIND_LABELS: Record<string, string> = {
  recipients_csv: "Recipient list (CSV upload)",
  logo: "Logo image (upload)",
  signature: "Signature image (upload)",
  proof: "Proof PDF",
  print_file: "Print file PDF",
  unrecorded: "Other blob of the job (no database record)",
};

export function certificatePdf(f: CertificateFacts, options: { compress?: boolean } = {}): Promise<Buffer> {
  const doc = new PDFDocument({
    size: "LETTER", margin: MARGIN, compress: options.compress ?? true,
    info: { Title: `Certificate of destruction ${f.verificationId}`, Author: "PatientLetterHub", Creator: "PatientLetterHub", CreationDate: f.purgedAt, ModDate: f.purgedAt },
  });
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on("data", (c: Buffer) => chunks.push(c));
    doc.on("end", () => resolve(Buffer.concat(chunks)));
    doc.on("error", reject);
  });
  const field = (label: string, value: string, mono = false) => {
    doc.font("Helvetica-Bold").fontSize(9).text(latin1(label));
    doc.font(mono ? "Courier" : "Helvetica").fontSize(mono ? 8.5 : 10).text(latin1(value), { indent: 12 });
    doc.moveDown(0.35);
  };
  doc.font("Helvetica-Bold").fontSize(18).text("Certificate of destruction", { align: "center" });
  doc.moveDown(0.3);
  doc.font("Helvetica").fontSize(9).fillColor("#444444")
    .text("PatientLetterHub deleted the data of this mailing job under its retention policy. This certificate lists what was deleted, by kind, size and SHA-256; it contains no patient information.", { align: "center" });
  doc.fillColor("#000000").moveDown(1);
  field("Verification id", f.verificationId, true);
  field("Certificate record id", f.certificateId, true);
  field("Practice", `${f.practiceName}; practice id ${f.practiceId}`);
  field("Job reference", f.jobReference, true);
  field("Job ended", `${f.jobStatus}${f.endedAt ? ` at ${f.endedAt.toISOString()} (UTC)` : ""}`);
  field("Deleted at (UTC)", f.purgedAt.toISOString(), true);
  field("Retention sweep", `${f.sweep}, cutoff ${f.cutoff.toISOString()} (UTC)`);
  field("Letter text", f.letterErased ? "The job's encrypted letter text was erased from the database." : "The job had no saved letter text.");
  const total = f.items.reduce((n, i) => n + (i.bytes ?? 0), 0);
  field("Files deleted from blob storage", `${f.items.length} file(s), ${total} bytes in all`);
  doc.moveDown(0.3);
  f.items.forEach((item, n) => {
    doc.font("Helvetica-Bold").fontSize(9).text(latin1(`${n + 1}. ${KIND_LABELS[item.kind] ?? item.kind}`));
    doc.font("Courier").fontSize(8.5)
      .text(`size: ${item.bytes === null ? "not recorded" : `${item.bytes} bytes`}`, { indent: 12 })
      .text(`SHA-256: ${item.sha256 ?? "not recorded"}`, { indent: 12 });
    doc.moveDown(0.25);
  });
  doc.moveDown(0.8);
  doc.font("Helvetica-Oblique").fontSize(9)
    .text("The job's record (reference, dates, status) and its audit trail are kept, free of patient information, as the law requires. The SHA-256 of this PDF is recorded with the certificate.");
  doc.end();
  return done;
}
