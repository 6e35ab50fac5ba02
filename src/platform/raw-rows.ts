// Long reads whose cells leave as PostgreSQL wrote them (the audit CSV export): Bun's own client
// hands every cell over as its bytes, where node-postgres first decodes each into a string, about
// half the export's CPU and most of the garbage behind its memory (ADR 0022). Read-only, through a
// cursor, in a transaction whose context is set exactly as withContext sets it, so row-level
// security decides as it does everywhere else.
import type { CompiledQuery } from "kysely";
import { contextParameters, type Db, type DbContext, rawClientOf, SET_CONTEXT_SQL } from "./db.ts";

/** One row: each cell's bytes as PostgreSQL's text output, or null for NULL. */
export type RawRow = (Uint8Array | null)[];

/**
 * Every row of `query`, `batch` rows at a time, read through a cursor in a READ ONLY transaction on
 * a connection of its own. One fetch ahead: PostgreSQL reads the next batch while the caller works
 * on this one. Stopping early (return or throw in the consumer) rolls back and frees the connection.
 */
export async function* readRawRows(db: Db, context: DbContext, query: CompiledQuery, batch: number): AsyncGenerator<RawRow[]> {
  const connection = await rawClientOf(db).reserve();
  let next: Promise<RawRow[]> | undefined;
  let committed = false;
  try {
    await connection.unsafe("BEGIN READ ONLY");
    await connection.unsafe(SET_CONTEXT_SQL, contextParameters(context));
    await connection.unsafe(`DECLARE raw_rows NO SCROLL CURSOR FOR ${query.sql}`, [...query.parameters]);
    const fetchNext = (): Promise<RawRow[]> => connection.unsafe(`FETCH ${Math.trunc(batch)} FROM raw_rows`).raw();
    next = fetchNext();
    for (;;) {
      const rows = await next;
      if (rows.length === 0) break;
      next = fetchNext();
      yield rows;
    }
    next = undefined;
    await connection.unsafe("COMMIT");
    committed = true;
  } finally {
    next?.catch(() => {}); // the fetch in flight when the reader stopped ends with the rollback
    if (!committed) await connection.unsafe("ROLLBACK").catch(() => {});
    connection.release();
  }
}
