// Every route the app registers, with the answer each kind of visitor must get. The list of
// routes comes from the app itself, so a new route without a row here fails this test.
// Visitors: anonymous; "password" (signed in, second factor not yet passed, not enrolled); an admin,
// a staff member and an auditor of one practice; the admin of another practice; and a platform
// operator (no practice at all).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sha256Hex } from "../src/platform/crypto.ts";
import { withContext } from "../src/platform/db.ts";
import { downloadPath } from "../src/baa/service.ts";
import { attestationStatement } from "../src/jobs/attestation.ts";
import { attestJob, createJob } from "../src/jobs/service.ts";
import { issueUploadUrl } from "../src/jobs/uploads.ts";
import { saveTemplateFromJob } from "../src/jobs/templates.ts";
import { createTestApp, TEST_ORIGIN, type TestApp } from "./support/app.ts";
import { makeOperator, makePerson, type Person, sessionToken } from "./support/people.ts";

type Visitor = "anonymous" | "password" | "admin" | "staff" | "auditor" | "otherAdmin" | "operator";
type Row = { method?: "GET" | "POST"; path: string | ((visitor: Visitor) => string); body?: Record<string, string> | ((visitor: Visitor) => Record<string, string>); expect: Record<Visitor, number> };
const all = (status: number): Record<Visitor, number> => ({ anonymous: status, password: status, admin: status, staff: status, auditor: status, otherAdmin: status, operator: status });
/** Pages behind two-step sign-in: anonymous and password-only visitors are sent to sign in. */
const members = (statuses: Omit<Record<Visitor, number>, "anonymous" | "password">): Record<Visitor, number> => ({ anonymous: 303, password: 303, ...statuses });
/** The same answer for every fully signed-in visitor, operators included. */
const signedIn = (status: number) => members({ admin: status, staff: status, auditor: status, otherAdmin: status, operator: status });
// Admin-only team routes: another practice's admin reaches the service, which finds no such member;
// operators belong to no practice and are refused.
const teamAdmin = (admin: number, otherAdmin: number) => members({ admin, staff: 403, auditor: 403, otherAdmin, operator: 403 });
const ZERO_ID = "00000000-0000-0000-0000-000000000000";
/** A job of the admin's practice: its members reach it by role, another practice finds nothing. */
const jobReaders = (status: number) => members({ admin: status, staff: status, auditor: status, otherAdmin: 404, operator: 403 });
const jobWriters = (status: number) => members({ admin: status, staff: status, auditor: 403, otherAdmin: 404, operator: 403 });
let jobId: string;

// Targets inside the admin's practice, one per state-changing row AND per visitor, so one visitor's
// change (the admin removing a member) cannot decide another visitor's answer (another practice's
// admin must get 404 for a member who is still there).
type Targets = { role: string; remove: string; mfa: string; invitation: string };
const targets = {} as Record<Visitor, Targets>;

