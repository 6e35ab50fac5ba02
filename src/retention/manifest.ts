// The certificate of destruction as a record (ADR 0018): a manifest of what a purge deleted, written
// in the purge's own transaction as canonical JSON text (keys sorted, no whitespace, items sorted by
// blob name), so that its SHA-256, recorded with the row and in the hash-chained job.data.purged
// event, can be recomputed by anyone from the stored text. The PDF people download is rendered from
// it (certificate-pdf.ts), the same bytes every time. No PHI: blob names are server-chosen ids.
import { sha256Hex } from "../platform/crypto.ts";
import type { DestroyedItem } from "../platform/schema.ts";

export const MANIFEST_VERSION = 1;

export type ManifestItem = Required<Pick<DestroyedItem, "name" | "kind" | "bytes" | "sha256" | "in_storage">>;

export type CertificateManifest = {
  version: number;
  certificate_id: string;
  verification_id: string;
  practice: { id: string; name: string };
  job: { id: string; reference: string; status: string; ended_at: string | null };
  /** When the purge's transaction recorded it (UTC, ISO 8601). */
  purged_at: string;
  sweep: { name: string; run_id: string; cutoff: string };
  letter_erased: boolean;
  blobs: number;
  bytes: number;
  items: ManifestItem[];
};

/** JSON with object keys sorted at every level and no whitespace: one text per value. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** The manifest's canonical text and SHA-256; items sorted by name and the totals derived from them. */
export function sealManifest(m: Omit<CertificateManifest, "version" | "blobs" | "bytes">): { manifest: CertificateManifest; text: string; sha256: string } {
  const items = [...m.items].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const manifest: CertificateManifest = { ...m, version: MANIFEST_VERSION, items, blobs: items.length, bytes: items.reduce((n, i) => n + (i.bytes ?? 0), 0) };
  const text = canonicalJson(manifest);
  return { manifest, text, sha256: sha256Hex(text) };
}

/** Reads a stored manifest back, refusing one whose text does not hash to the recorded SHA-256. */
export function openManifest(text: string, sha256: string): CertificateManifest {
  if (sha256Hex(text) !== sha256) throw new Error("certificate manifest does not match its recorded SHA-256");
  return JSON.parse(text) as CertificateManifest;
}
