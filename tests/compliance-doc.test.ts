// docs/compliance.md maps each technical safeguard of 45 CFR 164.312 to tests. This keeps it honest:
// every safeguard has a section with evidence, every referenced test file exists, and every quoted
// test name is a test in that file (renaming or deleting a test fails here until the map follows).
import { expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

const ROOT = path.resolve(import.meta.dir, "..");
const DOC = readFileSync(path.join(ROOT, "docs/compliance.md"), "utf8");

const SAFEGUARDS = [
  "(a)(1) Access control", "(a)(2)(i) Unique user identification", "(a)(2)(ii) Emergency access procedure",
  "(a)(2)(iii) Automatic logoff", "(a)(2)(iv) Encryption and decryption", "(b) Audit controls", "(c)(1) Integrity",
  "(c)(2) Mechanism to authenticate electronic PHI", "(d) Person or entity authentication", "(e)(1) Transmission security",
  "(e)(2)(i) Integrity controls", "(e)(2)(ii) Encryption",
] as const;

type Reference = { file: string; names: string[]; section: string };

/** "- `tests/x.test.ts`: "name"; "name"" lines, with the safeguard section they are under. */
function references(): Reference[] {
  const refs: Reference[] = [];
  let section = "";
  for (const line of DOC.split("\n")) {
    const heading = /^#{2,3} (.+)$/.exec(line);
    if (heading) section = heading[1]!;
    const ref = /^- `(tests\/[^`]+\.test\.ts)`: (.+)$/.exec(line);
    if (!ref) continue;
    const names = [...ref[2]!.matchAll(/"([^"]+)"/g)].map((m) => m[1]!);
    // Nothing but quoted names separated by "; " may follow the file, so a typo cannot hide a name.
    expect(ref[2]!).toBe(names.map((n) => `"${n}"`).join("; "));
    refs.push({ file: ref[1]!, names, section });
  }
  return refs;
}

/** The names a test file gives its tests: test("…") / it("…") / describe prefixes are not needed. */
function testNames(file: string): Set<string> {
  const source = readFileSync(path.join(ROOT, file), "utf8");
  const names = new Set<string>();
  for (const m of source.matchAll(/\b(?:test|it)\(\s*(["'`])((?:\\.|(?!\1).)*)\1/g)) names.add(m[2]!.replace(/\\(.)/g, "$1"));
  return names;
}

test("every safeguard of 164.312 has its section, with a feature and at least one test", () => {
  const refs = references();
  for (const safeguard of SAFEGUARDS) {
    const heading = DOC.split("\n").find((l) => /^#{2,3} /.test(l) && l.includes(safeguard));
    expect(heading, `no section for ${safeguard}`).toBeDefined();
    const section = heading!.replace(/^#{2,3} /, "");
    expect(refs.filter((r) => r.section === section).length, `no test referenced under ${safeguard}`).toBeGreaterThan(0);
  }
});

test("every referenced test file exists and every quoted test name is a test in it", () => {
  const refs = references();
  expect(refs.length).toBeGreaterThan(20);
  const problems: string[] = [];
  for (const ref of refs) {
    if (!existsSync(path.join(ROOT, ref.file))) {
      problems.push(`${ref.section}: ${ref.file} does not exist`);
      continue;
    }
    const names = testNames(ref.file);
    for (const name of ref.names) if (!names.has(name)) problems.push(`${ref.section}: ${ref.file} has no test "${name}"`);
  }
  expect(problems).toEqual([]);
});
