// The recipient list parser and validator: encodings, line endings, quoting, header aliases,
// every row rule, duplicates, limits, and reports that name rows and reasons but never values.
import { describe, expect, test } from "bun:test";
import { fieldName, readRecipients, validateRecipients } from "../src/proofs/recipients.ts";
import { zipMatchesState } from "../src/proofs/zip-prefixes.ts";

async function* bytes(text: string | Uint8Array, chunk = 7): AsyncGenerator<Uint8Array> {
  const all = typeof text === "string" ? new TextEncoder().encode(text) : text;
  // Small chunks: multi-byte characters and quoted fields are split across reads.
  for (let i = 0; i < all.length; i += chunk) yield all.slice(i, i + chunk);
}

const HEADER = "first_name,last_name,address1,address2,city,state,zip";

async function report(text: string | Uint8Array, options = {}) {
  const r = await validateRecipients(bytes(text), options);
  return r;
}

describe("reading", () => {
  test("UTF-8 with a BOM, CRLF line endings, quoted fields with commas, quotes and line breaks", async () => {
    const csv = "\uFEFF" + [
      "First Name,Last Name,Street Address,Apt,City,ST,Zip Code,Appointment Date",
      '"José","O\'Brien-Núñez","12 Main St, Rear",,Boston,ma,02118,2026-12-01',
      '"Ann ""Nan""",Lee,"5 Elm St","Unit\n4",Cambridge,MA,02139-4307,2026-12-02',
    ].join("\r\n") + "\r\n";
    const seen: Record<string, string>[] = [];
    const { fields } = await readRecipients(bytes(csv, 3), (r) => { seen.push(r.fields); });
    expect(fields).toEqual(["first_name", "last_name", "address1", "address2", "city", "state", "zip", "appointment_date"]);
    expect(seen[0]).toMatchObject({ first_name: "José", last_name: "O'Brien-Núñez", address1: "12 Main St, Rear", address2: "", state: "MA", zip: "02118", appointment_date: "2026-12-01" });
    expect(seen[1]).toMatchObject({ first_name: 'Ann "Nan"', address2: "Unit 4", zip: "02139-4307" });
  });

  test("LF endings and header names in any case with common aliases", async () => {
    const r = await report("FNAME,Surname,Address,CITY,State,Postal Code\nAl,Ng,1 A St,Denver,CO,80202\n");
    expect(r).toMatchObject({ ok: true, rows: 1, valid: 1, invalid: 0 });
  });

  test("fieldName turns a header into a merge field name", () => {
    expect(fieldName(" Appointment Date ")).toBe("appointment_date");
    expect(fieldName("Dr. (Provider)")).toBe("dr_provider");
    expect(fieldName("2nd visit")).toBeNull();
  });
});

describe("row rules", () => {
  test("each problem is reported by row number and reason, never with the values", async () => {
    const csv = [
      HEADER,
      "Ann,Lee,1 Main St,,Boston,MA,02118", // row 2: fine
      ",Lee,1 Main St,,Boston,MA,02118", // row 3: empty first name
      "Bob,Stone,2 Main St,,Boston,XX,02118", // row 4: not a state
      "Cy,Park,3 Main St,,Boston,MA,2118", // row 5: bad zip
      "Di,Ray,4 Main St,,Boston,CA,02118", // row 6: zip not in state
      `Ed,${"Verylongfamilyname".repeat(3)},5 Main St,,Boston,MA,02118`, // row 7: too long for the window
      "Ann,Lee,1 Main St,,Boston,MA,02118-1234", // row 8: duplicate of row 2
      "Fay,Hu,6 Main St,,San Juan,PR,00901", // row 9: territory, fine
      "Gil,Oz,PSC 1234 Box 5678,,APO,AE,09021", // row 10: military, fine
    ].join("\n");
    const r = await report(csv);
    if (!r.ok) throw new Error(r.fatal);
    expect(r).toMatchObject({ rows: 9, valid: 3, invalid: 6, duplicates: 1 });
    expect(r.problems).toEqual([
      { row: 3, reasons: ["first_name is empty"] },
      { row: 4, reasons: ["state is not a US state or territory code"] },
      { row: 5, reasons: ["zip is not a ZIP or ZIP+4 code"] },
      { row: 6, reasons: ["zip does not belong to the state"] },
      { row: 7, reasons: ["name is longer than 40 characters"] },
      { row: 8, reasons: ["duplicates row 2"] },
    ]);
    const text = JSON.stringify(r);
    for (const value of ["Bob", "Stone", "Verylongfamilyname", "2 Main St"]) expect(text).not.toContain(value);
  });

  test("ZIP prefixes follow USPS's assignment, including shared and military prefixes", () => {
    expect(zipMatchesState("02139", "MA")).toBe(true);
    expect(zipMatchesState("05501", "MA")).toBe(true);
    expect(zipMatchesState("05601", "VT")).toBe(true);
    expect(zipMatchesState("20101", "VA")).toBe(true);
    expect(zipMatchesState("73301", "TX")).toBe(true);
    expect(zipMatchesState("96799", "AS")).toBe(true);
    expect(zipMatchesState("96910", "GU")).toBe(true);
    expect(zipMatchesState("34001", "AA")).toBe(true);
    expect(zipMatchesState("02139", "NY")).toBe(false);
    expect(zipMatchesState("00001", "NY")).toBe(false);
  });
});

describe("lists that cannot be read", () => {
  test("missing required columns are named", async () => {
    expect(await report("name,street,zip\nA,B,02118\n")).toEqual({
      ok: false, fatal: expect.stringContaining("no column for first_name, last_name, city, state."),
    });
  });

  test("not UTF-8, binary, empty, broken quoting, and over the row limit each get a clear message", async () => {
    const latin1 = new Uint8Array([...new TextEncoder().encode(`${HEADER}\nJos`), 0xe9, ...new TextEncoder().encode(",Lee,1 A St,,Boston,MA,02118\n")]);
    expect(await report(latin1)).toEqual({ ok: false, fatal: expect.stringContaining("not UTF-8") });
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
    expect(await report(png)).toEqual({ ok: false, fatal: expect.stringContaining("binary data") });
    expect(await report("")).toEqual({ ok: false, fatal: expect.stringContaining("empty") });
    expect(await report(`${HEADER}\n"Ann,Lee,1 A St,,Boston,MA,02118\n`)).toEqual({ ok: false, fatal: expect.stringContaining("not valid CSV") });
    const rows = Array.from({ length: 6 }, (_, i) => `P${i},Lee,${i} Main St,,Boston,MA,02118`);
    expect(await report([HEADER, ...rows].join("\n"), { maxRows: 5 })).toEqual({ ok: false, fatal: expect.stringContaining("more than 5 recipients") });
  });

  test("two columns meaning the same field are refused", async () => {
    expect(await report("first_name,First Name,last_name,address1,city,state,zip\n")).toEqual({ ok: false, fatal: expect.stringContaining("(first_name)") });
  });
});

test("a refusal part-way through a large list stops reading the rest (no hang on backpressure)", async () => {
  const rows = Array.from({ length: 50_000 }, (_, i) => `P${i},Lee,${i} Main St,,Boston,MA,02118`).join("\n");
  expect(await validateRecipients(bytes(`name,street\n${rows}`, 64 * 1024))).toEqual({ ok: false, fatal: expect.stringContaining("no column") });
  expect(await validateRecipients(bytes(`${HEADER}\n${rows}`, 64 * 1024), { maxRows: 10 })).toEqual({ ok: false, fatal: expect.stringContaining("more than 10") });
});
