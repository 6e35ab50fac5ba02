// BAA use cases: the wizard's state, the practice profile, reading the agreement, signing it
// (evidence row + executed PDF in private blob storage), the signature history, signed download
// links, and the gate every PHI-bearing use case calls first: assertCurrentBaa(tx, practiceId).
// Each use case asks the permissions module itself and audits in the same transaction.
import type { Config } from "../config.ts";
import type { RequestMeta } from "../context.ts";
import { recordAudit } from "../audit/record.ts";
import { can, type Permission } from "../auth/permissions.ts";
import { findActiveMembership, findUserById } from "../auth/repo.ts";
import type { BlobStore } from "../platform/blob.ts";
import { sha256Hex, signLink, verifyLink } from "../platform/crypto.ts";
import { type Db, type Tx, withContext } from "../platform/db.ts";
import type { BaaSignature, BaaVersion, Practice, Role } from "../platform/schema.ts";
import { findPractice } from "../practices/repo.ts";
import type { ProfileInput, SignInput } from "./forms.ts";
import { executedPdf, type PdfEvidence, type PdfVersion } from "./pdf.ts";
import {
  activatePractice, findCurrentVersion, findSignature, findSignatureFor, insertSignature, latestSignature, listAdmins, listSignatures,
  lockPractice, practiceHasCurrentBaa, type ProfileColumns, transactionTime, updateProfile,
} from "./repo.ts";

export type BaaDeps = { db: Db; blob: BlobStore; config: Config };
/** The signed-in member acting: their user, the practice of their session, and the session. */
export type BaaActor = { userId: string; practiceId: string; sessionId: string };

/** How long a download link on a page works, and how long the storage URL it redirects to works. */
export const DOWNLOAD_LINK_MINUTES = 10;
export const READ_SAS_SECONDS = 60;

export const CONSENT_TEXT =
  "I agree to sign this Business Associate Agreement electronically. I understand that typing my name and selecting " +
  "\"Sign agreement\" is my electronic signature and has the same legal effect as a handwritten signature under the " +
  "U.S. Electronic Signatures in Global and National Commerce Act (ESIGN) and applicable state law. PatientLetterHub " +
  "will keep the executed agreement with a record of this signature (my name, title, the time, my IP address, browser " +
  "and session) and make a PDF copy available to my practice's administrators and auditors. I may ask for a paper copy, " +
  "or withdraw my consent to electronic records for future agreements, by writing to support; withdrawing does not undo " +
  "this signature.";

export function authorityStatement(practiceLegalName: string): string {
  return `I am authorized to sign this agreement on behalf of ${practiceLegalName}${practiceLegalName.endsWith(".") ? "" : "."}`;
}

// ---- errors -------------------------------------------------------------------------------------

/**
 * The gate's refusal: the practice has no executed current BAA. status 403; the message says what
 * to do. Jobs, attestation, upload URLs and upload verification throw it (assertCurrentBaa); the
 * routes answer it with respondBaaRequired (src/baa/http.tsx).
 */
export class BaaRequiredError extends Error {
  readonly code = "baa_required";
  readonly status = 403;
  constructor(
    readonly practiceId: string,
    /** Active admins of the practice, who can sign. */
    readonly admins: string[],
    /** never_signed: no BAA yet; out_of_date: an older version was signed, not the one in force. */
    readonly reason: "never_signed" | "out_of_date",
  ) {
    super(
      `Your practice must sign the current Business Associate Agreement before patient information can be added. ` +
        (admins.length ? `Ask ${listNames(admins)} to sign it` : "An administrator must sign it") + " on the BAA page (/baa).",
    );
    this.name = "BaaRequiredError";
  }
}

export function listNames(names: string[]): string {
  if (names.length <= 1) return names[0] ?? "";
  return `${names.slice(0, -1).join(", ")} or ${names.at(-1)}`;
}

/** The SQLSTATE require_current_baa() raises (the jobs migration's triggers call it). */
export const BAA_REQUIRED_SQLSTATE = "BAA01";

export function isBaaRequiredDbError(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === BAA_REQUIRED_SQLSTATE;
}

export class BaaError extends Error {
  constructor(
    readonly code: "not_allowed" | "profile_incomplete" | "version_changed" | "already_signed" | "not_found" | "no_version" | "link_invalid",
    message: string,
  ) {
    super(message);
  }
}

// ---- the gate -----------------------------------------------------------------------------------

/**
 * Throws BaaRequiredError unless the practice has signed the BAA version in force. Call it first,
 * inside the use case's own tenant transaction (the database's practice_has_current_baa decides).
 */
