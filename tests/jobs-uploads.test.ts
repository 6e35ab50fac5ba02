// Direct uploads against real Azurite and Postgres: what the upload URL allows (and refuses), the
// gates before a URL is issued, the server's verification of what arrived (and the deletion of what
// fails it), replacement, forged completions, and the audit event each step leaves.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { attestationStatement } from "../src/jobs/attestation.ts";
import { attestJob, createJob } from "../src/jobs/service.ts";
import { issueUploadUrl } from "../src/jobs/uploads.ts";
import type { Job, Role } from "../src/platform/schema.ts";
import { sha256Hex } from "../src/platform/crypto.ts";
import { createTestApp, TEST_ORIGIN, type TestApp } from "./support/app.ts";
import { makeSignedPractice } from "./support/baa.ts";
import { makePerson, type Member, sessionToken } from "./support/people.ts";

let t: TestApp;
let admin: Member;
let otherAdmin: Member;
const REQUEST = { requestId: "test-uploads-01", ip: "203.0.113.20", userAgent: "uploads-test" };
const DETAILS = {
  title: "Practice closing", letterType: "practice_closure" as const, mailClass: "first_class" as const, returnName: "Riverbend Family Medicine",
  returnLine1: "12 Main Street", returnLine2: null, returnCity: "Springfield", returnState: "MA", returnZip: "01103",
};
const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 1, 2, 3, 4]);
// A recipient list that passes the list check (made-up people; the check itself is tests/recipients.test.ts).
const csv = (rows = 3) => new TextEncoder().encode(`first_name,last_name,address1,city,state,zip\n${Array.from({ length: rows }, (_, i) => `Pat,Lee${i},${i} Main St,Boston,MA,02118`).join("\n")}\n`);

beforeAll(async () => {
  t = await createTestApp({ env: { UPLOAD_URLS_PER_MINUTE: "6", UPLOAD_MAX_CSV_BYTES: String(6 * 1024 * 1024), UPLOAD_MAX_IMAGE_BYTES: "102400" } });
  admin = await makeSignedPractice(t, "Upload Clinic");
  otherAdmin = await makeSignedPractice(t, "Elsewhere Clinic");
}, 30_000);
afterAll(() => t.close());

const actorOf = (m: Member, role: Role = "staff") => ({ userId: m.userId, practiceId: m.practiceId, role, request: REQUEST });

/** A fresh staff member (each has their own upload-URL budget). */
const staffOf = (practice: Member = admin) => makePerson(t, { practiceId: practice.practiceId, role: "staff" });

async function newJob(owner: Member = admin, options: { attest?: boolean } = {}): Promise<Job> {
  const job = await createJob({ db: t.db }, actorOf(owner), DETAILS);
  if (options.attest ?? true) {
    await attestJob({ db: t.db }, actorOf(owner), job.id, { statementVersion: attestationStatement().version, confirm: "yes", initials: "JQD" });
  }
  return job;
}

const cookies = new Map<string, string>();
async function call(person: Member, method: "GET" | "POST", path: string, options: { body?: Record<string, string | number>; headers?: Record<string, string> } = {}) {
  if (!cookies.has(person.userId)) cookies.set(person.userId, await sessionToken(t, person));
  const requestId = `up-${crypto.randomUUID()}`;
  const res = await t.app.request(`${TEST_ORIGIN}${path}`, {
    method,
    headers: {
      cookie: `__Host-plh_session=${cookies.get(person.userId)}`, "x-request-id": requestId,
      ...(method === "POST" ? { origin: TEST_ORIGIN, "content-type": "application/x-www-form-urlencoded" } : {}),
      ...options.headers,
    },
    body: method === "POST" ? new URLSearchParams(Object.entries(options.body ?? {}).map(([k, v]) => [k, String(v)])).toString() : undefined,
  });
  return Object.assign(res, { requestId });
}

type Grant = { fileId: string; uploadUrl: string; expiresAt: string; contentType: string; completeUrl: string; singlePutMaxBytes: number; blockBytes: number };

function declare(bytes: Uint8Array, overrides: Partial<{ kind: string; name: string; size: number; type: string; sha256: string }> = {}) {
  return { kind: "recipients_csv", name: "recipients.csv", size: bytes.length, type: "text/csv", sha256: sha256Hex(bytes), ...overrides };
}