// "METHOD /registered/path" → a concrete request and the expected status per visitor.
const MATRIX: Record<string, Row> = {
  "GET /": { path: "/", expect: all(200) },
  "GET /healthz": { path: "/healthz", expect: all(200) },
  "GET /readyz": { path: "/readyz", expect: all(200) },
  // Operations metrics need METRICS_TOKEN as a bearer token, never a session; this app has no token
  // configured, so the endpoint does not exist for anyone (tests/metrics.test.ts: with a token, 401 without it).
  "GET /metrics": { path: "/metrics", expect: all(404) },
  "ALL /static/*": { path: "/static/styles.css", expect: all(200) },
  "GET /signup": { path: "/signup", expect: all(200) },
  "POST /signup": { method: "POST", path: "/signup", body: {}, expect: all(422) },
  "GET /verify-email": { path: "/verify-email?token=x", expect: all(200) },
  "POST /verify-email": { method: "POST", path: "/verify-email", body: { token: "x" }, expect: all(400) },
  "GET /login": { path: "/login", expect: { ...all(303), anonymous: 200 } },
  "POST /login": { method: "POST", path: "/login", body: {}, expect: all(422) },
  "POST /logout": { method: "POST", path: "/logout", body: {}, expect: all(303) },
  "POST /logout/everywhere": { method: "POST", path: "/logout/everywhere", body: {}, expect: all(303) },
  "GET /password/forgot": { path: "/password/forgot", expect: all(200) },
  "POST /password/forgot": { method: "POST", path: "/password/forgot", body: {}, expect: all(422) },
  "GET /password/reset": { path: "/password/reset?token=x", expect: all(200) },
  "POST /password/reset": { method: "POST", path: "/password/reset", body: { token: "x", password: "a long enough password", confirm: "a long enough password" }, expect: all(400) },
  "GET /mfa/setup": { path: "/mfa/setup", expect: { ...all(303), password: 200 } },
  "POST /mfa/setup": { method: "POST", path: "/mfa/setup", body: { code: "000000" }, expect: { ...all(303), password: 422 } },
  "GET /mfa/verify": { path: "/mfa/verify", expect: all(303) },
  "POST /mfa/verify": { method: "POST", path: "/mfa/verify", body: { code: "000000" }, expect: { ...all(303), password: 422 } },
  "GET /app": { path: "/app", expect: signedIn(200) },
  "GET /account/sessions": { path: "/account/sessions", expect: signedIn(200) },
  "POST /session/extend": { method: "POST", path: "/session/extend", body: {}, expect: signedIn(200) },
  "POST /account/sessions/:id/revoke": { method: "POST", path: `/account/sessions/${ZERO_ID}/revoke`, body: {}, expect: signedIn(404) },
  // Account settings (account/routes.tsx): every fully signed-in person, operators included; the forms
  // sent are refused (a wrong or missing code, an empty name), except preferences, which save.
  "GET /account": { path: "/account", expect: signedIn(200) },
  "POST /account/name": { method: "POST", path: "/account/name", body: { fullName: "" }, expect: signedIn(422) },
  "POST /account/email": { method: "POST", path: "/account/email", body: {}, expect: signedIn(422) },
  "GET /account/password": { path: "/account/password", expect: signedIn(200) },
  "POST /account/password": { method: "POST", path: "/account/password", body: {}, expect: signedIn(422) },
  "GET /account/two-step": { path: "/account/two-step", expect: signedIn(200) },
  "POST /account/two-step/reenrol": { method: "POST", path: "/account/two-step/reenrol", body: { code: "000000" }, expect: signedIn(422) },
  "GET /account/two-step/reenrol": { path: "/account/two-step/reenrol", expect: signedIn(303) },
  "POST /account/two-step/reenrol/confirm": { method: "POST", path: "/account/two-step/reenrol/confirm", body: { code: "000000" }, expect: signedIn(422) },
  "POST /account/two-step/recovery-codes": { method: "POST", path: "/account/two-step/recovery-codes", body: { code: "000000" }, expect: signedIn(422) },
  "GET /account/preferences": { path: "/account/preferences", expect: signedIn(200) },
  "POST /account/preferences": { method: "POST", path: "/account/preferences", body: {}, expect: signedIn(303) },
  // Links that arrive by email and work without signing in: a bad token is refused for everyone.
  "GET /email-change/confirm": { path: "/email-change/confirm?token=x", expect: all(200) },
  "POST /email-change/confirm": { method: "POST", path: "/email-change/confirm", body: { token: "x" }, expect: all(400) },
  "GET /unsubscribe": { path: `/unsubscribe?u=${ZERO_ID}&c=job_summary&t=x`, expect: all(400) },
  "POST /unsubscribe": { method: "POST", path: `/unsubscribe?u=${ZERO_ID}&c=job_summary&t=x`, body: { "List-Unsubscribe": "One-Click" }, expect: all(400) },
  "GET /team": { path: "/team", expect: teamAdmin(200, 200) },
  "POST /team/invitations": { method: "POST", path: "/team/invitations", body: { email: "not-an-email", role: "staff" }, expect: teamAdmin(422, 422) },
  "POST /team/invitations/:id/revoke": { method: "POST", path: (v) => `/team/invitations/${targets[v].invitation}/revoke`, body: {}, expect: teamAdmin(303, 404) },
  "POST /team/members/:userId/role": { method: "POST", path: (v) => `/team/members/${targets[v].role}/role`, body: { role: "auditor" }, expect: teamAdmin(303, 404) },
  "POST /team/members/:userId/remove": { method: "POST", path: (v) => `/team/members/${targets[v].remove}/remove`, body: {}, expect: teamAdmin(303, 404) },
  "POST /team/members/:userId/reset-mfa": { method: "POST", path: (v) => `/team/members/${targets[v].mfa}/reset-mfa`, body: {}, expect: teamAdmin(303, 404) },
  // The audit trail: admins and auditors of the practice; staff, operators and people without the
  // permission are refused; another practice's admin sees only their own trail.
  // The operator console: operators only; practice members are refused (audited), whatever their role.
  "GET /operator": { path: "/operator", expect: members({ admin: 403, staff: 403, auditor: 403, otherAdmin: 403, operator: 200 }) },
  "POST /operator/jobs/:id/start": { method: "POST", path: `/operator/jobs/${ZERO_ID}/start`, body: {}, expect: members({ admin: 403, staff: 403, auditor: 403, otherAdmin: 403, operator: 404 }) },
  "POST /operator/jobs/:id/mailed": { method: "POST", path: `/operator/jobs/${ZERO_ID}/mailed`, body: { mailedOn: "2020-01-01", pieces: "0" }, expect: members({ admin: 403, staff: 403, auditor: 403, otherAdmin: 403, operator: 422 }) },
  "POST /operator/jobs/:id/complete": { method: "POST", path: `/operator/jobs/${ZERO_ID}/complete`, body: {}, expect: members({ admin: 403, staff: 403, auditor: 403, otherAdmin: 403, operator: 404 }) },
  // Direct uploads (jobs/upload-routes.tsx): members who may write jobs, on a job of their practice;
  // auditors and operators are refused; another practice's admin finds no such job (404). A valid
  // request for a URL answers 201; completing a file that never arrived answers 409.
  "GET /jobs/:id/uploads": { path: () => `/jobs/${uploadJob.id}/uploads`, expect: members({ admin: 200, staff: 200, auditor: 403, otherAdmin: 404, operator: 403 }) },
  "POST /jobs/:id/files": {
    method: "POST", path: () => `/jobs/${uploadJob.id}/files`,
    body: { kind: "recipients_csv", name: "list.csv", size: "10", type: "text/csv", sha256: "a".repeat(64) },
    expect: members({ admin: 201, staff: 201, auditor: 403, otherAdmin: 404, operator: 403 }),
  },
  "POST /jobs/:id/files/:fileId/complete": {
    method: "POST", path: () => `/jobs/${uploadJob.id}/files/${uploadJob.fileId}/complete`, body: {},
    expect: members({ admin: 409, staff: 409, auditor: 403, otherAdmin: 404, operator: 403 }),
  },
  // Data and retention (retention/routes.tsx): admins and auditors (audit.read); a certificate link
  // is checked against its user and practice, so a bad token is refused (403) before any lookup.
  "GET /retention": { path: "/retention", expect: members({ admin: 200, staff: 403, auditor: 200, otherAdmin: 200, operator: 403 }) },
  "GET /retention/certificates/:id/download": { path: `/retention/certificates/${ZERO_ID}/download?token=x`, expect: members({ admin: 403, staff: 403, auditor: 403, otherAdmin: 403, operator: 403 }) },
  "GET /audit": { path: "/audit", expect: members({ admin: 200, staff: 403, auditor: 200, otherAdmin: 200, operator: 403 }) },
  "GET /audit/events": { path: `/audit/events?after=2026-01-01T00:00:00.000Z_1`, expect: members({ admin: 200, staff: 403, auditor: 200, otherAdmin: 200, operator: 403 }) },
  "GET /audit/export.csv": { path: "/audit/export.csv", expect: members({ admin: 200, staff: 403, auditor: 200, otherAdmin: 200, operator: 403 }) },
  // The BAA: every member sees the BAA page (admins the wizard, others who must sign); admins change
  // the profile and sign; admins and auditors read the text, the history and the executed PDF (a
  // signed link per visitor: another practice's admin finds no such signature).
  "GET /baa": { path: "/baa", expect: members({ admin: 200, staff: 200, auditor: 200, otherAdmin: 200, operator: 403 }) },
  "POST /baa/profile": { method: "POST", path: "/baa/profile", body: { legalName: "" }, expect: members({ admin: 422, staff: 403, auditor: 403, otherAdmin: 422, operator: 403 }) },
  "POST /baa/sign": { method: "POST", path: "/baa/sign", body: { typedName: "" }, expect: members({ admin: 422, staff: 403, auditor: 403, otherAdmin: 422, operator: 403 }) },
  "GET /baa/agreement.pdf": { path: "/baa/agreement.pdf", expect: members({ admin: 200, staff: 403, auditor: 200, otherAdmin: 200, operator: 403 }) },
  "GET /baa/signatures": { path: "/baa/signatures", expect: members({ admin: 200, staff: 403, auditor: 200, otherAdmin: 200, operator: 403 }) },
  "GET /baa/signatures/:id/download": {
    path: (v) => {
      const person = v === "anonymous" || v === "operator" ? people.admin : people[v];
      return downloadPath(t.config, { userId: person.userId, practiceId: person.practiceId ?? ZERO_ID }, baaSignatureId);
    },
    expect: members({ admin: 303, staff: 403, auditor: 303, otherAdmin: 404, operator: 403 }),
  },
  // Jobs: members read the list and a job's metadata; admins and staff (jobs.write) use the wizard;
  // the letter is PHI (proofs.view: not auditors); another practice's job is not there (404), and
  // that practice has no BAA, so it cannot start one (403). The forms sent are refused (nothing changes).
  "GET /jobs": { path: "/jobs", expect: members({ admin: 200, staff: 200, auditor: 200, otherAdmin: 200, operator: 403 }) },
  "GET /jobs/new": { path: "/jobs/new", expect: members({ admin: 200, staff: 200, auditor: 403, otherAdmin: 403, operator: 403 }) },
  "POST /jobs": { method: "POST", path: "/jobs", body: { title: "" }, expect: members({ admin: 422, staff: 422, auditor: 403, otherAdmin: 403, operator: 403 }) },
  "GET /jobs/:id": { path: () => `/jobs/${jobId}`, expect: jobReaders(200) },
  "GET /jobs/:id/status": { path: () => `/jobs/${jobId}/status`, expect: jobReaders(200) },
  "GET /jobs/:id/edit": { path: () => `/jobs/${jobId}/edit`, expect: jobWriters(303) },
  "GET /jobs/:id/details": { path: () => `/jobs/${jobId}/details`, expect: jobWriters(200) },
  "POST /jobs/:id/details": { method: "POST", path: () => `/jobs/${jobId}/details`, body: { title: "" }, expect: jobWriters(422) },
  "GET /jobs/:id/attestation": { path: () => `/jobs/${jobId}/attestation`, expect: jobWriters(200) },
  "POST /jobs/:id/attestation": { method: "POST", path: () => `/jobs/${jobId}/attestation`, body: { initials: "" }, expect: jobWriters(422) },
  "GET /jobs/:id/letter": { path: () => `/jobs/${jobId}/letter`, expect: jobWriters(200) },
  "POST /jobs/:id/letter": { method: "POST", path: () => `/jobs/${jobId}/letter`, body: { body: "" }, expect: jobWriters(422) },
  // The letter editor (jobs/template-routes.tsx): the preview (made-up values, nothing stored), starting
  // from a template and saving one are for those who may write jobs; templates hold PHI-bearing text,
  // so auditors never reach them. A template of another practice is not there (404).
  "POST /jobs/:id/letter/preview": { method: "POST", path: () => `/jobs/${jobId}/letter/preview`, body: { body: "Dear {{first_name}}" }, expect: jobWriters(200) },
  "GET /jobs/:id/letter/start": { path: () => `/jobs/${jobId}/letter/start?template=starter`, expect: jobWriters(200) },
  "POST /jobs/:id/letter/templates": { method: "POST", path: () => `/jobs/${jobId}/letter/templates`, body: { templateName: "", body: "" }, expect: jobWriters(422) },
  "GET /letter-templates": { path: "/letter-templates", expect: members({ admin: 200, staff: 200, auditor: 403, otherAdmin: 200, operator: 403 }) },
  "POST /letter-templates/:id/rename": {
    method: "POST", path: (v) => `/letter-templates/${templateTargets[v]}/rename`, body: (v) => ({ name: `Renamed by the matrix for ${v}` }),
    expect: members({ admin: 303, staff: 303, auditor: 403, otherAdmin: 404, operator: 403 }),
  },
  "POST /letter-templates/:id/delete": {
    method: "POST", path: (v) => `/letter-templates/${templateTargets[v]}/delete`, body: {},
    expect: members({ admin: 303, staff: 303, auditor: 403, otherAdmin: 404, operator: 403 }),
  },
  "GET /jobs/:id/review": { path: () => `/jobs/${jobId}/review`, expect: jobWriters(200) },
  "POST /jobs/:id/submit": { method: "POST", path: () => `/jobs/${jobId}/submit`, body: {}, expect: jobWriters(422) },
  "POST /jobs/:id/cancel": { method: "POST", path: () => `/jobs/${jobId}/cancel`, body: { reason: "" }, expect: jobWriters(422) },
  // Proofs: on a draft (no proof yet), reviewers reach the service, which refuses the move (409).
  "GET /jobs/:id/proofs/:proofId/view": { path: () => `/jobs/${jobId}/proofs/${ZERO_ID}/view?token=x`, expect: members({ admin: 403, staff: 403, auditor: 403, otherAdmin: 403, operator: 403 }) },
  "POST /jobs/:id/proofs/:proofId/approve": { method: "POST", path: () => `/jobs/${jobId}/proofs/${ZERO_ID}/approve`, body: { sha256: "0".repeat(64) }, expect: jobWriters(409) },
  "POST /jobs/:id/proofs/:proofId/changes": { method: "POST", path: () => `/jobs/${jobId}/proofs/${ZERO_ID}/changes`, body: { comment: "x" }, expect: jobWriters(409) },
  "POST /jobs/:id/proofs/retry": { method: "POST", path: () => `/jobs/${jobId}/proofs/retry`, body: {}, expect: jobWriters(409) },
  "POST /practice/approval-rule": { method: "POST", path: "/practice/approval-rule", body: { twoPerson: "maybe" }, expect: members({ admin: 422, staff: 403, auditor: 403, otherAdmin: 422, operator: 403 }) },
  // Practice settings (practices/settings-routes.tsx): admins of the practice (practice.settings), each
  // in their own practice; the forms sent are refused (422), a practice without a logo has none to
  // remove (409) or serve (404); the logo itself is for every member of the practice.
  "GET /practice/settings": { path: "/practice/settings", expect: members({ admin: 200, staff: 403, auditor: 403, otherAdmin: 200, operator: 403 }) },
  "POST /practice/settings/profile": { method: "POST", path: "/practice/settings/profile", body: { legalName: "" }, expect: members({ admin: 422, staff: 403, auditor: 403, otherAdmin: 422, operator: 403 }) },
  "POST /practice/settings/letterhead": { method: "POST", path: "/practice/settings/letterhead", body: { returnName: "" }, expect: members({ admin: 422, staff: 403, auditor: 403, otherAdmin: 422, operator: 403 }) },
  "POST /practice/settings/logo": { method: "POST", path: "/practice/settings/logo", body: {}, expect: members({ admin: 422, staff: 403, auditor: 403, otherAdmin: 422, operator: 403 }) },
  "POST /practice/settings/logo/remove": { method: "POST", path: "/practice/settings/logo/remove", body: {}, expect: members({ admin: 409, staff: 403, auditor: 403, otherAdmin: 409, operator: 403 }) },
  "GET /practice/logo": { path: "/practice/logo", expect: members({ admin: 404, staff: 404, auditor: 404, otherAdmin: 404, operator: 403 }) },
  // Support (support/routes.tsx): every fully signed-in person, operators included (an empty report
  // is refused); incident reports are read in the operator console only.
  "GET /support": { path: "/support", expect: signedIn(200) },
  "POST /support/incidents": { method: "POST", path: "/support/incidents", body: {}, expect: signedIn(422) },
  "GET /operator/incidents": { path: "/operator/incidents", expect: members({ admin: 403, staff: 403, auditor: 403, otherAdmin: 403, operator: 200 }) },
  "GET /operator/incidents/:id": { path: `/operator/incidents/${ZERO_ID}`, expect: members({ admin: 403, staff: 403, auditor: 403, otherAdmin: 403, operator: 404 }) },
  "GET /operator/jobs/:id/print-file": { path: `/operator/jobs/${ZERO_ID}/print-file?token=x`, expect: members({ admin: 403, staff: 403, auditor: 403, otherAdmin: 403, operator: 403 }) },
  "GET /invitations/accept": { path: "/invitations/accept?token=x", expect: all(404) },
  "POST /invitations/accept": { method: "POST", path: "/invitations/accept", body: { token: "x" }, expect: signedIn(404) },
  "POST /invitations/accept/new-account": { method: "POST", path: "/invitations/accept/new-account", body: { token: "x", fullName: "X", password: "a long enough password" }, expect: all(404) },
  "POST /practice/switch": { method: "POST", path: "/practice/switch", body: { practiceId: ZERO_ID }, expect: signedIn(404) },
  // Data requests (retention/requests-routes.tsx): admins and auditors read the list; only admins ask
  // for an export (queued: 303) or a deletion (a wrong typed name: 422) or withdraw one (none: 404);
  // a download link that is not the visitor's own is refused (403).
  "GET /retention/requests": { path: "/retention/requests", expect: members({ admin: 200, staff: 403, auditor: 200, otherAdmin: 200, operator: 403 }) },
  "POST /retention/requests/export": { method: "POST", path: "/retention/requests/export", body: {}, expect: members({ admin: 303, staff: 403, auditor: 403, otherAdmin: 303, operator: 403 }) },
  "POST /retention/requests/deletion": { method: "POST", path: "/retention/requests/deletion", body: { confirmation: "not the legal name" }, expect: members({ admin: 422, staff: 403, auditor: 403, otherAdmin: 422, operator: 403 }) },
  "POST /retention/requests/:id/withdraw": { method: "POST", path: `/retention/requests/${ZERO_ID}/withdraw`, body: {}, expect: members({ admin: 404, staff: 403, auditor: 403, otherAdmin: 404, operator: 403 }) },
  "POST /retention/requests/:id/retry": { method: "POST", path: `/retention/requests/${ZERO_ID}/retry`, body: {}, expect: members({ admin: 404, staff: 403, auditor: 403, otherAdmin: 404, operator: 403 }) },
  "GET /retention/requests/:id/download": { path: `/retention/requests/${ZERO_ID}/download?token=x`, expect: members({ admin: 403, staff: 403, auditor: 403, otherAdmin: 403, operator: 403 }) },
  // Development only (a production app does not mount it: tests/mail.test.ts).
  "GET /dev/mail": { path: "/dev/mail", expect: all(200) },
  "GET /dev/mail/:id": { path: "/dev/mail/2026-01-01T00-00-00.000Z-abcdef", expect: all(404) },
};

