// `bun run keys:reencrypt` against the real database: values encrypted with key A by the app's own
// code (TOTP secrets, job letters, letter templates), the ring rotated to B with A kept, the command
// run as a process; afterwards every value is under B and decrypts with B alone. Also: --dry-run
// changes nothing, a second run finds nothing (idempotent), batches are audited, a value under a key
// that left the ring is named and left alone, and every encryptField call in src/ is covered.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { enrolmentDetails } from "../src/auth/mfa.ts";
import { attestationStatement } from "../src/jobs/attestation.ts";
import { attestJob, createJob, saveLetter } from "../src/jobs/service.ts";
import { saveTemplateFromJob } from "../src/jobs/templates.ts";
import { decryptField, encryptField, type KeyRing } from "../src/platform/crypto.ts";
import { ENCRYPTED_COLUMNS } from "../src/keys/reencrypt.ts";
import { createTestApp, randomKeyRing, type TestApp } from "./support/app.ts";
import { makeSignedPractice } from "./support/baa.ts";
import { actorOf } from "./support/jobs.ts";
import { makePerson } from "./support/people.ts";

const KEY_A = randomKeyRing("key-a");
const KEY_B = randomKeyRing("key-b");
const parseRing = (text: string): KeyRing => text.split(",").map((p) => {
  const [id, b64] = p.split(":") as [string, string];
  return { id, key: Buffer.from(b64, "base64") };
});
const ringB = parseRing(KEY_B);

let t: TestApp;
const expected = { totp: new Map<string, string>(), letters: new Map<string, string>(), templates: new Map<string, string>() };

beforeAll(async () => {
  t = await createTestApp({ env: { ENCRYPTION_KEYS: KEY_A } });
  // Two practices, each with jobs whose letters are saved and templates made from them, through the services.
  for (const name of ["Rotation Clinic", "Second Rotation Clinic"]) {
    const admin = await makeSignedPractice(t, name);
    const actor = actorOf(admin);
    for (let i = 0; i < 3; i++) {
      const job = await createJob({ db: t.db }, actor, {
        title: `Rotation ${i}`, letterType: "other", mailClass: "first_class", returnName: name, returnLine1: "1 Main St", returnLine2: null,
        returnCity: "Boston", returnState: "MA", returnZip: "02110",
      });
      await attestJob({ db: t.db }, actor, job.id, { statementVersion: attestationStatement().version, confirm: "yes", initials: "RC" });
      const body = `Dear {{first_name}},\n\nLetter ${i} of ${name}.`;
      await saveLetter({ db: t.db, keys: t.config.keys.encryption }, actor, job.id, { body, signerName: "Dr Rotate", signerTitle: "Director" });
      expected.letters.set(job.id, body);
      const template = await saveTemplateFromJob({ db: t.db, keys: t.config.keys.encryption }, actor, job.id, { templateName: `Template ${i}`, body: `${body} (template)` });
      expected.templates.set(template.id, `${body} (template)`);
    }
  }
  // People starting TOTP enrolment: their secret is stored encrypted.
  for (let i = 0; i < 3; i++) {
    const person = await makePerson(t, { mfa: false });
    const user = await t.db.selectFrom("users").selectAll().where("id", "=", person.userId).executeTakeFirstOrThrow();
    const details = await enrolmentDetails({ db: t.db, config: t.config, mailer: t.mailer }, user);
    expected.totp.set(person.userId, details.secret.replace(/ /g, ""));
  }
}, 120_000);
afterAll(() => t.close());

