import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import {
  CryptoError,
  type CryptoFailure,
  decryptField,
  encryptField,
  hmacHex,
  type KeyRing,
  needsReencryption,
  randomToken,
  sha256Hex,
  signLink,
  verifyHmacHex,
  verifyLink,
} from "../src/platform/crypto.ts";

const k1 = { id: "k1", key: randomBytes(32) };
const k2 = { id: "k2", key: randomBytes(32) };
const ring1: KeyRing = [k1];
const rotated: KeyRing = [k2, k1];
const CONTEXT = "users.totp_secret:3f0c9c1e-7d4a-4a8e-9d51-0f6f0c1d2e3a";

/** Runs fn and returns the CryptoError reason it threw; fails the test if it returned or threw something else. */
function failureOf(fn: () => unknown): CryptoFailure {
  let result: unknown;
  try {
    result = fn();
  } catch (error) {
    expect(error).toBeInstanceOf(CryptoError);
    return (error as CryptoError).reason;
  }
  throw new Error(`expected a CryptoError, got a result: ${JSON.stringify(result)}`);
}

function parts(payload: string) {
  const [version, keyId, iv, ciphertext, tag] = payload.split(".") as [string, string, string, string, string];
  return { version, keyId, iv, ciphertext, tag };
}

function flipBit(b64url: string, bit: number): string {
  const bytes = Buffer.from(b64url, "base64url");
  bytes[bit >> 3]! ^= 1 << (bit & 7);
  return bytes.toString("base64url");
}

describe("sha256Hex and randomToken", () => {
  test("sha256Hex matches the published test vector for strings and bytes", () => {
    const abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    expect(sha256Hex("abc")).toBe(abc);
    expect(sha256Hex(new TextEncoder().encode("abc"))).toBe(abc);
  });

  test("randomToken is base64url of the requested length and never repeats", () => {
    const a = randomToken();
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(a, "base64url").length).toBe(32);
    expect(Buffer.from(randomToken(16), "base64url").length).toBe(16);
    expect(new Set(Array.from({ length: 100 }, () => randomToken())).size).toBe(100);
  });
});

