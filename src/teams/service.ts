// Team use cases: invite, accept, change role, remove, reset a member's MFA, switch practice.
// Each asks the permissions module itself (not only the route), keeps at least one admin, and
// audits in the same transaction. Ending another user's sessions narrows the transaction to that
// user for the statement (sessions are visible only to their user under RLS).
import type { Config } from "../config.ts";
import type { RequestMeta } from "../context.ts";
import { recordAudit } from "../audit/record.ts";
import { can } from "../auth/permissions.ts";
import { hashPassword } from "../auth/password.ts";
import { findActiveMembership, findUserByEmail, insertMembership, insertUser, revokeSession, revokeUserSessions } from "../auth/repo.ts";
import { createSession } from "../auth/sessions.ts";
import { randomToken, sha256Hex } from "../platform/crypto.ts";
import { type Db, setContext, type Tx, withContext } from "../platform/db.ts";
import type { Mailer } from "../platform/mail.ts";
import type { Role, Session } from "../platform/schema.ts";
import { findPractice } from "../practices/repo.ts";
import { isOperator } from "../auth/operators.ts";
import { invitationEmail } from "./emails.ts";
import { findMembership, findOpenInvitation, insertInvitation, lockAdminCount } from "./repo.ts";
import { sql } from "kysely";

export type TeamDeps = { db: Db; config: Config; mailer: Mailer };
/** The admin acting: their user id and the practice of their session. */
export type TeamActor = { userId: string; practiceId: string };

export const INVITATION_DAYS = 7;

export class TeamError extends Error {
  constructor(readonly code: "not_allowed" | "last_admin" | "already_member" | "not_found" | "wrong_account" | "account_exists" | "other_practices", message: string) {
    super(message);
  }
}

/** Opens a transaction as the actor in their practice, after checking they may manage the team. */
async function asTeamAdmin<T>(deps: TeamDeps, actor: TeamActor, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return withContext(deps.db, { actor: `user:${actor.userId}`, userId: actor.userId, practiceId: actor.practiceId }, async (tx) => {
    const me = await findActiveMembership(tx, actor.practiceId, actor.userId);
    if (!can(me?.role, "team.manage")) throw new TeamError("not_allowed", "Only practice administrators manage the team.");
    return fn(tx);
  });
}

/** How many practices the user belongs to (read as that user: memberships are private to a practice). */
async function countMembershipsOf(tx: Tx, actor: TeamActor, userId: string): Promise<number> {
  await setContext(tx, { userId });
  const rows = await tx.selectFrom("memberships").select("practice_id").where("user_id", "=", userId).execute();
  await setContext(tx, { userId: actor.userId });
  return rows.length;
}

async function endSessionsOf(tx: Tx, actor: TeamActor, userId: string, reason: string, onlyThisPractice: boolean): Promise<number> {
  await setContext(tx, { userId });
  let ended: number;
  if (onlyThisPractice) {
    const result = await tx.updateTable("sessions").set({ revoked_at: sql`now()`, revoked_reason: reason })
      .where("user_id", "=", userId).where("practice_id", "=", actor.practiceId).where("revoked_at", "is", null).executeTakeFirst();
    ended = Number(result.numUpdatedRows);
  } else {
    ended = await revokeUserSessions(tx, userId, reason);
  }
  await setContext(tx, { userId: actor.userId });
  return ended;
}

