// TOTP two-step sign-in (RFC 6238, 30-second steps, ±1 step of clock drift). A code works once:
// the last accepted step is remembered. Ten recovery codes are shown once and stored as SHA-256
// (they are 80-bit random values, so a fast hash is enough). Verifying rotates the session token.
import { Secret, TOTP } from "otpauth";
import { sql } from "kysely";
import type { RequestMeta } from "../context.ts";
import { recordAudit } from "../audit/record.ts";
import { createHmac } from "node:crypto";
import { decryptField, encryptField, type KeyRing } from "../platform/crypto.ts";
import { type Tx, withContext } from "../platform/db.ts";
import type { Session, User } from "../platform/schema.ts";
import { revokeSession } from "./repo.ts";
import type { AuthDeps } from "./service.ts";
import { createSession } from "./sessions.ts";
import { claimAttempt, clearFailures, MFA_LIMIT, mfaKey } from "./throttle.ts";

const ISSUER = "PatientLetterHub";
const RECOVERY_CODES = 10;

const secretContext = (userId: string) => `users.totp_secret:${userId}`;
const totpFor = (user: Pick<User, "email">, secret: Secret) =>
  new TOTP({ issuer: ISSUER, label: user.email, algorithm: "SHA1", digits: 6, period: 30, secret });

// No 0/o, 1/l/i: codes are read off paper.
const RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789";

function newRecoveryCode(): string {
  const bytes = crypto.getRandomValues(new Uint32Array(12));
  return Array.from(bytes, (n) => RECOVERY_ALPHABET[n % RECOVERY_ALPHABET.length]).join("");
}

/** Every stored form a code may have: one per key of the ring, the first being the current key's. */
export function recoveryCodeHashes(ring: KeyRing, code: string): string[] {
  const normalized = formatRecoveryCode(code);
  return ring.map((k) => `${k.id}:${createHmac("sha256", k.key).update(`recovery-code:${normalized}`).digest("hex")}`);
}

/** Codes are shown as xxxx-xxxx-xxxx; people may type them with or without dashes or spaces. */
export function formatRecoveryCode(raw: string): string {
  return raw.toLowerCase().replace(/[^a-z0-9]/g, "");
}

/** What an authenticator app needs for a base32 secret: the otpauth URI, its QR code, the key spaced for typing. */
export async function totpSetup(user: Pick<User, "email">, secretBase32: string): Promise<{ secret: string; uri: string; qrSvg: string }> {
  const uri = totpFor(user, Secret.fromBase32(secretBase32)).toString();
  // Imported here, not at the top: only enrolment draws a QR code, and qrcode costs every process ~10 MB.
  const { default: QRCode } = await import("qrcode");
  const qrSvg = await QRCode.toString(uri, { type: "svg", errorCorrectionLevel: "M", margin: 2 });
  return { secret: secretBase32.replace(/(.{4})/g, "$1 ").trim(), uri, qrSvg };
}

/** A fresh random TOTP secret (base32, 160 bits). */
export const newTotpSecret = (): string => new Secret({ size: 20 }).base32;

/** users.totp_secret's ciphertext for a base32 secret (the row's id is authenticated with it). */
export const encryptTotpSecret = (deps: Pick<AuthDeps, "config">, userId: string, secretBase32: string): string =>
  encryptField(deps.config.keys.encryption, secretBase32, secretContext(userId));

/** A pending secret for a user who has not finished enrolling (kept across page reloads). */
export async function enrolmentDetails(deps: AuthDeps, user: User): Promise<{ secret: string; uri: string; qrSvg: string }> {
  let secretBase32: string;
  if (user.totp_secret && !user.totp_enabled_at) {
    secretBase32 = decryptField(deps.config.keys.encryption, user.totp_secret, secretContext(user.id));
  } else {
    secretBase32 = newTotpSecret();
    const encrypted = encryptTotpSecret(deps, user.id, secretBase32);
    await withContext(deps.db, { actor: `user:${user.id}`, userId: user.id }, (tx) =>
      tx.updateTable("users").set({ totp_secret: encrypted, totp_enabled_at: null, totp_last_step: null }).where("id", "=", user.id).execute(),
    );
  }
  return totpSetup(user, secretBase32);
}

/** The time step a code matches for a base32 secret, if it is valid now and newer than lastStep. */
export function matchingStep(user: Pick<User, "email">, secretBase32: string, code: string, lastStep: string | number | null): number | null {
  if (!/^\d{6}$/.test(code)) return null;
  const delta = totpFor(user, Secret.fromBase32(secretBase32)).validate({ token: code, window: 1 });
  if (delta === null) return null;
  const step = Math.floor(Date.now() / 30_000) + delta;
  if (lastStep !== null && step <= Number(lastStep)) return null; // replayed
  return step;
}

/** The time step a code matches, if it is valid now and newer than the last one accepted. */
function acceptedStep(deps: AuthDeps, user: User, code: string): number | null {
  if (!user.totp_secret) return null;
  return matchingStep(user, decryptField(deps.config.keys.encryption, user.totp_secret, secretContext(user.id)), code, user.totp_last_step);
}

/** New recovery codes replace every earlier one of the user (inside the caller's transaction); returns them, to show once. */
export async function issueRecoveryCodes(tx: Tx, deps: Pick<AuthDeps, "config">, userId: string): Promise<string[]> {
  const codes = Array.from({ length: RECOVERY_CODES }, newRecoveryCode);
  await tx.deleteFrom("user_recovery_codes").where("user_id", "=", userId).execute();
  await tx.insertInto("user_recovery_codes").values(codes.map((c) => ({ user_id: userId, code_hash: recoveryCodeHashes(deps.config.keys.hmac, c)[0]! }))).execute();
  return codes;
}

