// Every state-changing route writes its audit events: for one request (found by its own request
// id), exactly the expected events, with the right actor, practice, IP, target and outcome; a
// refused attempt records "denied". The routes come from the app itself, so a new POST route
// without a scenario here fails the first test.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Secret, TOTP } from "otpauth";
import { listDevMail, readDevMail } from "../src/platform/mail.ts";
import { createTestApp, TEST_ORIGIN, type TestApp } from "./support/app.ts";
import { Client } from "./support/browserless.ts";
import { makePerson } from "./support/people.ts";
import { makeSignedPractice } from "./support/baa.ts";
import { makeOperator, sessionToken } from "./support/people.ts";
import { attestJob, createJob, submitJob } from "../src/jobs/service.ts";
import { createLogger } from "../src/platform/log.ts";
import { renderProof } from "../src/proofs/render-proof.ts";
import { actorOf as jobActorOf, givePrintFile, jobReadyToSubmit, recipientsCsv } from "./support/jobs.ts";
import { attestationStatement } from "../src/jobs/attestation.ts";
import { createHash } from "node:crypto";
import { unsubscribePath } from "../src/account/preferences.ts";

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ env: { TRUST_PROXY: "true" } });
});
afterAll(() => t.close());

const PASSWORD = "correct horse battery staple";
const IP = "192.0.2.77";

type Expected = {
  /** The actions this one request records, in chain order. */
  actions: string[];
  outcome?: "success" | "denied";
  /** Checked on the last event: who acted, in which practice chain, on what. */
  actorId?: string | null;
  practiceId?: string | null;
  target?: { type: string; id?: string };
};

type Scenario = () => Promise<{ client: Client; path: string; body: Record<string, string>; expected: Expected }>;

// Routes that change nothing worth an event, each with the reason.
const NOT_AUDITED: Record<string, string> = {
  "POST /session/extend": "keep-alive from the idle warning: marks the session active, like any request does",
  "POST /jobs/:id/letter/preview": "the letter editor's live preview: renders the text being typed for a made-up recipient; stores nothing, reads no PHI (never a real row) and changes nothing",
};

async function mail(to: string, pattern: RegExp): Promise<string> {
  for (let i = 0; i < 150; i++) {
    for (const m of await listDevMail(t.config.mail.dir)) {
      if (!m.to.includes(to)) continue;
      const match = pattern.exec((await readDevMail(t.config.mail.dir, m.id))!.text);
      if (match) return match[1]!;
    }
    await Bun.sleep(20);
  }
  throw new Error(`no mail to ${to} matching ${pattern}`);
}

const newEmail = () => `audit.${crypto.randomUUID().slice(0, 8)}@clinic.example`;
const userIdOf = async (email: string) => (await t.ownerDb.selectFrom("users").select("id").where("email", "=", email).executeTakeFirstOrThrow()).id;
const practiceOf = async (userId: string) => (await t.ownerDb.selectFrom("memberships").select("practice_id").where("user_id", "=", userId).orderBy("created_at").executeTakeFirstOrThrow()).practice_id;

/** A confirmed account with its own practice, signed in with TOTP; the TOTP and recovery codes come back. */
async function admin(practiceName = "Audit Clinic") {
  const email = newEmail();
  const anon = new Client(t, IP);
  await anon.post("/signup", { fullName: "Avery Admin", email, password: PASSWORD, practiceName });
  await anon.post("/verify-email", { token: await mail(email, /token=([A-Za-z0-9_-]{43})/) });
  const client = new Client(t, IP);
  await client.post("/login", { email, password: PASSWORD });
  const secret = /<code class="secret">([A-Z2-7 ]+)<\/code>/.exec(await (await client.get("/mfa/setup")).text())![1]!.replace(/ /g, "");
  const totp = new TOTP({ secret: Secret.fromBase32(secret) });
  const page = await (await client.post("/mfa/setup", { code: totp.generate() })).text();
  const recovery = [...page.matchAll(/<code>([a-z0-9-]{14})<\/code>/g)].map((m) => m[1]!);
  const userId = await userIdOf(email);
  return { email, client, totp, recovery, userId, practiceId: await practiceOf(userId) };
}

async function invited(a: Awaited<ReturnType<typeof admin>>, role = "staff") {
  const email = newEmail();
  await a.client.post("/team/invitations", { email, role });
  const token = await mail(email, /invitations\/accept\?token=([A-Za-z0-9_-]{43})/);
  return { email, token };
}

async function member(a: Awaited<ReturnType<typeof admin>>) {
  const { email, token } = await invited(a);
  await new Client(t, IP).post("/invitations/accept/new-account", { token, fullName: "Morgan Member", password: PASSWORD });
  return { email, userId: await userIdOf(email) };
}