export async function invite(
  deps: TeamDeps, actor: TeamActor, input: { email: string; role: Role; endsAt: Date | null }, request: RequestMeta,
): Promise<void> {
  const token = randomToken(32);
  const practiceName = await asTeamAdmin(deps, actor, async (tx) => {
    const existing = await findUserByEmail(tx, input.email);
    if (existing && (await findMembership(tx, actor.practiceId, existing.id))) {
      throw new TeamError("already_member", "This person is already a member of the practice.");
    }
    if (existing && (await isOperator(tx, existing.id))) {
      throw new TeamError("not_allowed", "That address belongs to a platform operator account, which cannot join a practice.");
    }
    const { id } = await insertInvitation(tx, {
      practiceId: actor.practiceId, email: input.email, role: input.role, endsAt: input.role === "auditor" ? input.endsAt : null,
      tokenHash: sha256Hex(token), invitedBy: actor.userId, expiresAt: new Date(Date.now() + INVITATION_DAYS * 86_400_000),
    });
    await recordAudit(tx, {
      practiceId: actor.practiceId, actor: { type: "user", id: actor.userId, role: "admin" }, action: "team.invited",
      target: { type: "invitation", id }, details: { role: input.role, ends_at: input.endsAt?.toISOString() ?? null }, request,
    });
    return (await findPractice(tx, actor.practiceId))!.name;
  });
  await deps.mailer.send(invitationEmail(input.email, practiceName, input.role, `${deps.config.appOrigin}/invitations/accept?token=${token}`, INVITATION_DAYS));
}

export async function revokeInvitation(deps: TeamDeps, actor: TeamActor, invitationId: string, request: RequestMeta): Promise<void> {
  await asTeamAdmin(deps, actor, async (tx) => {
    const result = await tx.updateTable("invitations").set({ revoked_at: sql`now()` })
      .where("id", "=", invitationId).where("accepted_at", "is", null).where("revoked_at", "is", null).executeTakeFirst();
    if (result.numUpdatedRows !== 1n) throw new TeamError("not_found", "That invitation is no longer pending.");
    await recordAudit(tx, { practiceId: actor.practiceId, actor: { type: "user", id: actor.userId, role: "admin" }, action: "team.invitation_revoked", target: { type: "invitation", id: invitationId }, request });
  });
}

export type OpenInvitation = { practiceName: string; email: string; role: Role; endsAt: Date | null };

/** What an invitation link offers, or null when it cannot be accepted any more. */
export async function describeInvitation(deps: TeamDeps, token: string): Promise<OpenInvitation | null> {
  if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return null;
  return withContext(deps.db, { actor: "anonymous", invitationTokenHash: sha256Hex(token) }, async (tx) => {
    const invitation = await findOpenInvitation(tx, sha256Hex(token));
    if (!invitation) return null;
    await setContext(tx, { practiceId: invitation.practiceId });
    const practice = await findPractice(tx, invitation.practiceId);
    return { practiceName: practice!.name, email: invitation.email, role: invitation.role, endsAt: invitation.endsAt };
  });
}

async function join(tx: Tx, invitation: NonNullable<Awaited<ReturnType<typeof findOpenInvitation>>>, userId: string, request: RequestMeta) {
  await setContext(tx, { practiceId: invitation.practiceId, userId });
  if (await findMembership(tx, invitation.practiceId, userId)) throw new TeamError("already_member", "You are already a member of this practice.");
  if (await isOperator(tx, userId)) throw new TeamError("not_allowed", "Platform operator accounts cannot join a practice.");
  await insertMembership(tx, { practiceId: invitation.practiceId, userId, role: invitation.role });
  if (invitation.endsAt) await tx.updateTable("memberships").set({ ends_at: invitation.endsAt }).where("practice_id", "=", invitation.practiceId).where("user_id", "=", userId).execute();
  await tx.updateTable("invitations").set({ accepted_at: sql`now()`, accepted_by: userId }).where("id", "=", invitation.id).execute();
  await recordAudit(tx, {
    practiceId: invitation.practiceId, actor: { type: "user", id: userId, role: invitation.role }, action: "team.joined",
    target: { type: "user", id: userId }, details: { role: invitation.role, invitation: invitation.id }, request,
  });
}

/**
 * Clerk mode: someone whose verified email has open invitations signs in for the first time. Creates
 * their account and accepts every such invitation, in the caller's transaction (whose context must
 * carry inviteeEmail). Returns the new user's id, or null when no invitation is open.
 */