describe("encryptField / decryptField", () => {
  test("round trip, including non-ASCII and empty text", () => {
    for (const text of ["JBSWY3DPEHPK3PXP", "Réinitialisation — 患者 🏥", ""]) {
      const payload = encryptField(ring1, text, CONTEXT);
      expect(payload).toMatch(/^v1\.k1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]{22}$/);
      expect(payload).not.toContain(text || "\u0000");
      expect(decryptField(ring1, payload, CONTEXT)).toBe(text);
    }
  });

  test("two encryptions of the same text differ (fresh IV)", () => {
    const a = encryptField(ring1, "same text", CONTEXT);
    const b = encryptField(ring1, "same text", CONTEXT);
    expect(a).not.toBe(b);
    expect(parts(a).iv).not.toBe(parts(b).iv);
  });

  test("every single bit flip in iv, ciphertext or tag is refused as tampered", () => {
    const payload = encryptField(ring1, "totp-secret-value", CONTEXT);
    const p = parts(payload);
    let checked = 0;
    for (const field of ["iv", "ciphertext", "tag"] as const) {
      const bits = Buffer.from(p[field], "base64url").length * 8;
      for (let bit = 0; bit < bits; bit++) {
        const altered = { ...p, [field]: flipBit(p[field], bit) };
        const forged = [altered.version, altered.keyId, altered.iv, altered.ciphertext, altered.tag].join(".");
        expect(failureOf(() => decryptField(ring1, forged, CONTEXT))).toBe("tampered");
        checked++;
      }
    }
    expect(checked).toBe((12 + 17 + 16) * 8);
  });

  test("a ciphertext moved to another row or column is refused as tampered", () => {
    const payload = encryptField(ring1, "secret", CONTEXT);
    expect(failureOf(() => decryptField(ring1, payload, "users.totp_secret:another-user"))).toBe("tampered");
    expect(failureOf(() => decryptField(ring1, payload, "letter_templates.body:3f0c9c1e-7d4a-4a8e-9d51-0f6f0c1d2e3a"))).toBe("tampered");
  });

  test("a payload whose key id was rewritten to another ring key is refused as tampered", () => {
    const payload = encryptField(ring1, "secret", CONTEXT);
    const relabelled = payload.replace(/^v1\.k1\./, "v1.k2.");
    expect(failureOf(() => decryptField(rotated, relabelled, CONTEXT))).toBe("tampered");
  });

  test("a key id missing from the ring is unknown-key", () => {
    const payload = encryptField([k2], "secret", CONTEXT);
    expect(failureOf(() => decryptField(ring1, payload, CONTEXT))).toBe("unknown-key");
  });

  test("malformed payloads are refused as malformed", () => {
    const good = encryptField(ring1, "secret", CONTEXT);
    const p = parts(good);
    const malformed = [
      "",
      "v1",
      "v1.k1.a.b",
      `v2.k1.${p.iv}.${p.ciphertext}.${p.tag}`,
      `v1.k!1.${p.iv}.${p.ciphertext}.${p.tag}`,
      `v1.k1.${p.iv}AA.${p.ciphertext}.${p.tag}`, // 14-byte IV
      `v1.k1.${p.iv}.${p.ciphertext}.${p.tag.slice(0, 20)}`, // short tag
      `v1.k1.${p.iv}.${p.ciphertext}+/.${p.tag}`, // not base64url
      `${good}.extra`,
    ];
    for (const payload of malformed) expect(failureOf(() => decryptField(ring1, payload, CONTEXT))).toBe("malformed");
  });

  test("rotation: a value from the old key still decrypts and is flagged for re-encryption", () => {
    const old = encryptField(ring1, "still readable", CONTEXT);
    expect(decryptField(rotated, old, CONTEXT)).toBe("still readable");
    expect(needsReencryption(rotated, old)).toBe(true);
    expect(needsReencryption(ring1, old)).toBe(false);
    const fresh = encryptField(rotated, "still readable", CONTEXT);
    expect(parts(fresh).keyId).toBe("k2");
    expect(needsReencryption(rotated, fresh)).toBe(false);
    expect(failureOf(() => needsReencryption(rotated, "not-a-payload"))).toBe("malformed");
  });

  test("an empty context is a programming error, not a silent default", () => {
    expect(() => encryptField(ring1, "x", "")).toThrow(/context/);
  });

  test("a key of the wrong size is refused", () => {
    expect(() => encryptField([{ id: "short", key: randomBytes(16) }], "x", CONTEXT)).toThrow(/32 bytes/);
  });
});

