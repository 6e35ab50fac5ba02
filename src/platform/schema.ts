// Kysely's view of the database. Columns the database fills (defaults, the audit chain trigger)
// are Generated so inserts may omit them.
import type { ColumnType, Generated, Insertable, Selectable } from "kysely";

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export interface PracticesTable {
  id: Generated<string>;
  name: string;
  status: ColumnType<"onboarding" | "active" | "suspended", "onboarding" | "active" | "suspended" | undefined>;
  time_zone: Generated<string>;
  created_at: Generated<Timestamp>;
  updated_at: Generated<Timestamp>;
}

export interface AuditEventsTable {
  id: Generated<string>;
  practice_id: string | null;
  chain_seq: ColumnType<string, never, never>;
  occurred_at: ColumnType<Date, never, never>;
  actor_type: "user" | "operator" | "system" | "anonymous";
  actor_id: string | null;
  actor_role: string | null;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  outcome: "success" | "denied" | "error";
  details: ColumnType<Record<string, unknown>, string | undefined, never>;
  prev_hash: ColumnType<string, never, never>;
  hash: ColumnType<string, never, never>;
}

export interface Database {
  practices: PracticesTable;
  audit_events: AuditEventsTable;
}

export type Practice = Selectable<PracticesTable>;
export type NewPractice = Insertable<PracticesTable>;
export type AuditEvent = Selectable<AuditEventsTable>;