export async function joinByVerifiedEmail(
  tx: Tx, input: { email: string; fullName: string; clerkUserId: string }, request: RequestMeta,
): Promise<string | null> {
  const email = input.email.trim().toLowerCase();
  const open = await tx.selectFrom("invitations").select(["id", "practice_id as practiceId", "email", "role", "ends_at as endsAt"])
    .where("email", "=", email).where("accepted_at", "is", null).where("revoked_at", "is", null).where("expires_at", ">", sql<Date>`now()`)
    .orderBy("created_at").execute();
  if (open.length === 0) return null;
  const userId = crypto.randomUUID();
  await setContext(tx, { userId });
  await tx.insertInto("users").values({ id: userId, email, full_name: input.fullName, password_hash: null, email_verified_at: sql`now()`, clerk_user_id: input.clerkUserId } as never).execute();
  for (const invitation of open) {
    await join(tx, invitation, userId, request);
    await recordAudit(tx, {
      practiceId: invitation.practiceId, actor: { type: "user", id: userId, role: invitation.role }, action: "auth.signup",
      target: { type: "user", id: userId }, details: { invitation: invitation.id, provider: "clerk" }, request,
    });
  }
  return userId;
}

/** A signed-in user accepts an invitation addressed to their own email. */
export async function acceptAsUser(deps: TeamDeps, token: string, user: { id: string; email: string }, request: RequestMeta): Promise<string> {
  const tokenHash = sha256Hex(token);
  return withContext(deps.db, { actor: `user:${user.id}`, userId: user.id, invitationTokenHash: tokenHash }, async (tx) => {
    const invitation = await findOpenInvitation(tx, tokenHash);
    if (!invitation) throw new TeamError("not_found", "This invitation has been used, withdrawn or has expired.");
    if (invitation.email !== user.email) throw new TeamError("wrong_account", "This invitation was sent to another email address. Sign in with that address to accept it.");
    await join(tx, invitation, user.id, request);
    return invitation.practiceId;
  });
}

/** Someone without an account accepts by creating one; the link proves they own the email. */
export async function acceptWithNewAccount(deps: TeamDeps, token: string, input: { fullName: string; password: string }, request: RequestMeta): Promise<void> {
  const tokenHash = sha256Hex(token);
  const passwordHash = await hashPassword(input.password);
  const userId = crypto.randomUUID();
  await withContext(deps.db, { actor: `user:${userId}`, userId, invitationTokenHash: tokenHash }, async (tx) => {
    const invitation = await findOpenInvitation(tx, tokenHash);
    if (!invitation) throw new TeamError("not_found", "This invitation has been used, withdrawn or has expired.");
    if (await findUserByEmail(tx, invitation.email)) throw new TeamError("account_exists", "An account already uses this email address. Sign in, then open the invitation link again.");
    await insertUser(tx, { id: userId, email: invitation.email, fullName: input.fullName, passwordHash });
    await tx.updateTable("users").set({ email_verified_at: sql`now()` }).where("id", "=", userId).execute();
    await join(tx, invitation, userId, request);
    await recordAudit(tx, {
      practiceId: invitation.practiceId, actor: { type: "user", id: userId, role: invitation.role }, action: "auth.signup",
      target: { type: "user", id: userId }, details: { invitation: invitation.id }, request,
    });
  });
}

export async function changeRole(
  deps: TeamDeps, actor: TeamActor, targetUserId: string, input: { role: Role; endsAt: Date | null }, request: RequestMeta,
): Promise<void> {
  await asTeamAdmin(deps, actor, async (tx) => {
    const admins = await lockAdminCount(tx, actor.practiceId);
    const target = await findMembership(tx, actor.practiceId, targetUserId);
    if (!target) throw new TeamError("not_found", "That person is not a member of this practice.");
    if (target.role === "admin" && input.role !== "admin" && admins <= 1) {
      throw new TeamError("last_admin", "The practice needs at least one administrator. Make someone else an administrator first.");
    }
    const endsAt = input.role === "auditor" ? input.endsAt : null;
    await tx.updateTable("memberships").set({ role: input.role, ends_at: endsAt, updated_at: sql`now()` })
      .where("practice_id", "=", actor.practiceId).where("user_id", "=", targetUserId).execute();
    // Sessions in this practice carry the old role: end them so the next one starts fresh. The
    // member's sessions in other practices are none of this practice's business.
    if (target.role !== input.role) await endSessionsOf(tx, actor, targetUserId, "role_changed", true);
    await recordAudit(tx, {
      practiceId: actor.practiceId, actor: { type: "user", id: actor.userId, role: "admin" }, action: "team.role_changed",
      target: { type: "user", id: targetUserId },
      details: { from: target.role, to: input.role, ends_at_from: target.ends_at ? new Date(target.ends_at).toISOString() : null, ends_at_to: endsAt?.toISOString() ?? null },
      request,
    });
  });
}

