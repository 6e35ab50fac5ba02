// Teams through the real app: invitations, roles and their permissions, the last-admin rule,
// auditor end dates, removal and MFA reset ending sessions, and switching practices.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "kysely";
import { Secret, TOTP } from "otpauth";
import { listDevMail, readDevMail } from "../src/platform/mail.ts";
import { can, ROLE_PERMISSIONS } from "../src/auth/permissions.ts";
import { createTestApp, type TestApp } from "./support/app.ts";
import { Client } from "./support/browserless.ts";
import { makeOperator, sessionToken } from "./support/people.ts";

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

const PASSWORD = "correct horse battery staple";
const email = () => `m.${crypto.randomUUID().slice(0, 8)}@clinic.example`;

async function mailTo(address: string) {
  const item = (await listDevMail(t.config.mail.dir)).find((m) => m.to.includes(address));
  return item ? readDevMail(t.config.mail.dir, item.id) : null;
}

/** Signs in with password and TOTP (enrolling on first use); returns the client. */
async function signIn(address: string, password = PASSWORD): Promise<Client> {
  const client = new Client(t);
  const res = await client.post("/login", { email: address, password });
  expect(res.status).toBe(303);
  if (res.headers.get("location") === "/mfa/setup") {
    const html = await (await client.get("/mfa/setup")).text();
    const secret = /<code class="secret">([A-Z2-7 ]+)<\/code>/.exec(html)![1]!.replace(/ /g, "");
    expect((await client.post("/mfa/setup", { code: new TOTP({ secret: Secret.fromBase32(secret) }).generate() })).status).toBe(200);
  } else {
    // Already enrolled: the tests below only sign enrolled users in once per code step via recovery codes.
    throw new Error("signIn() expects a user who has not enrolled yet");
  }
  return client;
}

async function newAdmin(practiceName = "Lakeside Clinic") {
  const address = email();
  const anon = new Client(t);
  await anon.post("/signup", { fullName: "Alex Admin", email: address, password: PASSWORD, practiceName });
  const token = /token=([A-Za-z0-9_-]{43})/.exec((await mailTo(address))!.text)![1]!;
  await anon.post("/verify-email", { token });
  return { address, client: await signIn(address) };
}

/** Invites someone and has them accept by creating an account; returns their signed-in client. */
async function addMember(admin: Client, role: "admin" | "staff" | "auditor", extra: Record<string, string> = {}) {
  const address = email();
  expect((await admin.post("/team/invitations", { email: address, role, ...extra })).status).toBe(303);
  const token = /invitations\/accept\?token=([A-Za-z0-9_-]{43})/.exec((await mailTo(address))!.text)![1]!;
  const joined = await new Client(t).post("/invitations/accept/new-account", { token, fullName: `Member ${role}`, password: PASSWORD });
  expect(joined.status).toBe(303);
  const user = await t.ownerDb.selectFrom("users").select("id").where("email", "=", address).executeTakeFirstOrThrow();
  return { address, userId: user.id, client: await signIn(address) };
}

describe("permissions", () => {
  test("one map: staff work on jobs, admins also run the practice, auditors read compliance records and no PHI", () => {
    expect(can("staff", "jobs.write")).toBe(true);
    expect(can("staff", "team.manage")).toBe(false);
    expect(can("admin", "team.manage")).toBe(true);
    expect(can("admin", "baa.sign")).toBe(true);
    expect(can("auditor", "audit.read")).toBe(true);
    expect(can("auditor", "proofs.view")).toBe(false);
    expect(can("auditor", "jobs.write")).toBe(false);
    expect(can(null, "jobs.read")).toBe(false);
    for (const permission of ROLE_PERMISSIONS.staff) expect(can("admin", permission)).toBe(true);
  });
});