async function runCommand(args: string[], ring = `${KEY_B},${KEY_A}`) {
  const proc = Bun.spawn([process.execPath, "scripts/keys-reencrypt.ts", ...args], {
    cwd: `${import.meta.dir}/..`,
    env: { PATH: process.env.PATH ?? "", DATABASE_OWNER_URL: t.database.ownerUrl, ENCRYPTION_KEYS: ring },
    stdout: "pipe", stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
}

async function storedValues() {
  const users = await t.ownerDb.selectFrom("users").select(["id", "totp_secret"]).where("id", "in", [...expected.totp.keys()]).execute();
  const jobs = await t.ownerDb.selectFrom("jobs").select(["id", "letter_body_enc", "letter_key_id"]).where("id", "in", [...expected.letters.keys()]).execute();
  const templates = await t.ownerDb.selectFrom("letter_templates").select(["id", "body_enc", "key_id"]).execute();
  return { users, jobs, templates };
}

const keyOf = (value: string) => value.split(".")[1];

async function reencryptEvents(): Promise<{ practice_id: string | null; details: Record<string, string | number> }[]> {
  return t.ownerDb.selectFrom("audit_events").select(["practice_id", "details"]).where("action", "=", "keys.reencrypted").execute();
}

describe("bun run keys:reencrypt", () => {
  test("--dry-run counts what it would rewrite and changes nothing", async () => {
    const before = await storedValues();
    expect(before.jobs.every((j) => keyOf(j.letter_body_enc!) === "key-a")).toBe(true);
    const { stdout, stderr, code } = await runCommand(["--dry-run"]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toContain("Current key: key-b; the ring holds key-b, key-a.");
    expect(stdout).toContain("users.totp_secret: would re-encrypt 3 to key-b (from key-a: 3), 0 failed");
    expect(stdout).toContain("jobs.letter_body_enc: would re-encrypt 6 to key-b (from key-a: 6), 0 failed");
    expect(stdout).toContain("letter_templates.body_enc: would re-encrypt 6 to key-b (from key-a: 6), 0 failed");
    expect(await storedValues()).toEqual(before);
    expect(await reencryptEvents()).toEqual([]);
  }, 60_000);

  test("rewrites every value under the new key in audited batches; all still decrypt with the new key alone", async () => {
    const { stdout, stderr, code } = await runCommand(["--batch-size", "2"]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toContain("users.totp_secret: re-encrypted 3 to key-b (from key-a: 3), 0 failed");
    expect(stdout).toContain("jobs.letter_body_enc: re-encrypted 6 to key-b (from key-a: 6), 0 failed");
    expect(stdout).toContain("letter_templates.body_enc: re-encrypted 6 to key-b (from key-a: 6), 0 failed");

    const after = await storedValues();
    for (const user of after.users) {
      expect(keyOf(user.totp_secret!)).toBe("key-b");
      expect(decryptField(ringB, user.totp_secret!, `users.totp_secret:${user.id}`)).toBe(expected.totp.get(user.id)!);
    }
    for (const job of after.jobs) {
      expect(job.letter_key_id).toBe("key-b");
      expect(decryptField(ringB, job.letter_body_enc!, `job-letter:${job.id}`)).toBe(expected.letters.get(job.id)!);
    }
    expect(after.templates).toHaveLength(6);
    for (const template of after.templates) {
      expect(template.key_id).toBe("key-b");
      expect(decryptField(ringB, template.body_enc, `letter-template:${template.id}`)).toBe(expected.templates.get(template.id)!);
    }

    // Batches of at most 2: each practice's 3 letters and 3 templates take 2 batches each, in that
    // practice's chain; the 3 TOTP secrets (at least 2 batches) are in the platform chain.
    const events = await reencryptEvents();
    const rows = (filter: (e: (typeof events)[number]) => boolean) => events.filter(filter).reduce((n, e) => n + Number(e.details.rows), 0);
    expect(events.every((e) => Number(e.details.rows) <= 2 && e.details.to_key === "key-b" && e.details.from_keys === "key-a")).toBe(true);
    expect(rows((e) => e.details.column === "jobs.letter_body_enc")).toBe(6);
    expect(rows((e) => e.details.column === "letter_templates.body_enc")).toBe(6);
    expect(rows((e) => e.details.column === "users.totp_secret" && e.practice_id === null)).toBe(3);
    const letterEvents = events.filter((e) => e.details.column === "jobs.letter_body_enc");
    expect(letterEvents).toHaveLength(4);
    expect(new Set(letterEvents.map((e) => e.practice_id)).size).toBe(2);
    expect(JSON.stringify(events)).not.toContain("Letter 0");
  }, 60_000);

  test("a second run finds nothing to do and records nothing", async () => {
    const before = await storedValues();
    const eventsBefore = (await reencryptEvents()).length;
    const { stdout, code } = await runCommand([]);
    expect(code).toBe(0);
    expect(stdout).toContain("users.totp_secret: re-encrypted 0 to key-b, 0 failed");
    expect(stdout).toContain("jobs.letter_body_enc: re-encrypted 0 to key-b, 0 failed");
    expect(await storedValues()).toEqual(before);
    expect(await reencryptEvents()).toHaveLength(eventsBefore);
  }, 60_000);

  test("a value under a key that left the ring is named, left as it is, and the run exits 1", async () => {
    const lost = parseRing(randomKeyRing("key-lost"));
    const person = await makePerson(t, { mfa: false });
    const orphan = encryptField(lost, "JBSWY3DPEHPK3PXP", `users.totp_secret:${person.userId}`);
    await t.ownerDb.updateTable("users").set({ totp_secret: orphan }).where("id", "=", person.userId).execute();
    const { stdout, stderr, code } = await runCommand([]);
    expect(code).toBe(1);
    expect(stdout).toContain("users.totp_secret: re-encrypted 0 to key-b, 1 failed");
    expect(stderr).toContain(`FAILED: users.totp_secret row ${person.userId}: encrypted value uses a key that is not in the key ring`);
    const row = await t.ownerDb.selectFrom("users").select("totp_secret").where("id", "=", person.userId).executeTakeFirstOrThrow();
    expect(row.totp_secret).toBe(orphan);
  }, 60_000);

  test("usage errors exit 2: no key ring, a bad batch size", async () => {
    expect((await runCommand([], "")).code).toBe(2);
    const bad = await runCommand(["--batch-size", "0"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--batch-size must be an integer from 1 to 10000");
  }, 30_000);
});

test("every encryptField call in src/ encrypts for a column the command knows", () => {
  const root = path.resolve(import.meta.dir, "../src");
  const files = readdirSync(root, { recursive: true, encoding: "utf8" }).filter((f) => /\.tsx?$/.test(f) && f !== "platform/crypto.ts");
  const known = new Set(ENCRYPTED_COLUMNS.map((c) => c.context("ID").replace(/ID$/, "")));
  const found: string[] = [];
  for (const file of files) {
    const text = readFileSync(path.join(root, file), "utf8");
    for (const call of text.matchAll(/encryptField\([^,]+,[^,]+,\s*(\w+)\(/g)) {
      const fn = call[1]!;
      // The context helper in the same file: `function fn(id…) { return \`prefix:${…}\` }` or `const fn = (id…) => \`prefix:${…}\``.
      const def = new RegExp(`(?:function ${fn}\\([^)]*\\)[^{]*\\{\\s*return|const ${fn} = \\([^)]*\\) =>)\\s*\`([^\`$]+)\\$\\{`).exec(text)
        ?? findExported(root, files, fn);
      if (!def) throw new Error(`${file}: cannot find the context helper ${fn}() of an encryptField call`);
      found.push(def[1]!);
    }
    expect(text).not.toMatch(/encryptField\([^,]+,[^,]+,\s*[`"']/); // contexts come from a named helper
  }
  expect(found.length).toBeGreaterThanOrEqual(3);
  for (const prefix of found) expect(known).toContain(prefix);
});

function findExported(root: string, files: string[], fn: string): RegExpExecArray | null {
  for (const file of files) {
    const def = new RegExp(`export function ${fn}\\([^)]*\\)[^{]*\\{\\s*return\\s*\`([^\`$]+)\\$\\{`).exec(readFileSync(path.join(root, file), "utf8"));
    if (def) return def;
  }
  return null;
}
