// Re-encryption after a key rotation (`bun run keys:reencrypt`, scripts/keys-reencrypt.ts): once a
// new key was put first in ENCRYPTION_KEYS (the old ones kept after it), every encrypted column value
// still under an old key is rewritten with the current key, so the old key can then be removed
// (docs/runbooks/key-rotation.md).
// - Runs as the schema owner (DATABASE_OWNER_URL, else the dev database): the app role may not
//   update every such table (incident reports are insert-only for it). It still sets the tenant or
//   user context of the rows it touches and filters on it explicitly, so row-level security holds
//   for an owner that does not bypass it.
// - Bounded batches (keyset by id), one transaction each with its `keys.reencrypted` audit event
//   (practice chain for practice rows, platform chain otherwise). A value is rewritten only if it
//   is still the one read, so a concurrent save wins. Idempotent: a second run finds nothing.
// - A value that does not decrypt (its key is no longer in the ring, or it was altered) is left as
//   it is, named by table and row id, and makes the run exit 1.
// - --dry-run decrypts what it would rewrite (so it finds those failures too) and changes nothing.
import { type Kysely, sql } from "kysely";
import { recordAudit } from "../audit/record.ts";
import { letterContext } from "../jobs/service.ts";
import { templateContext } from "../jobs/templates.ts";
import { CryptoError, decryptField, encryptField, type KeyRing } from "../platform/crypto.ts";
import { type Db, type Tx, withContext } from "../platform/db.ts";

const ACTOR = "system:keys-reencrypt" as const;
export const DEFAULT_BATCH = 200;

/**
 * Every encrypted column, with the context its ciphertext is bound to (the same strings the code
 * that encrypts uses; tests/keys-reencrypt.test.ts checks every encryptField call in src/ is listed).
 * scope: which rows a transaction may see under row-level security: "platform" (no RLS), "practice"
 * (per practice, app.practice_id) or "user" (per user, app.user_id; practiceless rows).
 * optional: the table arrives with a later migration; absent, it is skipped and said so.
 */
export type EncryptedColumn = {
  table: string; column: string; keyIdColumn?: string; id: string; context: (id: string) => string;
  scopes: readonly ("platform" | "practice" | "user")[]; practiceColumn?: string; userColumn?: string; optional?: boolean;
};

export const ENCRYPTED_COLUMNS: readonly EncryptedColumn[] = [
  { table: "users", column: "totp_secret", id: "id", context: (id) => `users.totp_secret:${id}`, scopes: ["platform"] },
  { table: "jobs", column: "letter_body_enc", keyIdColumn: "letter_key_id", id: "id", context: letterContext, scopes: ["practice"], practiceColumn: "practice_id" },
  { table: "letter_templates", column: "body_enc", keyIdColumn: "key_id", id: "id", context: templateContext, scopes: ["practice"], practiceColumn: "practice_id" },
  {
    table: "incident_reports", column: "description_enc", keyIdColumn: "key_id", id: "id", context: (id) => `incident-report:${id}`,
    scopes: ["practice", "user"], practiceColumn: "practice_id", userColumn: "reported_by", optional: true,
  },
  {
    table: "totp_reenrolments", column: "secret", id: "user_id", context: (id) => `totp_reenrolments.secret:${id}`,
    scopes: ["user"], userColumn: "user_id", optional: true,
  },
];

export type ColumnReport = {
  column: string; present: boolean; rewritten: number; fromKeys: Record<string, number>; failed: { id: string; reason: string }[];
};
export type ReencryptReport = { toKey: string; dryRun: boolean; columns: ColumnReport[] };

type Scope = { kind: "platform" } | { kind: "practice"; practiceId: string } | { kind: "user"; userId: string };

async function tableExists(db: Kysely<any>, table: string): Promise<boolean> {
  const { rows } = await sql<{ present: boolean }>`SELECT to_regclass(${`public.${table}`}) IS NOT NULL AS present`.execute(db);
  return rows[0]!.present;
}

async function scopesOf(db: Kysely<any>, col: EncryptedColumn): Promise<Scope[]> {
  const scopes: Scope[] = [];
  if (col.scopes.includes("platform")) scopes.push({ kind: "platform" });
  // Every practice has an audit chain from its creation (practice.created), so the chain heads
  // name every practice without reading a tenant table.
  if (col.scopes.includes("practice")) {
    const { rows } = await sql<{ practice_id: string }>`
      SELECT practice_id FROM audit_chain_heads_snapshot() WHERE practice_id IS NOT NULL`.execute(db);
    scopes.push(...rows.map((r) => ({ kind: "practice" as const, practiceId: r.practice_id })));
  }
  if (col.scopes.includes("user")) {
    const { rows } = await sql<{ id: string }>`SELECT id FROM users ORDER BY id`.execute(db);
    scopes.push(...rows.map((r) => ({ kind: "user" as const, userId: r.id })));
  }
  return scopes;
}

