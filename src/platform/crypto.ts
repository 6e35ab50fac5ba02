// Hashing, random tokens, field encryption and signed links, on node:crypto only.
// Keys come from key rings (config.keys.*): the first entry signs and encrypts, every entry still
// verifies and decrypts, so a key can be rotated without breaking what it already protected. The
// key id travels with each ciphertext and link so the right key is found without trying them all.
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

export type KeyRing = readonly { id: string; key: Buffer }[];

const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/; // the same rule config.ts applies: no dots, so ids split cleanly
const B64URL = /^[A-Za-z0-9_-]*$/;
const FIELD_VERSION = "v1";
const IV_BYTES = 12; // the GCM standard nonce size; random per encryption
const TAG_BYTES = 16; // full-length tag: shorter tags make forgery easier
const KEY_BYTES = 32;
const LINK_SIG_BYTES = 32; // HMAC-SHA256

export function sha256Hex(input: string | Uint8Array): string {
  return createHash("sha256").update(input).digest("hex");
}

/** Unguessable token for URLs and cookies: base64url of `bytes` crypto-random bytes. */
export function randomToken(bytes = 32): string {
  if (!Number.isInteger(bytes) || bytes < 1) throw new RangeError("randomToken: bytes must be a positive integer");
  return randomBytes(bytes).toString("base64url");
}

export type CryptoFailure = "malformed" | "unknown-key" | "tampered";

/** Why a ciphertext was refused. The message never contains the payload, the plaintext or a key. */
export class CryptoError extends Error {
  constructor(readonly reason: CryptoFailure) {
    super(
      reason === "malformed"
        ? "encrypted value is malformed"
        : reason === "unknown-key"
          ? "encrypted value uses a key that is not in the key ring"
          : "encrypted value failed authentication (altered, or moved from another row or column)",
    );
    this.name = "CryptoError";
  }
}

function currentKey(ring: KeyRing): { id: string; key: Buffer } {
  const first = ring[0];
  if (!first) throw new Error("key ring is empty");
  return checkedKey(first);
}

function findKey(ring: KeyRing, id: string): { id: string; key: Buffer } | undefined {
  const found = ring.find((k) => k.id === id);
  return found && checkedKey(found);
}

// A short key would silently weaken everything it protects: refuse it loudly instead.
function checkedKey(entry: { id: string; key: Buffer }): { id: string; key: Buffer } {
  if (!KEY_ID.test(entry.id)) throw new Error(`key id "${entry.id}" is not valid`);
  if (entry.key.length !== KEY_BYTES) throw new Error(`key "${entry.id}" must be ${KEY_BYTES} bytes`);
  return entry;
}

/** Strict base64url: only the canonical encoding of some bytes is accepted, so a value has one spelling. */
function decodeB64url(text: string): Buffer | undefined {
  if (!B64URL.test(text)) return undefined;
  const bytes = Buffer.from(text, "base64url");
  return bytes.toString("base64url") === text ? bytes : undefined;
}

// The version and key id are authenticated along with the caller's context, so no part of the
// header can be swapped; JSON keeps the three parts unambiguous whatever characters they hold.
function associatedData(keyId: string, context: string): Buffer {
  if (!context) throw new Error("an encryption context is required (e.g. \"users.totp_secret:<user id>\")");
  return Buffer.from(JSON.stringify([FIELD_VERSION, keyId, context]), "utf8");
}

/**
 * AES-256-GCM with the ring's current key. `context` names where the value lives (table, column,
 * row id): it is authenticated, so a ciphertext copied to another row or column fails to decrypt.
 * Output: `v1.<keyId>.<iv>.<ciphertext>.<tag>`, each binary part base64url.
 */
export function encryptField(ring: KeyRing, plaintext: string, context: string): string {
  const { id, key } = currentKey(ring);
  const aad = associatedData(id, context);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  const tag = cipher.getAuthTag();
  return [FIELD_VERSION, id, iv.toString("base64url"), ciphertext.toString("base64url"), tag.toString("base64url")].join(".");
}

type ParsedField = { keyId: string; iv: Buffer; ciphertext: Buffer; tag: Buffer };

function parseField(payload: string): ParsedField {
  const parts = typeof payload === "string" ? payload.split(".") : [];
  if (parts.length !== 5) throw new CryptoError("malformed");
  const [version, keyId, ivText, ciphertextText, tagText] = parts as [string, string, string, string, string];
  if (version !== FIELD_VERSION || !KEY_ID.test(keyId)) throw new CryptoError("malformed");
  const iv = decodeB64url(ivText);
  const ciphertext = decodeB64url(ciphertextText);
  const tag = decodeB64url(tagText);
  if (!iv || iv.length !== IV_BYTES || !ciphertext || !tag || tag.length !== TAG_BYTES) throw new CryptoError("malformed");
  return { keyId, iv, ciphertext, tag };
}

