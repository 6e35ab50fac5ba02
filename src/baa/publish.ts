// Publishing a new BAA version (platform operations, owner connection; `bun run baa:publish`).
// The text is validated, hashed, numbered and stored immutably; the event goes on the platform
// chain. Once its effective date comes, practice_has_current_baa() is false for every practice
// until an admin signs it: new jobs and uploads wait, jobs already in flight continue.
import type { Kysely } from "kysely";
import { sql } from "kysely";
import { recordAudit } from "../audit/record.ts";
import type { Database } from "../platform/schema.ts";
import { validateBaaText } from "./text.ts";

export class PublishError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join("; "));
  }
}

export async function publishBaaVersion(
  owner: Kysely<Database>, input: { text: Uint8Array | string; effectiveAt?: Date; by?: string },
): Promise<{ id: string; version: number; sha256: string; effectiveAt: Date }> {
  const checked = validateBaaText(input.text);
  if (!checked.ok) throw new PublishError(checked.problems);
  const { title, body, sha256 } = checked.text;
  const effectiveAt = input.effectiveAt ?? new Date();
  if (Number.isNaN(effectiveAt.getTime())) throw new PublishError(["the effective date is not a date"]);
  return owner.transaction().execute(async (tx) => {
    // One publisher at a time: version numbers stay gap-free and ordered.
    await sql`LOCK TABLE baa_versions IN SHARE ROW EXCLUSIVE MODE`.execute(tx);
    const same = await tx.selectFrom("baa_versions").select("version").where("sha256", "=", sha256).executeTakeFirst();
    if (same) throw new PublishError([`this exact text is already published as version ${same.version}`]);
    const latest = await tx.selectFrom("baa_versions").select(["version", "effective_at"]).orderBy("version", "desc").executeTakeFirst();
    if (latest && new Date(latest.effective_at).getTime() > effectiveAt.getTime()) {
      throw new PublishError([`version ${latest.version} takes effect ${new Date(latest.effective_at).toISOString()}; a new version cannot take effect before it`]);
    }
    const version = (latest?.version ?? 0) + 1;
    const by = input.by ?? "system:baa-publish";
    const row = await tx.insertInto("baa_versions")
      .values({ version, title, body, sha256, effective_at: effectiveAt, published_by: by })
      .returning(["id"]).executeTakeFirstOrThrow();
    await recordAudit(tx, {
      practiceId: null, actor: { type: "system", id: "system:baa-publish" }, action: "baa.version.published",
      target: { type: "baa_version", id: row.id }, details: { version, sha256, effective_at: effectiveAt.toISOString() },
    });
    return { id: row.id, version, sha256, effectiveAt };
  });
}
