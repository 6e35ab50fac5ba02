// The only module that reads process.env. Every setting is validated once, with one
// readable list of every problem, and the result is frozen so nothing mutates it later.
import { z } from "zod";

const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

/** "kid:base64" pairs separated by commas; the first pair is the current key. */
function keyRing(bytes: number) {
  return z.string().transform((raw, ctx) => {
    const keys: { id: string; key: Buffer }[] = [];
    for (const part of raw.split(",").map((p) => p.trim()).filter(Boolean)) {
      const [id, b64, extra] = part.split(":");
      const key = b64 ? Buffer.from(b64, "base64") : Buffer.alloc(0);
      if (!id || !KEY_ID.test(id) || !b64 || extra !== undefined) {
        ctx.addIssue({ code: "custom", message: `each entry must look like "keyid:base64key"` });
        return z.NEVER;
      }
      if (key.length !== bytes) {
        ctx.addIssue({ code: "custom", message: `key "${id}" must decode to exactly ${bytes} bytes (got ${key.length}); generate one with: openssl rand -base64 ${bytes}` });
        return z.NEVER;
      }
      if (keys.some((k) => k.id === id)) {
        ctx.addIssue({ code: "custom", message: `key id "${id}" appears twice` });
        return z.NEVER;
      }
      keys.push({ id, key });
    }
    if (keys.length === 0) {
      ctx.addIssue({ code: "custom", message: "at least one key is required" });
      return z.NEVER;
    }
    return keys;
  });
}

/** A five-field cron expression (minute hour day month weekday), evaluated in UTC. */
const cron = z.string().trim().regex(/^\S+(\s+\S+){4}$/, "must be a cron expression with five fields, e.g. \"15 2 * * *\" (UTC)");

// Retention (src/retention): rows per batch transaction, and how long the audit trail is kept.
const retentionBatchSize = z.coerce.number().int().min(1).max(10_000).default(500);
const auditRetentionYears = z.coerce.number().int().min(7, "must be at least 7 (the audit trail is kept 7 years)").max(100).default(7);

/** An email address as ops write it in settings (dev defaults such as security@localhost included). */
const mailbox = z.string().trim().regex(/^[^\s@<>]+@[^\s@<>]+$/, "must be an email address, like security@example.org");

const booleanFlag = z
  .enum(["true", "false", "1", "0", "yes", "no"])
  .transform((v) => v === "true" || v === "1" || v === "yes");

