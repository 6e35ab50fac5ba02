// The audit trail's filters, shared by the viewer and the CSV export: parsed from the query string
// with clear messages, and described without PHI for the export's own audit event.
import { z } from "zod";
import { AUDIT_ACTIONS } from "./actions.ts";

export const ACTION_GROUPS = [...new Set(Object.keys(AUDIT_ACTIONS).map((a) => a.split(".")[0]!))].sort();

const day = z
  .string()
  .trim()
  .transform((v) => v || undefined)
  .pipe(z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "Enter a date like 2026-11-23").refine((v) => !Number.isNaN(Date.parse(`${v}T00:00:00Z`)), "Enter a real date").optional());

export const auditFilterSchema = z
  .object({
    from: day.optional(),
    to: day.optional(),
    person: z.string().trim().transform((v) => v || undefined).pipe(z.uuid("Choose a person from the list").optional()).optional(),
    group: z.string().trim().transform((v) => v || undefined).pipe(z.enum(ACTION_GROUPS as [string, ...string[]], "Choose a kind of event from the list").optional()).optional(),
    target: z.string().trim().max(200, "Use at most 200 characters").transform((v) => v || undefined).optional(),
    outcome: z.string().trim().transform((v) => v || undefined).pipe(z.enum(["success", "denied", "error"], "Choose an outcome from the list").optional()).optional(),
  })
  .refine((f) => !f.from || !f.to || f.from <= f.to, { path: ["to"], message: "The end date must not be before the start date" });

export type AuditFilters = z.output<typeof auditFilterSchema>;

/** For the export's own audit event: which filters were used, never their free-text values. */
export function describeFilters(f: AuditFilters) {
  return {
    from: f.from ?? null, to: f.to ?? null, group: f.group ?? null, outcome: f.outcome ?? null,
    by_person: Boolean(f.person), by_target: Boolean(f.target),
  };
}