export async function assertCurrentBaa(tx: Tx, practiceId: string): Promise<void> {
  if (await practiceHasCurrentBaa(tx, practiceId)) return;
  const admins = (await listAdmins(tx, practiceId)).map((a) => a.fullName);
  const reason = (await latestSignature(tx, practiceId)) ? "out_of_date" : "never_signed";
  throw new BaaRequiredError(practiceId, admins, reason);
}

// ---- the wizard's state ---------------------------------------------------------------------------

export type BaaState = "signed" | "never_signed" | "out_of_date";

export type BaaOverview = {
  role: Role;
  practice: Practice;
  current: BaaVersion | null;
  signedCurrent: BaaSignature | null;
  latest: BaaSignature | null;
  admins: { userId: string; fullName: string }[];
  state: BaaState;
};

function tenant(deps: { db: Db }, actor: { userId: string; practiceId: string }) {
  return <T>(fn: (tx: Tx) => Promise<T>) => withContext(deps.db, { actor: `user:${actor.userId}`, userId: actor.userId, practiceId: actor.practiceId }, fn);
}

async function roleOf(tx: Tx, actor: { userId: string; practiceId: string }, permission?: Permission): Promise<Role> {
  const me = await findActiveMembership(tx, actor.practiceId, actor.userId);
  if (!me || (permission && !can(me.role, permission))) throw new BaaError("not_allowed", "Your role in this practice does not allow this. Ask a practice administrator.");
  return me.role;
}

async function overviewIn(tx: Tx, actor: { userId: string; practiceId: string }): Promise<BaaOverview> {
  const role = await roleOf(tx, actor);
  const practice = (await findPractice(tx, actor.practiceId))!;
  const current = (await findCurrentVersion(tx)) ?? null;
  const signedCurrent = current ? ((await findSignatureFor(tx, actor.practiceId, current.id)) ?? null) : null;
  const latest = (await latestSignature(tx, actor.practiceId)) ?? null;
  const admins = await listAdmins(tx, actor.practiceId);
  return { role, practice, current, signedCurrent, latest, admins, state: signedCurrent ? "signed" : latest ? "out_of_date" : "never_signed" };
}

/** What the BAA page shows any member: the practice, the version in force, who signed, who can. */
export function baaOverview(deps: { db: Db }, actor: { userId: string; practiceId: string }): Promise<BaaOverview> {
  return tenant(deps, actor)((tx) => overviewIn(tx, actor));
}

/** For the banner: the member's role and the practice's BAA state (cheap: one transaction). */
export function baaStateFor(deps: { db: Db }, actor: { userId: string; practiceId: string }): Promise<{ role: Role; state: BaaState } | null> {
  return tenant(deps, actor)(async (tx) => {
    const me = await findActiveMembership(tx, actor.practiceId, actor.userId);
    if (!me) return null;
    if (await practiceHasCurrentBaa(tx, actor.practiceId)) return { role: me.role, state: "signed" as const };
    return { role: me.role, state: (await latestSignature(tx, actor.practiceId)) ? ("out_of_date" as const) : ("never_signed" as const) };
  });
}

// ---- step 1: the practice profile -----------------------------------------------------------------

/**
 * Saves the practice profile (the BAA wizard's step 1 and the practice settings page) and returns
 * the names of the columns that changed. Audited as practice.profile.updated with those names and
 * whether an NPI is on file, never the values; saving an unchanged, completed profile records nothing.
 */
export async function saveProfile(deps: { db: Db }, actor: BaaActor, input: ProfileInput, request: RequestMeta): Promise<string[]> {
  return tenant(deps, actor)(async (tx) => {
    const role = await roleOf(tx, actor, "practice.settings");
    const before = (await lockPractice(tx, actor.practiceId))!;
    const profile: ProfileColumns = {
      legal_name: input.legalName, dba_name: input.dbaName, address_line1: input.addressLine1, address_line2: input.addressLine2,
      city: input.city, state: input.state, postal_code: input.postalCode, phone: input.phone, npi: input.npi,
      privacy_officer_name: input.privacyOfficerName, privacy_officer_email: input.privacyOfficerEmail, time_zone: input.timeZone,
    };
    const changed = (Object.keys(profile) as (keyof ProfileColumns)[]).filter((k) => (before[k] ?? null) !== profile[k]);
    if (!changed.length && before.profile_completed_at) return changed;
    await updateProfile(tx, actor.practiceId, profile);
    await recordAudit(tx, {
      practiceId: actor.practiceId, actor: { type: "user", id: actor.userId, role }, action: "practice.profile.updated",
      target: { type: "practice", id: actor.practiceId }, details: { changed: changed.join(","), npi: input.npi !== null }, request,
    });
    return changed;
  });
}

// ---- step 2: reading the agreement ----------------------------------------------------------------

