// The incident report form: a category, what happened (free text, which may carry PHI despite the
// warning, so it is encrypted at rest and never logged, audited or emailed), and when it was noticed.
import { z } from "zod";

export const INCIDENT_CATEGORIES = [
  { value: "misdirected_mail", label: "Letters went to the wrong person or address" },
  { value: "unauthorized_access", label: "Someone saw or used information they should not have" },
  { value: "account_compromise", label: "An account, password or sign-in code may be compromised" },
  { value: "lost_device", label: "A device used with PatientLetterHub was lost or stolen" },
  { value: "phishing", label: "A suspicious email or message claiming to be from us" },
  { value: "vulnerability", label: "A security weakness in PatientLetterHub" },
  { value: "other", label: "Something else" },
] as const;
export type IncidentCategory = (typeof INCIDENT_CATEGORIES)[number]["value"];

export const DESCRIPTION_MAX = 5000;

export const incidentForm = z.object({
  category: z.enum(INCIDENT_CATEGORIES.map((c) => c.value) as [IncidentCategory, ...IncidentCategory[]], { error: "Choose what kind of incident it is" }),
  description: z.string({ error: "Say what happened" }).transform((v) => v.replace(/\r\n?/g, "\n").trim())
    .refine((v) => v.length >= 10, "Say what happened, in at least a sentence")
    .refine((v) => v.length <= DESCRIPTION_MAX, `Use at most ${DESCRIPTION_MAX.toLocaleString("en-US")} characters`),
  // An <input type="datetime-local"> value, read in the reporter's time zone by the service.
  noticedAt: z.string({ error: "Enter when you noticed it" }).trim().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/, "Enter when you noticed it, like 2026-11-20 14:30"),
});
export type IncidentInput = z.output<typeof incidentForm>;

export function categoryLabel(value: string): string {
  return INCIDENT_CATEGORIES.find((c) => c.value === value)?.label ?? value;
}

/**
 * A wall-clock time ("2026-11-20T14:30") in an IANA time zone, as a UTC instant; null when it is
 * not a real time. Done with Intl alone: the zone's offset at that moment, applied twice so a time
 * near a daylight-saving change still lands right.
 */
export function zonedTimeToUtc(local: string, timeZone: string): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(local);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1).map((p) => Number(p ?? 0)) as [number, number, number, number, number, number];
  const wall = Date.UTC(y, mo - 1, d, h, mi, s);
  const check = new Date(wall);
  if (check.getUTCFullYear() !== y || check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d || h > 23 || mi > 59) return null;
  const offset = (at: number) => {
    const parts = Object.fromEntries(new Intl.DateTimeFormat("en-US", {
      timeZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
    }).formatToParts(new Date(at)).map((p) => [p.type, p.value]));
    return Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second)) - at;
  };
  let utc = wall - offset(wall);
  utc = wall - offset(utc);
  return new Date(utc);
}
