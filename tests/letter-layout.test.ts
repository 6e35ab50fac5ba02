// The letter layout and the envelope check, with real pdfkit: letters are rendered uncompressed
// and read back (page tree → page → content stream → text positions), so what is tested is what
// would be printed. Synthetic people and addresses only; nothing is written to disk.
import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { Writable } from "node:stream";
import PDFDocument from "pdfkit";
import {
  ADDRESS_CLEARANCE, ENVELOPE, LAYOUT, PAGE, PT_PER_IN, SHIFT, ZONES, checkAddress, drawLetter, matchCode, mergeFields, recipientLines, type Box,
} from "../src/proofs/layout.ts";
import { renderLetters, type RenderOptions } from "../src/proofs/render.ts";
import { png } from "./support/png.ts";

// ── Reading a PDF back ─────────────────────────────────────────────────────────────────────
type Text = { text: string; size: number; bold: boolean; x: number; baseline: number; box: Box };
type Page = { texts: Text[]; images: Box[] };

const measure = new PDFDocument({ autoFirstPage: false });
const H = PAGE.height * PT_PER_IN;

/** Pages in page-tree order (Catalog → Pages → Kids), each with its text runs and images in top-down points. */
function readPdf(pdf: Buffer): Page[] {
  const raw = pdf.toString("latin1");
  const objects = new Map<number, string>();
  for (const m of raw.matchAll(/(?:^|\n)(\d+) 0 obj\n([\s\S]*?)\nendobj/g)) objects.set(Number(m[1]), m[2]!);
  const catalog = [...objects.values()].find((o) => o.includes("/Type /Catalog"))!;
  const pagesObj = objects.get(Number(/\/Pages (\d+) 0 R/.exec(catalog)![1]))!;
  const kids = [.../\/Kids \[([^\]]*)\]/.exec(pagesObj)![1]!.matchAll(/(\d+) 0 R/g)].map((m) => Number(m[1]));
  expect(Number(/\/Count (\d+)/.exec(pagesObj)![1])).toBe(kids.length);
  const fonts = new Map<string, boolean>(); // font resource name → bold
  return kids.map((id) => {
    const dict = objects.get(id)!;
    expect(dict).toContain("/Type /Page");
    const resources = objects.get(Number(/\/Resources (\d+) 0 R/.exec(dict)![1]))!;
    for (const f of resources.matchAll(/\/(F\d+) (\d+) 0 R/g)) fonts.set(f[1]!, objects.get(Number(f[2]))!.includes("Bold"));
    const content = objects.get(Number(/\/Contents (\d+) 0 R/.exec(dict)![1]))!;
    const stream = content.slice(content.indexOf("stream\n") + 7, content.lastIndexOf("\nendstream"));
    const page: Page = { texts: [], images: [] };
    let font = "F1";
    let size = 0;
    let at: [number, number] = [0, 0];
    let lastCm: number[] = [];
    for (const line of stream.split("\n")) {
      let m: RegExpExecArray | null;
      if ((m = /^\/(F\d+) ([\d.]+) Tf$/.exec(line))) { font = m[1]!; size = Number(m[2]); }
      else if ((m = /^1 0 0 1 (-?[\d.]+) (-?[\d.]+) Tm$/.exec(line))) at = [Number(m[1]), Number(m[2])];
      else if ((m = /^([-\d. ]+) cm$/.exec(line))) lastCm = m[1]!.trim().split(/\s+/).map(Number);
      else if (/^\/I\d+ Do$/.test(line)) {
        // Images: "w 0 0 -h x y cm" in the page's flipped (top-down) space.
        const [w, , , h, x, y] = lastCm as [number, number, number, number, number, number];
        page.images.push({ x, y: h < 0 ? y + h : y, width: w, height: Math.abs(h) });
      } else if ((m = /^\[((?:<[0-9a-f]*>|\s|-?[\d.]+)*)\] TJ$/.exec(line))) {
        const text = [...m[1]!.matchAll(/<([0-9a-f]*)>/g)].map((h) => Buffer.from(h[1]!, "hex").toString("latin1")).join("");
        const bold = fonts.get(font) ?? false;
        measure.font(bold ? "Helvetica-Bold" : "Helvetica").fontSize(size);
        const baseline = H - at[1];
        const box = { x: at[0], y: baseline - 0.718 * size, width: measure.widthOfString(text), height: (0.718 + 0.207) * size };
        page.texts.push({ text, size, bold, x: at[0], baseline, box });
      }
    }
    return page;
  });
}