const schema = z
  .object({
    NODE_ENV: z.enum(["development", "test", "production"]).default("development"),
    HOST: z.string().min(1).default("127.0.0.1"),
    PORT: z.coerce.number().int().min(1).max(65535).default(3000),
    // Compared with the browser's Origin header by the CSRF check, so it must be a bare origin.
    APP_ORIGIN: z
      .url({ protocol: /^https?$/ })
      .refine((v) => new URL(v).origin === v.replace(/\/$/, ""), "must be an origin only (scheme, host, port), without a path or query")
      .optional(),
    TRUST_PROXY: booleanFlag.default(false),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).optional(),
    DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }),
    DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10),
    AZURE_STORAGE_CONNECTION_STRING: z.string().min(1).optional(),
    AZURE_STORAGE_ACCOUNT_URL: z.url({ protocol: /^https?$/ }).optional(),
    AZURE_STORAGE_CONTAINER: z
      .string()
      .regex(/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/, "must be a valid Azure container name (3-63 lowercase letters, digits, hyphens)")
      .default("phi"),
    HMAC_KEYS: keyRing(32),
    ENCRYPTION_KEYS: keyRing(32),
    // GET /metrics answers only `Authorization: Bearer <METRICS_TOKEN>`; unset, /metrics is 404.
    // An empty value counts as unset.
    METRICS_TOKEN: z.preprocess((v) => (v === "" ? undefined : v), z.string().regex(/^[A-Za-z0-9._~+\/=-]{32,256}$/, "must be 32-256 characters of A-Z a-z 0-9 . _ ~ + / = - (generate one with: openssl rand -base64 32)").optional()),
    // On SIGTERM the server finishes in-flight requests and running background jobs for at most this long.
    SHUTDOWN_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(3600).default(25),
    SMTP_URL: z.url({ protocol: /^smtps?$/ }).optional(),
    MAIL_FROM: z.string().min(3).default("PatientLetterHub <no-reply@localhost>"),
    MAIL_DIR: z.string().min(1).default(".data/mail"),
    // Support (issue 9): the address the support page shows, and the platform's security contact,
    // who is emailed each incident report. A loose address check: dev defaults are @localhost.
    SUPPORT_EMAIL: mailbox.optional(),
    SECURITY_CONTACT_EMAIL: mailbox.optional(),
    SESSION_IDLE_MINUTES: z.coerce.number().int().min(1).max(240).default(15),
    SESSION_ABSOLUTE_HOURS: z.coerce.number().int().min(1).max(24).default(12),
    // Background work (pg-boss cron schedules, UTC).
    AUDIT_PARTITIONS_CRON: cron.default("5 2 * * *"),
    AUDIT_CHECKPOINT_CRON: cron.default("15 2 * * *"),
    RETENTION_PENDING_UPLOADS_CRON: cron.default("*/15 * * * *"),
    RETENTION_CREDENTIALS_CRON: cron.default("35 2 * * *"),
    RETENTION_DRAFTS_CRON: cron.default("40 2 * * *"),
    RETENTION_JOB_PURGE_CRON: cron.default("45 2 * * *"),
    RETENTION_DATA_REQUESTS_CRON: cron.default("23 * * * *"),
    // The weekly job summary email (src/account/weekly-summary.ts): Mondays 08:00 UTC by default.
    WEEKLY_SUMMARY_CRON: cron.default("0 8 * * 1"),
    // Background jobs prove they are alive this often (half of it); a silent one is failed and retried.
    QUEUE_HEARTBEAT_SECONDS: z.coerce.number().int().min(10).max(3600).default(30),
    RETENTION_BATCH_SIZE: retentionBatchSize,
    // Job data (blobs, letter) is purged this many days after completion or cancellation; a draft
    // without activity for DRAFT days is cancelled (then purged on the same rule).
    RETENTION_JOB_DATA_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
    RETENTION_DRAFT_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
    AUDIT_RETENTION_YEARS: auditRetentionYears,
    // Direct browser uploads (src/jobs/uploads.ts): size limits per kind, SAS lifetime, rate limit per user.
    UPLOAD_MAX_CSV_BYTES: z.coerce.number().int().min(1).max(5 * 1024 ** 3).default(50 * 1024 ** 2),
    UPLOAD_MAX_IMAGE_BYTES: z.coerce.number().int().min(1).max(100 * 1024 ** 2).default(5 * 1024 ** 2),
    UPLOAD_SAS_MINUTES: z.coerce.number().int().min(1).max(10, "must be at most 10 (upload URLs are short-lived)").default(10),
    UPLOAD_URLS_PER_MINUTE: z.coerce.number().int().min(1).max(1_000_000).default(30),
    RECIPIENT_LIST_MAX_ROWS: z.coerce.number().int().min(1).max(10_000_000).default(100_000),
    AUTH_PROVIDER: z.enum(["local", "clerk"]).default("local"),
    CLERK_PUBLISHABLE_KEY: z.string().regex(/^pk_(test|live)_[A-Za-z0-9$=_-]+$/, "must be a Clerk publishable key (pk_test_… or pk_live_…)").optional(),
    // The instance's PEM public key: session tokens are verified without calling Clerk.
    CLERK_JWT_KEY: z.string().includes("BEGIN PUBLIC KEY", { message: "must be the PEM public key from Clerk's dashboard (API keys → JWT public key)" }).optional(),
    CLERK_AUTHORIZED_PARTIES: z.string().optional(),
  })
  .superRefine((env, ctx) => {
    const production = env.NODE_ENV === "production";
    const origin = env.APP_ORIGIN ?? `http://localhost:${env.PORT}`;
    if (!env.AZURE_STORAGE_CONNECTION_STRING && !env.AZURE_STORAGE_ACCOUNT_URL) {
      ctx.addIssue({
        code: "custom",
        path: ["AZURE_STORAGE_ACCOUNT_URL"],
        message: "set AZURE_STORAGE_ACCOUNT_URL (managed identity) or AZURE_STORAGE_CONNECTION_STRING",
      });
    }
    if (env.AUTH_PROVIDER === "clerk") {
      for (const field of ["CLERK_PUBLISHABLE_KEY", "CLERK_JWT_KEY"] as const) {
        if (!env[field]) ctx.addIssue({ code: "custom", path: [field], message: "required when AUTH_PROVIDER=clerk" });
      }
    }
    if (!production) return;
    // Production refuses anything that would send PHI or credentials in clear text.
    if (!env.APP_ORIGIN) {
      ctx.addIssue({ code: "custom", path: ["APP_ORIGIN"], message: "required in production (the public https:// address)" });
    } else if (!origin.startsWith("https://")) {
      ctx.addIssue({ code: "custom", path: ["APP_ORIGIN"], message: "must be https:// in production" });
    }
    if (env.AZURE_STORAGE_ACCOUNT_URL && !env.AZURE_STORAGE_ACCOUNT_URL.startsWith("https://")) {
      ctx.addIssue({ code: "custom", path: ["AZURE_STORAGE_ACCOUNT_URL"], message: "must be https:// in production (SAS links over HTTP are refused)" });
    }
    const conn = env.AZURE_STORAGE_CONNECTION_STRING;
    if (conn && (/UseDevelopmentStorage=true/i.test(conn) || /DefaultEndpointsProtocol=http(;|$)/i.test(conn) || /Endpoint=http:\/\//i.test(conn))) {
      ctx.addIssue({
        code: "custom",
        path: ["AZURE_STORAGE_CONNECTION_STRING"],
        message: "must use HTTPS endpoints in production (no emulator, no http)",
      });
    }
    if (!env.SMTP_URL) {
      ctx.addIssue({ code: "custom", path: ["SMTP_URL"], message: "required in production (smtps://user:pass@host:465 or smtp://…:587, which must offer STARTTLS)" });
    }
    if (!env.SECURITY_CONTACT_EMAIL) {
      ctx.addIssue({ code: "custom", path: ["SECURITY_CONTACT_EMAIL"], message: "required in production (the monitored address that receives security and privacy incident reports)" });
    }
    if (env.DATABASE_URL && !/[?&]sslmode=(require|verify-ca|verify-full)(&|$)/i.test(env.DATABASE_URL)) {
      ctx.addIssue({ code: "custom", path: ["DATABASE_URL"], message: "must require TLS in production (add ?sslmode=verify-full, verify-ca or require)" });
    }
  }, { when: () => true }) // check these even when a field above failed: one list of every problem
  .transform((env) => {
    const production = env.NODE_ENV === "production";
    return {
      env: env.NODE_ENV,
      production,
      host: env.HOST,
      port: env.PORT,
      appOrigin: (env.APP_ORIGIN ?? `http://localhost:${env.PORT}`).replace(/\/$/, ""),
      trustProxy: env.TRUST_PROXY,
      // Tests are quiet unless asked; everything else logs at info.
      logLevel: env.LOG_LEVEL ?? (env.NODE_ENV === "test" ? "silent" : "info"),
      database: { url: env.DATABASE_URL, poolMax: env.DATABASE_POOL_MAX },
      blob: {
        connectionString: env.AZURE_STORAGE_CONNECTION_STRING,
        accountUrl: env.AZURE_STORAGE_ACCOUNT_URL,
        container: env.AZURE_STORAGE_CONTAINER,
      },
      keys: { hmac: env.HMAC_KEYS, encryption: env.ENCRYPTION_KEYS },
      metrics: { token: env.METRICS_TOKEN ?? null },
      shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_SECONDS * 1000,
      uploads: {
        maxCsvBytes: env.UPLOAD_MAX_CSV_BYTES,
        maxImageBytes: env.UPLOAD_MAX_IMAGE_BYTES,
        sasMinutes: env.UPLOAD_SAS_MINUTES,
        urlsPerMinute: env.UPLOAD_URLS_PER_MINUTE,
        maxRecipients: env.RECIPIENT_LIST_MAX_ROWS,
      },
      // Without SMTP_URL (development, tests) mail is written as files into MAIL_DIR instead.
      mail: { smtpUrl: env.SMTP_URL, from: env.MAIL_FROM, dir: env.MAIL_DIR },
      // In production SUPPORT_EMAIL falls back to the (required) security contact: a monitored inbox.
      support: {
        email: env.SUPPORT_EMAIL ?? (production ? env.SECURITY_CONTACT_EMAIL! : "support@localhost"),
        securityContact: env.SECURITY_CONTACT_EMAIL ?? "security@localhost",
      },
      session: { idleMinutes: env.SESSION_IDLE_MINUTES, absoluteHours: env.SESSION_ABSOLUTE_HOURS },
      schedules: {
        auditPartitions: env.AUDIT_PARTITIONS_CRON, auditCheckpoint: env.AUDIT_CHECKPOINT_CRON,
        pendingUploads: env.RETENTION_PENDING_UPLOADS_CRON, expiredCredentials: env.RETENTION_CREDENTIALS_CRON,
        abandonedDrafts: env.RETENTION_DRAFTS_CRON, jobPurge: env.RETENTION_JOB_PURGE_CRON, dataRequests: env.RETENTION_DATA_REQUESTS_CRON,
        weeklySummary: env.WEEKLY_SUMMARY_CRON,
      },
      queue: { heartbeatSeconds: env.QUEUE_HEARTBEAT_SECONDS },
      retention: {
        batchSize: env.RETENTION_BATCH_SIZE, auditYears: env.AUDIT_RETENTION_YEARS,
        jobDataDays: env.RETENTION_JOB_DATA_DAYS, draftDays: env.RETENTION_DRAFT_DAYS,
      },
      auth: {
        provider: env.AUTH_PROVIDER,
        clerk: env.AUTH_PROVIDER === "clerk"
          ? {
              publishableKey: env.CLERK_PUBLISHABLE_KEY!,
              jwtKey: env.CLERK_JWT_KEY!,
              // Tokens minted for any other origin are refused (azp claim).
              authorizedParties: (env.CLERK_AUTHORIZED_PARTIES ?? env.APP_ORIGIN ?? `http://localhost:${env.PORT}`)
                .split(",").map((p) => p.trim().replace(/\/$/, "")).filter(Boolean),
            }
          : null,
      },
    };
  });

export type Config = Readonly<z.output<typeof schema>>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

function problemsOf(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const field = issue.path.join(".") || "(environment)";
    // For a missing variable zod says "expected string, received undefined": say it plainly.
    const message = issue.code === "invalid_type" && issue.input === undefined ? "is required" : issue.message;
    return `${field}: ${message}`;
  });
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Buffer.isBuffer(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** Parses the given environment (process.env by default) or throws a ConfigError listing every problem. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const result = schema.safeParse(env);
  if (!result.success) throw new ConfigError(problemsOf(result.error));
  return deepFreeze(result.data);
}

