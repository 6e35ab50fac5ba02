// The BAA PDFs, read back loosely: pdfkit is told not to compress, and the text of each TJ
// operator is decoded from its hex strings (kerning numbers dropped).
import { expect, test } from "bun:test";
import { agreementPdf, executedPdf, type PdfEvidence, type PdfVersion } from "../src/baa/pdf.ts";
import { CONSENT_TEXT } from "../src/baa/service.ts";
import { sha256Hex } from "../src/platform/crypto.ts";

/** Lines of text drawn in the PDF, in order. */
function pdfText(pdf: Buffer): string[] {
  const raw = pdf.toString("latin1");
  return [...raw.matchAll(/\[((?:<[0-9a-f]*>|\s|-?[\d.]+)*)\] TJ/g)].map((m) =>
    [...m[1]!.matchAll(/<([0-9a-f]*)>/g)].map((h) => Buffer.from(h[1]!, "hex").toString("latin1")).join(""));
}

const body = [
  "# Business Associate Agreement",
  "## 1. Permitted Uses and Disclosures",
  "Business Associate may Use and Disclose PHI only to perform the Services.",
  "## 2. Return or Destruction of PHI at Termination",
  "Upon termination Business Associate will return or destroy all PHI.",
].join("\n\n") + "\n";
const version: PdfVersion = { version: 3, title: "Business Associate Agreement", body, sha256: sha256Hex(body), effectiveAt: new Date("2026-11-01T00:00:00Z") };
const evidence: PdfEvidence = {
  signatureId: "5f0c1c52-64a4-4a53-9d0f-0e1d7c5b8a11", verificationId: "BAA-7K2M-QX4R-9TPW", practiceId: "0b8e2f0e-1b2c-4d5e-8f90-a1b2c3d4e5f6",
  practiceLegalName: "Lakeside Family Medicine, P.C.", practiceDba: "Lakeside Clinic", practiceAddress: "12 Harbor Street, Portland, ME 04101", practiceNpi: "1234567893",
  signerUserId: "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", signerAccountName: "Morgan Owner", signerEmail: "morgan@lakeside.example",
  typedName: "Morgan A. Owner", title: "Managing Partner", authorityStatement: "I am authorized to sign this agreement on behalf of Lakeside Family Medicine, P.C.",
  consentText: CONSENT_TEXT, signedAt: new Date("2026-11-23T14:05:06.789Z"), ip: "203.0.113.9", userAgent: "TestBrowser/1.0",
  sessionId: "3c2b1a09-8f7e-4d6c-9b5a-4a3b2c1d0e9f", evidenceSha256: "e".repeat(64),
};

test("the executed PDF carries the agreement, the signature block and a certificate with every evidence field", async () => {
  const pdf = await executedPdf(version, evidence, { compress: false });
  expect(pdf.subarray(0, 5).toString()).toBe("%PDF-");
  const lines = pdfText(pdf);
  const text = lines.join("\n");
  // The agreement.
  expect(text).toContain("Business Associate Agreement");
  expect(text).toContain("1. Permitted Uses and Disclosures");
  expect(text).toContain("2. Return or Destruction of PHI at Termination");
  expect(text).toContain("Covered Entity: Lakeside Family Medicine, P.C., doing business as Lakeside Clinic");
  // The signature block.
  expect(lines).toContain("By: /s/ Morgan A. Owner");
  expect(lines).toContain("Title: Managing Partner");
  expect(lines).toContain("Date: 2026-11-23T14:05:06.789Z (UTC)");
  // The certificate page, after the agreement, with every evidence field.
  const certificate = text.slice(text.indexOf("Certificate of electronic signature"));
  expect(text.indexOf("Certificate of electronic signature")).toBeGreaterThan(text.indexOf("By: /s/ Morgan A. Owner"));
  for (const value of [
    evidence.verificationId, evidence.signatureId, version.sha256, evidence.evidenceSha256, evidence.practiceId, evidence.typedName, evidence.title,
    evidence.signerUserId, evidence.signerEmail, evidence.authorityStatement, "2026-11-23T14:05:06.789Z", evidence.ip!, evidence.userAgent!, evidence.sessionId,
  ]) {
    expect({ value, found: certificate.includes(value) }).toEqual({ value, found: true });
  }
  // The consent text as shown (wrapped over several lines).
  expect(certificate.replace(/\s+/g, " ")).toContain("has the same legal effect as a handwritten signature");
  // Every page's footer names the verification id.
  expect(lines.filter((l) => l.includes(`executed - ${evidence.verificationId} - page`)).length).toBeGreaterThanOrEqual(2);
});

test("the review copy says it is not signed and carries no signature", async () => {
  const lines = pdfText(await agreementPdf(version, { compress: false }));
  const text = lines.join("\n");
  expect(text).toContain("For review: not signed.");
  expect(text).toContain(`SHA-256 of the agreement text: ${version.sha256}`);
  expect(text).toContain("2. Return or Destruction of PHI at Termination");
  expect(text).not.toContain("/s/");
  expect(text).not.toContain("Certificate of electronic signature");
});

test("characters the standard fonts cannot show are replaced, not dropped silently", async () => {
  const lines = pdfText(await executedPdf(version, { ...evidence, typedName: "Zoë 王 Owner" }, { compress: false }));
  expect(lines).toContain("By: /s/ Zoë ? Owner");
});
