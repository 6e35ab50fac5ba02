// Practice settings (issue 9 item 3): what the settings page shows, the letterhead (return address,
// default signer, logo) and the logo's bytes for the practice's own pages. The profile itself is
// saved by the BAA's saveProfile (one use case for the wizard and this page); the two-person rule
// by the proofs' setApprovalRule. Every change is audited in the same transaction with the names
// of what changed, never the values.
import PDFDocument from "pdfkit";
import type { Config } from "../config.ts";
import { recordAudit } from "../audit/record.ts";
import { can, type Permission } from "../auth/permissions.ts";
import type { RequestMember } from "../http/member.ts";
import { imageFormat } from "../jobs/uploads.ts";
import { imageSizeProblem } from "../proofs/image-size.ts";
import type { BlobStore } from "../platform/blob.ts";
import { sha256Hex } from "../platform/crypto.ts";
import { type Db, type Tx, withContext } from "../platform/db.ts";
import type { Logger } from "../platform/log.ts";
import type { Practice } from "../platform/schema.ts";
import type { LetterheadInput } from "./forms.ts";
import { findLetterhead, findPractice, type LetterheadText, type PracticeLetterhead, upsertLetterhead } from "./repo.ts";

export type SettingsDeps = { db: Db; blob: BlobStore; config: Config; logger: Logger };

export class SettingsError extends Error {
  constructor(readonly code: "forbidden" | "bad_image" | "too_large" | "no_logo", message: string) {
    super(message);
  }
}

function asMember<T>(deps: { db: Db }, actor: RequestMember, permission: Permission, fn: (tx: Tx) => Promise<T>): Promise<T> {
  if (!can(actor.role, permission)) return Promise.reject(new SettingsError("forbidden", "Only the practice's administrators can change practice settings."));
  return withContext(deps.db, { actor: `user:${actor.userId}`, userId: actor.userId, practiceId: actor.practiceId }, fn);
}

const audited = (actor: RequestMember) => ({ type: "user" as const, id: actor.userId, role: actor.role });
const practiceTarget = (actor: RequestMember) => ({ type: "practice", id: actor.practiceId });

/** The practice and its letterhead, for the settings page (practice.settings). */
export function practiceSettings(deps: { db: Db }, actor: RequestMember): Promise<{ practice: Practice; letterhead: PracticeLetterhead | null }> {
  return asMember(deps, actor, "practice.settings", async (tx) => ({
    practice: (await findPractice(tx, actor.practiceId))!,
    letterhead: (await findLetterhead(tx, actor.practiceId)) ?? null,
  }));
}

const RETURN_COLUMNS = ["return_name", "return_line1", "return_line2", "return_city", "return_state", "return_zip"] as const;
const SIGNER_COLUMNS = ["signer_name", "signer_title"] as const;

/**
 * Saves the letterhead's return address and default signer. Audited as practice.letterhead.updated
 * with the parts that changed (return_address, signer); saving the same values again records nothing.
 */
export async function saveLetterhead(deps: { db: Db }, actor: RequestMember, input: LetterheadInput): Promise<string[]> {
  return asMember(deps, actor, "practice.settings", async (tx) => {
    const before = await findLetterhead(tx, actor.practiceId, { forUpdate: true });
    const after: LetterheadText = {
      return_name: input.returnName, return_line1: input.returnLine1, return_line2: input.returnLine2, return_city: input.returnCity,
      return_state: input.returnState, return_zip: input.returnZip, signer_name: input.signerName, signer_title: input.signerTitle,
    };
    const differs = (columns: readonly (keyof LetterheadText)[]) => columns.some((c) => (before?.[c] ?? null) !== after[c]);
    const changed = [differs(RETURN_COLUMNS) ? "return_address" : null, differs(SIGNER_COLUMNS) ? "signer" : null].filter((c): c is string => c !== null);
    if (!changed.length) return changed;
    await upsertLetterhead(tx, actor.practiceId, actor.userId, after);
    await recordAudit(tx, {
      practiceId: actor.practiceId, actor: audited(actor), action: "practice.letterhead.updated", target: practiceTarget(actor), request: actor.request,
      details: { changed: changed.join(",") },
    });
    return changed;
  });
}

/**
 * Why an image cannot be the logo, or null: the size, the format by magic number (PNG or JPEG,
 * the same check as job uploads), the declared type against it, and whether pdfkit can open it
 * (a truncated file would only fail later, when a proof renders).
 */
