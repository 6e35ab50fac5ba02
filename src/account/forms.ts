// Form schemas for account settings: zod checks with messages written for people.
import { z } from "zod";
import { PASSWORD_MAX, PASSWORD_MIN } from "../auth/password.ts";
import { NON_ESSENTIAL_CATEGORIES } from "../platform/mail.ts";

export const nameForm = z.object({
  fullName: z.string().trim().min(1, "Enter your full name").max(200, "Use at most 200 characters"),
});

const currentPassword = z.string().min(1, "Enter your current password").max(PASSWORD_MAX, `Use at most ${PASSWORD_MAX} characters`);

export const emailForm = z.object({
  email: z.string().trim().toLowerCase().min(1, "Enter the new email address").max(254, "Use at most 254 characters")
    .pipe(z.email("Enter a valid email address, like name@practice.com")),
  password: currentPassword,
});

export const passwordForm = z
  .object({
    current: currentPassword,
    password: z.string().min(PASSWORD_MIN, `Use at least ${PASSWORD_MIN} characters`).max(PASSWORD_MAX, `Use at most ${PASSWORD_MAX} characters`),
    confirm: z.string().max(PASSWORD_MAX),
  })
  .refine((f) => f.password === f.confirm, { path: ["confirm"], message: "The two passwords do not match" })
  .refine((f) => f.password !== f.current, { path: ["password"], message: "Choose a password different from the current one" });

export const codeForm = z.object({
  code: z.string().trim().min(1, "Enter a code from your authenticator app, or a recovery code").max(20, "That is too long for a code"),
});

/** Checkboxes: a ticked box sends "on", an unticked one sends nothing. */
export const preferencesForm = z.object(
  Object.fromEntries(NON_ESSENTIAL_CATEGORIES.map((c) => [c, z.literal("on").optional().transform((v) => v === "on")])) as
    Record<(typeof NON_ESSENTIAL_CATEGORIES)[number], z.ZodPipe<z.ZodOptional<z.ZodLiteral<"on">>, z.ZodTransform<boolean, "on" | undefined>>>,
);
