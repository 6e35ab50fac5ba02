// `bun run audit:docs`: writes docs/audit-events.md from the typed catalogue in src/audit/actions.ts,
// so the document can never drift from what the code records (tests/audit-catalogue.test.ts).
import { writeFileSync } from "node:fs";
import path from "node:path";
import { AUDIT_ACTIONS } from "../src/audit/actions.ts";

export const CATALOGUE_DOC = path.resolve(import.meta.dir, "../docs/audit-events.md");

const GROUPS: Record<string, string> = {
  access: "Access control",
  account: "Account settings and email preferences",
  audit: "The audit trail itself",
  baa: "Business Associate Agreements",
  data_request: "Data export and deletion requests",
  incident: "Security and privacy incident reports",
  job: "Mailing jobs",
  keys: "Encryption key rotation",
  letter_template: "Letter templates",
  auth: "Sign-up, sign-in and sessions",
  mfa: "Two-step sign-in",
  operator: "Platform operators",
  practice: "Practices",
  proof: "Proofs",
  retention: "Retention sweeps",
  team: "Teams",
};

export function renderCatalogue(): string {
  const byGroup = new Map<string, [string, string][]>();
  for (const [action, description] of Object.entries(AUDIT_ACTIONS)) {
    const group = action.split(".")[0]!;
    byGroup.set(group, [...(byGroup.get(group) ?? []), [action, description]]);
  }
  const lines = [
    "# Audit events",
    "",
    "Generated from `src/audit/actions.ts` by `bun run audit:docs`; do not edit by hand.",
    "",
    "Every event records its UTC time, practice (none for platform events), actor (user, operator,",
    "`system:<job>` or anonymous) and role, IP address, user agent, request id, action, target type and",
    "id, outcome (`success`, `denied` or `error`) and details. Details are flat facts (ids, counts,",
    "codes, flags) and never carry PHI: no names, addresses, email addresses or file contents. Events",
    "of a practice form its hash chain; events without a practice form the platform chain.",
    "",
  ];
  for (const group of [...byGroup.keys()].sort()) {
    lines.push(`## ${GROUPS[group] ?? group} (\`${group}.*\`)`, "", "| action | when it fires, and its details |", "|---|---|");
    for (const [action, description] of byGroup.get(group)!.sort(([a], [b]) => a.localeCompare(b))) {
      lines.push(`| \`${action}\` | ${description.replace(/\|/g, "\\|")} |`);
    }
    lines.push("");
  }
  return lines.join("\n");
}

if (import.meta.main) {
  writeFileSync(CATALOGUE_DOC, renderCatalogue());
  console.log(`Wrote ${path.relative(process.cwd(), CATALOGUE_DOC)} (${Object.keys(AUDIT_ACTIONS).length} actions).`);
}
