// Journey: a new practice in a real Chromium, as its first administrator does it. Sign up, confirm
// the email from the link in the mail, sign in, enrol two-step sign-in (codes computed from the key
// the page shows), the practice profile, sign the BAA, download the executed agreement (a PDF).
// Then the admin's other pages (account and practice settings, support, team, retention, templates,
// audit trail). Every page is checked with axe-core; screenshots of the main ones.
import { expect, test } from "bun:test";
import { Secret, TOTP } from "otpauth";
import { browserAndApp } from "../support/browser.ts";
import { journey, mailTo } from "../support/journeys.ts";

const ctx = browserAndApp();

test("sign up → confirm email → two-step sign-in → profile → sign the BAA → download it", async () => {
  const j = await journey(ctx, null);
  const { page } = j;
  const origin = ctx.served.origin;
  const email = `dana.${crypto.randomUUID().slice(0, 8)}@riverside.example`;
  const password = "correct horse battery staple";

  await page.goto(`${origin}/`);
  await j.check("landing");
  await page.getByRole("link", { name: /create your practice account/i }).first().click();
  await page.waitForURL(`${origin}/signup`);
  await j.check("signup");
  await page.getByLabel("Your full name").fill("Dana Reyes");
  await page.getByLabel("Work email").fill(email);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByLabel("Practice name").fill("Riverside Family Practice");
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByRole("heading", { name: "Check your email" }).waitFor();
  await j.check();

  // The link from the mail: opening it changes nothing until the person confirms.
  const mail = await mailTo(ctx.served, email, /^Confirm your email address/);
  const link = /(http:\/\/localhost:\d+\/verify-email\?token=[A-Za-z0-9_-]{43})/.exec(mail.text)?.[1];
  expect(link?.startsWith(origin)).toBe(true);
  await page.goto(link!);
  await j.check();
  await page.getByRole("button", { name: "Confirm my email address" }).click();
  await page.getByRole("heading", { name: "Email address confirmed" }).waitFor();
  await j.check();

  await page.getByRole("link", { name: "Sign in" }).last().click();
  await page.waitForURL(`${origin}/login`);
  await j.check();
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();

  // Two-step sign-in: the key shown for those who cannot scan gives the codes.
  await page.waitForURL(`${origin}/mfa/setup`);
  await j.check("mfa-setup");
  const secret = (await page.locator("code.secret").textContent())!.replace(/\s/g, "");
  const totp = new TOTP({ secret: Secret.fromBase32(secret), digits: 6, period: 30 });
  await page.getByLabel("6-digit code").fill(totp.generate());
  await page.getByRole("button", { name: "Turn on two-step sign-in" }).click();
  await page.getByRole("heading", { name: "Save your recovery codes" }).waitFor();
  expect(await page.getByRole("list", { name: "Recovery codes" }).getByRole("listitem").count()).toBeGreaterThanOrEqual(8);
  await j.check();
  await page.getByRole("link", { name: /I have saved them/ }).click();
  await page.waitForURL(`${origin}/app`);
  await j.check();
  const user = await ctx.served.ownerDb.selectFrom("users").select(["id", "totp_enabled_at", "email_verified_at"]).where("email", "=", email).executeTakeFirstOrThrow();
  expect(user.totp_enabled_at).not.toBeNull();
  expect(user.email_verified_at).not.toBeNull();

  // The BAA wizard: the profile first.
  await page.getByRole("link", { name: "Start: practice profile" }).click();
  await page.waitForURL(`${origin}/baa`);
  await page.waitForFunction(() => (window as unknown as { htmx?: unknown }).htmx !== undefined);
  await j.check();
  await page.getByLabel("Legal name of the practice").fill("Riverside Family Practice, P.C.");
  await page.getByLabel("Street address").fill("12 Main Street");
  await page.getByLabel("City").fill("Springfield");
  await page.getByLabel("State", { exact: true }).selectOption("MA");
  await page.getByLabel("ZIP code").fill("01103");
  await page.getByLabel("Phone").fill("4135550100");
  await page.getByLabel("Privacy officer's name").fill("Pat Privacy");
  await page.getByLabel("Privacy officer's email").fill("privacy@riverside.example");
  await page.getByLabel("Time zone").selectOption("America/New_York");
  await page.getByRole("button", { name: "Save and continue" }).click();
  await page.getByRole("heading", { name: "Step 2 of 4: Review the agreement" }).waitFor();
  await j.check();
  await page.getByRole("link", { name: "Continue to signing" }).click();
  await page.getByRole("heading", { name: "Step 3 of 4: Sign" }).waitFor();
  await j.check("baa-sign");
  await page.getByLabel("Your full legal name").fill("Dana Reyes");
  await page.getByLabel("Your title").fill("Practice Administrator");
  await page.getByLabel(/^I am authorized to sign for/).check();
  await page.getByLabel("I agree to sign electronically, as described above").check();
  await page.getByRole("button", { name: "Sign agreement" }).click();
  await page.getByRole("heading", { name: "Step 4 of 4: Done" }).waitFor();
  await j.check("baa-signed");

  // The executed agreement: the signed link, then a seconds-long read SAS on blob storage.
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("link", { name: "Download the executed agreement (PDF)" }).click(),
  ]);
  const pdf = Buffer.from(await (await download.createReadStream()).toArray().then((chunks) => Buffer.concat(chunks)));
  expect(pdf.subarray(0, 5).toString()).toBe("%PDF-");
  const signature = await ctx.served.ownerDb.selectFrom("baa_signatures").select(["pdf_sha256", "typed_name"]).where("signer_user_id", "=", user.id).executeTakeFirstOrThrow();
  expect(signature.typed_name).toBe("Dana Reyes");
  expect(new Bun.CryptoHasher("sha256").update(pdf).digest("hex")).toBe(signature.pdf_sha256);

  // Back home, the practice is active.
  await page.getByRole("link", { name: "Go to the practice home" }).click();
  await page.waitForURL(`${origin}/app`);
  await expect(page.locator("dl.facts").textContent()).resolves.toContain("Active: your practice can create mailing jobs.");
  await j.check("practice-home");

  // The admin's other pages: account settings from the header, then the rest by address.
  await Promise.all([page.waitForURL(`${origin}/account`), page.getByRole("link", { name: "Account settings" }).click()]);
  await j.check("account-settings");
  for (const path of ["/account/password", "/account/two-step", "/account/preferences", "/account/sessions", "/team", "/practice/settings", "/support", "/baa/signatures", "/retention", "/letter-templates", "/audit"]) {
    const response = await page.goto(`${origin}${path}`);
    expect(`${path} ${response?.status()}`).toBe(`${path} 200`);
    await j.check(path === "/practice/settings" ? "practice-settings" : path === "/support" ? "support" : undefined);
  }
  await j.finish();
}, 90_000);
