// Journeys of one mailing job in a real Chromium, with the queue workers running (proofs and the
// print file render in the background, as on the server):
// - the practice: create → attest → upload the list straight to Blob storage (its bytes never
//   reach the app) → letter → submit → proof ready → view the proof → request changes → resubmit →
//   approve;
// - the operator: start production → download the print file → mark mailed → complete, while the
//   practice's job page shows "Mailed" by itself, then "Completed";
// - an auditor: reads and filters the audit trail, downloads it as CSV, and cannot open a proof.
// Every page is checked with axe-core; screenshots of the main ones.
import { expect, test } from "bun:test";
import type { Page } from "playwright-core";
import { allowBrowserUploadsFrom } from "../../src/platform/blob.ts";
import { createLogger } from "../../src/platform/log.ts";
import { signedTeams } from "../support/baa.ts";
import { browserAndApp } from "../support/browser.ts";
import { LETTER_BODY, recipientsCsv } from "../support/jobs.ts";
import { type Journey, journey } from "../support/journeys.ts";
import { makeOperator, type Member } from "../support/people.ts";
import { waitFor } from "../support/wait.ts";

// The app's own request log, at info, kept in memory: one line per request it served.
const logLines: string[] = [];
const logger = createLogger({ level: "info", destination: { write: (line: string) => void logLines.push(line) } });
const ctx = browserAndApp({}, { background: true, logger });

// Shared by the journeys below, in order.
let team: Awaited<ReturnType<typeof signedTeams>>;
let jobId = "";
let reference = "";
let practice: Journey;

const db = () => ctx.served.ownerDb;
const jobStatus = async () => (await db().selectFrom("jobs").select("status").where("id", "=", jobId).executeTakeFirstOrThrow()).status;
const readyProof = (version: number) => waitFor(`proof ${version} ready`, () =>
  db().selectFrom("proofs").select(["id", "status"]).where("job_id", "=", jobId).where("version", "=", version).where("status", "=", "ready").executeTakeFirst(), 60_000);

/**
 * Clicks a link that ends at a file on blob storage (a signed link to the app, redirected to a
 * seconds-long read SAS) and returns the file as storage served it. Chromium shows an inline PDF in
 * its viewer (whose page is not the file), so the bytes are read again from the SAS while it works.
 */
async function fileBehind(page: Page, click: () => Promise<unknown>): Promise<{ type: string; bytes: Buffer }> {
  const blobOrigin = new URL(ctx.served.blob.container.url).origin;
  const [response] = await Promise.all([
    page.context().waitForEvent("response", (r) => r.url().startsWith(blobOrigin) && r.request().method() === "GET"),
    click(),
  ]);
  expect(response.status()).toBe(200);
  const again = await page.context().request.get(response.url());
  return { type: response.headers()["content-type"] ?? "", bytes: await again.body() };
}