describe("invitations", () => {
  test("an admin invites by email; the invitee creates an account, joins with the role and is audited", async () => {
    const admin = await newAdmin();
    const staff = await addMember(admin.client, "staff");
    const home = await staff.client.get("/app");
    expect(home.status).toBe(200);
    const html = await home.text();
    expect(html).toContain("Lakeside Clinic");
    expect(html).toContain("staff");
    const joined = await t.ownerDb.selectFrom("audit_events").select(["action", "details", "actor_id"]).where("action", "=", "team.joined").where("actor_id", "=", staff.userId).execute();
    expect(joined).toHaveLength(1);
    expect(joined[0]!.details).toMatchObject({ role: "staff" });
    const invited = await t.ownerDb.selectFrom("audit_events").select("details").where("action", "=", "team.invited").orderBy("occurred_at", "desc").limit(1).executeTakeFirstOrThrow();
    expect(invited.details).toEqual({ role: "staff", ends_at: null });
  });

  test("an invitation link works once, and an existing account must sign in with the invited email", async () => {
    const admin = await newAdmin();
    const address = email();
    await admin.client.post("/team/invitations", { email: address, role: "staff" });
    const token = /token=([A-Za-z0-9_-]{43})/.exec((await mailTo(address))!.text)![1]!;
    expect((await new Client(t).get(`/invitations/accept?token=${token}`)).status).toBe(200);
    expect((await new Client(t).post("/invitations/accept/new-account", { token, fullName: "First", password: PASSWORD })).status).toBe(303);
    const again = await new Client(t).post("/invitations/accept/new-account", { token, fullName: "Second", password: PASSWORD });
    expect(again.status).toBe(404);
    expect((await new Client(t).get(`/invitations/accept?token=${token}`)).status).toBe(404);

    // Someone signed in as another person cannot take an invitation addressed elsewhere.
    const other = await newAdmin("Elsewhere");
    const target = email();
    await admin.client.post("/team/invitations", { email: target, role: "staff" });
    const token2 = /token=([A-Za-z0-9_-]{43})/.exec((await mailTo(target))!.text)![1]!;
    const wrong = await other.client.post("/invitations/accept", { token: token2 });
    expect(wrong.status).toBe(403);
    expect(await wrong.text()).toContain("sent to another email address");
  });

  test("a withdrawn invitation cannot be used; inviting an existing member is refused", async () => {
    const admin = await newAdmin();
    const address = email();
    await admin.client.post("/team/invitations", { email: address, role: "staff" });
    const token = /token=([A-Za-z0-9_-]{43})/.exec((await mailTo(address))!.text)![1]!;
    const id = /action="\/team\/invitations\/([0-9a-f-]{36})\/revoke"/.exec(await (await admin.client.get("/team")).text())![1]!;
    expect((await admin.client.post(`/team/invitations/${id}/revoke`, {})).status).toBe(303);
    expect((await new Client(t).post("/invitations/accept/new-account", { token, fullName: "Late", password: PASSWORD })).status).toBe(404);
    const dup = await admin.client.post("/team/invitations", { email: admin.address, role: "staff" });
    expect(dup.status).toBe(409);
    expect(await dup.text()).toContain("already a member");
  });

  test("bad input is explained and kept", async () => {
    const admin = await newAdmin();
    const res = await admin.client.post("/team/invitations", { email: "nope", role: "auditor", endsAt: "2001-01-01" });
    expect(res.status).toBe(422);
    const html = await res.text();
    expect(html).toContain("Enter a valid email address");
    expect(html).toContain("Choose a date in the future");
    expect(html).toContain('value="nope"');
  });
});

