// The PHI attestation a member makes before any upload URL is issued for a job. Versioned: the
// record keeps the version and the SHA-256 of the exact text shown, so a later wording change never
// rewrites what someone agreed to. Add a new version rather than editing one.
import { sha256Hex } from "../platform/crypto.ts";

const STATEMENTS = {
  "2026-11": [
    "This job contains protected health information (PHI) of our practice's patients.",
    "I am authorized by the practice to send these letters and to share the recipients' names and mailing addresses with PatientLetterHub for that purpose only.",
    "The recipient list contains only the information needed to address and personalise the letters (minimum necessary), and no diagnoses, treatment details or identifiers beyond what the letter requires.",
    "I will upload the list only through this page, directly to PatientLetterHub's encrypted storage, and will not email or otherwise send it.",
  ].join("\n\n"),
} as const;

export type AttestationVersion = keyof typeof STATEMENTS;
export const CURRENT_ATTESTATION: AttestationVersion = "2026-11";

export function attestationStatement(version: AttestationVersion = CURRENT_ATTESTATION) {
  const text = STATEMENTS[version];
  return { version, text, sha256: sha256Hex(text) };
}

export function isAttestationVersion(value: string): value is AttestationVersion {
  return Object.hasOwn(STATEMENTS, value);
}