const overlaps = (a: Box, b: Box) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
const inside = (a: Box, b: Box, eps = 0.01) => a.x >= b.x - eps && a.y >= b.y - eps && a.x + a.width <= b.x + b.width + eps && a.y + a.height <= b.y + b.height + eps;
const inches = (b: { x: number; y: number; width: number; height: number }): Box => ({ x: b.x * PT_PER_IN, y: b.y * PT_PER_IN, width: b.width * PT_PER_IN, height: b.height * PT_PER_IN });


// ── Fixtures ───────────────────────────────────────────────────────────────────────────────
const person = (seq: number, extra: Record<string, string> = {}) => ({
  seq,
  fields: { first_name: "Avery", last_name: `Testperson${seq}`, address1: `${100 + seq} Maple Avenue`, address2: "", city: "Springfield", state: "IL", zip: "62704", ...extra },
});
const paragraph = "We are writing to let you know about a change at the practice. Your records remain safe, and you may ask for a copy at any time. ";
const LONG_BODY = ["Dear {{first_name}} {{last_name}},", ...Array.from({ length: 14 }, () => paragraph.repeat(3))].join("\n\n");

function options(over: Partial<RenderOptions> = {}): Omit<RenderOptions, "out"> & { out?: Writable } {
  return {
    job: { reference: "PLH-2026-000123", title: "Practice closure", date: "March 3, 2026", returnAddress: { name: "Lakeside Family Medicine", line1: "12 Harbor Street", line2: "Suite 200", city: "Portland", state: "ME", zip: "04101" } },
    letterhead: { name: "Lakeside Family Medicine", phone: "(207) 555-0100", logo: png(40, 20) },
    template: { body: LONG_BODY, signer: { name: "Dana Example, MD", title: "Medical Director", image: png(30, 10) } },
    recipients: [person(1), person(2)],
    watermark: false,
    compress: false,
    now: new Date("2026-03-03T12:00:00Z"),
    ...over,
  };
}

/** Renders into memory (a test sink), returning the bytes and what renderLetters reported. */
async function render(over: Partial<RenderOptions> = {}) {
  const chunks: Buffer[] = [];
  const out = new Writable({ write(chunk, _enc, done) { chunks.push(chunk); done(); } });
  const letters: Parameters<NonNullable<RenderOptions["onLetter"]>>[0][] = [];
  const result = await renderLetters({ ...options(over), out, onLetter: (l) => { letters.push(l); } } as RenderOptions);
  return { pdf: Buffer.concat(chunks), result, letters };
}

