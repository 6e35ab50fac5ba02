// The typed catalogue of audit actions. Each entry says when it fires; details never carry PHI.
// Later features add their actions here, and recordAudit() accepts nothing else.
export const AUDIT_ACTIONS = {
  "practice.created": "A practice (tenant) was created. Details: none.",
} as const satisfies Record<string, string>;

export type AuditAction = keyof typeof AUDIT_ACTIONS;
