// The text of a BAA version: how it is split into headings and paragraphs (on screen and in the
// PDF), and what a publishable text must contain. Plain text: "# Title" on the first line,
// "## Section" headings, paragraphs separated by blank lines.
import { sha256Hex } from "../platform/crypto.ts";

export type BaaBlock = { kind: "title" | "heading" | "paragraph"; text: string };

export function baaBlocks(body: string): BaaBlock[] {
  return body
    .replace(/\r\n?/g, "\n")
    .split(/\n{2,}/)
    .map((chunk) => chunk.trim())
    .filter(Boolean)
    .map((chunk) => {
      if (chunk.startsWith("## ")) return { kind: "heading" as const, text: chunk.slice(3).trim() };
      if (chunk.startsWith("# ")) return { kind: "title" as const, text: chunk.slice(2).trim() };
      return { kind: "paragraph" as const, text: chunk.replace(/\s*\n\s*/g, " ") };
    });
}

/** The provisions 45 CFR 164.504(e) requires, each with the words that show a section covers it. */
export const REQUIRED_PROVISIONS: { provision: string; pattern: RegExp }[] = [
  { provision: "permitted uses and disclosures", pattern: /permitted uses and disclosures/i },
  { provision: "safeguards", pattern: /safeguards/i },
  { provision: "reporting of breaches and security incidents", pattern: /breach[\s\S]*security incident|security incident[\s\S]*breach/i },
  { provision: "subcontractors", pattern: /subcontractor/i },
  { provision: "access by individuals", pattern: /164\.524/ },
  { provision: "amendment", pattern: /164\.526/ },
  { provision: "accounting of disclosures", pattern: /164\.528/ },
  { provision: "availability of books and records to HHS (the Secretary)", pattern: /secretary/i },
  { provision: "return or destruction of PHI at termination", pattern: /return or destr/i },
  { provision: "termination for cause", pattern: /terminat[\s\S]*material breach|material breach[\s\S]*terminat/i },
];

export const BAA_TEXT_MIN = 1000;
export const BAA_TEXT_MAX = 200_000;

export type ValidatedBaaText = { title: string; body: string; sha256: string };

/** Checks a text before it is published; returns every problem found, or the text, its title and hash. */
export function validateBaaText(raw: Uint8Array | string): { ok: true; text: ValidatedBaaText } | { ok: false; problems: string[] } {
  let text: string;
  try {
    text = typeof raw === "string" ? raw : new TextDecoder("utf-8", { fatal: true }).decode(raw);
  } catch {
    return { ok: false, problems: ["the file is not valid UTF-8 text"] };
  }
  const body = text.replace(/^\uFEFF/, "").replace(/\r\n?/g, "\n").replace(/[ \t]+$/gm, "").trim() + "\n";
  const problems: string[] = [];
  if (body.length < BAA_TEXT_MIN) problems.push(`the text is too short (${body.length} characters; at least ${BAA_TEXT_MIN})`);
  if (body.length > BAA_TEXT_MAX) problems.push(`the text is too long (${body.length} characters; at most ${BAA_TEXT_MAX})`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/.test(body)) problems.push("the text contains control characters");
  const firstLine = body.split("\n", 1)[0]!;
  const title = firstLine.startsWith("# ") ? firstLine.slice(2).trim() : "";
  if (!title || title.length > 200) problems.push('the first line must be the title, written "# Title" (at most 200 characters)');
  if (!baaBlocks(body).some((b) => b.kind === "heading")) problems.push('the text has no sections ("## Heading" lines)');
  for (const { provision, pattern } of REQUIRED_PROVISIONS) {
    if (!pattern.test(body)) problems.push(`no provision on ${provision} (45 CFR 164.504(e))`);
  }
  if (problems.length) return { ok: false, problems };
  return { ok: true, text: { title, body, sha256: sha256Hex(body) } };
}
