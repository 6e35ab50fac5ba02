// The BAA wizard's forms: zod checks with messages written for people.
import { z } from "zod";

/**
 * NPI check digit: the Luhn algorithm over the prefix 80840 followed by the first nine digits
 * (CMS, "Requirements for the NPI check digit"). 1234567893 is valid.
 */
export function isValidNpi(npi: string): boolean {
  if (!/^\d{10}$/.test(npi)) return false;
  const digits = `80840${npi.slice(0, 9)}`;
  let sum = 0;
  for (let i = digits.length - 1, double = true; i >= 0; i--, double = !double) {
    let d = Number(digits[i]);
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return (10 - (sum % 10)) % 10 === Number(npi[9]);
}

export const US_STATES = [
  "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS",
  "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI",
  "WY", "PR", "GU", "VI", "AS", "MP",
] as const;

/** The time zones offered first; any IANA zone the runtime knows is accepted. */
export const TIME_ZONES = [
  { value: "America/New_York", label: "Eastern (New York)" },
  { value: "America/Chicago", label: "Central (Chicago)" },
  { value: "America/Denver", label: "Mountain (Denver)" },
  { value: "America/Phoenix", label: "Mountain, no daylight saving (Phoenix)" },
  { value: "America/Los_Angeles", label: "Pacific (Los Angeles)" },
  { value: "America/Anchorage", label: "Alaska (Anchorage)" },
  { value: "Pacific/Honolulu", label: "Hawaii (Honolulu)" },
  { value: "America/Puerto_Rico", label: "Atlantic (Puerto Rico)" },
] as const;

const KNOWN_ZONES = new Set(Intl.supportedValuesOf("timeZone"));

const text = (label: string, max = 200) => z.string({ error: `Enter ${label}` }).trim().min(1, `Enter ${label}`).max(max, `Use at most ${max} characters`);
const optionalText = (max = 200) => z.string().trim().max(max, `Use at most ${max} characters`).optional().transform((v) => v || null);

export const profileForm = z.object({
  legalName: text("the practice's legal name"),
  dbaName: optionalText(),
  addressLine1: text("the street address"),
  addressLine2: optionalText(),
  city: text("the city", 100),
  state: z.string({ error: "Choose a state" }).trim().toUpperCase().refine((v) => (US_STATES as readonly string[]).includes(v), "Choose a state"),
  postalCode: z.string({ error: "Enter a ZIP code like 02139 or 02139-4307" }).trim().regex(/^\d{5}(-\d{4})?$/, "Enter a ZIP code like 02139 or 02139-4307"),
  phone: z.string({ error: "Enter a 10-digit phone number, like (617) 555-0123" }).trim().transform((v) => v.replace(/[\s().+-]/g, "").replace(/^1(?=\d{10}$)/, ""))
    .refine((v) => /^\d{10}$/.test(v), "Enter a 10-digit phone number, like (617) 555-0123"),
  npi: z.string().trim().optional().transform((v) => v?.replace(/\s/g, "") || null)
    .refine((v) => v === null || /^\d{10}$/.test(v), "An NPI has 10 digits")
    .refine((v) => v === null || !/^\d{10}$/.test(v) || isValidNpi(v), "This NPI's check digit is wrong: check it against your NPPES record"),
  privacyOfficerName: text("the privacy officer's name"),
  privacyOfficerEmail: z.string({ error: "Enter the privacy officer's email address" }).trim().toLowerCase().min(1, "Enter the privacy officer's email address").max(254, "Use at most 254 characters")
    .pipe(z.email("Enter a valid email address, like privacy@practice.com")),
  timeZone: z.string({ error: "Choose a time zone" }).trim().refine((v) => KNOWN_ZONES.has(v), "Choose a time zone"),
});
export type ProfileInput = z.output<typeof profileForm>;

export const signForm = z.object({
  versionId: z.string({ error: "Reload the page: the agreement you saw is not known" }).regex(/^[0-9a-f-]{36}$/, "Reload the page: the agreement you saw is not known"),
  typedName: z.string({ error: "Type your full legal name" }).trim().min(2, "Type your full legal name").max(200, "Use at most 200 characters"),
  title: z.string({ error: "Enter your title, like Practice Administrator" }).trim().min(1, "Enter your title, like Practice Administrator").max(200, "Use at most 200 characters"),
  authorized: z.literal("yes", { message: "Confirm that you are authorized to sign for the practice" }),
  consent: z.literal("yes", { message: "Agree to sign electronically, or ask another administrator to sign" }),
});
export type SignInput = z.output<typeof signForm>;