/** The rows of one scope, explicitly, whatever row-level security would also allow. */
function scopeFilter(col: EncryptedColumn, scope: Scope) {
  if (scope.kind === "practice") return sql`AND ${sql.ref(col.practiceColumn!)} = ${scope.practiceId}::uuid`;
  if (scope.kind === "user") {
    return col.practiceColumn
      ? sql`AND ${sql.ref(col.practiceColumn)} IS NULL AND ${sql.ref(col.userColumn!)} = ${scope.userId}::uuid`
      : sql`AND ${sql.ref(col.userColumn!)} = ${scope.userId}::uuid`;
  }
  return sql``;
}

function inScope<T>(db: Kysely<any>, scope: Scope, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return withContext(db as Db, {
    actor: ACTOR,
    practiceId: scope.kind === "practice" ? scope.practiceId : null,
    userId: scope.kind === "user" ? scope.userId : null,
  }, fn);
}

async function reencryptColumn(db: Kysely<any>, ring: KeyRing, col: EncryptedColumn, options: { dryRun: boolean; batchSize: number }): Promise<ColumnReport> {
  const name = `${col.table}.${col.column}`;
  const report: ColumnReport = { column: name, present: true, rewritten: 0, fromKeys: {}, failed: [] };
  if (col.optional && !(await tableExists(db, col.table))) return { ...report, present: false };
  const current = ring[0]!.id;
  for (const scope of await scopesOf(db, col)) {
    let after = "00000000-0000-0000-0000-000000000000";
    for (;;) {
      const batch = await inScope(db, scope, async (tx) => {
        const { rows } = await sql<{ id: string; value: string }>`
          SELECT ${sql.ref(col.id)}::text AS id, ${sql.ref(col.column)} AS value FROM ${sql.table(col.table)}
          WHERE ${sql.ref(col.column)} IS NOT NULL AND split_part(${sql.ref(col.column)}, '.', 2) <> ${current}
            AND ${sql.ref(col.id)} > ${after}::uuid ${scopeFilter(col, scope)}
          ORDER BY ${sql.ref(col.id)} LIMIT ${options.batchSize}
          ${options.dryRun ? sql`` : sql`FOR UPDATE`}`.execute(tx);
        const fromKeys: Record<string, number> = {};
        let rewritten = 0;
        for (const row of rows) {
          let plaintext: string;
          try {
            plaintext = decryptField(ring, row.value, col.context(row.id));
          } catch (error) {
            if (!(error instanceof CryptoError)) throw error;
            report.failed.push({ id: row.id, reason: error.message });
            continue;
          }
          const fromKey = row.value.split(".")[1]!;
          fromKeys[fromKey] = (fromKeys[fromKey] ?? 0) + 1;
          if (options.dryRun) continue;
          const value = encryptField(ring, plaintext, col.context(row.id));
          const updated = await sql`
            UPDATE ${sql.table(col.table)} SET ${sql.ref(col.column)} = ${value}
              ${col.keyIdColumn ? sql`, ${sql.ref(col.keyIdColumn)} = ${current}` : sql``}
            WHERE ${sql.ref(col.id)} = ${row.id}::uuid AND ${sql.ref(col.column)} = ${row.value}`.execute(tx);
          if (Number(updated.numAffectedRows ?? 0) === 1) rewritten++;
        }
        if (rewritten > 0) {
          await recordAudit(tx, {
            practiceId: scope.kind === "practice" ? scope.practiceId : null, actor: { type: "system", id: ACTOR }, action: "keys.reencrypted",
            details: { column: name, rows: rewritten, to_key: current, from_keys: Object.keys(fromKeys).sort().join(",") },
          });
        }
        return { size: rows.length, last: rows.at(-1)?.id, fromKeys, rewritten };
      });
      report.rewritten += options.dryRun ? Object.values(batch.fromKeys).reduce((a, b) => a + b, 0) : batch.rewritten;
      for (const [key, n] of Object.entries(batch.fromKeys)) report.fromKeys[key] = (report.fromKeys[key] ?? 0) + n;
      if (batch.size < options.batchSize || !batch.last) break;
      after = batch.last;
    }
  }
  return report;
}

/** Re-encrypts every encrypted column under the ring's current (first) key. */
export async function reencryptAll(db: Kysely<any>, ring: KeyRing, options: { dryRun?: boolean; batchSize?: number } = {}): Promise<ReencryptReport> {
  const settings = { dryRun: options.dryRun ?? false, batchSize: options.batchSize ?? DEFAULT_BATCH };
  const columns: ColumnReport[] = [];
  for (const col of ENCRYPTED_COLUMNS) columns.push(await reencryptColumn(db, ring, col, settings));
  return { toKey: ring[0]!.id, dryRun: settings.dryRun, columns };
}

export function describeReencrypt(report: ReencryptReport): string[] {
  return report.columns.map((c) => {
    if (!c.present) return `${c.column}: table not present (skipped)`;
    const from = Object.entries(c.fromKeys).map(([k, n]) => `${k}: ${n}`).join(", ");
    const verb = report.dryRun ? "would re-encrypt" : "re-encrypted";
    return `${c.column}: ${verb} ${c.rewritten} to ${report.toKey}${from ? ` (from ${from})` : ""}, ${c.failed.length} failed`;
  });
}