const SCENARIOS: Record<string, Scenario> = {
  "POST /signup": async () => ({
    client: new Client(t, IP), path: "/signup",
    body: { fullName: "Sam Signup", email: newEmail(), password: PASSWORD, practiceName: "New Clinic" },
    expected: { actions: ["practice.created", "auth.signup"], target: { type: "user" } },
  }),
  "POST /verify-email": async () => {
    const email = newEmail();
    await new Client(t, IP).post("/signup", { fullName: "Vic", email, password: PASSWORD, practiceName: "V Clinic" });
    const token = await mail(email, /token=([A-Za-z0-9_-]{43})/);
    return { client: new Client(t, IP), path: "/verify-email", body: { token }, expected: { actions: ["auth.email.verified"], practiceId: null, actorId: await userIdOf(email) } };
  },
  "POST /login": async () => {
    const a = await admin();
    return { client: new Client(t, IP), path: "/login", body: { email: a.email, password: "not the password" }, expected: { actions: ["auth.signin.failed"], outcome: "denied", practiceId: null, target: { type: "user", id: a.userId } } };
  },
  "POST /logout": async () => {
    const a = await admin();
    return { client: a.client, path: "/logout", body: {}, expected: { actions: ["auth.signout"], actorId: a.userId, practiceId: a.practiceId, target: { type: "session" } } };
  },
  "POST /logout/everywhere": async () => {
    const a = await admin();
    return { client: a.client, path: "/logout/everywhere", body: {}, expected: { actions: ["auth.signout_all"], actorId: a.userId, practiceId: a.practiceId } };
  },
  "POST /password/forgot": async () => {
    const a = await admin();
    return { client: new Client(t, IP), path: "/password/forgot", body: { email: a.email }, expected: { actions: ["auth.password.reset_requested"], practiceId: null, target: { type: "user", id: a.userId } } };
  },
  "POST /password/reset": async () => {
    const a = await admin();
    await new Client(t, IP).post("/password/forgot", { email: a.email });
    const token = await mail(a.email, /password\/reset\?token=([A-Za-z0-9_-]{43})/);
    return { client: new Client(t, IP), path: "/password/reset", body: { token, password: "another long passphrase", confirm: "another long passphrase" }, expected: { actions: ["auth.password.reset"], actorId: a.userId, practiceId: null } };
  },
  "POST /mfa/setup": async () => {
    const email = newEmail();
    const anon = new Client(t, IP);
    await anon.post("/signup", { fullName: "Enid", email, password: PASSWORD, practiceName: "E Clinic" });
    await anon.post("/verify-email", { token: await mail(email, /token=([A-Za-z0-9_-]{43})/) });
    const client = new Client(t, IP);
    await client.post("/login", { email, password: PASSWORD });
    await client.get("/mfa/setup");
    const userId = await userIdOf(email);
    return { client, path: "/mfa/setup", body: { code: "000000" }, expected: { actions: ["mfa.enrol.failed"], outcome: "denied", actorId: userId, practiceId: await practiceOf(userId) } };
  },
  "POST /mfa/verify": async () => {
    const a = await admin();
    const client = new Client(t, IP);
    await client.post("/login", { email: a.email, password: PASSWORD });
    return { client, path: "/mfa/verify", body: { code: a.recovery[0]! }, expected: { actions: ["mfa.verified"], actorId: a.userId, practiceId: a.practiceId } };
  },
  "POST /account/sessions/:id/revoke": async () => {
    const a = await admin();
    const other = new Client(t, IP);
    await other.post("/login", { email: a.email, password: PASSWORD });
    await other.post("/mfa/verify", { code: a.recovery[1]! });
    const { id } = await t.ownerDb.selectFrom("sessions").select("id").where("user_id", "=", a.userId).where("revoked_at", "is", null).orderBy("created_at", "desc").executeTakeFirstOrThrow();
    return { client: a.client, path: `/account/sessions/${id}/revoke`, body: {}, expected: { actions: ["auth.session.revoked"], actorId: a.userId, practiceId: a.practiceId, target: { type: "session", id } } };
  },
  // Account settings (src/account): each change of one's own account, and the links that arrive by email.
  "POST /account/name": async () => {
    const a = await admin();
    return { client: a.client, path: "/account/name", body: { fullName: "Avery Renamed" }, expected: { actions: ["account.name.changed"], actorId: a.userId, practiceId: a.practiceId, target: { type: "user", id: a.userId } } };
  },
  "POST /account/email": async () => {
    const a = await admin();
    return { client: a.client, path: "/account/email", body: { email: newEmail(), password: PASSWORD }, expected: { actions: ["account.email.change_requested"], actorId: a.userId, practiceId: a.practiceId, target: { type: "user", id: a.userId } } };
  },
  "POST /email-change/confirm": async () => {
    const a = await admin();
    const to = newEmail();
    await a.client.post("/account/email", { email: to, password: PASSWORD });
    const token = await mail(to, /email-change\/confirm\?token=([A-Za-z0-9_-]{43})/);
    return { client: new Client(t, IP), path: "/email-change/confirm", body: { token }, expected: { actions: ["account.email.changed"], actorId: a.userId, practiceId: null, target: { type: "user", id: a.userId } } };
  },
  "POST /account/password": async () => {
    const a = await admin();
    return { client: a.client, path: "/account/password", body: { current: PASSWORD, password: "another long passphrase", confirm: "another long passphrase" }, expected: { actions: ["account.password.changed"], actorId: a.userId, practiceId: a.practiceId, target: { type: "user", id: a.userId } } };
  },
  "POST /account/two-step/reenrol": async () => {
    const a = await admin();
    return { client: a.client, path: "/account/two-step/reenrol", body: { code: a.recovery[0]! }, expected: { actions: ["account.mfa.reenrol_started"], actorId: a.userId, practiceId: a.practiceId, target: { type: "user", id: a.userId } } };
  },
  "POST /account/two-step/reenrol/confirm": async () => {
    const a = await admin();
    const page = await (await a.client.post("/account/two-step/reenrol", { code: a.recovery[0]! })).text();
    const secret = /<code class="secret">([A-Z2-7 ]+)<\/code>/.exec(page)![1]!.replace(/ /g, "");
    return { client: a.client, path: "/account/two-step/reenrol/confirm", body: { code: new TOTP({ secret: Secret.fromBase32(secret) }).generate() }, expected: { actions: ["account.mfa.reenrolled"], actorId: a.userId, practiceId: a.practiceId, target: { type: "user", id: a.userId } } };
  },
  "POST /account/two-step/recovery-codes": async () => {
    const a = await admin();
    return { client: a.client, path: "/account/two-step/recovery-codes", body: { code: a.recovery[0]! }, expected: { actions: ["account.mfa.recovery_codes_regenerated"], actorId: a.userId, practiceId: a.practiceId, target: { type: "user", id: a.userId } } };
  },
  "POST /account/preferences": async () => {
    const a = await admin();
    return { client: a.client, path: "/account/preferences", body: {}, expected: { actions: ["account.preferences.changed"], actorId: a.userId, practiceId: a.practiceId, target: { type: "user", id: a.userId } } };
  },
  "POST /unsubscribe": async () => {
    const a = await admin();
    return { client: new Client(t, IP), path: unsubscribePath(t.config, a.userId, "job_summary"), body: { "List-Unsubscribe": "One-Click" }, expected: { actions: ["account.unsubscribed"], actorId: a.userId, practiceId: null, target: { type: "user", id: a.userId } } };
  },
  "POST /team/invitations": async () => {
    const a = await admin();
    return { client: a.client, path: "/team/invitations", body: { email: newEmail(), role: "staff" }, expected: { actions: ["team.invited"], actorId: a.userId, practiceId: a.practiceId, target: { type: "invitation" } } };
  },
  "POST /team/invitations/:id/revoke": async () => {
    const a = await admin();
    await invited(a);
    const { id } = await t.ownerDb.selectFrom("invitations").select("id").where("practice_id", "=", a.practiceId).executeTakeFirstOrThrow();
    return { client: a.client, path: `/team/invitations/${id}/revoke`, body: {}, expected: { actions: ["team.invitation_revoked"], actorId: a.userId, practiceId: a.practiceId, target: { type: "invitation", id } } };
  },
  "POST /team/members/:userId/role": async () => {
    const a = await admin();
    const m = await member(a);
    return { client: a.client, path: `/team/members/${m.userId}/role`, body: { role: "auditor" }, expected: { actions: ["team.role_changed"], actorId: a.userId, practiceId: a.practiceId, target: { type: "user", id: m.userId } } };
  },
  "POST /team/members/:userId/remove": async () => {
    const a = await admin();
    const m = await member(a);
    return { client: a.client, path: `/team/members/${m.userId}/remove`, body: {}, expected: { actions: ["team.member_removed"], actorId: a.userId, practiceId: a.practiceId, target: { type: "user", id: m.userId } } };
  },
  "POST /team/members/:userId/reset-mfa": async () => {
    const a = await admin();
    const m = await member(a);
    return { client: a.client, path: `/team/members/${m.userId}/reset-mfa`, body: {}, expected: { actions: ["mfa.reset_by_admin"], actorId: a.userId, practiceId: a.practiceId, target: { type: "user", id: m.userId } } };
  },
  "POST /invitations/accept": async () => {
    const a = await admin("Host Clinic");
    const b = await admin("Guest Clinic");
    await a.client.post("/team/invitations", { email: b.email, role: "staff" });
    const token = await mail(b.email, /invitations\/accept\?token=([A-Za-z0-9_-]{43})/);
    return { client: b.client, path: "/invitations/accept", body: { token }, expected: { actions: ["team.joined", "practice.switched"], actorId: b.userId, practiceId: a.practiceId } };
  },
  "POST /invitations/accept/new-account": async () => {
    const a = await admin();
    const { token } = await invited(a);
    return { client: new Client(t, IP), path: "/invitations/accept/new-account", body: { token, fullName: "Nia New", password: PASSWORD }, expected: { actions: ["team.joined", "auth.signup"], practiceId: a.practiceId, target: { type: "user" } } };
  },
  "POST /practice/switch": async () => {
    const a = await admin("Home Clinic");
    const b = await admin("Away Clinic");
    await a.client.post("/team/invitations", { email: b.email, role: "staff" });
    await b.client.post("/invitations/accept", { token: await mail(b.email, /invitations\/accept\?token=([A-Za-z0-9_-]{43})/) });
    return { client: b.client, path: "/practice/switch", body: { practiceId: b.practiceId }, expected: { actions: ["practice.switched"], actorId: b.userId, practiceId: b.practiceId, target: { type: "practice", id: b.practiceId } } };
  },
  "POST /baa/profile": async () => {
    const a = await admin();
    return { client: a.client, path: "/baa/profile", body: BAA_PROFILE, expected: { actions: ["practice.profile.updated"], actorId: a.userId, practiceId: a.practiceId, target: { type: "practice", id: a.practiceId } } };
  },
  "POST /baa/sign": async () => {
    const a = await admin();
    await a.client.post("/baa/profile", BAA_PROFILE);
    return { client: a.client, path: "/baa/sign", body: await baaSignature(), expected: { actions: ["baa.signed"], actorId: a.userId, practiceId: a.practiceId, target: { type: "baa_signature" } } };
  },
  "POST /jobs": async () => {
    const m = await jobMember();
    return { client: m.client, path: "/jobs", body: JOB_DETAILS, expected: { actions: ["job.created"], actorId: m.userId, practiceId: m.practiceId, target: { type: "job" } } };
  },
  "POST /jobs/:id/details": async () => {
    const { m, job } = await draftJob();
    return { client: m.client, path: `/jobs/${job.id}/details`, body: { ...JOB_DETAILS, title: "Renamed" }, expected: { actions: ["job.updated"], actorId: m.userId, practiceId: m.practiceId, target: { type: "job", id: job.reference } } };
  },
  "POST /jobs/:id/attestation": async () => {
    const { m, job } = await draftJob();
    return { client: m.client, path: `/jobs/${job.id}/attestation`, body: JOB_ATTESTATION, expected: { actions: ["job.attested"], actorId: m.userId, practiceId: m.practiceId, target: { type: "job", id: job.reference } } };
  },
  "POST /jobs/:id/letter": async () => {
    const { m, job } = await draftJob();
    return { client: m.client, path: `/jobs/${job.id}/letter`, body: { body: "Dear {{first_name}}, we are moving.", ...LETTER_SIGNER }, expected: { actions: ["job.letter.saved"], actorId: m.userId, practiceId: m.practiceId, target: { type: "job", id: job.reference } } };
  },
  "POST /jobs/:id/submit": async () => {
    const { m, job } = await draftJob();
    await m.client.post(`/jobs/${job.id}/attestation`, JOB_ATTESTATION);
    await m.client.post(`/jobs/${job.id}/letter`, { body: "Dear {{first_name}}, we are moving.", ...LETTER_SIGNER });
    const fileId = crypto.randomUUID();
    await t.ownerDb.insertInto("job_files").values({
      id: fileId, practice_id: m.practiceId, job_id: job.id, kind: "recipients_csv", blob_name: `practices/${m.practiceId}/jobs/${job.id}/${fileId}`,
      declared_name: "list.csv", declared_size: 100, declared_type: "text/csv", status: "verified", size: 100, verified_at: new Date(),
      upload_expires_at: new Date(Date.now() + 600_000), created_by: m.userId,
    }).execute();
    return { client: m.client, path: `/jobs/${job.id}/submit`, body: {}, expected: { actions: ["job.status.changed"], actorId: m.userId, practiceId: m.practiceId, target: { type: "job", id: job.reference } } };
  },
  "POST /jobs/:id/letter/templates": async () => {
    const { m, job } = await draftJob();
    return { client: m.client, path: `/jobs/${job.id}/letter/templates`, body: { templateName: "Move notice", body: "Dear {{first_name}}, we are moving.", ...LETTER_SIGNER }, expected: { actions: ["letter_template.saved"], actorId: m.userId, practiceId: m.practiceId, target: { type: "letter_template" } } };
  },
  "POST /letter-templates/:id/rename": async () => {
    const { m, template } = await savedTemplate();
    return { client: m.client, path: `/letter-templates/${template}/rename`, body: { name: "Move notice 2027" }, expected: { actions: ["letter_template.renamed"], actorId: m.userId, practiceId: m.practiceId, target: { type: "letter_template", id: template } } };
  },
  "POST /letter-templates/:id/delete": async () => {
    const { m, template } = await savedTemplate();
    return { client: m.client, path: `/letter-templates/${template}/delete`, body: {}, expected: { actions: ["letter_template.deleted"], actorId: m.userId, practiceId: m.practiceId, target: { type: "letter_template", id: template } } };
  },
  "POST /jobs/:id/cancel": async () => {
    const { m, job } = await draftJob();
    return { client: m.client, path: `/jobs/${job.id}/cancel`, body: { reason: "Sent twice" }, expected: { actions: ["job.status.changed"], actorId: m.userId, practiceId: m.practiceId, target: { type: "job", id: job.reference } } };
  },
  "POST /operator/jobs/:id/start": async () => {
    const { client, operatorId, job } = await operatorWithJob("approved");
    return { client, path: `/operator/jobs/${job.id}/start`, body: {}, expected: { actions: ["job.status.changed"], actorId: operatorId, practiceId: job.practice_id, target: { type: "job", id: job.reference } } };
  },
  "POST /operator/jobs/:id/mailed": async () => {
    const { client, operatorId, job } = await operatorWithJob("in_production");
    return { client, path: `/operator/jobs/${job.id}/mailed`, body: { mailedOn: "2026-11-20", pieces: "120" }, expected: { actions: ["job.status.changed"], actorId: operatorId, practiceId: job.practice_id, target: { type: "job", id: job.reference } } };
  },
  "POST /operator/jobs/:id/complete": async () => {
    const { client, operatorId, job } = await operatorWithJob("mailed");
    return { client, path: `/operator/jobs/${job.id}/complete`, body: {}, expected: { actions: ["job.status.changed"], actorId: operatorId, practiceId: job.practice_id, target: { type: "job", id: job.reference } } };
  },
  "POST /jobs/:id/files": async () => {
    const u = await uploader();
    return { client: u.client, path: `/jobs/${u.job.id}/files`, body: declared(CSV_BYTES), expected: { actions: ["job.upload_url.issued"], actorId: u.userId, practiceId: u.practiceId, target: { type: "job", id: u.job.reference } } };
  },
  "POST /jobs/:id/files/:fileId/complete": async () => {
    const u = await uploader();
    const grant = await u.upload(CSV_BYTES);
    return { client: u.client, path: grant.completeUrl, body: {}, expected: { actions: ["job.file.verified"], actorId: u.userId, practiceId: u.practiceId, target: { type: "job", id: u.job.reference } } };
  },
  "POST /jobs/:id/proofs/:proofId/approve": async () => {
    const r = await reviewable();
    return { client: r.client, path: `/jobs/${r.job.id}/proofs/${r.proof.id}/approve`, body: { sha256: r.proof.sha256! }, expected: { actions: ["job.status.changed", "proof.approved"], actorId: r.admin.userId, practiceId: r.admin.practiceId, target: { type: "job", id: r.job.reference } } };
  },
  "POST /jobs/:id/proofs/:proofId/changes": async () => {
    const r = await reviewable();
    return { client: r.client, path: `/jobs/${r.job.id}/proofs/${r.proof.id}/changes`, body: { comment: "Shorter please" }, expected: { actions: ["job.status.changed", "proof.changes_requested"], actorId: r.admin.userId, practiceId: r.admin.practiceId, target: { type: "job", id: r.job.reference } } };
  },
  "POST /jobs/:id/proofs/retry": async () => {
    const r = await reviewable({ render: false });
    await t.ownerDb.updateTable("proofs").set({ status: "failed", attempts: 4, error: "test" }).where("id", "=", r.proof.id).execute();
    return { client: r.client, path: `/jobs/${r.job.id}/proofs/retry`, body: {}, expected: { actions: ["proof.retry_requested"], actorId: r.admin.userId, practiceId: r.admin.practiceId, target: { type: "job", id: r.job.reference } } };
  },
  // Practice settings (src/practices/settings.ts) and support (src/support/service.ts).
  "POST /practice/settings/profile": async () => {
    const m = await jobMember();
    return { client: m.client, path: "/practice/settings/profile", body: { ...BAA_PROFILE, phone: "5185550199" }, expected: { actions: ["practice.profile.updated"], actorId: m.userId, practiceId: m.practiceId, target: { type: "practice", id: m.practiceId } } };
  },
  "POST /practice/settings/letterhead": async () => {
    const m = await jobMember();
    return { client: m.client, path: "/practice/settings/letterhead", body: LETTERHEAD, expected: { actions: ["practice.letterhead.updated"], actorId: m.userId, practiceId: m.practiceId, target: { type: "practice", id: m.practiceId } } };
  },
  "POST /practice/settings/logo": async () => {
    const m = await jobMember();
    const client = new LogoClient(t, IP);
    client.cookies = m.client.cookies;
    return { client, path: "/practice/settings/logo", body: {}, expected: { actions: ["practice.logo.uploaded"], actorId: m.userId, practiceId: m.practiceId, target: { type: "practice", id: m.practiceId } } };
  },
  "POST /practice/settings/logo/remove": async () => {
    const m = await jobMember();
    const uploader = new LogoClient(t, IP);
    uploader.cookies = m.client.cookies;
    expect((await uploader.post("/practice/settings/logo", {})).status).toBe(303);
    return { client: m.client, path: "/practice/settings/logo/remove", body: {}, expected: { actions: ["practice.logo.removed"], actorId: m.userId, practiceId: m.practiceId, target: { type: "practice", id: m.practiceId } } };
  },
  "POST /support/incidents": async () => {
    const m = await jobMember();
    return { client: m.client, path: "/support/incidents", body: INCIDENT, expected: { actions: ["incident.reported"], actorId: m.userId, practiceId: m.practiceId, target: { type: "incident_report" } } };
  },
  "POST /practice/approval-rule": async () => {
    const r = await admin();
    return { client: r.client, path: "/practice/approval-rule", body: { twoPerson: "on" }, expected: { actions: ["practice.approval_rule.changed"], actorId: r.userId, practiceId: r.practiceId, target: { type: "practice", id: r.practiceId } } };
  },
  // Data requests (src/retention/requests.ts): the export's build and the deletion's processing are
  // system events, audited in tests/data-requests.test.ts.
  "POST /retention/requests/export": async () => {
    const r = await admin();
    return { client: r.client, path: "/retention/requests/export", body: {}, expected: { actions: ["data_request.export.requested"], actorId: r.userId, practiceId: r.practiceId, target: { type: "data_request" } } };
  },
  "POST /retention/requests/deletion": async () => {
    const r = await admin();
    return { client: r.client, path: "/retention/requests/deletion", body: { confirmation: "Audit Clinic" }, expected: { actions: ["data_request.deletion.requested"], actorId: r.userId, practiceId: r.practiceId, target: { type: "data_request" } } };
  },
  "POST /retention/requests/:id/withdraw": async () => {
    const r = await admin();
    await r.client.post("/retention/requests/deletion", { confirmation: "Audit Clinic" });
    const request = await t.ownerDb.selectFrom("data_requests").select("id").where("practice_id", "=", r.practiceId).executeTakeFirstOrThrow();
    return { client: r.client, path: `/retention/requests/${request.id}/withdraw`, body: {}, expected: { actions: ["data_request.deletion.withdrawn"], actorId: r.userId, practiceId: r.practiceId, target: { type: "data_request", id: request.id } } };
  },
  "POST /retention/requests/:id/retry": async () => {
    const r = await admin();
    const request = await t.ownerDb.insertInto("data_requests").values({ practice_id: r.practiceId, kind: "export", status: "failed", requested_by: r.userId, attempts: 3 }).returning("id").executeTakeFirstOrThrow();
    return { client: r.client, path: `/retention/requests/${request.id}/retry`, body: {}, expected: { actions: ["data_request.export.retried"], actorId: r.userId, practiceId: r.practiceId, target: { type: "data_request", id: request.id } } };
  },
};

