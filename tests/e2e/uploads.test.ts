// The direct upload in a real Chromium: the uploads page sends a CSV straight to (real) Azurite, in
// blocks, with the progress bar reaching 100%; htmx swaps in the panel saying "Verified"; the app's
// request log never sees the file's bytes, while Azurite has the blob.
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Browser } from "playwright-core";
import { attestationStatement } from "../../src/jobs/attestation.ts";
import { attestJob, createJob } from "../../src/jobs/service.ts";
import { allowBrowserUploadsFrom } from "../../src/platform/blob.ts";
import { createLogger } from "../../src/platform/log.ts";
import { createTestApp, type TestApp } from "../support/app.ts";
import { makeSignedPractice } from "../support/baa.ts";
import { launchChromium } from "../support/browser.ts";
import { sessionToken } from "../support/people.ts";

let browser: Browser;
let t: TestApp;
let server: ReturnType<typeof Bun.serve>;
let origin: string;
const logLines: string[] = [];

beforeAll(async () => {
  const probe = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const port = probe.port;
  await probe.stop(true);
  origin = `http://localhost:${port}`;
  // The app's own logger, at info, written into memory: every request line it produces.
  const logger = createLogger({ level: "info", destination: { write: (line: string) => void logLines.push(line) } });
  [browser, t] = await Promise.all([launchChromium(), createTestApp({ env: { APP_ORIGIN: origin, PORT: String(port) }, logger })]);
  server = Bun.serve({ hostname: "127.0.0.1", port, fetch: t.app.fetch });
  // Storage CORS for this origin, as `bun run dev` and `bun run storage:setup` apply it.
  await allowBrowserUploadsFrom(t.config.blob, origin);
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await server?.stop(true);
  await t?.close();
});

test("a CSV goes straight to blob storage with progress to 100%, is verified, and its bytes never reach the app", async () => {
  const admin = await makeSignedPractice(t, "Browser Upload Clinic");
  const actor = { userId: admin.userId, practiceId: admin.practiceId, role: "admin" as const };
  const job = await createJob({ db: t.db }, actor, {
    title: "Moving across town", letterType: "practice_closure", mailClass: "first_class", returnName: "Browser Clinic", returnLine1: "1 Main St",
    returnLine2: null, returnCity: "Albany", returnState: "NY", returnZip: "12207",
  });
  await attestJob({ db: t.db }, actor, job.id, { statementVersion: attestationStatement().version, confirm: "yes", initials: "BC" });

  // A unique marker in a file large enough to go as several blocks.
  const marker = `MARKER-${crypto.randomUUID()}`;
  // Distinct made-up recipients (fewer than the 100,000-row limit), the marker in an extra column.
  const rows = Array.from({ length: 80_000 }, (_, i) => `Pat,Lee${i},${i} Main Street,Albany,NY,12207,${marker}-${"x".repeat(40)}\n`);
  const csv = Buffer.from(`first_name,last_name,address1,city,state,zip,note\n${rows.join("")}`);

  const context = await browser.newContext();
  await context.addCookies([{ name: "__Host-plh_session", value: await sessionToken(t, admin), domain: "localhost", path: "/", secure: true, httpOnly: true, sameSite: "Lax" }]);
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
  page.on("pageerror", (e) => problems.push(e.message));
  // Every request the page makes: none to the app may carry the file's bytes.
  const appBodies: string[] = [];
  const storageRequests: string[] = [];
  page.on("request", (r) => {
    if (r.url().startsWith(origin)) appBodies.push(r.postData() ?? "");
    else if (r.method() === "PUT") storageRequests.push(new URL(r.url()).searchParams.get("comp") ?? "blob");
  });

  await page.goto(`${origin}/jobs/${job.id}/uploads`);
  const panel = page.locator("#upload-recipients_csv");
  await panel.getByLabel("Choose a file").setInputFiles({ name: "recipients.csv", mimeType: "text/csv", buffer: csv });
  // Record every value the progress bar announces (the panel is swapped out once verified).
  await page.evaluate(() => {
    const w = window as unknown as { progressSeen: number[] };
    w.progressSeen = [];
    const bar = document.querySelector("#upload-recipients_csv progress")!;
    new MutationObserver(() => w.progressSeen.push(Number(bar.getAttribute("aria-valuenow")))).observe(bar, { attributes: true, attributeFilter: ["aria-valuenow"] });
  });
  // Keyboard only: focus the button and press Enter.
  await panel.getByRole("button", { name: "Upload", exact: true }).focus();
  await page.keyboard.press("Enter");

  await page.locator('#upload-recipients_csv [data-file-state="verified"]').waitFor({ timeout: 30_000 });
  const seen = await page.evaluate(() => (window as unknown as { progressSeen: number[] }).progressSeen);
  expect(Math.max(...seen)).toBe(100);
  expect(seen.some((v) => v > 0 && v < 100)).toBe(true);
  await expect(page.locator("#upload-recipients_csv [data-upload-notice]").textContent()).resolves.toContain("Verified: recipients.csv");
  // Focus lands on the result, for keyboard and screen-reader users.
  expect(await page.evaluate(() => document.activeElement?.hasAttribute("data-upload-notice"))).toBe(true);

  // Blocks then a block list went to storage; the row is verified with the file's checksum.
  expect(storageRequests.filter((c) => c === "block").length).toBeGreaterThanOrEqual(3);
  expect(storageRequests.at(-1)).toBe("blocklist");
  const file = await t.ownerDb.selectFrom("job_files").selectAll().where("job_id", "=", job.id).executeTakeFirstOrThrow();
  expect(file.status).toBe("verified");
  expect(file.sha256).toBe(new Bun.CryptoHasher("sha256").update(csv).digest("hex"));
  const stored = await t.blob.container.getBlobClient(file.blob_name).downloadToBuffer();
  expect(stored.length).toBe(csv.length);
  expect(stored.includes(marker)).toBe(true);

  // The app never saw the bytes: not in any request body the page sent it, not in its log.
  expect(appBodies.some((b) => b.includes(marker))).toBe(false);
  const log = logLines.join("");
  expect(log).toContain(`"path":"/jobs/${job.id}/files"`);
  expect(log).toContain("/complete");
  expect(log).not.toContain(marker);
  expect(log).not.toContain("Pat ");
  expect(problems).toEqual([]);
  await context.close();
}, 60_000);
