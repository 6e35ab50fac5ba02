// Passwords: argon2id at (or above) OWASP's minimum: 19 MiB, 2 iterations, 1 lane. A stored hash
// made with other parameters verifies, then gets replaced on the next successful sign-in.
import { hash, verify } from "@node-rs/argon2";

// Algorithm.Argon2id: the package exports it as an ambient const enum, which isolated modules cannot read.
const ARGON2ID = 2;

export const PASSWORD_PARAMS = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;
export const PASSWORD_MIN = 12;
export const PASSWORD_MAX = 128;

export function hashPassword(password: string, params: Partial<Record<keyof typeof PASSWORD_PARAMS, number>> = {}): Promise<string> {
  return hash(password, { ...PASSWORD_PARAMS, ...params, algorithm: ARGON2ID });
}

export async function verifyPassword(stored: string, password: string): Promise<boolean> {
  try {
    return await verify(stored, password);
  } catch {
    return false; // malformed hash: treat as a failed match, never as an error page
  }
}

/** True when the PHC string was made with other parameters than today's. */
export function needsRehash(stored: string): boolean {
  const match = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(stored);
  if (!match) return true;
  const [, m, t, p] = match.map(Number);
  return m !== PASSWORD_PARAMS.memoryCost || t !== PASSWORD_PARAMS.timeCost || p !== PASSWORD_PARAMS.parallelism;
}

// Verifying against this when no account matches keeps sign-in timing the same either way.
let dummyHash: Promise<string> | undefined;
export function dummyPasswordHash(): Promise<string> {
  dummyHash ??= hashPassword("not-a-real-password-for-timing");
  return dummyHash;
}
