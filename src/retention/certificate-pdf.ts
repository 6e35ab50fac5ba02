// The certificate of destruction of one purged job, as PDF (pdfkit, in memory: no file touches the
// disk), rendered from the job's manifest (manifest.ts) when someone downloads it: the same manifest
// gives the same bytes (fixed dates, pdfkit's file id derived from them). It holds no PHI: the
// practice, the job reference, when, and each deleted blob by kind, server-chosen name, size and
// SHA-256, plus the verification id that finds the record and the manifest's SHA-256 that proves it.
import PDFDocument from "pdfkit";
import type { CertificateManifest } from "./manifest.ts";

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

export function certificatePdf(m: CertificateManifest, manifestSha256: string, options: { compress?: boolean } = {}): Promise<Buffer> {
  const purgedAt = new Date(m.purged_at);
  const doc = new PDFDocument({
    size: "LETTER", margin: MARGIN, compress: options.compress ?? true,
    info: { Title: `Certificate of destruction ${m.verification_id}`, Author: "PatientLetterHub", Creator: "PatientLetterHub", CreationDate: purgedAt, ModDate: purgedAt },
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
    .text("PatientLetterHub deleted the data of this mailing job under its retention policy. This certificate lists what was deleted, by kind, name, size and SHA-256; it contains no patient information.", { align: "center" });
  doc.fillColor("#000000").moveDown(1);
  field("Verification id", m.verification_id, true);
  field("Certificate record id", m.certificate_id, true);
  field("Practice", `${m.practice.name}; practice id ${m.practice.id}`);
  field("Job reference", m.job.reference, true);
  field("Job ended", `${m.job.status}${m.job.ended_at ? ` at ${m.job.ended_at} (UTC)` : ""}`);
  field("Deleted at (UTC)", m.purged_at, true);
  field("Retention sweep", `${m.sweep.name}, cutoff ${m.sweep.cutoff} (UTC), run ${m.sweep.run_id}`);
  field("Letter text", m.letter_erased ? "The job's encrypted letter text was erased from the database." : "The job had no saved letter text.");
  field("Files deleted from blob storage", `${m.blobs} file(s), ${m.bytes} bytes in all`);
  doc.moveDown(0.3);
  m.items.forEach((item, n) => {
    doc.font("Helvetica-Bold").fontSize(9).text(latin1(`${n + 1}. ${KIND_LABELS[item.kind] ?? item.kind}`));
    doc.font("Courier").fontSize(8.5)
      .text(latin1(`blob: ${item.name}`), { indent: 12 })
      .text(`size: ${item.bytes === null ? "not recorded" : `${item.bytes} bytes`}`, { indent: 12 })
      .text(`SHA-256: ${item.sha256 ?? "not recorded"}`, { indent: 12 });
    if (!item.in_storage) doc.text("already gone from storage when this purge ran (deleted by an interrupted earlier run)", { indent: 12 });
    doc.moveDown(0.25);
  });
  doc.moveDown(0.8);
  field("SHA-256 of the manifest this certificate shows", manifestSha256, true);
  doc.font("Helvetica-Oblique").fontSize(9)
    .text("The job's record (reference, dates, status) and its audit trail are kept, free of patient information, as the law requires. The manifest is kept unchangeable with the certificate record; its SHA-256 is also in the job's job.data.purged audit event, in the practice's hash chain.");
  doc.end();
  return done;
}
