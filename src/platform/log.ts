// JSON logs through pino. Request logs carry method, path and status only: never bodies, query
// strings, cookies or form fields, and the redaction list below catches the usual suspects in any
// object someone passes to a log call by mistake.
import pino, { type Logger } from "pino";

export type { Logger };

export const REDACTED_PATHS = [
  "password", "*.password", "newPassword", "*.newPassword",
  "email", "*.email", "name", "*.name", "firstName", "*.firstName", "lastName", "*.lastName",
  "address", "*.address", "phone", "*.phone", "dob", "*.dob", "ssn", "*.ssn",
  "token", "*.token", "secret", "*.secret", "code", "*.code", "description", "*.description",
  "cookie", "*.cookie", "authorization", "*.authorization", "headers.cookie", "headers.authorization",
  "req.headers.cookie", "req.headers.authorization", "body", "*.body", "query", "*.query",
];

export function createLogger(options: { level: string; destination?: pino.DestinationStream }): Logger {
  return pino(
    {
      level: options.level,
      base: { service: "patientletterhub" },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination,
  );
}