/** Decrypts a value from encryptField with whichever ring key it names; throws CryptoError, never returns garbage. */
export function decryptField(ring: KeyRing, payload: string, context: string): string {
  const { keyId, iv, ciphertext, tag } = parseField(payload);
  const entry = findKey(ring, keyId);
  if (!entry) throw new CryptoError("unknown-key");
  const decipher = createDecipheriv("aes-256-gcm", entry.key, iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(associatedData(keyId, context));
  decipher.setAuthTag(tag);
  let plain: Buffer;
  try {
    plain = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    throw new CryptoError("tampered");
  }
  // Authenticated bytes that are not UTF-8 cannot come from encryptField: refuse rather than
  // hand back replacement characters.
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(plain);
  } catch {
    throw new CryptoError("tampered");
  }
}

/** True when the value was encrypted with an older key and should be rewritten with the current one. Throws CryptoError("malformed") for a value that is not ours. */
export function needsReencryption(ring: KeyRing, payload: string): boolean {
  return parseField(payload).keyId !== currentKey(ring).id;
}

// ---- signed links -------------------------------------------------------------------------------

export type LinkClaims = { resource: string; userId: string; expiresAt: Date };
export type LinkFailure = "malformed" | "unknown-key" | "bad-signature" | "expired";
export type LinkVerification = { ok: true; expiresAt: Date } | { ok: false; reason: LinkFailure };

const EXPIRY = /^[1-9][0-9]{0,11}$/; // canonical decimal unix seconds: one spelling per expiry

function linkSignature(key: Buffer, resource: string, userId: string, expirySeconds: number, keyId: string): Buffer {
  // The resource and user are not in the token: the verifier supplies them from the request and
  // session, so a link only works for the resource it names and the user it was issued to.
  return createHmac("sha256", key).update(JSON.stringify([resource, userId, expirySeconds, keyId]), "utf8").digest();
}

/** A compact link token `<keyId>.<expiry unix seconds>.<signature>` for one resource and one user. */
export function signLink(ring: KeyRing, claims: LinkClaims): string {
  const { id, key } = currentKey(ring);
  const expirySeconds = Math.floor(claims.expiresAt.getTime() / 1000);
  if (!EXPIRY.test(String(expirySeconds))) throw new RangeError("signLink: expiresAt must be a valid date after 1970");
  const sig = linkSignature(key, claims.resource, claims.userId, expirySeconds, id);
  return `${id}.${expirySeconds}.${sig.toString("base64url")}`;
}

/**
 * Checks a token from signLink against the resource and user of the current request. The
 * signature is compared in constant time and before the expiry, so neither the answer nor its
 * timing tells an attacker anything about a forged token's other fields.
 */
export function verifyLink(ring: KeyRing, token: string, expected: { resource: string; userId: string; now?: Date }): LinkVerification {
  const parts = typeof token === "string" ? token.split(".") : [];
  if (parts.length !== 3) return { ok: false, reason: "malformed" };
  const [keyId, expiryText, sigText] = parts as [string, string, string];
  const given = decodeB64url(sigText);
  if (!KEY_ID.test(keyId) || !EXPIRY.test(expiryText) || !given || given.length !== LINK_SIG_BYTES) {
    return { ok: false, reason: "malformed" };
  }
  const entry = findKey(ring, keyId);
  if (!entry) return { ok: false, reason: "unknown-key" };
  const expirySeconds = Number(expiryText);
  const wanted = linkSignature(entry.key, expected.resource, expected.userId, expirySeconds, keyId);
  if (wanted.length !== given.length || !timingSafeEqual(wanted, given)) return { ok: false, reason: "bad-signature" };
  const expiresAt = new Date(expirySeconds * 1000);
  if ((expected.now ?? new Date()).getTime() >= expiresAt.getTime()) return { ok: false, reason: "expired" };
  return { ok: true, expiresAt };
}

// ---- other signed values --------------------------------------------------------------------------

/** HMAC-SHA256 (hex) of `message` with the current key, and that key's id to store beside it. */
export function hmacHex(ring: KeyRing, message: string): { keyId: string; mac: string } {
  const { id, key } = currentKey(ring);
  return { keyId: id, mac: createHmac("sha256", key).update(message, "utf8").digest("hex") };
}

/** Checks a value from hmacHex with the key it names (older keys included), in constant time. */
export function verifyHmacHex(ring: KeyRing, signed: { keyId: string; mac: string }, message: string): boolean {
  const entry = findKey(ring, signed.keyId);
  if (!entry || !/^[0-9a-f]{64}$/.test(signed.mac)) return false;
  const wanted = createHmac("sha256", entry.key).update(message, "utf8").digest();
  const given = Buffer.from(signed.mac, "hex");
  return wanted.length === given.length && timingSafeEqual(wanted, given);
}
