import { z } from "zod";
import { PASSWORD_MAX, PASSWORD_MIN } from "../auth/password.ts";

const role = z.enum(["admin", "staff", "auditor"], { message: "Choose a role" });
// An optional date (YYYY-MM-DD) for auditors' access to end; the membership lapses at its start (UTC).
const endsAt = z
  .string()
  .trim()
  .optional()
  .transform((v, ctx) => {
    if (!v) return null;
    const date = /^\d{4}-\d{2}-\d{2}$/.test(v) ? new Date(`${v}T00:00:00Z`) : new Date(Number.NaN);
    if (Number.isNaN(date.getTime())) {
      ctx.addIssue({ code: "custom", message: "Enter a date like 2027-03-31" });
      return z.NEVER;
    }
    if (date.getTime() <= Date.now()) {
      ctx.addIssue({ code: "custom", message: "Choose a date in the future" });
      return z.NEVER;
    }
    return date;
  });

export const inviteForm = z.object({
  email: z.string().trim().toLowerCase().min(1, "Enter an email address").max(254).pipe(z.email("Enter a valid email address, like name@practice.com")),
  role,
  endsAt,
});

export const roleForm = z.object({ role, endsAt });

export const newAccountForm = z.object({
  token: z.string().max(100),
  fullName: z.string().trim().min(1, "Enter your full name").max(200, "Use at most 200 characters"),
  password: z.string().min(PASSWORD_MIN, `Use at least ${PASSWORD_MIN} characters`).max(PASSWORD_MAX, `Use at most ${PASSWORD_MAX} characters`),
});