/** A submitted job whose proof 1 is rendered (or only queued), and its admin signed in. */
async function reviewable(options: { render?: boolean } = {}) {
  const owner = await makeSignedPractice(t, "Review Audit Clinic");
  const job = await jobReadyToSubmit(t, owner, recipientsCsv(2));
  await submitJob({ db: t.db, queue: t.queue }, jobActorOf(owner), job.id);
  const queued = await t.ownerDb.selectFrom("proofs").selectAll().where("job_id", "=", job.id).executeTakeFirstOrThrow();
  if (options.render ?? true) await renderProof({ db: t.db, blob: t.blob, config: t.config, mailer: t.mailer, logger: createLogger({ level: "silent" }) }, { proofId: queued.id, practiceId: owner.practiceId });
  const proof = await t.ownerDb.selectFrom("proofs").selectAll().where("id", "=", queued.id).executeTakeFirstOrThrow();
  const client = new Client(t, IP);
  client.cookies.set("__Host-plh_session", await sessionToken(t, owner));
  return { admin: owner, job, proof, client };
}

/** A platform operator signed in (session cookie), and a job of a signed practice put into `status`. */
async function operatorWithJob(status: "approved" | "in_production" | "mailed") {
  const practiceAdmin = await makeSignedPractice(t, "Operator Queue Clinic");
  const job = await createJob({ db: t.db }, { userId: practiceAdmin.userId, practiceId: practiceAdmin.practiceId, role: "admin" }, {
    title: "Relocation notice", letterType: "practice_closure", mailClass: "first_class", returnName: "Queue Clinic", returnLine1: "1 Main St",
    returnLine2: null, returnCity: "Albany", returnState: "NY", returnZip: "12207",
  });
  await t.ownerDb.updateTable("jobs").set({ status, approved_at: new Date(), approved_proof_sha256: "a".repeat(64), ...(status === "mailed" ? { mailed_on: "2026-11-20", mailed_pieces: 5 } : {}) }).where("id", "=", job.id).execute();
  await givePrintFile(t, job);
  const operator = await makeOperator(t);
  const client = new Client(t, IP);
  client.cookies.set("__Host-plh_session", await sessionToken(t, operator));
  return { client, operatorId: operator.userId, job };
}

