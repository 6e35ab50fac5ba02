// Kysely's view of the database. Columns the database fills (defaults, the audit chain trigger)
// are Generated so inserts may omit them.
import type { ColumnType, Generated, Insertable, Selectable } from "kysely";

// Timestamps read as Date; on insert they may be omitted (the database default applies).
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;

export interface PracticesTable {
  id: Generated<string>;
  name: string;
  status: ColumnType<"onboarding" | "active" | "suspended", "onboarding" | "active" | "suspended" | undefined>;
  time_zone: Generated<string>;
  created_at: Timestamp;
  updated_at: Timestamp;
  // The practice profile the BAA names (migration 202611232200_baa); null until the wizard's first step.
  legal_name: ColumnType<string | null, string | null | undefined, string | null>;
  dba_name: ColumnType<string | null, string | null | undefined, string | null>;
  address_line1: ColumnType<string | null, string | null | undefined, string | null>;
  address_line2: ColumnType<string | null, string | null | undefined, string | null>;
  city: ColumnType<string | null, string | null | undefined, string | null>;
  state: ColumnType<string | null, string | null | undefined, string | null>;
  postal_code: ColumnType<string | null, string | null | undefined, string | null>;
  phone: ColumnType<string | null, string | null | undefined, string | null>;
  npi: ColumnType<string | null, string | null | undefined, string | null>;
  privacy_officer_name: ColumnType<string | null, string | null | undefined, string | null>;
  privacy_officer_email: ColumnType<string | null, string | null | undefined, string | null>;
  profile_completed_at: NullableTimestamp;
  /** Migration 202611232400_proofs: whoever submitted a job cannot also approve its proof. */
  two_person_approval: Generated<boolean>;
}

/** A published Business Associate Agreement text: immutable (a trigger refuses UPDATE/DELETE). */
export interface BaaVersionsTable {
  id: Generated<string>;
  version: number;
  title: string;
  body: string;
  sha256: string;
  effective_at: Timestamp;
  published_at: Timestamp;
  published_by: string;
}