/** Settings for the development orchestrator (scripts/dev.ts), which starts the embedded services. */
export function loadDevSettings(env: Record<string, string | undefined> = process.env) {
  const parsed = z
    .object({
      PORT: z.coerce.number().int().min(1).max(65535).default(3000),
      PLH_DATA_DIR: z.string().min(1).default(".data"),
      LOG_LEVEL: z.string().optional(),
      // Given these, dev uses them instead of starting the embedded service.
      DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
      DATABASE_OWNER_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
      AZURE_STORAGE_CONNECTION_STRING: z.string().min(1).optional(),
      AZURE_STORAGE_ACCOUNT_URL: z.url({ protocol: /^https?$/ }).optional(),
    })
    .safeParse(env);
  if (!parsed.success) throw new ConfigError(problemsOf(parsed.error));
  const d = parsed.data;
  return {
    port: d.PORT,
    dataDir: d.PLH_DATA_DIR,
    logLevel: d.LOG_LEVEL,
    external: {
      databaseUrl: d.DATABASE_URL,
      ownerDatabaseUrl: d.DATABASE_OWNER_URL,
      blob: d.AZURE_STORAGE_CONNECTION_STRING || d.AZURE_STORAGE_ACCOUNT_URL
        ? { connectionString: d.AZURE_STORAGE_CONNECTION_STRING, accountUrl: d.AZURE_STORAGE_ACCOUNT_URL }
        : undefined,
    },
  };
}