// Direct uploads: a signed-in admin of a signed practice with an attested job, who can get an
// upload URL and send bytes straight to (real) Azurite.
const CSV_BYTES = new TextEncoder().encode("first_name,last_name,address1,city,state,zip\nPat,Example,1 Main St,Albany,NY,12207\n");
const declared = (bytes: Uint8Array, kind = "recipients_csv") =>
  ({ kind, name: "list.csv", size: String(bytes.length), type: "text/csv", sha256: createHash("sha256").update(bytes).digest("hex") });
async function uploader(options: { attest?: boolean } = {}) {
  const owner = await makeSignedPractice(t, "Upload Audit Clinic");
  const actor = { userId: owner.userId, practiceId: owner.practiceId, role: "admin" as const };
  const job = await createJob({ db: t.db }, actor, {
    title: "Relocation notice", letterType: "practice_closure", mailClass: "first_class", returnName: "Upload Clinic", returnLine1: "1 Main St",
    returnLine2: null, returnCity: "Albany", returnState: "NY", returnZip: "12207",
  });
  if (options.attest ?? true) await attestJob({ db: t.db }, actor, job.id, { statementVersion: attestationStatement().version, confirm: "yes", initials: "AA" });
  const client = new Client(t, IP);
  client.cookies.set("__Host-plh_session", await sessionToken(t, owner));
  /** Gets a URL and puts `bytes` in storage (declared as a CSV of `declaredAs`). */
  async function upload(bytes: Uint8Array, declaredAs: Uint8Array = bytes) {
    const grant = (await (await client.post(`/jobs/${job.id}/files`, declared(declaredAs), { accept: "application/json" })).json()) as { uploadUrl: string; completeUrl: string };
    const put = await fetch(grant.uploadUrl, { method: "PUT", headers: { "x-ms-blob-type": "BlockBlob", "x-ms-blob-content-type": "text/csv" }, body: bytes as Uint8Array<ArrayBuffer> });
    expect(put.status).toBe(201);
    return grant;
  }
  return { client, userId: owner.userId, practiceId: owner.practiceId, job, upload };
}