async function grantFor(person: Member, job: Job, body: Record<string, string | number>) {
  const res = await call(person, "POST", `/jobs/${job.id}/files`, { body, headers: { accept: "application/json" } });
  return { res, grant: res.status === 201 ? ((await res.clone().json()) as Grant) : null };
}

const putBlob = (url: string, bytes: Uint8Array, type: string) =>
  fetch(url, { method: "PUT", headers: { "x-ms-blob-type": "BlockBlob", "x-ms-blob-content-type": type }, body: bytes as Uint8Array<ArrayBuffer> });

async function eventsOf(requestId: string) {
  return t.ownerDb.selectFrom("audit_events").select(["action", "outcome", "target_type", "target_id", "details", "actor_id", "practice_id"])
    .where("request_id", "=", requestId).orderBy("chain_seq").execute();
}

const fileRow = (id: string) => t.ownerDb.selectFrom("job_files").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
const blobExists = (name: string) => t.blob.container.getBlobClient(name).exists();

describe("issuing an upload URL", () => {
  test("records a pending file under a server-chosen name and returns a create/write-only SAS for that one blob, ≤ 10 minutes", async () => {
    const staff = await staffOf();
    const job = await newJob();
    const bytes = csv();
    const { res, grant } = await grantFor(staff, job, declare(bytes, { name: "Smith family.csv" }));
    expect(res.status).toBe(201);
    const row = await fileRow(grant!.fileId);
    expect(row).toMatchObject({ status: "pending", kind: "recipients_csv", job_id: job.id, practice_id: admin.practiceId, declared_size: String(bytes.length), declared_sha256: sha256Hex(bytes) });
    expect(row.blob_name).toBe(`practices/${admin.practiceId}/jobs/${job.id}/${grant!.fileId}`);
    expect(row.blob_lease_id).toMatch(/^[0-9a-f-]{36}$/);
    const url = new URL(grant!.uploadUrl);
    expect(url.pathname.endsWith(`/${t.config.blob.container}/${row.blob_name}`)).toBe(true);
    expect(url.searchParams.get("sp")).toBe("cw");
    expect(url.searchParams.get("sr")).toBe("b");
    const expires = new Date(url.searchParams.get("se")!).getTime();
    expect(expires - Date.now()).toBeLessThanOrEqual(600_000);
    expect(expires - Date.now()).toBeGreaterThan(500_000);
    // The lease id is the server's secret: never in the answer.
    expect(await res.text()).not.toContain(row.blob_lease_id!);
    // Exactly one event: the job by reference, file id, kind and declared size; never the file name.
    const events = await eventsOf(res.requestId);
    expect(events).toEqual([{
      action: "job.upload_url.issued", outcome: "success", target_type: "job", target_id: job.reference, actor_id: staff.userId, practice_id: admin.practiceId,
      details: { file_id: grant!.fileId, kind: "recipients_csv", declared_size: bytes.length },
    }]);
    expect(JSON.stringify(events)).not.toContain("Smith");
  });

  test("the URL can create the blob, and cannot read, list, delete or write another blob name", async () => {
    const staff = await staffOf();
    const job = await newJob();
    const bytes = csv();
    const { grant } = await grantFor(staff, job, declare(bytes));
    const url = new URL(grant!.uploadUrl);
    expect((await putBlob(grant!.uploadUrl, bytes, "text/csv")).status).toBe(201);
    // Read
    expect((await fetch(grant!.uploadUrl)).status).toBe(403);
    // List the container with the same signature
    const list = new URL(url);
    list.pathname = url.pathname.slice(0, url.pathname.indexOf(`/${t.config.blob.container}/`) + t.config.blob.container.length + 1);
    list.searchParams.set("restype", "container");
    list.searchParams.set("comp", "list");
    expect((await fetch(list)).status).toBe(403);
    // Delete
    expect((await fetch(grant!.uploadUrl, { method: "DELETE" })).status).toBe(403);
    // Another blob name, same signature
    const other = new URL(url);
    other.pathname = url.pathname.replace(grant!.fileId, crypto.randomUUID());
    expect((await putBlob(other.toString(), bytes, "text/csv")).status).toBe(403);
    expect(await blobExists(`practices/${admin.practiceId}/jobs/${job.id}/${grant!.fileId}`)).toBe(true);
  });

  test("the URL expires: one issued for 1 second is refused (403) after it", async () => {
    const staff = await staffOf();
    const job = await newJob();
    const bytes = csv();
    const issued = await issueUploadUrl({ db: t.db, blob: t.blob, config: t.config }, actorOf(staff), job.id, declare(bytes) as never, { sasSeconds: 1 });
    await Bun.sleep(2_100);
    expect((await putBlob(issued.uploadUrl, bytes, "text/csv")).status).toBe(403);
  });

  test("no URL before the PHI attestation: 403 with a clear message, recorded as denied", async () => {
    const staff = await staffOf();
    const job = await newJob(admin, { attest: false });
    const { res } = await grantFor(staff, job, declare(csv()));
    expect(res.status).toBe(403);
    expect(((await res.json()) as { message: string }).message).toContain("attestation");
    expect(await t.ownerDb.selectFrom("job_files").select("id").where("job_id", "=", job.id).execute()).toEqual([]);
    const events = await eventsOf(res.requestId);
    expect(events.map((e) => [e.action, e.outcome, e.target_id, (e.details as { reason: string }).reason])).toEqual([["job.upload_url.issued", "denied", job.reference, "not_attested"]]);
    // The page says so too, without upload controls.
    const page = await (await call(staff, "GET", `/jobs/${job.id}/uploads`)).text();
    expect(page).toContain("Confirm the PHI attestation");
    expect(page).not.toContain("data-upload-form");
  });

  test("another practice's job answers 404 (page, URL and completion); an auditor may not ask for a URL", async () => {
    const job = await newJob();
    const { res } = await grantFor(otherAdmin, job, declare(csv()));
    expect(res.status).toBe(404);
    expect((await call(otherAdmin, "GET", `/jobs/${job.id}/uploads`)).status).toBe(404);
    const staff = await staffOf();
    const { grant } = await grantFor(staff, job, declare(csv()));
    expect((await call(otherAdmin, "POST", grant!.completeUrl)).status).toBe(404);
    expect((await fileRow(grant!.fileId)).status).toBe("pending");
    const auditor = await makePerson(t, { practiceId: admin.practiceId, role: "auditor" });
    expect((await grantFor(auditor, job, declare(csv()))).res.status).toBe(403);
  });

  test("kind, type and size are checked against the configured limits (415, 413, 422)", async () => {
    const staff = await staffOf();
    const job = await newJob();
    const bytes = csv();
    const cases: [Record<string, string | number>, number][] = [
      [declare(bytes, { type: "application/pdf", name: "list.pdf" }), 415],
      [declare(bytes, { type: "text/plain", name: "list.txt" }), 415], // text/plain only with .csv
      [declare(PNG, { kind: "logo", name: "logo.gif", type: "image/gif" }), 415],
      [declare(bytes, { size: 6 * 1024 * 1024 + 1 }), 413],
      [declare(PNG, { kind: "logo", name: "logo.png", type: "image/png", size: 102_401 }), 413],
      [declare(bytes, { kind: "letterhead" }), 422],
      [declare(bytes, { sha256: "abc" }), 422],
    ];
    for (const [body, status] of cases) {
      const { res } = await grantFor(staff, job, body);
      expect({ body, status: res.status }).toEqual({ body, status });
      expect(((await res.json()) as { message: string }).message.length).toBeGreaterThan(10);
      expect((await eventsOf(res.requestId)).map((e) => `${e.action}:${e.outcome}`)).toEqual(["job.upload_url.issued:denied"]);
    }
    // text/plain with .csv, application/vnd.ms-excel and a JPEG logo are fine.
    expect((await grantFor(staff, job, declare(bytes, { type: "text/plain" }))).res.status).toBe(201);
    expect((await grantFor(staff, job, declare(bytes, { type: "application/vnd.ms-excel" }))).res.status).toBe(201);
    expect((await grantFor(staff, job, declare(PNG, { kind: "logo", name: "logo.JPG", type: "image/jpeg" }))).res.status).toBe(201);
  });

  test("rate-limited per user in Postgres: 429 with Retry-After and a clear message; another user is unaffected", async () => {
    const staff = await staffOf();
    const job = await newJob();
    for (let i = 0; i < 6; i++) expect((await grantFor(staff, job, declare(csv()))).res.status).toBe(201);
    const { res } = await grantFor(staff, job, declare(csv()));
    expect(res.status).toBe(429);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(((await res.json()) as { message: string }).message).toMatch(/Too many upload attempts.*Wait \d+ seconds/);
    expect((await eventsOf(res.requestId)).map((e) => [e.action, e.outcome, (e.details as { reason: string }).reason])).toEqual([["job.upload_url.issued", "denied", "throttled"]]);
    expect((await grantFor(await staffOf(), job, declare(csv()))).res.status).toBe(201);
  });

  test("a submitted job takes no new files (409)", async () => {
    const staff = await staffOf();
    const job = await newJob();
    await t.ownerDb.updateTable("jobs").set({ status: "submitted" }).where("id", "=", job.id).execute();
    expect((await grantFor(staff, job, declare(csv()))).res.status).toBe(409);
  });
});

