// Proofs and production files: SQL only, the transaction first; RLS scopes every row to the
// transaction's practice (operators read production files of jobs in their hands).
import { sql, type Insertable, type Updateable } from "kysely";
import type { Tx } from "../platform/db.ts";
import type { Proof, ProductionFile, ProductionFilesTable, ProofsTable } from "../platform/schema.ts";

export async function nextProofVersion(tx: Tx, jobId: string): Promise<number> {
  const row = await tx.selectFrom("proofs").select(sql<number>`coalesce(max(version), 0)::int`.as("v")).where("job_id", "=", jobId).executeTakeFirstOrThrow();
  return row.v + 1;
}

export function insertProof(tx: Tx, values: Insertable<ProofsTable>): Promise<Proof> {
  return tx.insertInto("proofs").values(values).returningAll().executeTakeFirstOrThrow();
}

export function findProof(tx: Tx, proofId: string, options: { forUpdate?: boolean } = {}): Promise<Proof | undefined> {
  return tx.selectFrom("proofs").selectAll().where("id", "=", proofId).$if(Boolean(options.forUpdate), (q) => q.forUpdate()).executeTakeFirst();
}

export function latestProof(tx: Tx, jobId: string): Promise<Proof | undefined> {
  return tx.selectFrom("proofs").selectAll().where("job_id", "=", jobId).orderBy("version", "desc").limit(1).executeTakeFirst();
}

export function updateProof(tx: Tx, proofId: string, values: Updateable<ProofsTable>): Promise<Proof> {
  return tx.updateTable("proofs").set(values).where("id", "=", proofId).returningAll().executeTakeFirstOrThrow();
}

export function insertProductionFile(tx: Tx, values: Insertable<ProductionFilesTable>): Promise<ProductionFile> {
  return tx.insertInto("production_files").values(values).returningAll().executeTakeFirstOrThrow();
}

export function findProductionFile(tx: Tx, jobId: string, options: { forUpdate?: boolean } = {}): Promise<ProductionFile | undefined> {
  return tx.selectFrom("production_files").selectAll().where("job_id", "=", jobId).$if(Boolean(options.forUpdate), (q) => q.forUpdate()).executeTakeFirst();
}

export function updateProductionFile(tx: Tx, id: string, values: Updateable<ProductionFilesTable>): Promise<ProductionFile> {
  return tx.updateTable("production_files").set(values).where("id", "=", id).returningAll().executeTakeFirstOrThrow();
}