/** The app's public origin for links printed by maintenance scripts; absent means "use the dev app". */
export function loadScriptAppOrigin(env: Record<string, string | undefined> = process.env): string | undefined {
  const parsed = z.url({ protocol: /^https?$/ }).optional().safeParse(env.APP_ORIGIN || undefined);
  if (!parsed.success) throw new ConfigError([`APP_ORIGIN: ${parsed.error.issues[0]?.message ?? "invalid"}`]);
  return parsed.data?.replace(/\/$/, "");
}

/** The owner connection for maintenance scripts (migrate, audit:verify, bench); absent means "use the dev database". */
export function loadOwnerDatabaseUrl(env: Record<string, string | undefined> = process.env): string | undefined {
  const parsed = z.url({ protocol: /^postgres(ql)?$/ }).optional().safeParse(env.DATABASE_OWNER_URL || undefined);
  if (!parsed.success) throw new ConfigError([`DATABASE_OWNER_URL: ${parsed.error.issues[0]?.message ?? "invalid"}`]);
  return parsed.data;
}

/** `bun run sweep --only audit-partitions` (owner only, no app settings needed): the retention settings alone. */
export function loadRetentionSettings(env: Record<string, string | undefined> = process.env): { batchSize: number; auditYears: number } {
  const parsed = z.object({ RETENTION_BATCH_SIZE: retentionBatchSize, AUDIT_RETENTION_YEARS: auditRetentionYears }).safeParse(env);
  if (!parsed.success) throw new ConfigError(problemsOf(parsed.error));
  return { batchSize: parsed.data.RETENTION_BATCH_SIZE, auditYears: parsed.data.AUDIT_RETENTION_YEARS };
}