// ── Geometry ───────────────────────────────────────────────────────────────────────────────
describe("geometry", () => {
  test("the windows and shifts are the documented numbers", () => {
    expect(ENVELOPE.recipientWindow).toEqual({ x: 0.625, y: 2.125, width: 4, height: 1 });
    expect(ENVELOPE.returnWindow).toEqual({ x: 0.625, y: 0.875, width: 3.25, height: 0.875 });
    expect(SHIFT.y.max - SHIFT.y.min).toBeCloseTo(3.875 - 11 / 3, 6);
    expect(SHIFT.x.max - SHIFT.x.min).toBeCloseTo(0.75, 6);
  });

  test("the address blocks, as drawn and as read back, stay inside their windows at both fold extremes", async () => {
    const { pdf } = await render({ recipients: [person(7, { address2: "" })] });
    const [first] = readPdf(pdf);
    const lines = (want: string[]) => want.map((w) => first!.texts.find((t) => t.text === w)!);
    const recipient = lines(["Avery Testperson7", "107 Maple Avenue", "Springfield, IL 62704"]);
    const ret = lines(["Lakeside Family Medicine", "12 Harbor Street", "Suite 200", "Portland, ME 04101"]).filter((t) => t.x < 100);
    expect(recipient.every(Boolean)).toBe(true);
    expect(ret.length).toBe(4);
    // Every combination of extreme positions of the folded sheet in the envelope.
    for (const dx of [SHIFT.x.min, SHIFT.x.max]) {
      for (const dy of [SHIFT.y.min, SHIFT.y.max]) {
        const onEnvelope = (b: Box): Box => ({ ...b, x: b.x + dx * PT_PER_IN, y: b.y + dy * PT_PER_IN });
        const c = ADDRESS_CLEARANCE * PT_PER_IN;
        const w = inches(ENVELOPE.recipientWindow);
        const recipientClear = { x: w.x + c, y: w.y + c, width: w.width - 2 * c, height: w.height - 2 * c };
        for (const t of recipient) expect({ dx, dy, line: t.text, inside: inside(onEnvelope(t.box), recipientClear) }).toEqual({ dx, dy, line: t.text, inside: true });
        for (const t of ret) expect({ dx, dy, line: t.text, inside: inside(onEnvelope(t.box), inches(ENVELOPE.returnWindow)) }).toEqual({ dx, dy, line: t.text, inside: true });
      }
    }
  });

  test("drawLetter's own boxes for the addresses fall in the safe zones; everything else keeps out of both windows", () => {
    const doc = new PDFDocument({ autoFirstPage: false, bufferPages: true });
    const drawn = drawLetter(doc, {
      matchCode: "PLH-2026-000123-00001", date: "March 3, 2026", returnAddress: options().job.returnAddress,
      recipientLines: recipientLines(person(1).fields), letterhead: { name: "Lakeside Family Medicine" },
      template: { body: LONG_BODY, signer: { name: "A", title: "B" } }, fields: person(1).fields,
      images: { logo: (doc as unknown as { openImage(b: Buffer): unknown }).openImage(png(8, 8)) }, watermark: false,
    });
    const firstPage = drawn.boxes.filter((b) => b.page === drawn.firstPage);
    expect(inside(firstPage.find((b) => b.kind === "recipient")!.box, ZONES.recipientSafe)).toBe(true);
    expect(inside(firstPage.find((b) => b.kind === "return")!.box, ZONES.returnSafe)).toBe(true);
    const others = firstPage.filter((b) => b.kind !== "recipient" && b.kind !== "return");
    expect(others.map((b) => b.kind)).toEqual(expect.arrayContaining(["logo", "letterhead", "date", "body", "footer"]));
    for (const b of others) {
      expect({ kind: b.kind, recipient: overlaps(b.box, ZONES.recipientKeepOut), ret: overlaps(b.box, ZONES.returnKeepOut) }).toEqual({ kind: b.kind, recipient: false, ret: false });
    }
  });

  test("read back: on the first page nothing but the two addresses is drawn where a window can show it", async () => {
    const { pdf, letters } = await render({ watermark: false });
    const pages = readPdf(pdf);
    let p = 0;
    for (const letter of letters) {
      const first = pages[p]!;
      const addressTexts = new Set([...recipientLines(person(letter.seq).fields), "Lakeside Family Medicine", "12 Harbor Street", "Suite 200", "Portland, ME 04101"]);
      const inZones = first.texts.filter((t) => overlaps(t.box, ZONES.recipientKeepOut) || overlaps(t.box, ZONES.returnKeepOut));
      expect(inZones.length).toBeGreaterThanOrEqual(7); // the addresses themselves are there
      for (const t of inZones) expect({ text: t.text, isAddress: addressTexts.has(t.text) && t.x < LAYOUT.logo.x }).toEqual({ text: t.text, isAddress: true });
      // The body is really on the page (the check above would pass on an empty page).
      expect(first.texts.some((t) => t.text.startsWith("We are writing"))).toBe(true);
      for (const img of first.images) expect(overlaps(img, ZONES.recipientKeepOut) || overlaps(img, ZONES.returnKeepOut)).toBe(false);
      expect(first.images.length).toBe(1); // the logo (the signature lands on a later page)
      p += letter.pages;
    }
  });

  test("no text is smaller than 10 pt", async () => {
    const pages = readPdf((await render({ watermark: true })).pdf);
    const sizes = new Set(pages.flatMap((pg) => pg.texts.map((t) => t.size)));
    expect(Math.min(...sizes)).toBeGreaterThanOrEqual(10);
  });
});

