// Support use cases (issue 9 item 4): a signed-in person reports a security or privacy incident;
// platform operators list the reports and read one. The description may carry PHI although the form
// asks for none: it is encrypted at rest (AES-256-GCM, context "incident-report:<id>") and never
// written to a log, an audit event or an email. The report and its audit event share a transaction
// (the reporter's practice chain, else the platform's); the security contact is emailed after commit.
import type { Config } from "../config.ts";
import type { RequestMeta } from "../context.ts";
import { recordAudit } from "../audit/record.ts";
import { isOperator } from "../auth/operators.ts";
import { findActiveMembership, findUserById } from "../auth/repo.ts";
import { decryptField, encryptField } from "../platform/crypto.ts";
import { type Db, setContext, type Tx, withContext } from "../platform/db.ts";
import type { Logger } from "../platform/log.ts";
import type { Mailer } from "../platform/mail.ts";
import { findPractice } from "../practices/repo.ts";
import { incidentReportedEmail } from "./emails.ts";
import { type IncidentInput, zonedTimeToUtc } from "./forms.ts";
import { findIncident, insertIncident, type IncidentRow, listIncidents } from "./repo.ts";

export type SupportDeps = { db: Db; config: Config; mailer: Mailer; logger: Logger };

/** Who reports: the signed-in user and the practice of their session, if any. */
export type Reporter = { userId: string; practiceId: string | null; request: RequestMeta };

export class IncidentError extends Error {
  constructor(readonly code: "noticed_at" | "not_found" | "forbidden", readonly field: string | null, message: string) {
    super(message);
  }
}

export function incidentContext(id: string): string {
  return `incident-report:${id}`;
}

const ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"; // read aloud without confusion
function incidentReference(): string {
  const chars = [...crypto.getRandomValues(new Uint8Array(8))].map((b) => ALPHABET[b % ALPHABET.length]).join("");
  return `INC-${chars.slice(0, 4)}-${chars.slice(4)}`;
}

/** The time zone the "when noticed" field is read in: the reporter's practice's, else UTC. */
export async function reporterTimeZone(deps: { db: Db }, reporter: Reporter): Promise<string> {
  if (!reporter.practiceId) return "UTC";
  return withContext(deps.db, { actor: `user:${reporter.userId}`, userId: reporter.userId, practiceId: reporter.practiceId }, async (tx) =>
    (await findActiveMembership(tx, reporter.practiceId!, reporter.userId)) ? ((await findPractice(tx, reporter.practiceId!))?.time_zone ?? "UTC") : "UTC");
}

/**
 * Stores an incident report and audits it (incident.reported: reference and category only), then
 * emails the security contact (SECURITY_CONTACT_EMAIL) without the description. A failed email is
 * logged (reference only) and does not undo the report: it is in the operators' console either way.
 */
export async function reportIncident(deps: SupportDeps, reporter: Reporter, input: IncidentInput): Promise<{ id: string; reference: string }> {
  const id = crypto.randomUUID();
  const reference = incidentReference();
  const saved = await withContext(deps.db, { actor: `user:${reporter.userId}`, userId: reporter.userId, practiceId: reporter.practiceId }, async (tx) => {
    const user = await findUserById(tx, reporter.userId);
    if (!user) throw new IncidentError("forbidden", null, "Sign in again to report an incident.");
    // A session whose practice membership has ended reports without a practice.
    const membership = reporter.practiceId ? await findActiveMembership(tx, reporter.practiceId, reporter.userId) : undefined;
    const practice = membership ? await findPractice(tx, reporter.practiceId!) : undefined;
    if (!practice) await setContext(tx, { practiceId: null });
    const noticedAt = zonedTimeToUtc(input.noticedAt, practice?.time_zone ?? "UTC");
    if (!noticedAt) throw new IncidentError("noticed_at", "noticedAt", "Enter a real date and time, like 2026-11-20 14:30");
    if (noticedAt.getTime() > Date.now() + 5 * 60_000) throw new IncidentError("noticed_at", "noticedAt", "When you noticed it cannot be in the future");
    const encrypted = encryptField(deps.config.keys.encryption, input.description, incidentContext(id));
    const row = await insertIncident(tx, {
      id, reference, practice_id: practice?.id ?? null, practice_name: practice ? (practice.legal_name ?? practice.name) : null,
      reported_by: user.id, reporter_name: user.full_name, reporter_email: user.email, category: input.category,
      description_enc: encrypted, key_id: encrypted.split(".")[1]!, description_length: input.description.length, noticed_at: noticedAt,
    });
    await recordAudit(tx, {
      practiceId: practice?.id ?? null, actor: { type: "user", id: user.id, role: membership?.role ?? ((await isOperator(tx, user.id)) ? "operator" : null) },
      action: "incident.reported", target: { type: "incident_report", id }, details: { reference, category: input.category }, request: reporter.request,
    });
    return row;
  });
  try {
    await deps.mailer.send(incidentReportedEmail(deps.config.support.securityContact, {
      reference, category: saved.category, noticedAt: saved.noticed_at, reportedAt: saved.reported_at, link: `${deps.config.appOrigin}/operator/incidents/${id}`,
    }));
  } catch (error) {
    deps.logger.error({ err: error instanceof Error ? { type: error.name, message: error.message } : String(error), incident: reference }, "could not email the security contact about an incident report");
  }
  return { id, reference };
}

function asOperator<T>(deps: { db: Db }, operatorId: string, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return withContext(deps.db, { actor: `operator:${operatorId}`, userId: operatorId }, async (tx) => {
    if (!(await isOperator(tx, operatorId))) throw new IncidentError("forbidden", null, "Incident reports are for platform operators.");
    return fn(tx);
  });
}

/** The newest reports across practices, without their descriptions (operators). */
export function operatorIncidents(deps: { db: Db }, operatorId: string): Promise<Omit<IncidentRow, "description_enc" | "key_id">[]> {
  return asOperator(deps, operatorId, (tx) => listIncidents(tx, 200));
}

/**
 * One report with its description decrypted, for an operator; audited as incident.viewed in the
 * report's practice chain (or the platform's).
 */
export async function openIncident(deps: { db: Db; config: Config }, operatorId: string, id: string, request: RequestMeta): Promise<IncidentRow & { description: string }> {
  return asOperator(deps, operatorId, async (tx) => {
    const row = /^[0-9a-f-]{36}$/i.test(id) ? await findIncident(tx, id) : undefined;
    if (!row) throw new IncidentError("not_found", null, "There is no such incident report.");
    const description = decryptField(deps.config.keys.encryption, row.description_enc, incidentContext(row.id));
    if (row.practice_id) await setContext(tx, { practiceId: row.practice_id });
    await recordAudit(tx, {
      practiceId: row.practice_id, actor: { type: "operator", id: operatorId }, action: "incident.viewed",
      target: { type: "incident_report", id: row.id }, details: { reference: row.reference }, request,
    });
    return { ...row, description };
  });
}