const LETTERHEAD = {
  returnName: "Audit Clinic Records", returnLine1: "9 Elm St", returnCity: "Albany", returnState: "NY", returnZip: "12207", signerName: "Dana Lee, MD", signerTitle: "Medical Director",
};
const INCIDENT = { category: "misdirected_mail", description: "A batch of letters may have gone to old addresses.", noticedAt: "2026-01-05T09:30" };
/** A tiny valid PNG (1 × 1), the logo the logo form sends. */
const LOGO_PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==", "base64");
/** A client whose posts are multipart with LOGO_PNG as the `logo` file, as the logo form sends them. */
class LogoClient extends Client {
  override async post(path: string, body: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
    const form = new FormData();
    for (const [name, value] of Object.entries(body)) form.set(name, value);
    form.set("logo", new File([LOGO_PNG], "logo.png", { type: "image/png" }));
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    return t.app.request(`${TEST_ORIGIN}${path}`, { method: "POST", body: form, headers: { "x-forwarded-for": IP, "user-agent": "TestBrowser/1.0", origin: TEST_ORIGIN, cookie, ...headers } });
  }
}

const BAA_PROFILE = {
  legalName: "Audit Clinic LLC", addressLine1: "9 Elm St", city: "Albany", state: "NY", postalCode: "12207", phone: "5185550100",
  privacyOfficerName: "Pat Privacy", privacyOfficerEmail: "privacy@audit.example", timeZone: "America/New_York",
};
async function baaSignature() {
  const version = await t.ownerDb.selectFrom("baa_versions").select("id").orderBy("version", "desc").executeTakeFirstOrThrow();
  return { versionId: version.id, typedName: "Avery Admin", title: "Owner", authorized: "yes", consent: "yes" };
}