export function logoProblem(bytes: Uint8Array, declaredType: string, maxBytes: number): { code: "bad_image" | "too_large"; message: string } | null {
  if (bytes.length === 0) return { code: "bad_image", message: "Choose a PNG or JPEG file for the logo." };
  if (bytes.length > maxBytes) return { code: "too_large", message: `The logo is too large: at most ${Math.floor(maxBytes / 1024)} KB.` };
  const format = imageFormat(bytes);
  if (!format) return { code: "bad_image", message: "The logo must be a PNG or JPEG image; this file is neither." };
  if (declaredType && declaredType !== "application/octet-stream" && declaredType !== format) {
    return { code: "bad_image", message: `The file is a ${format === "image/png" ? "PNG" : "JPEG"} image, but it was sent as ${declaredType}. Save it again as PNG or JPEG.` };
  }
  // Pixels, from the header: a small file can declare an image too big to render (src/proofs/image-size.ts).
  const pixels = imageSizeProblem(bytes, "The logo");
  if (pixels) return { code: "bad_image", message: pixels };
  try {
    (new PDFDocument({ autoFirstPage: false }) as unknown as { openImage(src: Buffer): unknown }).openImage(Buffer.from(bytes));
  } catch {
    return { code: "bad_image", message: "The image could not be read: is it a complete PNG or JPEG file?" };
  }
  return null;
}

/**
 * Stores a new logo: checked (logoProblem), written to the private container under the practice's
 * own prefix, named on the letterhead row, audited as practice.logo.uploaded (type, size, SHA-256).
 * The blob is written last inside the transaction, so a refused change leaves no blob; the logo
 * it replaces is deleted once the change has committed.
 */
export async function uploadLogo(deps: SettingsDeps, actor: RequestMember, bytes: Uint8Array, declaredType: string): Promise<void> {
  const problem = logoProblem(bytes, declaredType, deps.config.uploads.maxImageBytes);
  if (problem) throw new SettingsError(problem.code, problem.message);
  const type = imageFormat(bytes)!;
  const sha256 = sha256Hex(bytes);
  const blobName = `practices/${actor.practiceId}/letterhead/logo-${crypto.randomUUID()}.${type === "image/png" ? "png" : "jpg"}`;
  const replaced = await asMember(deps, actor, "practice.settings", async (tx) => {
    const before = await findLetterhead(tx, actor.practiceId, { forUpdate: true });
    await upsertLetterhead(tx, actor.practiceId, actor.userId, { logo_blob: blobName, logo_sha256: sha256, logo_bytes: bytes.length, logo_content_type: type });
    await recordAudit(tx, {
      practiceId: actor.practiceId, actor: audited(actor), action: "practice.logo.uploaded", target: practiceTarget(actor), request: actor.request,
      details: { content_type: type, bytes: bytes.length, sha256, replaced: Boolean(before?.logo_blob) },
    });
    await deps.blob.putPrivate(blobName, bytes, type);
    return before?.logo_blob ?? null;
  });
  if (replaced) await removeBlob(deps, replaced);
}

/** Takes the logo off the letterhead (audited as practice.logo.removed), then deletes its blob. */
export async function removeLogo(deps: SettingsDeps, actor: RequestMember): Promise<void> {
  const removed = await asMember(deps, actor, "practice.settings", async (tx) => {
    const before = await findLetterhead(tx, actor.practiceId, { forUpdate: true });
    if (!before?.logo_blob) throw new SettingsError("no_logo", "The letterhead has no logo to remove.");
    await upsertLetterhead(tx, actor.practiceId, actor.userId, { logo_blob: null, logo_sha256: null, logo_bytes: null, logo_content_type: null });
    await recordAudit(tx, {
      practiceId: actor.practiceId, actor: audited(actor), action: "practice.logo.removed", target: practiceTarget(actor), request: actor.request,
      details: { sha256: before.logo_sha256 },
    });
    return before.logo_blob;
  });
  await removeBlob(deps, removed);
}

/** A logo no row names any more: deleting it is tidying, so a failure is logged, never shown. */
async function removeBlob(deps: SettingsDeps, name: string): Promise<void> {
  try {
    await deps.blob.remove(name);
  } catch (error) {
    deps.logger.warn({ err: error instanceof Error ? { type: error.name, message: error.message } : String(error) }, "could not delete a replaced practice logo");
  }
}

/** The logo's bytes for the practice's own pages (any member: jobs.read), or null when there is none. */
export async function readLogo(deps: { db: Db; blob: BlobStore }, actor: RequestMember): Promise<{ bytes: Uint8Array; contentType: string; sha256: string } | null> {
  const row = await asMember(deps, actor, "jobs.read", (tx) => findLetterhead(tx, actor.practiceId));
  if (!row?.logo_blob) return null;
  return { bytes: await readBlob(deps.blob, row.logo_blob), contentType: row.logo_content_type!, sha256: row.logo_sha256! };
}

/** A small blob (a logo) read into memory, never to disk. */
export async function readBlob(blob: BlobStore, name: string): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of await blob.readStream(name)) chunks.push(chunk);
  return Buffer.concat(chunks);
}