describe("roles", () => {
  test("staff and auditors cannot manage the team; the refusal is audited as denied", async () => {
    const admin = await newAdmin();
    const staff = await addMember(admin.client, "staff");
    const auditor = await addMember(admin.client, "auditor");
    for (const member of [staff, auditor]) {
      expect((await member.client.get("/team")).status).toBe(403);
      expect((await member.client.post("/team/invitations", { email: email(), role: "admin" })).status).toBe(403);
    }
    const denied = await t.ownerDb.selectFrom("audit_events").select(["outcome", "details", "target_id"]).where("action", "=", "access.denied").where("actor_id", "=", staff.userId).execute();
    expect(denied[0]).toMatchObject({ outcome: "denied", target_id: "GET /team", details: { permission: "team.manage", role: "staff" } });
  });

  test("the last admin cannot be demoted or removed", async () => {
    const admin = await newAdmin();
    const me = await t.ownerDb.selectFrom("users").select("id").where("email", "=", admin.address).executeTakeFirstOrThrow();
    const demote = await admin.client.post(`/team/members/${me.id}/role`, { role: "staff" });
    expect(demote.status).toBe(409);
    expect(await demote.text()).toContain("at least one administrator");
    // With a second admin, demotion works, and the demoted admin's sessions end.
    const second = await addMember(admin.client, "admin");
    expect((await second.client.post(`/team/members/${me.id}/role`, { role: "staff" })).status).toBe(303);
    expect((await admin.client.get("/app")).status).toBe(303);
    expect((await second.client.post(`/team/members/${second.userId}/remove`, {})).status).toBe(409);
  });

  test("changing a role ends that member's sessions and is audited with from and to", async () => {
    const admin = await newAdmin();
    const staff = await addMember(admin.client, "staff");
    expect((await admin.client.post(`/team/members/${staff.userId}/role`, { role: "auditor" })).status).toBe(303);
    expect((await staff.client.get("/app")).status).toBe(303);
    const event = await t.ownerDb.selectFrom("audit_events").select("details").where("action", "=", "team.role_changed").where("target_id", "=", staff.userId).executeTakeFirstOrThrow();
    expect(event.details).toEqual({ from: "staff", to: "auditor", ends_at_from: null, ends_at_to: null });
  });

  test("resubmitting an auditor's role keeps the end date the form shows", async () => {
    const admin = await newAdmin();
    const auditor = await addMember(admin.client, "auditor", { endsAt: "2099-12-31" });
    const page = await (await admin.client.get("/team")).text();
    expect(page).toContain('value="2099-12-31"');
    expect((await admin.client.post(`/team/members/${auditor.userId}/role`, { role: "auditor", endsAt: "2099-12-31" })).status).toBe(303);
    const m = await t.ownerDb.selectFrom("memberships").select("ends_at").where("user_id", "=", auditor.userId).executeTakeFirstOrThrow();
    expect(m.ends_at!.toISOString()).toBe("2099-12-31T00:00:00.000Z");
  });

  test("accepting an invitation with a new account is audited as a sign-up", async () => {
    const admin = await newAdmin();
    const staff = await addMember(admin.client, "staff");
    const signup = await t.ownerDb.selectFrom("audit_events").select(["details", "practice_id"]).where("action", "=", "auth.signup").where("target_id", "=", staff.userId).execute();
    expect(signup).toHaveLength(1);
    expect(Object.keys(signup[0]!.details)).toEqual(["invitation"]);
  });

  test("an auditor's membership lapses at its end date", async () => {
    const admin = await newAdmin();
    const auditor = await addMember(admin.client, "auditor", { endsAt: "2099-12-31" });
    expect((await auditor.client.get("/app")).status).toBe(200);
    await t.ownerDb.updateTable("memberships").set({ ends_at: sql`now() - interval '1 minute'` }).where("user_id", "=", auditor.userId).execute();
    const home = await auditor.client.get("/app");
    expect(await home.text()).toContain("You are not a member of any practice");
  });
});

describe("removal and MFA reset", () => {
  test("removing a member ends their sessions in the practice", async () => {
    const admin = await newAdmin();
    const staff = await addMember(admin.client, "staff");
    expect((await admin.client.post(`/team/members/${staff.userId}/remove`, {})).status).toBe(303);
    expect((await staff.client.get("/app")).status).toBe(303);
    const members = await t.ownerDb.selectFrom("memberships").select("id").where("user_id", "=", staff.userId).execute();
    expect(members).toEqual([]);
  });

  test("an admin resets a member's two-step sign-in: sessions end and the member enrols again", async () => {
    const admin = await newAdmin();
    const staff = await addMember(admin.client, "staff");
    expect((await admin.client.post(`/team/members/${staff.userId}/reset-mfa`, {})).status).toBe(303);
    expect((await staff.client.get("/app")).status).toBe(303);
    const again = new Client(t);
    const login = await again.post("/login", { email: staff.address, password: PASSWORD });
    expect(login.headers.get("location")).toBe("/mfa/setup");
    expect(await t.ownerDb.selectFrom("user_recovery_codes").select("id").where("user_id", "=", staff.userId).execute()).toEqual([]);
    expect((await t.ownerDb.selectFrom("audit_events").select("actor_id").where("action", "=", "mfa.reset_by_admin").where("target_id", "=", staff.userId).execute())).toHaveLength(1);
  });

  test("an admin of another practice cannot touch this practice's members (not found)", async () => {
    const admin = await newAdmin();
    const staff = await addMember(admin.client, "staff");
    const stranger = await newAdmin("Other Practice");
    expect((await stranger.client.post(`/team/members/${staff.userId}/remove`, {})).status).toBe(404);
    expect((await stranger.client.post(`/team/members/${staff.userId}/reset-mfa`, {})).status).toBe(404);
    expect((await staff.client.get("/app")).status).toBe(200);
  });
});

describe("several practices", () => {
  test("a member of two practices switches the active one with a fresh session", async () => {
    const a = await newAdmin("Alpha Clinic");
    const b = await newAdmin("Beta Clinic");
    // b's admin is invited into Alpha and accepts while signed in.
    await a.client.post("/team/invitations", { email: b.address, role: "staff" });
    const token = /token=([A-Za-z0-9_-]{43})/.exec((await mailTo(b.address))!.text)![1]!;
    expect((await b.client.post("/invitations/accept", { token })).status).toBe(303);
    const alphaHome = await (await b.client.get("/app")).text();
    expect(alphaHome).toContain("Alpha Clinic");
    const beta = /name="practiceId" value="([0-9a-f-]{36})"/.exec(alphaHome)![1]!;
    const before = b.client.cookies.get("__Host-plh_session");
    expect((await b.client.post("/practice/switch", { practiceId: beta })).status).toBe(303);
    expect(b.client.cookies.get("__Host-plh_session")).not.toBe(before);
    expect(await (await b.client.get("/app")).text()).toContain("<h1 id=\"home-title\">Beta Clinic</h1>");
    // A practice the user does not belong to is not found.
    expect((await b.client.post("/practice/switch", { practiceId: crypto.randomUUID() })).status).toBe(404);
  });
});

