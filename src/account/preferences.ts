// Communication preferences: which non-essential emails each person receives. Service email
// (security, proofs, jobs, data requests, invitations) is always sent. The mailer asks mailAudience()
// before every non-essential message, so the choice holds on every path that sends mail; each such
// message carries a one-click unsubscribe link signed for its user and category (RFC 8058), which
// works without signing in.
import type { Config } from "../config.ts";
import type { RequestMeta } from "../context.ts";
import { recordAudit } from "../audit/record.ts";
import { signLink, verifyLink } from "../platform/crypto.ts";
import { type Db, type Tx, withContext } from "../platform/db.ts";
import { type MailAudience, NON_ESSENTIAL_CATEGORIES, type NonEssentialCategory } from "../platform/mail.ts";
import { listPreferences, upsertPreference, userMailStatus } from "./repo.ts";

export type Preferences = Record<NonEssentialCategory, boolean>;

/** What each category is, for the preferences page and the mail footer; and whether it is on until chosen. */
export const CATEGORIES: Record<NonEssentialCategory, { label: string; description: string; subscribedByDefault: boolean }> = {
  // About the person's own work, so it starts on; one click turns it off. Sent by
  // src/account/weekly-summary.ts on WEEKLY_SUMMARY_CRON (Mondays 08:00 UTC by default).
  job_summary: {
    label: "Weekly job summary",
    description: "Once a week (Monday mornings by default), one email per practice you belong to: how many of its jobs are in each stage, and the references of proofs waiting for approval and jobs sent back for changes (if your role can act on them). Job references and counts only, never job titles or patient information.",
    subscribedByDefault: true,
  },
};

/** Service emails, which preferences never silence, and why (shown on the page). */
export const SERVICE_EMAILS: readonly { label: string; why: string }[] = [
  { label: "Security notices", why: "sign-in links, password and email changes, two-step sign-in changes: you must hear about changes to your account, especially ones you did not make." },
  { label: "Proof ready", why: "a proof of a job you created waits for review; nothing is printed until someone approves it." },
  { label: "Job mailed", why: "a job you created was handed to the postal service: the record of your practice's mailing." },
  { label: "Data export ready", why: "the data export you asked for as your practice's admin can be downloaded, for 7 days only." },
  { label: "Invitations", why: "someone invited you to a practice; sent once, to the invited address." },
];

export const isCategory = (value: string): value is NonEssentialCategory => (NON_ESSENTIAL_CATEGORIES as readonly string[]).includes(value);

export async function readPreferences(tx: Tx, userId: string): Promise<Preferences> {
  const stored = await listPreferences(tx, userId);
  const prefs = Object.fromEntries(NON_ESSENTIAL_CATEGORIES.map((c) => [c, CATEGORIES[c].subscribedByDefault])) as Preferences;
  for (const row of stored) prefs[row.category] = row.subscribed;
  return prefs;
}

export type AccountActor = { userId: string; practiceId: string | null };

/** Saves the choices from the preferences page; audited when anything changed. */
export async function savePreferences(deps: { db: Db }, actor: AccountActor, choices: Preferences, request: RequestMeta): Promise<boolean> {
  return withContext(deps.db, { actor: `user:${actor.userId}`, userId: actor.userId, practiceId: actor.practiceId }, async (tx) => {
    const before = await readPreferences(tx, actor.userId);
    let changed = false;
    for (const category of NON_ESSENTIAL_CATEGORIES) {
      // Stored even when equal to the default, so a later change of default does not re-subscribe anyone.
      const stored = await upsertPreference(tx, actor.userId, category, choices[category]);
      changed ||= stored && before[category] !== choices[category];
    }
    if (changed) {
      await recordAudit(tx, {
        practiceId: actor.practiceId, actor: { type: "user", id: actor.userId }, action: "account.preferences.changed",
        target: { type: "user", id: actor.userId }, details: { ...choices }, request,
      });
    }
    return changed;
  });
}

// ---- the one-click unsubscribe link ----------------------------------------------------------------

/** Long enough for an email read weeks later (US law wants opt-outs honoured for 30 days after sending). */
export const UNSUBSCRIBE_LINK_DAYS = 90;
const resource = (category: NonEssentialCategory) => `unsubscribe:${category}`;

/** `/unsubscribe?u=<user>&c=<category>&t=<HMAC token>`: the token binds the user, the category and an expiry. */
export function unsubscribePath(config: Pick<Config, "keys">, userId: string, category: NonEssentialCategory, now = Date.now()): string {
  const token = signLink(config.keys.hmac, { resource: resource(category), userId, expiresAt: new Date(now + UNSUBSCRIBE_LINK_DAYS * 86_400_000) });
  return `/unsubscribe?${new URLSearchParams({ u: userId, c: category, t: token })}`;
}

export type UnsubscribeLink = { userId: string; category: NonEssentialCategory; token: string };
export type LinkCheck = { ok: true; link: UnsubscribeLink } | { ok: false; reason: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Checks the link's signature against the user and category it names (a token for anyone else fails). */
export function checkUnsubscribeLink(config: Pick<Config, "keys">, query: { u?: string; c?: string; t?: string }): LinkCheck {
  const { u = "", c = "", t = "" } = query;
  if (!UUID.test(u) || !isCategory(c) || t.length > 200) return { ok: false, reason: "malformed" };
  const verified = verifyLink(config.keys.hmac, t, { resource: resource(c), userId: u.toLowerCase() });
  if (!verified.ok) return { ok: false, reason: verified.reason };
  return { ok: true, link: { userId: u.toLowerCase(), category: c, token: t } };
}

/** Turns the link's category off for its user; audited (changed: false when it was already off). */
export async function unsubscribe(deps: { db: Db }, link: UnsubscribeLink, method: "one_click" | "confirm_page", request: RequestMeta): Promise<{ changed: boolean }> {
  return withContext(deps.db, { actor: `user:${link.userId}`, userId: link.userId }, async (tx) => {
    const before = await readPreferences(tx, link.userId);
    await upsertPreference(tx, link.userId, link.category, false);
    const changed = before[link.category];
    await recordAudit(tx, {
      practiceId: null, actor: { type: "user", id: link.userId }, action: "account.unsubscribed",
      target: { type: "user", id: link.userId }, details: { category: link.category, changed, method }, request,
    });
    return { changed };
  });
}

/** The mailer's view of preferences (src/platform/mail.ts): who wants what, and the footer's links. */
export function mailAudience(deps: { db: Db; config: Pick<Config, "appOrigin" | "keys"> }): MailAudience {
  return {
    preferencesUrl: `${deps.config.appOrigin}/account/preferences`,
    categoryLabel: (category) => CATEGORIES[category].label.toLowerCase(),
    unsubscribeUrl: (userId, category) => `${deps.config.appOrigin}${unsubscribePath(deps.config, userId, category)}`,
    async wants(userId, category) {
      return withContext(deps.db, { actor: "system:mailer", userId }, async (tx) => {
        const user = await userMailStatus(tx, userId);
        if (!user || user.status !== "active") return false;
        return (await readPreferences(tx, userId))[category];
      });
    },
  };
}