test("the practice: create → attest → direct upload → letter → submit → proof → changes → resubmit → approve", async () => {
  team = await signedTeams(ctx.served, "Lakeside Family Medicine");
  const origin = ctx.served.origin;
  await allowBrowserUploadsFrom(ctx.served.config.blob, origin); // storage CORS, as `bun run storage:setup` sets it
  practice = await journey(ctx, team.admin);
  const { page } = practice;

  await page.goto(`${origin}/jobs`);
  await practice.check();
  await page.getByRole("link", { name: "New job" }).click();
  await page.waitForURL(`${origin}/jobs/new`);
  await page.waitForFunction(() => (window as unknown as { htmx?: unknown }).htmx !== undefined);
  await practice.check("job-details");
  await page.getByLabel("Title").fill("Dr. Example retiring");
  await page.getByLabel("Kind of letter").selectOption("provider_departure");
  await page.getByLabel("First-Class Mail").check();
  await Promise.all([page.waitForURL(/\/jobs\/[0-9a-f-]{36}\/attestation$/), page.getByRole("button", { name: "Save and continue" }).click()]);
  jobId = /\/jobs\/([0-9a-f-]{36})\//.exec(page.url())![1]!;
  reference = (await db().selectFrom("jobs").select("reference").where("id", "=", jobId).executeTakeFirstOrThrow()).reference;
  await practice.check();
  await page.getByLabel("I have read the statement above and it is true for this job").check();
  await page.getByLabel("Your initials").fill("AA");
  await Promise.all([page.waitForURL(`${origin}/jobs/${jobId}/uploads`), page.getByRole("button", { name: "Confirm and continue" }).click()]);
  await practice.check();

  // The recipient list goes from the browser straight to storage. Every request the page sends is
  // recorded: none to the app may carry the file's bytes.
  const marker = `Zq${crypto.randomUUID().slice(0, 8)}`;
  const csv = Buffer.from(recipientsCsv(3, marker));
  const toApp: { url: string; body: string }[] = [];
  const toStorage: string[] = [];
  page.on("request", (r) => {
    if (r.url().startsWith(origin)) toApp.push({ url: r.url(), body: r.postData() ?? "" });
    else if (r.method() === "PUT") toStorage.push(r.url());
  });
  const panel = page.locator("#upload-recipients_csv");
  await panel.getByLabel("Choose a file").setInputFiles({ name: "recipients.csv", mimeType: "text/csv", buffer: csv });
  await panel.getByRole("button", { name: "Upload", exact: true }).click();
  await page.locator('#upload-recipients_csv [data-file-state="verified"]').waitFor({ timeout: 30_000 });
  await practice.check("job-uploaded");
  expect(toStorage.length).toBeGreaterThanOrEqual(1);
  expect(toApp.some((r) => r.url.endsWith(`/jobs/${jobId}/files`))).toBe(true);
  expect(toApp.some((r) => r.body.includes(marker))).toBe(false);
  expect(logLines.join("")).toContain(`"path":"/jobs/${jobId}/files"`);
  expect(logLines.join("")).not.toContain(marker);
  // Azurite has the blob, byte for byte.
  const file = await db().selectFrom("job_files").select(["blob_name", "status"]).where("job_id", "=", jobId).executeTakeFirstOrThrow();
  expect(file.status).toBe("verified");
  expect(Buffer.compare(await ctx.served.blob.container.getBlobClient(file.blob_name).downloadToBuffer(), csv)).toBe(0);

  // The letter.
  await page.getByRole("link", { name: "Continue to the letter" }).click();
  await page.waitForURL(`${origin}/jobs/${jobId}/letter`);
  await practice.check("job-letter");
  await page.getByLabel("Letter text").fill(LETTER_BODY);
  await page.getByLabel("Name", { exact: true }).fill("Avery Example, MD");
  await page.getByLabel("Title", { exact: true }).fill("Medical Director");
  await Promise.all([page.waitForURL(`${origin}/jobs/${jobId}/review`), page.getByRole("button", { name: "Save and continue" }).click()]);
  await practice.check("job-review");
  await Promise.all([page.waitForURL(`${origin}/jobs/${jobId}`), page.getByRole("button", { name: "Submit for proof" }).click()]);
  await practice.check();

  // The proof renders in the background; the status region says so by itself.
  await page.locator("#job-status .badge").getByText("Proof ready", { exact: true }).waitFor({ timeout: 60_000 });
  await page.reload();
  await practice.check("job-proof-ready");
  const proof1 = await readyProof(1);
  const pdf = await fileBehind(page, () => page.getByRole("link", { name: /^View proof 1/ }).click());
  expect(pdf.type).toBe("application/pdf");
  expect(pdf.bytes.subarray(0, 5).toString()).toBe("%PDF-");
  for (const p of page.context().pages()) if (p !== page) await p.close();

  // Changes requested, with a comment; the job is editable again.
  await page.getByLabel(/What should change\?/).fill("Please add our new phone number.");
  await Promise.all([page.waitForURL(/\?done=changes/), page.getByRole("button", { name: "Request changes" }).click()]);
  await practice.check();
  expect(await jobStatus()).toBe("changes_requested");
  await page.goto(`${origin}/jobs/${jobId}/letter`);
  await practice.check();
  await page.getByLabel("Letter text").fill(`${LETTER_BODY}\n\nOur new number is 555-0199.`);
  await Promise.all([page.waitForURL(`${origin}/jobs/${jobId}/review`), page.getByRole("button", { name: "Save and continue" }).click()]);
  await practice.check();
  await Promise.all([page.waitForURL(`${origin}/jobs/${jobId}`), page.getByRole("button", { name: "Submit for proof" }).click()]);
  await practice.check();
  const proof2 = await readyProof(2);
  expect(proof2.id).not.toBe(proof1.id);
  await page.reload();
  await practice.check();
  await Promise.all([page.waitForURL(/\?done=approved/), page.getByRole("button", { name: "Approve proof 2" }).click()]);
  await practice.check();
  expect(await jobStatus()).toBe("approved");
}, 150_000);