describe("one practice cannot reach into another", () => {
  async function memberOfTwo() {
    const a = await newAdmin("Alpha Clinic");
    const b = await newAdmin("Beta Clinic");
    await a.client.post("/team/invitations", { email: b.address, role: "staff" });
    const token = /token=([A-Za-z0-9_-]{43})/.exec((await mailTo(b.address))!.text)![1]!;
    expect((await b.client.post("/invitations/accept", { token })).status).toBe(303);
    const user = await t.ownerDb.selectFrom("users").select("id").where("email", "=", b.address).executeTakeFirstOrThrow();
    const beta = await t.ownerDb.selectFrom("memberships").select("practice_id").where("user_id", "=", user.id).where("role", "=", "admin").executeTakeFirstOrThrow();
    return { a, b, userId: user.id, betaId: beta.practice_id };
  }

  test("an admin cannot reset the second factor of someone who also belongs to another practice", async () => {
    const { a, userId } = await memberOfTwo();
    const res = await a.client.post(`/team/members/${userId}/reset-mfa`, {});
    expect(res.status).toBe(409);
    expect(await res.text()).toContain("also belongs to other practices");
    const user = await t.ownerDb.selectFrom("users").select("totp_enabled_at").where("id", "=", userId).executeTakeFirstOrThrow();
    expect(user.totp_enabled_at).toBeInstanceOf(Date);
  });

  test("a role change ends the member's sessions in this practice only", async () => {
    const { a, userId, betaId } = await memberOfTwo();
    const inBeta = new Client(t);
    inBeta.cookies.set("__Host-plh_session", await sessionToken(t, { userId, practiceId: betaId, mfa: true }));
    expect((await inBeta.get("/team")).status).toBe(200); // admin in Beta
    expect((await a.client.post(`/team/members/${userId}/role`, { role: "auditor" })).status).toBe(303);
    expect((await inBeta.get("/team")).status).toBe(200);
  });
});

describe("operators stay out of practices", () => {
  test("an operator's address cannot be invited, and the database refuses an operator membership", async () => {
    const admin = await newAdmin();
    const operator = await makeOperator(t);
    const res = await admin.client.post("/team/invitations", { email: `${operator.userId}@operators.example`, role: "admin" });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain("platform operator");
    const member = await t.ownerDb.selectFrom("memberships").select("practice_id").limit(1).executeTakeFirstOrThrow();
    await expect(
      t.ownerDb.insertInto("memberships").values({ practice_id: member.practice_id, user_id: operator.userId, role: "admin" }).execute(),
    ).rejects.toThrow(/platform operators cannot be practice members/);
  });
});

describe("refused attempts are recorded as denied", () => {
  const deniedBy = (userId: string) =>
    t.ownerDb.selectFrom("audit_events").select(["action", "outcome", "details", "target_type"]).where("actor_id", "=", userId).where("outcome", "=", "denied").orderBy("occurred_at").orderBy("chain_seq").execute();

  test("a refused team change, a foreign practice switch and ending someone else's session", async () => {
    const admin = await newAdmin();
    const me = await t.ownerDb.selectFrom("users").select("id").where("email", "=", admin.address).executeTakeFirstOrThrow();
    expect((await admin.client.post(`/team/members/${me.id}/role`, { role: "staff" })).status).toBe(409);
    expect((await admin.client.post("/practice/switch", { practiceId: crypto.randomUUID() })).status).toBe(404);
    expect((await admin.client.post(`/account/sessions/${crypto.randomUUID()}/revoke`, {})).status).toBe(404);
    const events = await deniedBy(me.id);
    expect(events.map((e) => [e.action, e.details.reason, e.target_type])).toEqual([
      ["team.change.denied", "last_admin", "route"],
      ["access.denied", "not_a_member", "practice"],
      ["access.denied", "not_own_session", "session"],
    ]);
  });

  test("an unknown or used single-use link is recorded", async () => {
    const before = await t.ownerDb.selectFrom("audit_events").select("id").where("action", "=", "auth.token.rejected").execute();
    expect((await new Client(t).post("/password/reset", { token: "x".repeat(43), password: "a long enough password", confirm: "a long enough password" })).status).toBe(400);
    expect((await new Client(t).post("/verify-email", { token: "y".repeat(43) })).status).toBe(400);
    const after = await t.ownerDb.selectFrom("audit_events").select(["details", "outcome"]).where("action", "=", "auth.token.rejected").execute();
    expect(after.length - before.length).toBe(2);
    expect(after.slice(-2).map((e) => [e.outcome, e.details.purpose])).toEqual([["denied", "reset_password"], ["denied", "verify_email"]]);
  });
});