describe("verifying an upload", () => {
  test("a CSV that arrived intact is verified: the panel says so, the row keeps size and SHA-256, one event", async () => {
    const staff = await staffOf();
    const job = await newJob();
    const bytes = csv(10);
    const { grant } = await grantFor(staff, job, declare(bytes));
    expect((await putBlob(grant!.uploadUrl, bytes, "text/csv")).status).toBe(201);
    const res = await call(staff, "POST", grant!.completeUrl, { headers: { "hx-request": "true" } });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('id="upload-recipients_csv"');
    expect(html).toContain('data-file-state="verified"');
    expect(html).not.toContain("<html");
    const row = await fileRow(grant!.fileId);
    expect(row).toMatchObject({ status: "verified", size: String(bytes.length), sha256: sha256Hex(bytes) });
    expect((await eventsOf(res.requestId)).map((e) => [e.action, e.outcome, e.target_id, e.details])).toEqual([
      ["job.file.verified", "success", job.reference, { file_id: grant!.fileId, kind: "recipients_csv", size: bytes.length, rows: 10, invalid: 0 }],
    ]);
    // The still-valid upload URL can no longer change the verified blob (the server holds a lease).
    expect((await putBlob(grant!.uploadUrl, csv(2), "text/csv")).status).toBe(412);
    const stored = await t.blob.container.getBlobClient(row.blob_name).downloadToBuffer();
    expect(sha256Hex(stored)).toBe(sha256Hex(bytes));
  });

  test("a large file sent as blocks (Put Block + Put Block List) is verified", async () => {
    const staff = await staffOf();
    const job = await newJob();
    // About 5 MB of distinct made-up recipients (fewer than the 100,000-row limit).
    const rows = Array.from({ length: 82_000 }, (_, i) => `Pat,Lee${i},${i} Main Street Garden Apartments,Boston,MA,02118\n`);
    const bytes = new TextEncoder().encode(`first_name,last_name,address1,city,state,zip\n${rows.join("")}`);
    const { grant } = await grantFor(staff, job, declare(bytes));
    expect(bytes.length).toBeGreaterThan(grant!.singlePutMaxBytes);
    const ids: string[] = [];
    for (let start = 0, i = 0; start < bytes.length; start += grant!.blockBytes, i++) {
      const id = btoa(`block-${String(i).padStart(6, "0")}`);
      ids.push(id);
      const res = await fetch(`${grant!.uploadUrl}&comp=block&blockid=${encodeURIComponent(id)}`, { method: "PUT", body: bytes.subarray(start, start + grant!.blockBytes) });
      expect(res.status).toBe(201);
    }
    const list = `<?xml version="1.0" encoding="utf-8"?><BlockList>${ids.map((id) => `<Latest>${id}</Latest>`).join("")}</BlockList>`;
    expect((await fetch(`${grant!.uploadUrl}&comp=blocklist`, { method: "PUT", headers: { "x-ms-blob-content-type": "text/csv" }, body: list })).status).toBe(201);
    const res = await call(staff, "POST", grant!.completeUrl, { headers: { accept: "application/json" } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ fileId: grant!.fileId, state: "verified" });
  }, 30_000);

  test("a new verified upload replaces the old one: old row replaced and its blob deleted; replaced + verified events", async () => {
    const staff = await staffOf();
    const job = await newJob();
    const first = csv(2);
    const a = (await grantFor(staff, job, declare(first))).grant!;
    await putBlob(a.uploadUrl, first, "text/csv");
    expect((await call(staff, "POST", a.completeUrl)).status).toBe(200);
    const second = csv(4);
    const b = (await grantFor(staff, job, declare(second))).grant!;
    await putBlob(b.uploadUrl, second, "text/csv");
    const res = await call(staff, "POST", b.completeUrl, { headers: { "hx-request": "true" } });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("replaces the previous file");
    const old = await fileRow(a.fileId);
    expect(old.status).toBe("replaced");
    expect(await blobExists(old.blob_name)).toBe(false);
    expect((await fileRow(b.fileId)).status).toBe("verified");
    expect((await eventsOf(res.requestId)).map((e) => [e.action, e.details])).toEqual([
      ["job.file.replaced", { file_id: a.fileId, replaced_by: b.fileId, kind: "recipients_csv" }],
      ["job.file.verified", { file_id: b.fileId, kind: "recipients_csv", size: second.length, rows: 4, invalid: 0 }],
    ]);
  });

  // Each: what is declared, what is uploaded (bytes and stored content type), and the reason expected.
  const BAD: [string, () => { declared: ReturnType<typeof declare>; bytes: Uint8Array; storedType: string; reason: RegExp; code: string }][] = [
    ["declared a CSV, the bytes are a PNG", () => ({ declared: declare(PNG), bytes: PNG, storedType: "text/csv", reason: /PNG image, not a CSV/, code: "not_csv_image" })],
    ["more bytes than declared", () => { const b = csv(5); return { declared: declare(b, { size: b.length - 3, sha256: sha256Hex(b.subarray(0, b.length - 3)) }), bytes: b, storedType: "text/csv", reason: /bytes, but \d+ bytes were declared/, code: "size_mismatch" }; }],
    ["a stored content type other than declared", () => { const b = csv(); return { declared: declare(b), bytes: b, storedType: "application/octet-stream", reason: /stored as ("|&quot;)application\/octet-stream/, code: "content_type_mismatch" }; }],
    ["not the file whose checksum was declared", () => { const b = csv(); const other = b.slice(); other[0] = 0x4e; return { declared: declare(b), bytes: other, storedType: "text/csv", reason: /SHA-256 checksum differs/, code: "checksum_mismatch" }; }],
    ["a CSV with NUL bytes", () => { const b = new Uint8Array([...csv(), 0, 0, 65]); return { declared: declare(b), bytes: b, storedType: "text/csv", reason: /NUL bytes/, code: "not_csv_binary" }; }],
    ["a CSV that is not UTF-8", () => { const b = new Uint8Array([...new TextEncoder().encode("name\nJos"), 0xe9, 0x0a]); return { declared: declare(b), bytes: b, storedType: "text/csv", reason: /not UTF-8/, code: "not_utf8" }; }],
    ["a logo that is not an image", () => { const b = csv(); return { declared: declare(b, { kind: "logo", name: "logo.png", type: "image/png" }), bytes: b, storedType: "image/png", reason: /not a PNG or JPEG/, code: "not_image" }; }],
    ["a logo declared PNG that is a JPEG", () => { const b = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]); return { declared: declare(b, { kind: "logo", name: "logo.png", type: "image/png" }), bytes: b, storedType: "image/png", reason: /JPEG image, but it was sent as image\/png/, code: "image_type_mismatch" }; }],
  ];
  for (const [name, make] of BAD) {
    test(`rejected and deleted: ${name}`, async () => {
      const staff = await staffOf();
      const job = await newJob();
      const c = make();
      const { grant } = await grantFor(staff, job, c.declared);
      expect((await putBlob(grant!.uploadUrl, c.bytes, c.storedType)).status).toBe(201);
      const res = await call(staff, "POST", grant!.completeUrl, { headers: { "hx-request": "true" } });
      expect(res.status).toBe(422);
      const html = await res.text();
      expect(html).toContain("Rejected and deleted");
      expect(html).toMatch(c.reason);
      const row = await fileRow(grant!.fileId);
      expect(row.status).toBe("rejected");
      expect(row.rejected_reason).toMatch(c.reason);
      expect(await blobExists(row.blob_name)).toBe(false);
      expect((await eventsOf(res.requestId)).map((e) => [e.action, e.outcome, e.target_id, e.details])).toEqual([
        ["job.file.rejected", "denied", job.reference, { file_id: grant!.fileId, kind: c.declared.kind, reason: c.code }],
      ]);
    });
  }

  test("forged completions are refused and change nothing: never uploaded, another job's file, already verified", async () => {
    const staff = await staffOf();
    const job = await newJob();
    const otherJob = await newJob();
    const { grant } = await grantFor(staff, job, declare(csv()));
    // Never uploaded: 409, still pending (the person may still upload it).
    let res = await call(staff, "POST", grant!.completeUrl, { headers: { accept: "application/json" } });
    expect(res.status).toBe(409);
    expect((await fileRow(grant!.fileId)).status).toBe("pending");
    expect((await eventsOf(res.requestId)).map((e) => [e.action, e.outcome, (e.details as { reason: string }).reason])).toEqual([["job.file.rejected", "denied", "not_uploaded"]]);
    // Another job's file id under this job: 404.
    await putBlob(grant!.uploadUrl, csv(), "text/csv");
    res = await call(staff, "POST", `/jobs/${otherJob.id}/files/${grant!.fileId}/complete`);
    expect(res.status).toBe(404);
    expect((await eventsOf(res.requestId)).map((e) => [e.action, e.outcome, e.target_id, (e.details as { reason: string }).reason])).toEqual([["job.file.rejected", "denied", otherJob.reference, "not_found"]]);
    expect((await fileRow(grant!.fileId)).status).toBe("pending");
    // A file id that does not exist at all, and a malformed one.
    expect((await call(staff, "POST", `/jobs/${job.id}/files/${crypto.randomUUID()}/complete`)).status).toBe(404);
    expect((await call(staff, "POST", `/jobs/${job.id}/files/not-a-uuid/complete`)).status).toBe(404);
    // Once verified, a second completion is refused.
    expect((await call(staff, "POST", grant!.completeUrl)).status).toBe(200);
    res = await call(staff, "POST", grant!.completeUrl);
    expect(res.status).toBe(409);
    expect((await eventsOf(res.requestId)).map((e) => (e.details as { reason: string }).reason)).toEqual(["already_decided"]);
  });

  test("another practice's file id is not found, even under that practice's own job", async () => {
    const staff = await staffOf();
    const job = await newJob();
    const { grant } = await grantFor(staff, job, declare(csv()));
    await putBlob(grant!.uploadUrl, csv(), "text/csv");
    const theirJob = await newJob(otherAdmin);
    const res = await call(otherAdmin, "POST", `/jobs/${theirJob.id}/files/${grant!.fileId}/complete`);
    expect(res.status).toBe(404);
    expect((await fileRow(grant!.fileId)).status).toBe("pending");
    const events = await eventsOf(res.requestId);
    expect(events.map((e) => [e.action, e.practice_id])).toEqual([["job.file.rejected", otherAdmin.practiceId]]);
  });
});

describe("the uploads page", () => {
  test("one panel per kind with its state; the upload script is loaded with the page nonce; htmx gets the step alone", async () => {
    const staff = await staffOf();
    const job = await newJob();
    const bytes = csv();
    const { grant } = await grantFor(staff, job, declare(bytes, { name: "list-2026.csv" }));
    await putBlob(grant!.uploadUrl, bytes, "text/csv");
    await call(staff, "POST", grant!.completeUrl);
    const res = await call(staff, "GET", `/jobs/${job.id}/uploads`);
    expect(res.status).toBe(200);
    const html = await res.text();
    for (const kind of ["recipients_csv", "logo", "signature"]) expect(html).toContain(`id="upload-${kind}"`);
    expect(html).toContain("list-2026.csv");
    expect(html).toContain('data-file-state="verified"');
    expect(html).toMatch(/aria-valuenow="0"/);
    const nonce = /script-src 'nonce-([^']+)'/.exec(res.headers.get("content-security-policy")!)![1];
    expect(html).toContain(`<script src="/static/upload.js" nonce="${nonce}" defer="">`);
    // The CSP lets the page talk to blob storage, and to nothing else.
    expect(res.headers.get("content-security-policy")).toContain(`connect-src 'self' ${new URL(t.blob.container.url).origin}`);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const fragment = await (await call(staff, "GET", `/jobs/${job.id}/uploads`, { headers: { "hx-request": "true" } })).text();
    expect(fragment.startsWith('<div id="job-uploads">')).toBe(true);
  });
});

