// Issue 7 item 9: a whole job rendered (proof and print file) writes no file to local disk outside
// this test's own folders, and neither the logs nor the database's files on disk carry any
// recipient's data. Recipients carry a unique marker so any copy of them can be found.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { lstatSync, readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { sql } from "kysely";
import { createLogger } from "../src/platform/log.ts";
import { createTestApp, type TestApp } from "./support/app.ts";
import { makeSignedPractice } from "./support/baa.ts";
import { Client } from "./support/browserless.ts";
import { jobReadyToSubmit, recipientsCsv } from "./support/jobs.ts";
import { sessionToken } from "./support/people.ts";
import { testStack } from "./support/stack.ts";

const ROOT = path.resolve(import.meta.dir, "..");
const MARKER = `Qphi${crypto.randomUUID().replace(/-/g, "").slice(0, 12)}`;
const logLines: string[] = [];
let t: TestApp;

/** Every regular file under `dir` with its modification time (skipping what is not ours to scan). */
function files(dir: string, skip: (p: string) => boolean, out = new Map<string, number>()): Map<string, number> {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    const full = path.join(dir, name);
    if (skip(full)) continue;
    let info;
    try {
      info = lstatSync(full);
    } catch {
      continue;
    }
    if (info.isDirectory()) files(full, skip, out);
    else if (info.isFile()) out.set(full, info.mtimeMs);
  }
  return out;
}

beforeAll(async () => {
  const destination = new Writable({ write(chunk, _encoding, done) { logLines.push(String(chunk)); done(); } });
  t = await createTestApp({ background: true, logger: createLogger({ level: "debug", destination }) });
}, 30_000);
afterAll(() => t.close());

test("rendering a whole job leaves no PHI on local disk, in the database's files or in the logs", async () => {
  const stack = testStack();
  const skipProject = (p: string) => /\/(node_modules|\.git|screenshots)$/.test(p);
  const projectBefore = files(ROOT, skipProject);
  const started = Date.now();

  const admin = await makeSignedPractice(t, "PHI Discipline Clinic");
  const job = await jobReadyToSubmit(t, admin, recipientsCsv(40, MARKER));
  // Through HTTP, so the request logs take part too.
  const client = new Client(t);
  client.cookies.set("__Host-plh_session", await sessionToken(t, admin));
  expect((await client.post(`/jobs/${job.id}/submit`, {})).status).toBeLessThan(400);
  const until = Date.now() + 60_000;
  let proof;
  while (!(proof = await t.ownerDb.selectFrom("proofs").selectAll().where("job_id", "=", job.id).where("status", "=", "ready").executeTakeFirst())) {
    if (Date.now() > until) throw new Error("no proof");
    await Bun.sleep(100);
  }
  expect((await client.post(`/jobs/${job.id}/proofs/${proof.id}/approve`, { sha256: proof.sha256! })).status).toBe(303);
  while ((await t.ownerDb.selectFrom("production_files").select("status").where("job_id", "=", job.id).executeTakeFirst())?.status !== "ready") {
    if (Date.now() > until) throw new Error("no print file");
    await Bun.sleep(100);
  }
  // Push the database's write-ahead log and dirty pages to disk, so they can be searched.
  await sql`CHECKPOINT`.execute(t.ownerDb);

  // 1. Nothing in the project folder was created or changed.
  const projectAfter = files(ROOT, skipProject);
  expect([...projectAfter].filter(([p, mtime]) => projectBefore.get(p) !== mtime).map(([p]) => p)).toEqual([]);

  // 2. No file written anywhere under the temporary folder since the job began (the database's
  //    tables and write-ahead log included) holds a recipient's name.
  const touched = [...files(os.tmpdir(), () => false)].filter(([, mtime]) => mtime >= started - 1000).map(([p]) => p);
  expect(touched.some((p) => p.startsWith(stack.dataDir))).toBe(true);
  const holding = touched.filter((p) => {
    try {
      return readFileSync(p).includes(MARKER);
    } catch {
      return false;
    }
  });
  expect(holding).toEqual([]);

  // 3. The logs (at debug level) never carry one, though they did record the work.
  expect(logLines.length).toBeGreaterThan(0);
  expect(logLines.filter((l) => l.includes(MARKER))).toEqual([]);

  // The letters exist only in private blob storage (Azurite, in memory here).
  const pdf = await t.blob.container.getBlobClient(proof.blob_name!).downloadToBuffer();
  expect(pdf.length).toBeGreaterThan(0);
}, 120_000);