describe("lifetimes and the remaining team events", () => {
  const minutes = (a: Date, b: Date) => Math.round((new Date(a).getTime() - new Date(b).getTime()) / 60_000);

  test("invitation links last 7 days, confirmation links 24 hours, reset links 30 minutes", async () => {
    const admin = await newAdmin();
    const address = email();
    await admin.client.post("/team/invitations", { email: address, role: "staff" });
    const invitation = await t.ownerDb.selectFrom("invitations").select(["expires_at", "created_at"]).where("email", "=", address).executeTakeFirstOrThrow();
    expect(minutes(invitation.expires_at, invitation.created_at)).toBe(7 * 24 * 60);
    const user = await t.ownerDb.selectFrom("users").select("id").where("email", "=", admin.address).executeTakeFirstOrThrow();
    const verify = await t.ownerDb.selectFrom("email_tokens").select(["expires_at", "created_at"]).where("user_id", "=", user.id).where("purpose", "=", "verify_email").executeTakeFirstOrThrow();
    expect(minutes(verify.expires_at, verify.created_at)).toBe(24 * 60);
    await new Client(t).post("/password/forgot", { email: admin.address });
    const reset = await t.ownerDb.selectFrom("email_tokens").select(["expires_at", "created_at"]).where("user_id", "=", user.id).where("purpose", "=", "reset_password").executeTakeFirstOrThrow();
    expect(minutes(reset.expires_at, reset.created_at)).toBe(30);
  });

  test("withdrawing an invitation, removing a member and switching practice are each audited once", async () => {
    const admin = await newAdmin();
    await admin.client.post("/team/invitations", { email: email(), role: "staff" });
    const invitationId = /action="\/team\/invitations\/([0-9a-f-]{36})\/revoke"/.exec(await (await admin.client.get("/team")).text())![1]!;
    await admin.client.post(`/team/invitations/${invitationId}/revoke`, {});
    const staff = await addMember(admin.client, "staff");
    await admin.client.post(`/team/members/${staff.userId}/remove`, {});
    const count = async (action: string, targetId: string) =>
      (await t.ownerDb.selectFrom("audit_events").select("id").where("action", "=", action).where("target_id", "=", targetId).execute()).length;
    expect(await count("team.invitation_revoked", invitationId)).toBe(1);
    expect(await count("team.member_removed", staff.userId)).toBe(1);

    const other = await newAdmin("Gamma Clinic");
    await other.client.post("/team/invitations", { email: admin.address, role: "staff" });
    const token = /token=([A-Za-z0-9_-]{43})/.exec((await mailTo(admin.address))!.text)![1]!;
    await admin.client.post("/invitations/accept", { token });
    const gamma = await t.ownerDb.selectFrom("practices").select("id").where("name", "=", "Gamma Clinic").orderBy("created_at", "desc").limit(1).executeTakeFirstOrThrow();
    expect(await count("practice.switched", gamma.id)).toBe(1);
  });
});

describe("the role form", () => {
  test("bad input is shown in that member's row, with what was chosen kept; ids on the page are unique", async () => {
    const admin = await newAdmin();
    const staff = await addMember(admin.client, "staff");
    const res = await admin.client.post(`/team/members/${staff.userId}/role`, { role: "auditor", endsAt: "2001-02-03" });
    expect(res.status).toBe(422);
    const html = await res.text();
    expect(html).toContain(`id="ends-${staff.userId}-error"`);
    expect(html).toContain("Choose a date in the future");
    expect(html).toContain('value="2001-02-03"');
    expect(html).toMatch(new RegExp(`id="role-${staff.userId}"[^>]*>(?:(?!</select>).)*<option value="auditor" selected`, "s"));
    const ids = [...html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]);
    expect(ids.length).toBe(new Set(ids).size);
    const m = await t.ownerDb.selectFrom("memberships").select("role").where("user_id", "=", staff.userId).executeTakeFirstOrThrow();
    expect(m.role).toBe("staff");
  });
});