// Middleware mounts that are not routes of their own.
const MIDDLEWARE = new Set(["ALL /*", "ALL /mfa/*", "ALL /account/*"]);

let t: TestApp;
let people: Record<Exclude<Visitor, "anonymous">, Person>;
let baaSignatureId: string;

/** A fresh session per request, so a sign-out row cannot affect the next one. */
async function cookieFor(visitor: Visitor): Promise<string | undefined> {
  if (visitor === "anonymous") return undefined;
  return `__Host-plh_session=${await sessionToken(t, people[visitor])}`;
}

beforeAll(async () => {
  t = await createTestApp();
  const admin = await makePerson(t, { practiceName: "Matrix Practice" });
  const main = admin.practiceId;
  people = {
    password: await makePerson(t, { mfa: false }),
    admin,
    staff: await makePerson(t, { practiceId: main, role: "staff" }),
    auditor: await makePerson(t, { practiceId: main, role: "auditor" }),
    otherAdmin: await makePerson(t),
    operator: await makeOperator(t),
  };
  for (const visitor of ["anonymous", "password", "admin", "staff", "auditor", "otherAdmin", "operator"] as const) {
    const member = async () => (await makePerson(t, { practiceId: main, role: "staff" })).userId;
    targets[visitor] = {
      role: await member(), remove: await member(), mfa: await member(),
      invitation: await withContext(t.db, { actor: "test", practiceId: main }, async (tx) =>
        (await tx.insertInto("invitations").values({
          practice_id: main, email: `pending.${visitor.toLowerCase()}@matrix.example`, role: "staff", token_hash: sha256Hex(`${visitor}-invitation`),
          invited_by: admin.userId, expires_at: new Date(Date.now() + 86_400_000),
        }).returning("id").executeTakeFirstOrThrow()).id,
      ),
    };
  }
});
afterAll(() => t.close());

