// Who may do what: the one map from roles to permissions. Routes ask it (requirePermission) and
// services ask it again before changing anything, so a route that forgets cannot grant access.
import type { Role } from "../platform/schema.ts";

export const PERMISSIONS = {
  "jobs.read": "See the practice's jobs and their metadata (no PHI)",
  "jobs.write": "Create, edit, attest and submit jobs; upload recipient lists",
  "proofs.view": "Open proof PDFs (PHI)",
  "proofs.approve": "Approve proofs or request changes",
  "team.manage": "Invite members, change roles, remove members, reset a member's two-step sign-in",
  "baa.sign": "Sign the Business Associate Agreement for the practice",
  "baa.read": "Read the BAA and its signature records",
  "audit.read": "Search the audit trail and export it as CSV",
  "data_requests.manage": "Request a data export or the deletion of the practice's data",
  "practice.settings": "Edit the practice profile and letterhead",
} as const;

export type Permission = keyof typeof PERMISSIONS;

const STAFF: Permission[] = ["jobs.read", "jobs.write", "proofs.view", "proofs.approve"];

export const ROLE_PERMISSIONS: Record<Role, readonly Permission[]> = {
  staff: STAFF,
  admin: [...STAFF, "team.manage", "baa.sign", "baa.read", "audit.read", "data_requests.manage", "practice.settings"],
  // Auditors read compliance records and job metadata, never PHI.
  auditor: ["jobs.read", "baa.read", "audit.read"],
};

export const ROLES: readonly Role[] = ["admin", "staff", "auditor"];

export function can(role: Role | null | undefined, permission: Permission): boolean {
  return role ? ROLE_PERMISSIONS[role].includes(permission) : false;
}