test("the operator: start production → download the print file → mark mailed → complete; the practice sees it", async () => {
  expect(jobId).not.toBe("");
  const origin = ctx.served.origin;
  const operator = await journey(ctx, await makeOperator(ctx.served));
  const { page } = operator;
  await waitFor("the print file", () => db().selectFrom("production_files").select("id").where("job_id", "=", jobId).where("status", "=", "ready").executeTakeFirst(), 60_000);
  await page.goto(`${origin}/operator`);
  await operator.check("operator-queue");
  await Promise.all([page.waitForURL(`${origin}/operator/incidents`), page.getByRole("link", { name: "Incident reports" }).click()]);
  await operator.check();
  await page.goBack();
  await Promise.all([page.waitForURL(/done=started/), page.getByRole("button", { name: `Start production of ${reference}` }).click()]);
  await operator.check();
  const printFile = await fileBehind(page, () => page.getByRole("link", { name: `Download the print file of ${reference}` }).click());
  expect(printFile.type).toBe("application/pdf");
  expect(printFile.bytes.subarray(0, 5).toString()).toBe("%PDF-");

  // The practice's job page, open while production runs: it polls and shows "Mailed" by itself.
  await practice.page.goto(`${origin}/jobs/${jobId}`);
  await practice.check();
  const form = page.getByRole("form", { name: `Mark ${reference} mailed` });
  await form.getByLabel("Pieces mailed").fill("3");
  await Promise.all([page.waitForURL(/done=mailed/), form.getByRole("button", { name: "Mark mailed" }).click()]);
  await operator.check();
  await practice.page.locator("#job-status .badge").getByText("Mailed", { exact: true }).waitFor({ timeout: 30_000 });
  await practice.check("job-mailed");

  await Promise.all([page.waitForURL(/done=completed/), page.getByRole("button", { name: `Complete ${reference}` }).click()]);
  await operator.check();
  expect(await jobStatus()).toBe("completed");
  await practice.page.reload();
  expect(await practice.page.locator("#job-status .badge").textContent()).toBe("Completed");
  await practice.check("job-completed");
  await operator.finish();
  await practice.finish();
}, 90_000);

test("an auditor: reads and filters the audit trail, downloads it as CSV, and cannot open a proof", async () => {
  expect(jobId).not.toBe("");
  const origin = ctx.served.origin;
  const auditor = await journey(ctx, team.auditor as Member, /status of 403/);
  const { page } = auditor;
  await page.goto(`${origin}/audit`);
  await auditor.check("audit-trail");
  expect(await page.locator("#audit-rows tr").count()).toBeGreaterThan(10);

  // Only this job's proof events.
  await page.getByLabel("Target (id or reference)").fill(reference);
  await page.getByLabel("Kind of event").selectOption("proof");
  await Promise.all([page.waitForURL(/\/audit\?/), page.getByRole("button", { name: "Filter" }).click()]);
  await auditor.check();
  const actions = await page.locator("#audit-rows tr td:nth-child(3)").allTextContents();
  expect(actions.length).toBeGreaterThan(0);
  expect(actions.every((a) => a.startsWith("proof."))).toBe(true);
  expect(actions).toContain("proof.approved");

  // The CSV export of what the filter shows.
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "Export as CSV" }).click()]);
  const csv = Buffer.concat(await (await download.createReadStream()).toArray()).toString();
  const lines = csv.trim().split(/\r?\n/);
  expect(lines.length).toBe(actions.length + 1);
  expect(lines.slice(1).every((l) => l.includes(",proof."))).toBe(true);

  // The job page offers no proof to an auditor, and the proof's address answers 403.
  await page.goto(`${origin}/jobs/${jobId}`);
  await auditor.check("job-as-auditor");
  expect(await page.getByRole("link", { name: /View proof/ }).count()).toBe(0);
  const proof = await db().selectFrom("proofs").select("id").where("job_id", "=", jobId).orderBy("version", "desc").executeTakeFirstOrThrow();
  const refused = await page.goto(`${origin}/jobs/${jobId}/proofs/${proof.id}/view`);
  expect(refused?.status()).toBe(403);
  await auditor.check();
  await auditor.finish();
}, 60_000);