/** The evidence of one executed BAA: append-only (a trigger refuses UPDATE/DELETE). */
export interface BaaSignaturesTable {
  id: string;
  practice_id: string;
  baa_version_id: string;
  baa_version: number;
  baa_sha256: string;
  signer_user_id: string;
  signer_email: string;
  signer_account_name: string;
  typed_name: string;
  signer_title: string;
  authority_statement: string;
  consent_text: string;
  practice_legal_name: string;
  practice_address: string;
  signed_at: Timestamp;
  ip: string | null;
  user_agent: string | null;
  session_id: string;
  verification_id: string;
  evidence_sha256: string;
  pdf_blob: string;
  pdf_sha256: string;
  pdf_bytes: number;
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

export interface AuditCheckpointsTable {
  id: Generated<string>;
  practice_id: string | null;
  through_seq: string;
  through_hash: string;
  through_at: Date | null;
  checked_at: Date;
  status: "verified" | "broken";
  problem: ColumnType<Record<string, unknown> | null, string | null, never>;
  key_id: string;
  signature: string;
}

export type JobStatus = "draft" | "submitted" | "proof_ready" | "changes_requested" | "approved" | "in_production" | "mailed" | "completed" | "cancelled";
export type LetterType = "practice_closure" | "provider_departure" | "records_transfer" | "appointment_recall" | "breach_notification" | "other";
export type MailClass = "first_class" | "marketing";
export type JobFileKind = "recipients_csv" | "logo" | "signature";

export interface JobsTable {
  id: Generated<string>;
  practice_id: string;
  reference: Generated<string>;
  title: string;
  letter_type: LetterType;
  mail_class: MailClass;
  return_name: string;
  return_line1: string;
  return_line2: string | null;
  return_city: string;
  return_state: string;
  return_zip: string;
  status: Generated<JobStatus>;
  created_by: string;
  submitted_by: string | null;
  submitted_at: NullableTimestamp;
  approved_by: string | null;
  approved_at: NullableTimestamp;
  cancelled_by: string | null;
  cancelled_at: NullableTimestamp;
  cancel_reason: string | null;
  production_started_at: NullableTimestamp;
  mailed_on: ColumnType<string | null, string | null | undefined, string | null>;
  mailed_pieces: number | null;
  completed_at: NullableTimestamp;
  purged_at: NullableTimestamp;
  /** Migration 202611232400_proofs: the proof an approval binds to, by id and SHA-256. */
  approved_proof_id: string | null;
  approved_proof_sha256: string | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  // The letter (migration 202611232310_job_letters): AES-256-GCM ciphertext from encryptField with
  // context "job-letter:<job id>", its key id, length and merge fields (names only), who saved it.
  letter_body_enc: ColumnType<string | null, string | null | undefined, string | null>;
  letter_key_id: ColumnType<string | null, string | null | undefined, string | null>;
  letter_length: ColumnType<number | null, number | null | undefined, number | null>;
  letter_fields: ColumnType<string[] | null, string[] | null | undefined, string[] | null>;
  letter_saved_by: ColumnType<string | null, string | null | undefined, string | null>;
  letter_saved_at: NullableTimestamp;
  /** Migration 202611232410_letter_templates: who signs the letter (printed under the closing); both or neither. */
  letter_signer_name: ColumnType<string | null, string | null | undefined, string | null>;
  letter_signer_title: ColumnType<string | null, string | null | undefined, string | null>;
}

/**
 * Migration 202611232410_letter_templates: a practice's saved letter texts. body_enc is AES-256-GCM
 * from encryptField with context "letter-template:<id>"; key_id repeats its key id; the name is not PHI.
 */
export interface LetterTemplatesTable {
  id: string;
  practice_id: string;
  name: string;
  letter_type: LetterType;
  body_enc: string;
  key_id: string;
  body_length: number;
  body_fields: string[];
  created_by: string;
  updated_by: string | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface JobAttestationsTable {
  id: Generated<string>;
  practice_id: string;
  job_id: string;
  user_id: string;
  statement_version: string;
  statement_sha256: string;
  initials: string;
  ip: string | null;
  user_agent: string | null;
  attested_at: Generated<Date>;
}

export interface JobFilesTable {
  id: Generated<string>;
  practice_id: string;
  job_id: string;
  kind: JobFileKind;
  blob_name: string;
  declared_name: string;
  declared_size: ColumnType<string, number | string, number | string>;
  declared_type: string;
  declared_sha256: string | null;
  status: Generated<"pending" | "verified" | "rejected" | "replaced" | "purged">;
  upload_expires_at: Timestamp;
  size: ColumnType<string | null, number | string | null | undefined, number | string | null>;
  sha256: string | null;
  rejected_reason: string | null;
  verified_at: NullableTimestamp;
  created_by: string;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  /** Migration 202611232400_proofs: a verified recipient list's columns (names only) and its check summary. */
  csv_fields: string[] | null;
  csv_report: ColumnType<CsvReport | null, string | null | undefined, string | null>;
  /** Migration 202611232320_uploads: the server's secret lease on the blob (never sent to a browser). */
  blob_lease_id: ColumnType<string | null, string | null | undefined, string | null>;
}

/** Migration 202611232320_uploads: upload URLs given to each user in the current window. */
export interface UploadUrlThrottleTable {
  user_id: string;
  window_started_at: Generated<Date>;
  issued: Generated<number>;
}

/** A recipient list's check: counts, and the first problems by row number and reason (no values). */
export type CsvReport = { fields: string[]; rows: number; valid: number; invalid: number; duplicates: number; problems: { row: number; reasons: string[] }[] };

export type RenderStatus = "queued" | "rendering" | "ready" | "failed";

export interface ProofsTable {
  id: Generated<string>;
  practice_id: string;
  job_id: string;
  version: number;
  status: Generated<RenderStatus>;
  attempts: Generated<number>;
  error: string | null;
  requested_by: string;
  blob_name: string | null;
  sha256: string | null;
  bytes: ColumnType<string | null, number | null | undefined, number | null>;
  page_count: number | null;
  inputs_sha256: string | null;
  recipients: number | null;
  valid: number | null;
  invalid: number | null;
  envelope_failures: number | null;
  pages_per_letter: number | null;
  total_sheets: number | null;
  report: ColumnType<ProofReport | null, string | null | undefined, string | null>;
  changes_comment: string | null;
  created_at: Generated<Date>;
  started_at: NullableTimestamp;
  ready_at: NullableTimestamp;
  /** The practice letterhead as it was when the proof was requested (migration 202611232560); null on older proofs. */
  letterhead_at: NullableTimestamp;
  letterhead_name: string | null;
  letterhead_phone: string | null;
  letterhead_signer_name: string | null;
  letterhead_signer_title: string | null;
  letterhead_logo_blob: string | null;
  letterhead_logo_sha256: string | null;
  letterhead_logo_bytes: number | null;
  letterhead_logo_content_type: string | null;
}

/** What a proof found: rows that will not be mailed and why (row numbers and reasons only). */
export type ProofReport = { problems: { row: number; reasons: string[] }[]; returnAddress: string[] };

export interface ProductionFilesTable {
  id: Generated<string>;
  practice_id: string;
  job_id: string;
  proof_id: string;
  status: Generated<RenderStatus>;
  attempts: Generated<number>;
  error: string | null;
  blob_name: string | null;
  sha256: string | null;
  bytes: ColumnType<string | null, number | null | undefined, number | null>;
  page_count: number | null;
  letters: number | null;
  created_at: Generated<Date>;
  ready_at: NullableTimestamp;
}

export interface UsersTable {
  id: Generated<string>;
  email: string;
  full_name: string;
  password_hash: string | null;
  email_verified_at: NullableTimestamp;
  totp_secret: string | null;
  totp_enabled_at: NullableTimestamp;
  totp_last_step: string | null;
  status: ColumnType<"active" | "deactivated", "active" | "deactivated" | undefined>;
  /** The linked Clerk user (AUTH_PROVIDER=clerk), null until the first Clerk sign-in links it. */
  clerk_user_id: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface UserRecoveryCodesTable {
  id: Generated<string>;
  user_id: string;
  code_hash: string;
  used_at: NullableTimestamp;
  created_at: Timestamp;
}

export type Role = "admin" | "staff" | "auditor";

export interface MembershipsTable {
  id: Generated<string>;
  practice_id: string;
  user_id: string;
  role: Role;
  ends_at: NullableTimestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface SessionsTable {
  id: Generated<string>;
  token_hash: string;
  user_id: string;
  practice_id: string | null;
  mfa_verified_at: NullableTimestamp;
  ip: string | null;
  user_agent: string | null;
  created_at: Timestamp;
  last_seen_at: Timestamp;
  expires_at: Timestamp;
  revoked_at: NullableTimestamp;
  revoked_reason: string | null;
}

export interface EmailTokensTable {
  id: Generated<string>;
  user_id: string;
  purpose: "verify_email" | "reset_password" | "change_email";
  token_hash: string;
  expires_at: Timestamp;
  used_at: NullableTimestamp;
  created_at: Timestamp;
  /** The address a 'change_email' link confirms (migration 202611232510); null for other purposes. */
  new_email: ColumnType<string | null, string | null | undefined, never>;
}

/** A user's choice for one non-essential email category; no row means the category's default. */
export interface EmailPreferencesTable {
  user_id: string;
  category: "job_summary";
  subscribed: boolean;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

/** A new authenticator being set up from account settings (encrypted secret), until it proves itself. */
export interface TotpReenrolmentsTable {
  user_id: string;
  secret: string;
  expires_at: Timestamp;
  created_at: Timestamp;
}

export interface AuthThrottleTable {
  key: string;
  failures: Generated<number>;
  first_failure_at: Timestamp;
  locked_until: NullableTimestamp;
}

export interface InvitationsTable {
  id: Generated<string>;
  practice_id: string;
  email: string;
  role: Role;
  ends_at: NullableTimestamp;
  token_hash: string;
  invited_by: string;
  expires_at: Timestamp;
  accepted_at: NullableTimestamp;
  accepted_by: string | null;
  revoked_at: NullableTimestamp;
  created_at: Timestamp;
}

export interface PlatformOperatorsTable {
  user_id: string;
  created_by: string;
  created_at: Timestamp;
}

/**
 * What a purge deleted, one entry per blob: its kind, size and SHA-256 when recorded; since the
 * manifests (202611232550) also its server-chosen name (ids only, no PHI) and whether storage still
 * held it (false: an interrupted earlier run had deleted it before its transaction was lost).
 */
export type DestroyedItem = { kind: string; bytes: number | null; sha256: string | null; name?: string; in_storage?: boolean };

export interface DestructionCertificatesTable {
  id: string;
  practice_id: string;
  job_id: string;
  job_reference: string;
  verification_id: string;
  items: ColumnType<DestroyedItem[], string, never>;
  blobs: number;
  bytes: ColumnType<string, number | string, never>;
  letter_erased: boolean;
  purged_at: Timestamp;
  /** Certificates stored as PDFs before 202611232550; null for manifests (rendered on download). */
  pdf_blob: string | null;
  pdf_sha256: string | null;
  pdf_bytes: number | null;
  /** The canonical manifest (JSON text) and its SHA-256, recorded in the job.data.purged event. */
  manifest: string | null;
  manifest_sha256: string | null;
  sweep_run_id: string | null;
  created_at: Generated<Date>;
}

/** An export or deletion request (migrations/202611232450_data_requests.ts). */
export interface DataRequestsTable {
  id: Generated<string>;
  practice_id: string;
  kind: "export" | "deletion";
  status: "queued" | "ready" | "failed" | "purged" | "scheduled" | "withdrawn" | "processing" | "completed";
  requested_by: string;
  requested_at: Generated<Date>;
  due_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  withdrawn_by: ColumnType<string | null, string | null | undefined, string | null>;
  withdrawn_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  processed_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  blob_name: ColumnType<string | null, string | null | undefined, string | null>;
  sha256: ColumnType<string | null, string | null | undefined, string | null>;
  bytes: ColumnType<string | null, string | number | null | undefined, string | number | null>;
  expires_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  counts: ColumnType<Record<string, number>, string | undefined, string>;
  /** Exports (migrations/202611232500_data_request_processing.ts): build attempts, the last error, when (re)queued. */
  attempts: Generated<number>;
  error: ColumnType<string | null, string | null | undefined, string | null>;
  queued_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

export interface Database {
  data_requests: DataRequestsTable;
  baa_versions: BaaVersionsTable;
  baa_signatures: BaaSignaturesTable;
  platform_operators: PlatformOperatorsTable;
  invitations: InvitationsTable;
  practices: PracticesTable;
  audit_events: AuditEventsTable;
  audit_checkpoints: AuditCheckpointsTable;
  jobs: JobsTable;
  job_attestations: JobAttestationsTable;
  job_files: JobFilesTable;
  proofs: ProofsTable;
  production_files: ProductionFilesTable;
  letter_templates: LetterTemplatesTable;
  destruction_certificates: DestructionCertificatesTable;
  users: UsersTable;
  user_recovery_codes: UserRecoveryCodesTable;
  memberships: MembershipsTable;
  sessions: SessionsTable;
  email_tokens: EmailTokensTable;
  email_preferences: EmailPreferencesTable;
  totp_reenrolments: TotpReenrolmentsTable;
  auth_throttle: AuthThrottleTable;
  upload_url_throttle: UploadUrlThrottleTable;
}

export type User = Selectable<UsersTable>;
export type Membership = Selectable<MembershipsTable>;
export type Session = Selectable<SessionsTable>;

export type Practice = Selectable<PracticesTable>;
export type NewPractice = Insertable<PracticesTable>;
export type AuditEvent = Selectable<AuditEventsTable>;
export type AuditCheckpoint = Selectable<AuditCheckpointsTable>;
export type BaaVersion = Selectable<BaaVersionsTable>;
export type BaaSignature = Selectable<BaaSignaturesTable>;
export type Job = Selectable<JobsTable>;
export type JobAttestation = Selectable<JobAttestationsTable>;
export type JobFile = Selectable<JobFilesTable>;
export type LetterTemplate = Selectable<LetterTemplatesTable>;
export type Proof = Selectable<ProofsTable>;
export type ProductionFile = Selectable<ProductionFilesTable>;
export type DestructionCertificate = Selectable<DestructionCertificatesTable>;
