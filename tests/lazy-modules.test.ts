// Packages that only some deployments or some requests need are imported where they are used, so
// every process does not pay their memory at start: fontkit (embedded font files, through our
// pdfkit patch in patches/), qrcode (MFA enrolment) and @clerk/backend (AUTH_PROVIDER=clerk).
// Each check runs in a fresh process: this test process has loaded them all through other tests.
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";

const ROOT = path.join(import.meta.dir, "..");

/** Runs `script` in a new Bun process from the project root; returns what it printed as JSON. */
async function inFreshProcess<T>(script: string): Promise<T> {
  const proc = Bun.spawn([process.execPath, "-e", script], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`the child process failed (${code}): ${err}`);
  return JSON.parse(out.trim().split("\n").pop()!) as T;
}

const LOADED = `const loaded = (name) => Object.keys(require.cache).some((k) => k.includes("/node_modules/" + name + "/"));`;

describe("lazily loaded packages", () => {
  test("importing the app loads pdfkit but not fontkit, qrcode or @clerk/backend", async () => {
    const seen = await inFreshProcess<Record<string, boolean>>(
      `await import("./src/app.tsx"); ${LOADED}
       console.log(JSON.stringify({ pdfkit: loaded("pdfkit"), fontkit: loaded("fontkit"), qrcode: loaded("qrcode"), clerk: loaded("@clerk/backend") }));`,
    );
    // pdfkit is seen: the check does see packages the app imports.
    expect(seen).toEqual({ pdfkit: true, fontkit: false, qrcode: false, clerk: false });
  });

  test("a standard-font PDF never loads fontkit", async () => {
    const seen = await inFreshProcess<{ bytes: number; fontkit: boolean }>(
      `const { default: PDFDocument } = await import("pdfkit"); ${LOADED}
       const doc = new PDFDocument(); const chunks = []; doc.on("data", (c) => chunks.push(c));
       const ended = new Promise((r) => doc.on("end", r));
       doc.font("Helvetica").text("Standard fonts only"); doc.end(); await ended;
       console.log(JSON.stringify({ bytes: Buffer.concat(chunks).length, fontkit: loaded("fontkit") }));`,
    );
    expect(seen.bytes).toBeGreaterThan(500);
    expect(seen.fontkit).toBe(false);
  });

  // The patch keeps embedded fonts working: fontkit is loaded on the first one. Needs a TrueType
  // font on the machine (Debian's chromium brings fonts-liberation).
  const fontDir = "/usr/share/fonts/truetype/liberation";
  const font = existsSync(fontDir) ? readdirSync(fontDir).find((f) => f.endsWith(".ttf")) : undefined;
  test.skipIf(!font)("an embedded font file still works, loading fontkit on first use", async () => {
    const seen = await inFreshProcess<{ pdf: string; fontkit: boolean }>(
      `const { default: PDFDocument } = await import("pdfkit"); ${LOADED}
       const doc = new PDFDocument(); const chunks = []; doc.on("data", (c) => chunks.push(c));
       const ended = new Promise((r) => doc.on("end", r));
       doc.font(${JSON.stringify(path.join(fontDir, font ?? ""))}).text("Embedded"); doc.end(); await ended;
       console.log(JSON.stringify({ pdf: Buffer.concat(chunks).toString("latin1"), fontkit: loaded("fontkit") }));`,
    );
    expect(seen.fontkit).toBe(true);
    expect(seen.pdf).toContain("/FontFile2"); // the TrueType program embedded in the file
  });
});