/** `bun run keys:reencrypt` (as the owner, no app settings needed): the column-encryption key ring alone. */
export function loadEncryptionKeys(env: Record<string, string | undefined> = process.env): readonly { id: string; key: Buffer }[] {
  const parsed = z.object({ ENCRYPTION_KEYS: keyRing(32) }).safeParse(env);
  if (!parsed.success) throw new ConfigError(problemsOf(parsed.error));
  return parsed.data.ENCRYPTION_KEYS;
}

/** `bun run storage:setup`: the Blob settings, the container, and the app origin the CORS rule allows. */
export function loadStorageSetupSettings(env: Record<string, string | undefined> = process.env) {
  const parsed = z
    .object({
      APP_ORIGIN: z
        .url({ protocol: /^https?$/, error: "is required: the app's public origin, e.g. https://letters.example.org" })
        .refine((v) => new URL(v).origin === v.replace(/\/$/, ""), "must be an origin only (scheme, host, port), without a path or query"),
      AZURE_STORAGE_CONNECTION_STRING: z.string().min(1).optional(),
      AZURE_STORAGE_ACCOUNT_URL: z.url({ protocol: /^https?$/ }).optional(),
      AZURE_STORAGE_CONTAINER: z.string().regex(/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/, "must be a valid Azure container name").default("phi"),
    })
    .refine((e) => e.AZURE_STORAGE_CONNECTION_STRING || e.AZURE_STORAGE_ACCOUNT_URL, {
      path: ["AZURE_STORAGE_ACCOUNT_URL"], message: "set AZURE_STORAGE_ACCOUNT_URL (managed identity) or AZURE_STORAGE_CONNECTION_STRING",
    })
    .safeParse(env);
  if (!parsed.success) throw new ConfigError(problemsOf(parsed.error));
  const d = parsed.data;
  return {
    appOrigin: d.APP_ORIGIN.replace(/\/$/, ""),
    blob: { connectionString: d.AZURE_STORAGE_CONNECTION_STRING, accountUrl: d.AZURE_STORAGE_ACCOUNT_URL, container: d.AZURE_STORAGE_CONTAINER },
  };
}
