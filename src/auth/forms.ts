// Form schemas for identity pages: zod checks with messages written for people.
import { z } from "zod";
import { PASSWORD_MAX, PASSWORD_MIN } from "./password.ts";

const email = z.string().trim().toLowerCase().min(1, "Enter your email address").max(254, "Use at most 254 characters").pipe(z.email("Enter a valid email address, like name@practice.com"));

export const signUpForm = z.object({
  fullName: z.string().trim().min(1, "Enter your full name").max(200, "Use at most 200 characters"),
  email,
  password: z
    .string()
    .min(PASSWORD_MIN, `Use at least ${PASSWORD_MIN} characters`)
    .max(PASSWORD_MAX, `Use at most ${PASSWORD_MAX} characters`),
  practiceName: z.string().trim().min(1, "Enter your practice's name").max(200, "Use at most 200 characters"),
});

export const signInForm = z.object({
  email,
  password: z.string().min(1, "Enter your password").max(PASSWORD_MAX, `Use at most ${PASSWORD_MAX} characters`),
});

export const forgotPasswordForm = z.object({ email });

const newPassword = z
  .string()
  .min(PASSWORD_MIN, `Use at least ${PASSWORD_MIN} characters`)
  .max(PASSWORD_MAX, `Use at most ${PASSWORD_MAX} characters`);

export const resetPasswordForm = z
  .object({ token: z.string().max(100), password: newPassword, confirm: z.string().max(PASSWORD_MAX) })
  .refine((f) => f.password === f.confirm, { path: ["confirm"], message: "The two passwords do not match" });

export type FieldErrors = Record<string, string>;

/** Parses a form, returning the data or the first message per field (plus the raw values to re-show). */
export function parseForm<S extends z.ZodType>(schema: S, body: Record<string, unknown>):
  | { ok: true; data: z.output<S> }
  | { ok: false; errors: FieldErrors } {
  const result = schema.safeParse(body);
  if (result.success) return { ok: true, data: result.data };
  const errors: FieldErrors = {};
  for (const issue of result.error.issues) {
    const field = String(issue.path[0] ?? "form");
    errors[field] ??= issue.message;
  }
  return { ok: false, errors };
}

/** The submitted text fields as strings, for re-rendering a form (passwords are never echoed). */
export function formValues(body: Record<string, unknown>, omit: string[] = ["password", "confirm", "token"]): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [key, value] of Object.entries(body)) {
    if (typeof value === "string" && !omit.includes(key)) values[key] = value.slice(0, 500);
  }
  return values;
}