// The admin's practice signs the BAA through the app, so the executed PDF can be downloaded.
beforeAll(async () => {
  const post = async (path: string, body: Record<string, string>) =>
    t.app.request(`${TEST_ORIGIN}${path}`, {
      method: "POST",
      headers: { cookie: (await cookieFor("admin"))!, origin: TEST_ORIGIN, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(body).toString(),
    });
  expect((await post("/baa/profile", {
    legalName: "Matrix Practice LLC", addressLine1: "1 Main St", city: "Boston", state: "MA", postalCode: "02110", phone: "6175550100",
    privacyOfficerName: "Pat Privacy", privacyOfficerEmail: "privacy@matrix.example", timeZone: "America/New_York",
  })).status).toBe(303);
  const version = await t.ownerDb.selectFrom("baa_versions").select("id").orderBy("version", "desc").executeTakeFirstOrThrow();
  expect((await post("/baa/sign", { versionId: version.id, typedName: "Matrix Admin", title: "Owner", authorized: "yes", consent: "yes" })).status).toBe(303);
  baaSignatureId = (await t.ownerDb.selectFrom("baa_signatures").select("id").executeTakeFirstOrThrow()).id;
});

// A draft job in the admin's practice (after the BAA is signed), for the job rows.
beforeAll(async () => {
  const admin = people.admin as Person & { practiceId: string };
  jobId = (await createJob({ db: t.db }, { userId: admin.userId, practiceId: admin.practiceId, role: "admin" }, {
    title: "Matrix job", letterType: "other", mailClass: "first_class", returnName: "Matrix Practice", returnLine1: "1 Main St", returnLine2: null,
    returnCity: "Boston", returnState: "MA", returnZip: "02110",
  })).id;
});

// One letter template of the admin's practice per visitor (rename and delete rows), so one visitor's
// deletion cannot decide another's answer.
const templateTargets = {} as Record<Visitor, string>;
beforeAll(async () => {
  const actor = { userId: people.admin.userId, practiceId: people.admin.practiceId!, role: "admin" as const };
  for (const visitor of ["anonymous", "password", "admin", "staff", "auditor", "otherAdmin", "operator"] as const) {
    templateTargets[visitor] = (await saveTemplateFromJob({ db: t.db, keys: t.config.keys.encryption }, actor, jobId, {
      templateName: `Matrix template ${visitor}`, body: "Dear {{first_name}}, hello.",
    })).id;
  }
});

// A job of the admin's practice, attested, with a pending file that was never uploaded (upload rows).
const uploadJob = { id: ZERO_ID, fileId: ZERO_ID };
beforeAll(async () => {
  const actor = { userId: people.admin.userId, practiceId: people.admin.practiceId!, role: "admin" as const };
  const job = await createJob({ db: t.db }, actor, {
    title: "Matrix job", letterType: "practice_closure", mailClass: "first_class", returnName: "Matrix Practice", returnLine1: "1 Main St",
    returnLine2: null, returnCity: "Boston", returnState: "MA", returnZip: "02110",
  });
  await attestJob({ db: t.db }, actor, job.id, { statementVersion: attestationStatement().version, confirm: "yes", initials: "MA" });
  const file = await issueUploadUrl({ db: t.db, blob: t.blob, config: t.config }, actor, job.id, {
    kind: "recipients_csv", name: "list.csv", size: 10, type: "text/csv", sha256: "a".repeat(64),
  });
  Object.assign(uploadJob, { id: job.id, fileId: file.fileId });
});

function registeredRoutes(): string[] {
  const keys = t.app.routes.map((r) => `${r.method} ${r.path}`).filter((k) => !MIDDLEWARE.has(k));
  return [...new Set(keys)].sort();
}

test("every registered route has a row in the matrix, and every row is a registered route", () => {
  expect(registeredRoutes()).toEqual(Object.keys(MATRIX).sort());
});

describe("each route answers each visitor as the matrix says", () => {
  for (const [route, row] of Object.entries(MATRIX)) {
    for (const [visitor, status] of Object.entries(row.expect) as [Visitor, number][]) {
      test(`${route} as ${visitor} → ${status}`, async () => {
        const cookie = await cookieFor(visitor);
        const method = row.method ?? "GET";
        const path = typeof row.path === "function" ? row.path(visitor) : row.path;
        const res = await t.app.request(`${TEST_ORIGIN}${path}`, {
          method,
          headers: {
            ...(cookie ? { cookie } : {}),
            ...(method === "POST" ? { origin: TEST_ORIGIN, "content-type": "application/x-www-form-urlencoded" } : {}),
          },
          body: method === "POST" ? new URLSearchParams((typeof row.body === "function" ? row.body(visitor) : row.body) ?? {}).toString() : undefined,
        });
        expect(res.status).toBe(status);
      });
    }
  }
});