/** The version in force, for the screen or the unsigned PDF; audited as baa.viewed. */
export async function viewAgreement(deps: { db: Db }, actor: BaaActor, view: "text" | "pdf", request: RequestMeta): Promise<{ overview: BaaOverview; version: BaaVersion }> {
  return tenant(deps, actor)(async (tx) => {
    const role = await roleOf(tx, actor, "baa.read");
    const overview = await overviewIn(tx, actor);
    if (!overview.current) throw new BaaError("no_version", "No Business Associate Agreement has been published yet.");
    await recordAudit(tx, {
      practiceId: actor.practiceId, actor: { type: "user", id: actor.userId, role }, action: "baa.viewed",
      target: { type: "baa_version", id: overview.current.id }, details: { view, version: overview.current.version }, request,
    });
    return { overview, version: overview.current };
  });
}

// ---- step 3: signing ----------------------------------------------------------------------------

const VERIFY_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"; // no 0/O, 1/I/L, U: read aloud without confusion

function verificationId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  const chars = [...bytes].map((b) => VERIFY_ALPHABET[b % VERIFY_ALPHABET.length]).join("");
  return `BAA-${chars.slice(0, 4)}-${chars.slice(4, 8)}-${chars.slice(8, 12)}`;
}

export function formatAddress(p: Pick<Practice, "address_line1" | "address_line2" | "city" | "state" | "postal_code">): string {
  return [p.address_line1, p.address_line2, `${p.city}, ${p.state} ${p.postal_code}`].filter(Boolean).join(", ");
}

/** The evidence fields, in a fixed order, whose SHA-256 the record and the certificate carry. */
export function evidenceDigest(e: Omit<PdfEvidence, "evidenceSha256">, version: { id: string; version: number; sha256: string }): string {
  return sha256Hex(JSON.stringify([
    e.signatureId, e.verificationId, e.practiceId, e.practiceLegalName, e.practiceAddress, version.id, version.version, version.sha256,
    e.signerUserId, e.signerEmail, e.signerAccountName, e.typedName, e.title, e.authorityStatement, e.consentText,
    e.signedAt.toISOString(), e.ip, e.userAgent, e.sessionId,
  ]));
}

export function pdfVersion(v: BaaVersion): PdfVersion {
  return { version: v.version, title: v.title, body: v.body, sha256: v.sha256, effectiveAt: new Date(v.effective_at) };
}

/**
 * Signs the version in force for the practice: the evidence row (append-only), the executed PDF in
 * private storage (never overwritten) with its SHA-256, the practice made active, baa.signed, all
 * or nothing. Returns the signature id.
 */
export async function signBaa(deps: BaaDeps, actor: BaaActor, input: SignInput, request: RequestMeta): Promise<{ id: string; verificationId: string }> {
  return tenant(deps, actor)(async (tx) => {
    const role = await roleOf(tx, actor, "baa.sign");
    const practice = await lockPractice(tx, actor.practiceId); // one signing at a time per practice
    if (!practice?.profile_completed_at || !practice.legal_name) throw new BaaError("profile_incomplete", "Complete the practice profile (step 1) before signing.");
    const current = await findCurrentVersion(tx);
    if (!current) throw new BaaError("no_version", "No Business Associate Agreement has been published yet.");
    if (current.id !== input.versionId) throw new BaaError("version_changed", "A new version of the agreement is now in effect. Review it, then sign.");
    if (await findSignatureFor(tx, actor.practiceId, current.id)) throw new BaaError("already_signed", "Your practice has already signed this version.");
    const user = (await findUserById(tx, actor.userId))!;
    const id = crypto.randomUUID();
    const partial = {
      signatureId: id, verificationId: verificationId(), practiceId: actor.practiceId,
      practiceLegalName: practice.legal_name, practiceDba: practice.dba_name, practiceAddress: formatAddress(practice), practiceNpi: practice.npi,
      signerUserId: user.id, signerAccountName: user.full_name, signerEmail: user.email,
      typedName: input.typedName, title: input.title, authorityStatement: authorityStatement(practice.legal_name), consentText: CONSENT_TEXT,
      signedAt: await transactionTime(tx), ip: request.ip || null, userAgent: request.userAgent || null, sessionId: actor.sessionId,
    };
    const evidence: PdfEvidence = { ...partial, evidenceSha256: evidenceDigest(partial, current) };
    const pdf = await executedPdf(pdfVersion(current), evidence);
    const pdfSha256 = sha256Hex(pdf);
    const blobName = `practices/${actor.practiceId}/baa/${id}.pdf`;
    await insertSignature(tx, {
      id, practice_id: actor.practiceId, baa_version_id: current.id, baa_version: current.version, baa_sha256: current.sha256,
      signer_user_id: user.id, signer_email: user.email, signer_account_name: user.full_name, typed_name: input.typedName, signer_title: input.title,
      authority_statement: evidence.authorityStatement, consent_text: CONSENT_TEXT, practice_legal_name: practice.legal_name,
      practice_address: evidence.practiceAddress, signed_at: evidence.signedAt, ip: evidence.ip, user_agent: evidence.userAgent,
      session_id: actor.sessionId, verification_id: evidence.verificationId, evidence_sha256: evidence.evidenceSha256,
      pdf_blob: blobName, pdf_sha256: pdfSha256, pdf_bytes: pdf.length,
    });
    await activatePractice(tx, actor.practiceId);
    await recordAudit(tx, {
      practiceId: actor.practiceId, actor: { type: "user", id: actor.userId, role }, action: "baa.signed", target: { type: "baa_signature", id },
      details: { version: current.version, baa_sha256: current.sha256, pdf_sha256: pdfSha256, verification_id: evidence.verificationId }, request,
    });
    // Last, so a refused insert leaves no blob; if the commit fails after this, an unreferenced
    // blob remains under a signature id that never existed.
    await deps.blob.putPrivate(blobName, pdf, "application/pdf");
    return { id, verificationId: evidence.verificationId };
  });
}