// ── Content ────────────────────────────────────────────────────────────────────────────────
describe("content", () => {
  test("long bodies paginate: every page carries its letter's match code and 'Page i of n'", async () => {
    const { pdf, letters, result } = await render();
    const pages = readPdf(pdf);
    expect(letters.map((l) => l.seq)).toEqual([1, 2]);
    expect(letters.every((l) => l.pages >= 2)).toBe(true);
    expect(result.pages).toBe(pages.length);
    expect(result.pages).toBe(letters.reduce((n, l) => n + l.pages, 0));
    let p = 0;
    for (const letter of letters) {
      expect(letter.matchCode).toBe(matchCode("PLH-2026-000123", letter.seq));
      for (let i = 1; i <= letter.pages; i++, p++) {
        const texts = pages[p]!.texts.map((t) => t.text);
        expect(texts).toContain(letter.matchCode);
        expect(texts).toContain(`Page ${i} of ${letter.pages}`);
        // No other letter's code on this page.
        expect(texts.filter((t) => /^PLH-2026-000123-\d{5}$/.test(t))).toEqual([letter.matchCode]);
      }
    }
    expect(matchCode("PLH-2026-000123", 42)).toBe("PLH-2026-000123-00042");
  });

  test("merge fields are filled from the recipient; a missing field becomes empty", async () => {
    expect(mergeFields("Hi {{first_name}}, see you {{ appointment_date }}{{nope}}.", { first_name: "Avery", appointment_date: "2026-12-01" })).toBe("Hi Avery, see you 2026-12-01.");
    const { pdf } = await render({
      template: { body: "Dear {{first_name}} {{Last_Name}},\n\nYour visit on {{appointment_date}} is moved{{missing_field}}.", signer: { name: "Dana Example, MD", title: "Medical Director" } },
      recipients: [person(3, { appointment_date: "2026-12-01" })],
    });
    const text = readPdf(pdf).flatMap((p) => p.texts.map((t) => t.text)).join("\n");
    expect(text).toContain("Dear Avery Testperson3,");
    expect(text).toContain("Your visit on 2026-12-01 is moved.");
    expect(text).not.toContain("{{");
  });

  test("the PROOF watermark is on every page when asked, and nowhere otherwise", async () => {
    const marked = readPdf((await render({ watermark: true })).pdf);
    expect(marked.length).toBeGreaterThanOrEqual(4);
    for (const page of marked) expect(page.texts.filter((t) => t.text === "PROOF" && t.size >= 100).length).toBe(1);
    const clean = readPdf((await render({ watermark: false })).pdf);
    expect(clean.flatMap((p) => p.texts).filter((t) => t.text.includes("PROOF")).length).toBe(0);
  });

  test("the signature block has the signer's name and title, with the image when given", async () => {
    const { pdf } = await render({ recipients: [person(1)] });
    const pages = readPdf(pdf);
    const last = pages[pages.length - 1]!;
    const texts = last.texts.map((t) => t.text);
    expect(texts).toContain("Dana Example, MD");
    expect(texts).toContain("Medical Director");
    expect(last.images.length).toBe(1);
    const name = last.texts.find((t) => t.text === "Dana Example, MD")!;
    expect(name.bold).toBe(true);
    expect(last.images[0]!.y).toBeLessThan(name.box.y); // the image sits above the typed name
  });
});

