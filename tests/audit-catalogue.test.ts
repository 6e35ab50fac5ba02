// The audit catalogue: documented exactly as the code defines it, and every action really recorded.
import { expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { AUDIT_ACTIONS } from "../src/audit/actions.ts";
import { CATALOGUE_DOC, renderCatalogue } from "../scripts/audit-catalogue.ts";

test("docs/audit-events.md is the catalogue as the code defines it (run `bun run audit:docs` after a change)", () => {
  expect(readFileSync(CATALOGUE_DOC, "utf8")).toBe(renderCatalogue());
});

test("every catalogued action is recorded somewhere in the code (no dead entries)", () => {
  const root = path.resolve(import.meta.dir, "../src");
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (/\.tsx?$/.test(name) && !full.endsWith(path.join("audit", "actions.ts"))) files.push(full);
    }
  };
  walk(root);
  const source = files.map((f) => readFileSync(f, "utf8")).join("\n");
  const unused = Object.keys(AUDIT_ACTIONS).filter((action) => !source.includes(`"${action}"`));
  expect(unused).toEqual([]);
});