const JOB_DETAILS = {
  title: "Office move", letterType: "practice_closure", mailClass: "first_class", returnName: "Audit Clinic", returnLine1: "9 Elm St",
  returnCity: "Albany", returnState: "NY", returnZip: "12207",
};
const JOB_ATTESTATION = { statementVersion: "2026-11", confirm: "yes", initials: "AA" };

/** The admin of a practice that signed the BAA, signed in through a session cookie. */
async function jobMember(signed = true) {
  const person = signed ? await makeSignedPractice(t, "Jobs Audit Clinic") : await makePerson(t, { practiceName: "Unsigned Audit Clinic" });
  const client = new Client(t, IP);
  client.cookies.set("__Host-plh_session", await sessionToken(t, person));
  return { client, userId: person.userId, practiceId: person.practiceId };
}

/** Who signs a job's letter (required on the letter step). */
const LETTER_SIGNER = { signerName: "Dana Lee, MD", signerTitle: "Medical Director" };

/** A practice letter template saved from a draft job's letter step. */
async function savedTemplate() {
  const { m, job } = await draftJob();
  await m.client.post(`/jobs/${job.id}/letter/templates`, { templateName: "Move notice", body: "Dear {{first_name}}, we are moving.", ...LETTER_SIGNER });
  const { id } = await t.ownerDb.selectFrom("letter_templates").select("id").where("practice_id", "=", m.practiceId).executeTakeFirstOrThrow();
  return { m, template: id };
}