// ── The envelope check ─────────────────────────────────────────────────────────────────────
describe("envelope check", () => {
  const doc = new PDFDocument({ autoFirstPage: false });
  const secret = { first_name: "Quinlan", last_name: "Zebulonsky", address1: "4821 Wisteria Boulevard", address2: "", city: "Springfield", state: "IL", zip: "62704-1234" };
  const leaks = (reasons: string[]) => reasons.some((r) => Object.values(secret).some((v) => v.length > 2 && r.includes(v)));

  test("a 3-line address passes", () => {
    expect(recipientLines(secret).length).toBe(3);
    expect(checkAddress(doc, recipientLines(secret))).toEqual({ ok: true });
  });

  test("an over-long line fails with its number and size, not its text", () => {
    // 38 capitals: inside the 40-character limit of the list check, too wide for the window.
    const long = { ...secret, address1: "4821 NORTHWEST WISTERIA BOULEVARD EXTN" };
    const check = checkAddress(doc, recipientLines(long));
    expect(check.ok).toBe(false);
    const reasons = check.ok ? [] : check.reasons;
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toMatch(/^line 2 is \d\.\d\d in wide, the window leaves 3\.00 in after 1\/8 in clearance and 0\.75 in of side-to-side play$/);
    expect(leaks(reasons) || reasons.some((r) => r.includes("WISTERIA"))).toBe(false);
  });

  test("a 4-line address fails honestly: it is taller than the window allows under the fold shift", () => {
    const check = checkAddress(doc, recipientLines({ ...secret, address2: "Apartment 12B" }));
    expect(check).toEqual({ ok: false, reasons: ["address is 4 lines: 0.64 in tall, the window leaves 0.54 in after 1/8 in clearance and 0.21 in of fold shift"] });
  });

  test("characters the letter font cannot print fail the address (they would print as '?')", () => {
    const check = checkAddress(doc, recipientLines({ ...secret, last_name: "Nguyễn" }));
    expect(check).toEqual({ ok: false, reasons: ["line 1 has 1 character the letter font cannot print"] });
    expect(checkAddress(doc, recipientLines({ ...secret, first_name: "José", last_name: "Núñez" }))).toEqual({ ok: true }); // Latin-1 is fine
  });

  test("renderLetters reports each letter's check, and the return address's", async () => {
    const { letters, result } = await render({ recipients: [person(1), person(2, { address2: "Unit 5" })], template: { body: "Short.", signer: { name: "A", title: "B" } } });
    expect(letters.map((l) => l.envelope.ok)).toEqual([true, false]);
    expect(result.returnAddress).toEqual({ ok: true });
  });
});

// ── Streaming ──────────────────────────────────────────────────────────────────────────────
describe("streaming", () => {
  test("the SHA-256 computed while streaming is the SHA-256 of the bytes written", async () => {
    const { pdf, result } = await render({ compress: true, watermark: true });
    expect(pdf.subarray(0, 5).toString()).toBe("%PDF-");
    expect(pdf.subarray(-6).toString()).toContain("%%EOF");
    expect(result.bytes).toBe(pdf.length);
    expect(result.sha256).toBe(createHash("sha256").update(pdf).digest("hex"));
    // Same input, same fixed dates: same bytes.
    expect((await render({ compress: true, watermark: true })).result.sha256).toBe(result.sha256);
  });

  test("pages reach the output while later letters are still being drawn, and a slow output is waited for", async () => {
    let written = 0;
    let maxBuffered = 0;
    const out = new Writable({
      highWaterMark: 16 * 1024,
      write(chunk, _enc, done) { written += chunk.length; setTimeout(done, 0); },
    });
    const seenAt: number[] = [];
    const recipients = Array.from({ length: 60 }, (_, i) => person(i + 1));
    const result = await renderLetters({
      ...options({ recipients, template: { body: paragraph.repeat(6), signer: { name: "A", title: "B" } } }), out,
      onLetter: () => { seenAt.push(written); maxBuffered = Math.max(maxBuffered, out.writableLength); },
    } as RenderOptions);
    expect(result.letters).toBe(60);
    // Letters' pages were out (past the 15-byte header) before later letters were drawn: about
    // half the file by the 31st letter of 60, less what the output still holds.
    expect(seenAt[10]!).toBeGreaterThan(result.bytes / 10);
    expect(seenAt[30]!).toBeGreaterThan(result.bytes / 3);
    expect(seenAt[30]!).toBeLessThan(result.bytes);
    // Bounded by the output's buffer plus about one letter, not by the document.
    expect(maxBuffered).toBeLessThan(16 * 1024 + 64 * 1024);
    expect(result.bytes).toBeGreaterThan(3 * (16 * 1024 + 64 * 1024));
  });
});