/**
 * Uses up a fresh second factor inside the caller's transaction: a TOTP code newer than the last one
 * accepted, or an unused recovery code. Null when neither matches (or another request used it first).
 */
export async function consumeSecondFactor(tx: Tx, deps: AuthDeps, user: User, input: string): Promise<"totp" | "recovery_code" | null> {
  const code = input.replace(/\s/g, "");
  const step = acceptedStep(deps, user, code);
  if (step !== null) {
    // The WHERE makes concurrent use of one code impossible: only one update can win.
    const won = await tx.updateTable("users").set({ totp_last_step: String(step) }).where("id", "=", user.id)
      .where((eb) => eb.or([eb("totp_last_step", "is", null), eb("totp_last_step", "<", String(step))])).executeTakeFirst();
    return won.numUpdatedRows === 1n ? "totp" : null;
  }
  if (/^[a-z0-9-]{12,14}$/i.test(code)) {
    const used = await tx.updateTable("user_recovery_codes").set({ used_at: sql`now()` })
      .where("user_id", "=", user.id).where("code_hash", "in", recoveryCodeHashes(deps.config.keys.hmac, code)).where("used_at", "is", null).executeTakeFirst();
    if (used.numUpdatedRows === 1n) return "recovery_code";
  }
  return null;
}

/** Replaces the session with a fresh token that has passed MFA (old token dies). */
async function rotateToVerified(tx: Tx, deps: AuthDeps, session: Session, request: RequestMeta) {
  await revokeSession(tx, session.id, "rotated");
  // The new token keeps the session's absolute end: rotating must never extend a session.
  return createSession(tx, { userId: session.user_id, practiceId: session.practice_id, mfaVerified: true, request, expiresAt: new Date(session.expires_at) }, deps.config.session);
}

export type MfaResult = { ok: true; token: string; recoveryCodes?: string[] } | { ok: false; reason: "invalid" | "locked" };

/** Audits a refused code (the attempt itself was already counted by claim()). */
async function refuse(deps: AuthDeps, user: User, session: Session, action: "mfa.enrol.failed" | "mfa.verify.failed", reason: "invalid" | "locked", request: RequestMeta) {
  await withContext(deps.db, { actor: `user:${user.id}`, userId: user.id, practiceId: session.practice_id }, (tx) =>
    recordAudit(tx, { practiceId: session.practice_id, actor: { type: "user", id: user.id }, action, outcome: "denied", target: { type: "user", id: user.id }, details: { reason }, request }),
  );
}

/** Counts this code attempt before it is checked (parallel guesses cannot pass the limit). */
export async function claim(deps: AuthDeps, user: User): Promise<boolean> {
  const result = await withContext(deps.db, { actor: `user:${user.id}`, userId: user.id }, (tx) => claimAttempt(tx, mfaKey(user.id), MFA_LIMIT));
  return result.allowed;
}

export async function confirmEnrolment(deps: AuthDeps, user: User, session: Session, code: string, request: RequestMeta): Promise<MfaResult> {
  if (user.totp_enabled_at) return { ok: false, reason: "invalid" };
  if (!(await claim(deps, user))) {
    await refuse(deps, user, session, "mfa.enrol.failed", "locked", request);
    return { ok: false, reason: "locked" };
  }
  const step = acceptedStep(deps, user, code.replace(/\s/g, ""));
  if (step === null) {
    await refuse(deps, user, session, "mfa.enrol.failed", "invalid", request);
    return { ok: false, reason: "invalid" };
  }
  return withContext(deps.db, { actor: `user:${user.id}`, userId: user.id, practiceId: session.practice_id }, async (tx) => {
    // Only one of two concurrent confirmations may enable MFA and issue recovery codes.
    const enabled = await tx.updateTable("users").set({ totp_enabled_at: sql`now()`, totp_last_step: String(step), updated_at: sql`now()` })
      .where("id", "=", user.id).where("totp_enabled_at", "is", null).executeTakeFirst();
    if (enabled.numUpdatedRows !== 1n) return { ok: false, reason: "invalid" } as const;
    const recoveryCodes = await issueRecoveryCodes(tx, deps, user.id);
    await clearFailures(tx, mfaKey(user.id));
    const { token } = await rotateToVerified(tx, deps, session, request);
    await recordAudit(tx, { practiceId: session.practice_id, actor: { type: "user", id: user.id }, action: "mfa.enrolled", target: { type: "user", id: user.id }, details: { recovery_codes: RECOVERY_CODES }, request });
    return { ok: true, token, recoveryCodes };
  });
}

/** Accepts a current TOTP code or an unused recovery code. */
export async function verifySecondFactor(deps: AuthDeps, user: User, session: Session, input: string, request: RequestMeta): Promise<MfaResult> {
  if (!user.totp_enabled_at) return { ok: false, reason: "invalid" };
  if (!(await claim(deps, user))) {
    await refuse(deps, user, session, "mfa.verify.failed", "locked", request);
    return { ok: false, reason: "locked" };
  }
  const result = await withContext(deps.db, { actor: `user:${user.id}`, userId: user.id, practiceId: session.practice_id }, async (tx) => {
    const method = await consumeSecondFactor(tx, deps, user, input);
    if (!method) return null;
    await clearFailures(tx, mfaKey(user.id));
    const { token } = await rotateToVerified(tx, deps, session, request);
    await recordAudit(tx, { practiceId: session.practice_id, actor: { type: "user", id: user.id }, action: "mfa.verified", target: { type: "user", id: user.id }, details: { method }, request });
    return token;
  });
  if (!result) {
    await refuse(deps, user, session, "mfa.verify.failed", "invalid", request);
    return { ok: false, reason: "invalid" };
  }
  return { ok: true, token: result };
}