describe("signLink / verifyLink", () => {
  const now = new Date("2026-06-01T12:00:00Z");
  const expiresAt = new Date("2026-06-01T12:05:00Z");
  const claims = { resource: "proof:7b1e", userId: "user-1", expiresAt };
  const expected = { resource: "proof:7b1e", userId: "user-1", now };

  test("a valid link verifies and reports its expiry", () => {
    const token = signLink(ring1, claims);
    expect(token).toMatch(/^k1\.1780315500\.[A-Za-z0-9_-]{43}$/);
    expect(verifyLink(ring1, token, expected)).toEqual({ ok: true, expiresAt });
  });

  test("expiry is whole seconds, and the link stops working at that second", () => {
    const token = signLink(ring1, { ...claims, expiresAt: new Date(expiresAt.getTime() + 999) });
    expect(verifyLink(ring1, token, { ...expected, now: new Date(expiresAt.getTime() - 1) })).toEqual({ ok: true, expiresAt });
    expect(verifyLink(ring1, token, { ...expected, now: expiresAt })).toEqual({ ok: false, reason: "expired" });
  });

  test("an expired link is refused", () => {
    const token = signLink(ring1, claims);
    expect(verifyLink(ring1, token, { ...expected, now: new Date("2026-06-01T12:05:01Z") })).toEqual({ ok: false, reason: "expired" });
  });

  test("a link for another user or another resource is refused", () => {
    const token = signLink(ring1, claims);
    expect(verifyLink(ring1, token, { ...expected, userId: "user-2" })).toEqual({ ok: false, reason: "bad-signature" });
    expect(verifyLink(ring1, token, { ...expected, resource: "proof:7b1f" })).toEqual({ ok: false, reason: "bad-signature" });
  });

  test("the fields cannot be shifted between resource and user", () => {
    const token = signLink(ring1, { resource: "a", userId: "b.c", expiresAt });
    expect(verifyLink(ring1, token, { resource: "a.b", userId: "c", now })).toEqual({ ok: false, reason: "bad-signature" });
  });

  test("an altered expiry is a bad signature, even when the link has already expired", () => {
    const [kid, exp, sig] = signLink(ring1, claims).split(".") as [string, string, string];
    const later = `${kid}.${Number(exp) + 3600}.${sig}`;
    expect(verifyLink(ring1, later, expected)).toEqual({ ok: false, reason: "bad-signature" });
    const earlier = `${kid}.${Number(exp) - 3600}.${sig}`; // already past: the signature is still checked first
    expect(verifyLink(ring1, earlier, expected)).toEqual({ ok: false, reason: "bad-signature" });
  });

  test("an altered signature is refused", () => {
    const [kid, exp, sig] = signLink(ring1, claims).split(".") as [string, string, string];
    for (const bit of [0, 100, 255]) {
      expect(verifyLink(ring1, `${kid}.${exp}.${flipBit(sig, bit)}`, expected)).toEqual({ ok: false, reason: "bad-signature" });
    }
  });

  test("a link from a key not in the ring is unknown-key", () => {
    const token = signLink([k2], claims);
    expect(verifyLink(ring1, token, expected)).toEqual({ ok: false, reason: "unknown-key" });
  });

  test("a link signed before rotation still verifies; new links use the new key", () => {
    const old = signLink(ring1, claims);
    expect(verifyLink(rotated, old, expected)).toEqual({ ok: true, expiresAt });
    const fresh = signLink(rotated, claims);
    expect(fresh.startsWith("k2.")).toBe(true);
    expect(verifyLink(rotated, fresh, expected)).toEqual({ ok: true, expiresAt });
    // Relabelling an old link with the new key id does not make it valid.
    expect(verifyLink(rotated, old.replace(/^k1\./, "k2."), expected)).toEqual({ ok: false, reason: "bad-signature" });
  });

  test("garbage tokens are malformed", () => {
    const [kid, exp, sig] = signLink(ring1, claims).split(".") as [string, string, string];
    for (const token of ["", "a.b", "x.y.z.w", "x.y.z", `${kid}.${exp}`, `${kid}.0${exp}.${sig}`, `${kid}.${exp}.${sig}A`, `${kid}.${exp}.${sig}.`, `k 1.${exp}.${sig}`]) {
      expect(verifyLink(ring1, token, expected)).toEqual({ ok: false, reason: "malformed" });
    }
  });

  test("signLink refuses an invalid date", () => {
    expect(() => signLink(ring1, { ...claims, expiresAt: new Date("nope") })).toThrow(RangeError);
  });
});

describe("hmacHex / verifyHmacHex", () => {
  test("signs with the current key, verifies with any ring key, and refuses changes", () => {
    const signed = hmacHex(ring1, "checkpoint:practice-1:42:abcd");
    expect(signed.keyId).toBe("k1");
    expect(signed.mac).toMatch(/^[0-9a-f]{64}$/);
    expect(hmacHex(ring1, "checkpoint:practice-1:42:abcd")).toEqual(signed);
    expect(verifyHmacHex(rotated, signed, "checkpoint:practice-1:42:abcd")).toBe(true);
    expect(hmacHex(rotated, "checkpoint:practice-1:42:abcd").keyId).toBe("k2");
    expect(verifyHmacHex(rotated, signed, "checkpoint:practice-1:43:abcd")).toBe(false);
    expect(verifyHmacHex(rotated, { ...signed, keyId: "k2" }, "checkpoint:practice-1:42:abcd")).toBe(false);
    expect(verifyHmacHex([k2], signed, "checkpoint:practice-1:42:abcd")).toBe(false);
    expect(verifyHmacHex(ring1, { ...signed, mac: signed.mac.slice(2) }, "checkpoint:practice-1:42:abcd")).toBe(false);
  });
});