/** A draft job made through the wizard's first step. */
async function draftJob() {
  const m = await jobMember();
  const created = await m.client.post("/jobs", JOB_DETAILS);
  const id = /^\/jobs\/([0-9a-f-]{36})\//.exec(created.headers.get("location") ?? "")![1]!;
  const job = await t.ownerDb.selectFrom("jobs").select(["id", "reference"]).where("id", "=", id).executeTakeFirstOrThrow();
  return { m, job };
}

// Refusals: each records "denied" (the change itself rolled back or never happened).
const REFUSALS: Record<string, Scenario> = {
  "team change refused (last admin)": async () => {
    const a = await admin();
    return { client: a.client, path: `/team/members/${a.userId}/role`, body: { role: "staff" }, expected: { actions: ["team.change.denied"], outcome: "denied", actorId: a.userId, practiceId: a.practiceId } };
  },
  "role without the permission": async () => {
    const a = await admin();
    const m = await member(a);
    const client = new Client(t, IP);
    await client.post("/login", { email: m.email, password: PASSWORD });
    const secret = /<code class="secret">([A-Z2-7 ]+)<\/code>/.exec(await (await client.get("/mfa/setup")).text())![1]!.replace(/ /g, "");
    await client.post("/mfa/setup", { code: new TOTP({ secret: Secret.fromBase32(secret) }).generate() });
    return { client, path: "/team/invitations", body: { email: newEmail(), role: "admin" }, expected: { actions: ["access.denied"], outcome: "denied", actorId: m.userId, practiceId: a.practiceId, target: { type: "route", id: "POST /team/invitations" } } };
  },
  "BAA signed twice": async () => {
    const a = await admin();
    await a.client.post("/baa/profile", BAA_PROFILE);
    await a.client.post("/baa/sign", await baaSignature());
    return { client: a.client, path: "/baa/sign", body: await baaSignature(), expected: { actions: ["baa.signed"], outcome: "denied", actorId: a.userId, practiceId: a.practiceId, target: { type: "baa_version" } } };
  },
  "operator move the lifecycle refuses (completing an approved job)": async () => {
    const { client, operatorId, job } = await operatorWithJob("approved");
    return { client, path: `/operator/jobs/${job.id}/complete`, body: {}, expected: { actions: ["access.denied"], outcome: "denied", actorId: operatorId, practiceId: null } };
  },
  "upload URL before the PHI attestation": async () => {
    const u = await uploader({ attest: false });
    return { client: u.client, path: `/jobs/${u.job.id}/files`, body: declared(CSV_BYTES), expected: { actions: ["job.upload_url.issued"], outcome: "denied", actorId: u.userId, practiceId: u.practiceId, target: { type: "job", id: u.job.reference } } };
  },
  "deletion requested with the wrong typed name": async () => {
    const a = await admin();
    return { client: a.client, path: "/retention/requests/deletion", body: { confirmation: "Audit Clinc" }, expected: { actions: ["data_request.deletion.requested"], outcome: "denied", actorId: a.userId, practiceId: a.practiceId, target: { type: "practice", id: a.practiceId } } };
  },
  "upload verification of a file that never arrived": async () => {
    const u = await uploader();
    const grant = (await (await u.client.post(`/jobs/${u.job.id}/files`, declared(CSV_BYTES), { accept: "application/json" })).json()) as { completeUrl: string };
    return { client: u.client, path: grant.completeUrl, body: {}, expected: { actions: ["job.file.rejected"], outcome: "denied", actorId: u.userId, practiceId: u.practiceId, target: { type: "job", id: u.job.reference } } };
  },
  "upload rejected (a PNG declared as a CSV)": async () => {
    const u = await uploader();
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
    const grant = await u.upload(png);
    return { client: u.client, path: grant.completeUrl, body: {}, expected: { actions: ["job.file.rejected"], outcome: "denied", actorId: u.userId, practiceId: u.practiceId, target: { type: "job", id: u.job.reference } } };
  },
  "job created without the BAA": async () => {
    const m = await jobMember(false);
    return { client: m.client, path: "/jobs", body: JOB_DETAILS, expected: { actions: ["job.created"], outcome: "denied", actorId: m.userId, practiceId: m.practiceId } };
  },
  "job details changed after submission": async () => {
    const { m, job } = await draftJob();
    await t.ownerDb.updateTable("jobs").set({ status: "submitted" }).where("id", "=", job.id).execute();
    return { client: m.client, path: `/jobs/${job.id}/details`, body: JOB_DETAILS, expected: { actions: ["job.updated"], outcome: "denied", actorId: m.userId, practiceId: m.practiceId, target: { type: "job", id: job.reference } } };
  },
  "practice logo that is not an image": async () => {
    const m = await jobMember();
    return { client: m.client, path: "/practice/settings/logo", body: { logo: "not a file" }, expected: { actions: ["practice.logo.uploaded"], outcome: "denied", actorId: m.userId, practiceId: m.practiceId, target: { type: "practice", id: m.practiceId } } };
  },
  "account change with a wrong current password": async () => {
    const a = await admin();
    return { client: a.client, path: "/account/password", body: { current: "not the password", password: "another long passphrase", confirm: "another long passphrase" }, expected: { actions: ["account.reauth.failed"], outcome: "denied", actorId: a.userId, practiceId: a.practiceId, target: { type: "user", id: a.userId } } };
  },
  "unsubscribe link of another user": async () => {
    const a = await admin();
    const b = await admin();
    const forged = unsubscribePath(t.config, a.userId, "job_summary").replace(a.userId, b.userId);
    return { client: new Client(t, IP), path: forged, body: { "List-Unsubscribe": "One-Click" }, expected: { actions: ["account.unsubscribed"], outcome: "denied", actorId: null, practiceId: null } };
  },
  "unknown single-use link": async () => ({
    client: new Client(t, IP), path: "/verify-email", body: { token: "z".repeat(43) },
    expected: { actions: ["auth.token.rejected"], outcome: "denied", practiceId: null },
  }),
};