describe("the BAA gate", () => {
  test("a practice whose BAA is out of date gets no URL (403, the BAA page) and no verification", async () => {
    const t2 = await createTestApp();
    try {
      const a = await makeSignedPractice(t2, "Gate Clinic");
      const job = await createJob({ db: t2.db }, actorOf(a, "admin"), DETAILS);
      await attestJob({ db: t2.db }, actorOf(a, "admin"), job.id, { statementVersion: attestationStatement().version, confirm: "yes", initials: "AA" });
      const bytes = csv();
      const issued = await issueUploadUrl({ db: t2.db, blob: t2.blob, config: t2.config }, actorOf(a, "admin"), job.id, declare(bytes) as never);
      await putBlob(issued.uploadUrl, bytes, "text/csv");
      const v = await t2.ownerDb.selectFrom("baa_versions").selectAll().orderBy("version", "desc").executeTakeFirstOrThrow();
      const body = `${v.body}\nRevised.\n`;
      await t2.ownerDb.insertInto("baa_versions").values({ version: v.version + 1, title: v.title, body, sha256: createHash("sha256").update(body).digest("hex"), effective_at: new Date(Date.now() - 1000), published_by: "test" }).execute();
      const token = await sessionToken(t2, a);
      const post = (path: string, headers: Record<string, string> = {}, form: Record<string, string | number> = {}) => t2.app.request(`${TEST_ORIGIN}${path}`, {
        method: "POST",
        headers: { cookie: `__Host-plh_session=${token}`, origin: TEST_ORIGIN, "content-type": "application/x-www-form-urlencoded", ...headers },
        body: new URLSearchParams(Object.entries(form).map(([k, v]) => [k, String(v)])).toString(),
      });
      const page = await post(`/jobs/${job.id}/files`, {}, declare(bytes));
      expect(page.status).toBe(403);
      expect(await page.text()).toContain("Business Associate Agreement");
      const json = await post(`/jobs/${job.id}/files`, { accept: "application/json" }, declare(bytes));
      expect(json.status).toBe(403);
      expect(await json.json()).toMatchObject({ error: "baa_required" });
      const done = await post(issued.completeUrl, { accept: "application/json" });
      expect(done.status).toBe(403);
      expect((await t2.ownerDb.selectFrom("job_files").select("status").where("id", "=", issued.fileId).executeTakeFirstOrThrow()).status).toBe("pending");
      const denied = await t2.ownerDb.selectFrom("audit_events").select(["action", "outcome"]).where("outcome", "=", "denied").orderBy("chain_seq").execute();
      expect(denied.map((e) => e.action)).toEqual(["job.upload_url.issued", "job.upload_url.issued", "job.file.rejected"]);
    } finally {
      await t2.close();
    }
  }, 30_000);
});