export async function removeMember(deps: TeamDeps, actor: TeamActor, targetUserId: string, request: RequestMeta): Promise<void> {
  await asTeamAdmin(deps, actor, async (tx) => {
    const admins = await lockAdminCount(tx, actor.practiceId);
    const target = await findMembership(tx, actor.practiceId, targetUserId);
    if (!target) throw new TeamError("not_found", "That person is not a member of this practice.");
    if (target.role === "admin" && admins <= 1) {
      throw new TeamError("last_admin", "The practice needs at least one administrator. Make someone else an administrator first.");
    }
    await tx.deleteFrom("memberships").where("practice_id", "=", actor.practiceId).where("user_id", "=", targetUserId).execute();
    await endSessionsOf(tx, actor, targetUserId, "removed", true);
    await recordAudit(tx, {
      practiceId: actor.practiceId, actor: { type: "user", id: actor.userId, role: "admin" }, action: "team.member_removed",
      target: { type: "user", id: targetUserId }, details: { role: target.role }, request,
    });
  });
}

export async function resetMemberMfa(deps: TeamDeps, actor: TeamActor, targetUserId: string, request: RequestMeta): Promise<void> {
  await asTeamAdmin(deps, actor, async (tx) => {
    if (!(await findMembership(tx, actor.practiceId, targetUserId))) throw new TeamError("not_found", "That person is not a member of this practice.");
    // Their second factor also guards the other practices they belong to: only a reset that
    // affects this practice alone is this admin's to make.
    if ((await countMembershipsOf(tx, actor, targetUserId)) > 1) {
      throw new TeamError("other_practices", "This person also belongs to other practices, so their two-step sign-in cannot be reset from here. They can reset it themselves with a recovery code, or ask platform support.");
    }
    await tx.updateTable("users").set({ totp_secret: null, totp_enabled_at: null, totp_last_step: null, updated_at: sql`now()` }).where("id", "=", targetUserId).execute();
    await tx.deleteFrom("user_recovery_codes").where("user_id", "=", targetUserId).execute();
    await endSessionsOf(tx, actor, targetUserId, "mfa_reset", false);
    await recordAudit(tx, { practiceId: actor.practiceId, actor: { type: "user", id: actor.userId, role: "admin" }, action: "mfa.reset_by_admin", target: { type: "user", id: targetUserId }, request });
  });
}

/**
 * Moves the session to another practice the user belongs to. With local sessions the token
 * rotates (returned, to set as the cookie); with Clerk the cookie is Clerk's, so the same session
 * row just changes practice (null: no cookie to set).
 */
export async function switchPractice(deps: TeamDeps, session: Session, practiceId: string, request: RequestMeta): Promise<string | null> {
  return withContext(deps.db, { actor: `user:${session.user_id}`, userId: session.user_id, practiceId }, async (tx) => {
    const membership = await findActiveMembership(tx, practiceId, session.user_id);
    if (!membership) throw new TeamError("not_found", "You are not a member of that practice.");
    let token: string | null = null;
    if (deps.config.auth.provider === "clerk") {
      await tx.updateTable("sessions").set({ practice_id: practiceId }).where("id", "=", session.id).execute();
    } else {
      await revokeSession(tx, session.id, "switched_practice");
      token = (await createSession(tx, { userId: session.user_id, practiceId, mfaVerified: Boolean(session.mfa_verified_at), request, expiresAt: new Date(session.expires_at) }, deps.config.session)).token;
    }
    await recordAudit(tx, { practiceId, actor: { type: "user", id: session.user_id, role: membership.role }, action: "practice.switched", target: { type: "practice", id: practiceId }, request });
    return token;
  });
}