function postRoutes(): string[] {
  return [...new Set(t.app.routes.filter((r) => r.method === "POST").map((r) => `POST ${r.path}`))].sort();
}

test("every POST route has an audit scenario here, or a stated reason to record nothing", () => {
  expect(postRoutes()).toEqual([...Object.keys(SCENARIOS), ...Object.keys(NOT_AUDITED)].sort());
});

async function run(name: string, scenario: Scenario) {
  const { client, path, body, expected } = await scenario();
  const requestId = `audit-${crypto.randomUUID()}`;
  const res = await client.post(path, body, { "x-request-id": requestId });
  expect(res.status).toBeLessThan(500);
  const events = await t.ownerDb.selectFrom("audit_events").selectAll().where("request_id", "=", requestId).orderBy("occurred_at").orderBy("chain_seq").execute();
  expect({ name, actions: events.map((e) => e.action) }).toEqual({ name, actions: expected.actions });
  const last = events.at(-1)!;
  for (const e of events) {
    expect(e.ip).toBe(IP);
    expect(e.user_agent).toBe("TestBrowser/1.0");
  }
  expect(last.outcome).toBe(expected.outcome ?? "success");
  if (expected.actorId !== undefined) expect(last.actor_id).toBe(expected.actorId);
  if (expected.practiceId !== undefined) expect(last.practice_id).toBe(expected.practiceId);
  if (expected.target) {
    expect(last.target_type).toBe(expected.target.type);
    if (expected.target.id) expect(last.target_id).toBe(expected.target.id);
  }
}

describe("each state-changing route records exactly its events", () => {
  for (const [route, scenario] of Object.entries(SCENARIOS)) test(route, () => run(route, scenario), 20_000);
});

describe("refused attempts record denied", () => {
  for (const [name, scenario] of Object.entries(REFUSALS)) test(name, () => run(name, scenario), 20_000);
});