describe("the recipient list is checked as a list when its upload is verified", () => {
  async function uploadList(text: string) {
    const staff = await staffOf();
    const job = await newJob();
    const bytes = new TextEncoder().encode(text);
    const { grant } = await grantFor(staff, job, declare(bytes));
    expect((await putBlob(grant!.uploadUrl, bytes, "text/csv")).status).toBe(201);
    const res = await call(staff, "POST", grant!.completeUrl, { headers: { "hx-request": "true" } });
    return { res, html: await res.text(), row: await fileRow(grant!.fileId), job, staff };
  }

  test("a list without the columns a letter needs is rejected, named, and its blob deleted", async () => {
    const { res, html, row } = await uploadList("name,street\nPat Lee,1 Main St\n");
    expect(res.status).toBe(422);
    expect(html).toContain("no column for first_name, last_name, city, state, zip");
    expect(row.status).toBe("rejected");
    expect(await blobExists(row.blob_name)).toBe(false);
  });

  test("a usable list is verified with its counts, its merge fields and the problem rows by number, never their values", async () => {
    const { res, html, row } = await uploadList([
      "First Name,Last Name,Address,City,State,Zip Code,Appointment Date",
      "Quincy,Marlowe,12 Elm St,Boston,MA,02118,Dec 1",
      "Rosalind,Fairweather,9 Oak St,Boston,ZZ,02118,Dec 2",
      "Quincy,Marlowe,12 Elm St,Boston,MA,02118,Dec 1",
    ].join("\n"));
    expect(res.status).toBe(200);
    expect(row.status).toBe("verified");
    expect(row.csv_fields).toEqual(["first_name", "last_name", "address1", "address2", "city", "state", "zip", "appointment_date"]);
    expect(row.csv_report).toMatchObject({ rows: 3, valid: 1, invalid: 2, duplicates: 1 });
    expect(html).toContain("1 can be mailed");
    expect(html).toContain("Row 3: state is not a US state or territory code");
    expect(html).toContain("Row 4: duplicates row 2");
    expect(html).toContain("{{appointment_date}}");
    for (const value of ["Rosalind", "Fairweather", "Marlowe", "Oak St"]) expect(html + JSON.stringify(row.csv_report)).not.toContain(value);
  });
});
