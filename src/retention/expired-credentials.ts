// Sweep `expired-credentials`: sessions past their absolute expiry or revoked, email tokens expired
// or used, invitations expired or revoked and never accepted, and TOTP re-enrolments past their
// expiry (the encrypted secret of an authenticator change never finished) are deleted. The app role holds no
// DELETE on these tables (and RLS shows it only its own sessions), so it goes through the SECURITY
// DEFINER functions of migrations/202611232430_retention_sweeps.ts (TOTP re-enrolments added by
// 202611232550_certificate_manifests.ts), which delete only dead rows,
// one bounded batch per call. Audited in the platform chain: credentials are platform-level, and
// the counts carry no practice's facts.
import { sql } from "kysely";
import { recordAudit } from "../audit/record.ts";
import { type Db, withPlatform } from "../platform/db.ts";
import { recordedSweep, type SweepOptions, type SweepResult } from "./runs.ts";

const ACTOR = "system:expired-credentials" as const;
export const CREDENTIAL_KINDS = ["sessions", "email_tokens", "invitations", "totp_reenrolments"] as const;

export function sweepExpiredCredentials(deps: { db: Db }, options: SweepOptions): Promise<SweepResult> {
  const { db } = deps;
  return recordedSweep(db, "expired-credentials", options, async (cutoff, dryRun) => {
    const counts: Record<string, number> = Object.fromEntries(CREDENTIAL_KINDS.map((kind) => [kind, 0]));
    if (dryRun) {
      const { rows } = await sql<{ kind: string; n: string }>`SELECT kind, n::text FROM retention_expired_credentials_count(${cutoff})`.execute(db);
      for (const row of rows) counts[row.kind] = Number(row.n);
      return counts;
    }
    for (const kind of CREDENTIAL_KINDS) {
      for (;;) {
        const deleted = await withPlatform(db, ACTOR, async (tx) => {
          const { rows } = await sql<{ n: number }>`SELECT retention_delete_expired_credentials(${kind}, ${cutoff}, ${options.batchSize}) AS n`.execute(tx);
          const n = rows[0]?.n ?? 0;
          if (n > 0) {
            await recordAudit(tx, {
              practiceId: null, actor: { type: "system", id: ACTOR }, action: "retention.swept",
              details: { sweep: "expired-credentials", cutoff: cutoff.toISOString(), [kind]: n },
            });
          }
          return n;
        });
        counts[kind] = counts[kind]! + deleted;
        if (deleted < options.batchSize) break;
      }
    }
    return counts;
  });
}