// ---- the signature history and downloads ----------------------------------------------------------

export async function signatureHistory(deps: { db: Db }, actor: BaaActor, request: RequestMeta): Promise<{ overview: BaaOverview; signatures: BaaSignature[] }> {
  return tenant(deps, actor)(async (tx) => {
    const role = await roleOf(tx, actor, "baa.read");
    const overview = await overviewIn(tx, actor);
    const signatures = await listSignatures(tx, actor.practiceId);
    await recordAudit(tx, {
      practiceId: actor.practiceId, actor: { type: "user", id: actor.userId, role }, action: "baa.viewed",
      target: { type: "practice", id: actor.practiceId }, details: { view: "history", version: overview.current?.version ?? null }, request,
    });
    return { overview, signatures };
  });
}

function linkResource(practiceId: string, signatureId: string): string {
  return `baa-signature:${practiceId}:${signatureId}`;
}

/** A download link for one executed BAA, for this user only, valid DOWNLOAD_LINK_MINUTES. */
export function downloadPath(config: Config, actor: { userId: string; practiceId: string }, signatureId: string, now = Date.now()): string {
  const token = signLink(config.keys.hmac, { resource: linkResource(actor.practiceId, signatureId), userId: actor.userId, expiresAt: new Date(now + DOWNLOAD_LINK_MINUTES * 60_000) });
  return `/baa/signatures/${signatureId}/download?token=${encodeURIComponent(token)}`;
}

/**
 * Follows a download link: checks its signature and expiry against this user and practice, the
 * membership and permission again, finds the record in the tenant; audits baa.downloaded (denied
 * in its own transaction when refused) and returns a read URL valid READ_SAS_SECONDS.
 */
export async function openDownload(deps: BaaDeps, actor: BaaActor, signatureId: string, token: string, request: RequestMeta): Promise<string> {
  const check = verifyLink(deps.config.keys.hmac, token, { resource: linkResource(actor.practiceId, signatureId), userId: actor.userId });
  const refuse = async (reason: string, error: BaaError) => {
    await tenant(deps, actor)((tx) => recordAudit(tx, {
      practiceId: actor.practiceId, actor: { type: "user", id: actor.userId }, action: "baa.downloaded", outcome: "denied",
      target: { type: "baa_signature", id: signatureId }, details: { reason }, request,
    }));
    return error;
  };
  if (!check.ok) {
    throw await refuse(check.reason, new BaaError("link_invalid", check.reason === "expired"
      ? "This download link has expired. Open the BAA page again for a fresh one."
      : "This download link is not valid for you. Open the BAA page and use the link there."));
  }
  const found = await tenant(deps, actor)(async (tx) => {
    const role = await roleOf(tx, actor, "baa.read");
    const signature = await findSignature(tx, actor.practiceId, signatureId);
    if (!signature) return null;
    await recordAudit(tx, {
      practiceId: actor.practiceId, actor: { type: "user", id: actor.userId, role }, action: "baa.downloaded",
      target: { type: "baa_signature", id: signatureId }, details: { verification_id: signature.verification_id }, request,
    });
    return signature;
  });
  if (!found) throw await refuse("not_found", new BaaError("not_found", "No such signature record in this practice."));
  const day = new Date(found.signed_at).toISOString().slice(0, 10);
  return deps.blob.readUrl(found.pdf_blob, { seconds: READ_SAS_SECONDS, downloadName: `BAA-v${found.baa_version}-executed-${day}-${found.verification_id}.pdf` });
}
