// loadConfig is pure: every test hands it an explicit environment (never process.env), so these
// tests say exactly which settings are accepted and which are refused, and why.
import { describe, expect, test } from "bun:test";
import path from "node:path";
import { ConfigError, loadConfig } from "../src/config.ts";

const ROOT = path.resolve(import.meta.dir, "..");

function key(bytes = 32, fill = 7): string {
  return Buffer.alloc(bytes, fill).toString("base64");
}

/** A complete, valid development environment. */
function devEnv(overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    NODE_ENV: "development",
    DATABASE_URL: "postgres://plh_app:secret@127.0.0.1:5432/plh",
    AZURE_STORAGE_CONNECTION_STRING: "UseDevelopmentStorage=true",
    HMAC_KEYS: `h1:${key(32, 1)}`,
    ENCRYPTION_KEYS: `e1:${key(32, 2)}`,
    ...overrides,
  };
}

/** A complete, valid production environment: each refusal below changes exactly one thing. */
function prodEnv(overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    NODE_ENV: "production",
    APP_ORIGIN: "https://plh.example",
    DATABASE_URL: "postgres://plh_app:secret@db.internal:5432/plh?sslmode=verify-full",
    AZURE_STORAGE_ACCOUNT_URL: "https://plhstore.blob.core.windows.net",
    HMAC_KEYS: `h1:${key(32, 1)}`,
    ENCRYPTION_KEYS: `e1:${key(32, 2)}`,
    SMTP_URL: "smtps://mailer:secret@smtp.example:465",
    SECURITY_CONTACT_EMAIL: "security@plh.example",
    ...overrides,
  };
}

/** Runs loadConfig expecting a ConfigError and returns its list of problems. */
function problemsFor(env: Record<string, string | undefined>): string[] {
  let caught: unknown;
  try {
    loadConfig(env);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  return (caught as ConfigError).problems;
}

describe("loadConfig: valid environments", () => {
  test("a full development environment parses into a typed config", () => {
    const config = loadConfig(devEnv({ PORT: "4010", TRUST_PROXY: "true" }));
    expect(config.env).toBe("development");
    expect(config.production).toBe(false);
    expect(config.port).toBe(4010);
    expect(config.trustProxy).toBe(true);
    expect(config.appOrigin).toBe("http://localhost:4010");
    expect(config.database.url).toBe("postgres://plh_app:secret@127.0.0.1:5432/plh");
    expect(config.blob.connectionString).toBe("UseDevelopmentStorage=true");
    expect(config.blob.container).toBe("phi");
    expect(config.keys.hmac.map((k) => k.id)).toEqual(["h1"]);
    expect(config.keys.hmac[0]!.key.length).toBe(32);
    expect(config.keys.encryption.map((k) => k.id)).toEqual(["e1"]);
  });

  test("a full production environment with https everywhere parses", () => {
    const config = loadConfig(prodEnv({ APP_ORIGIN: "https://plh.example/" }));
    expect(config.production).toBe(true);
    expect(config.appOrigin).toBe("https://plh.example");
    expect(config.blob.accountUrl).toBe("https://plhstore.blob.core.windows.net");
  });

  test("a key ring keeps every key in order, the first being the current key", () => {
    const config = loadConfig(devEnv({ HMAC_KEYS: `new:${key(32, 3)}, old:${key(32, 4)}` }));
    expect(config.keys.hmac.map((k) => k.id)).toEqual(["new", "old"]);
    expect(config.keys.hmac[0]!.key.equals(Buffer.alloc(32, 3))).toBe(true);
  });

  test("a key longer than 32 bytes is refused rather than silently cut", () => {
    expect(problemsFor(devEnv({ HMAC_KEYS: `long:${key(48, 4)}` }))).toEqual([
      'HMAC_KEYS: key "long" must decode to exactly 32 bytes (got 48); generate one with: openssl rand -base64 32',
    ]);
  });
});

describe("loadConfig: one error listing every problem", () => {
  test("missing DATABASE_URL and a bad HMAC_KEYS are reported together in one ConfigError", () => {
    const problems = problemsFor(devEnv({ DATABASE_URL: undefined, HMAC_KEYS: "not-a-key-ring" }));
    expect(problems.some((p) => p.startsWith("DATABASE_URL:"))).toBe(true);
    expect(problems.some((p) => p.startsWith("HMAC_KEYS:"))).toBe(true);
  });

  // The cross-field checks run even when a field already failed (superRefine with `when`).
  test("missing Azure settings are reported in the same error as a missing DATABASE_URL and bad HMAC_KEYS", () => {
    const problems = problemsFor(
      devEnv({ DATABASE_URL: undefined, AZURE_STORAGE_CONNECTION_STRING: undefined, HMAC_KEYS: "not-a-key-ring" }),
    );
    const text = problems.join("\n");
    expect(text).toContain("DATABASE_URL");
    expect(text).toContain("HMAC_KEYS");
    expect(text).toContain("AZURE_STORAGE_ACCOUNT_URL");
    expect(text).toContain("AZURE_STORAGE_CONNECTION_STRING");
  });

  test("missing Azure settings are refused, naming both ways to configure storage", () => {
    const problems = problemsFor(devEnv({ AZURE_STORAGE_CONNECTION_STRING: undefined }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain("AZURE_STORAGE_ACCOUNT_URL");
    expect(problems[0]).toContain("AZURE_STORAGE_CONNECTION_STRING");
  });

  test("the error message lists each problem on its own line", () => {
    let caught: unknown;
    try {
      loadConfig(devEnv({ DATABASE_URL: undefined, ENCRYPTION_KEYS: undefined }));
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const message = (caught as ConfigError).message;
    expect(message).toContain("  - DATABASE_URL: is required");
    expect(message).toContain("  - ENCRYPTION_KEYS: is required");
  });
});

describe("loadConfig: production refuses unsafe settings", () => {
  test("production refuses a missing APP_ORIGIN", () => {
    const problems = problemsFor(prodEnv({ APP_ORIGIN: undefined }));
    expect(problems.some((p) => p.startsWith("APP_ORIGIN:"))).toBe(true);
  });

  test("production refuses an http:// APP_ORIGIN", () => {
    const problems = problemsFor(prodEnv({ APP_ORIGIN: "http://plh.example" }));
    expect(problems).toEqual(["APP_ORIGIN: must be https:// in production"]);
  });

  test.each([
    ["the Azurite shortcut", "UseDevelopmentStorage=true"],
    ["DefaultEndpointsProtocol=http", "DefaultEndpointsProtocol=http;AccountName=x;AccountKey=eA==;EndpointSuffix=core.windows.net"],
    [
      "an http BlobEndpoint (Azurite)",
      "DefaultEndpointsProtocol=https;AccountName=devstoreaccount1;AccountKey=eA==;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;",
    ],
  ])("production refuses a connection string with %s", (_label, connectionString) => {
    const problems = problemsFor(prodEnv({ AZURE_STORAGE_ACCOUNT_URL: undefined, AZURE_STORAGE_CONNECTION_STRING: connectionString }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toStartWith("AZURE_STORAGE_CONNECTION_STRING:");
  });

  test("production accepts an https connection string", () => {
    const config = loadConfig(
      prodEnv({
        AZURE_STORAGE_ACCOUNT_URL: undefined,
        AZURE_STORAGE_CONNECTION_STRING: "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=eA==;EndpointSuffix=core.windows.net",
      }),
    );
    expect(config.blob.connectionString).toContain("https");
  });

  test("production refuses an http AZURE_STORAGE_ACCOUNT_URL", () => {
    const problems = problemsFor(prodEnv({ AZURE_STORAGE_ACCOUNT_URL: "http://plhstore.blob.core.windows.net" }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toStartWith("AZURE_STORAGE_ACCOUNT_URL:");
  });

  test("production refuses a DATABASE_URL with sslmode=disable", () => {
    const problems = problemsFor(prodEnv({ DATABASE_URL: "postgres://plh_app:secret@db.internal:5432/plh?sslmode=disable" }));
    expect(problems).toEqual(["DATABASE_URL: must require TLS in production (add ?sslmode=verify-full, verify-ca or require)"]);
  });

  test("production refuses a DATABASE_URL that does not ask for TLS at all", () => {
    const problems = problemsFor(prodEnv({ DATABASE_URL: "postgres://plh_app:secret@db.internal:5432/plh" }));
    expect(problems).toEqual(["DATABASE_URL: must require TLS in production (add ?sslmode=verify-full, verify-ca or require)"]);
  });

  test("production refuses to run without SMTP_URL (mail would otherwise go to local files)", () => {
    const problems = problemsFor(prodEnv({ SMTP_URL: undefined }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toStartWith("SMTP_URL: required in production");
  });

  test("APP_ORIGIN with a path or query is refused (the browser's Origin header could never match it)", () => {
    const problems = problemsFor(prodEnv({ APP_ORIGIN: "https://plh.example/app?x=1" }));
    expect(problems).toEqual(["APP_ORIGIN: must be an origin only (scheme, host, port), without a path or query"]);
  });

  test("development accepts the same http settings production refuses", () => {
    const config = loadConfig(devEnv({ APP_ORIGIN: "http://localhost:3000", DATABASE_URL: "postgres://a:b@127.0.0.1/plh?sslmode=disable" }));
    expect(config.appOrigin).toBe("http://localhost:3000");
  });
});

describe("loadConfig: key rings", () => {
  test("a key shorter than 32 bytes is refused, naming the key id", () => {
    const problems = problemsFor(devEnv({ HMAC_KEYS: `current:${key(32)},tooshort:${key(16)}` }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toStartWith("HMAC_KEYS:");
    expect(problems[0]).toContain('"tooshort"');
    expect(problems[0]).toContain("32 bytes");
  });

  test("a short encryption key is refused under ENCRYPTION_KEYS", () => {
    const problems = problemsFor(devEnv({ ENCRYPTION_KEYS: `enc2024:${key(31)}` }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toStartWith("ENCRYPTION_KEYS:");
    expect(problems[0]).toContain('"enc2024"');
  });

  test("a duplicate key id is refused", () => {
    const problems = problemsFor(devEnv({ HMAC_KEYS: `k1:${key(32, 1)},k1:${key(32, 2)}` }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('"k1"');
    expect(problems[0]).toContain("twice");
  });

  test("an entry without a key id is refused", () => {
    const problems = problemsFor(devEnv({ HMAC_KEYS: key(32) }));
    expect(problems.some((p) => p.startsWith("HMAC_KEYS:"))).toBe(true);
  });
});

describe("loadConfig: the result", () => {
  test("the config is deeply frozen: assigning to any field throws", () => {
    const config = loadConfig(devEnv());
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.database)).toBe(true);
    expect(Object.isFrozen(config.blob)).toBe(true);
    expect(Object.isFrozen(config.keys)).toBe(true);
    expect(Object.isFrozen(config.keys.hmac)).toBe(true);
    expect(Object.isFrozen(config.keys.hmac[0])).toBe(true);
    // ES modules run in strict mode: writing to a frozen object throws a TypeError.
    const mutable = config as unknown as { port: number; database: { url: string }; keys: { hmac: unknown[] } };
    expect(() => {
      mutable.port = 1;
    }).toThrow(TypeError);
    expect(() => {
      mutable.database.url = "postgres://attacker/db";
    }).toThrow(TypeError);
    expect(() => mutable.keys.hmac.push({ id: "evil" })).toThrow(TypeError);
    expect(config.port).toBe(3000);
    expect(config.database.url).toBe("postgres://plh_app:secret@127.0.0.1:5432/plh");
  });

  test.each(["0", "65536", "70000", "-1", "http", "3000.5"])("PORT=%s is refused", (port) => {
    const problems = problemsFor(devEnv({ PORT: port }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toStartWith("PORT:");
  });

  test("LOG_LEVEL defaults to silent in test and to info otherwise", () => {
    const levels = (["test", "development", "production"] as const).map((NODE_ENV) => {
      const env = NODE_ENV === "production" ? prodEnv() : devEnv({ NODE_ENV });
      return loadConfig(env).logLevel;
    });
    expect(levels).toEqual(["silent", "info", "info"]);
    expect(loadConfig(devEnv({ NODE_ENV: "test", LOG_LEVEL: "debug" })).logLevel).toBe("debug");
  });

  test("an unknown LOG_LEVEL is refused", () => {
    const problems = problemsFor(devEnv({ LOG_LEVEL: "verbose" }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toStartWith("LOG_LEVEL:");
  });
});

describe("the production entry (src/server.ts) with no settings", () => {
  // Spawned once; the tests below read the same run.
  let run: Promise<{ exitCode: number; stderr: string; stdout: string }> | undefined;
  function startOnce() {
    run ??= (async () => {
      const proc = Bun.spawn([process.execPath, "src/server.ts"], {
        cwd: ROOT,
        env: { PATH: process.env.PATH, NODE_ENV: "production" },
        stdout: "pipe",
        stderr: "pipe",
      });
      const [stdout, stderr, exitCode] = await Promise.all([
        new Response(proc.stdout).text(),
        new Response(proc.stderr).text(),
        proc.exited,
      ]);
      return { exitCode, stdout, stderr };
    })();
    return run;
  }

  test("refuses to start: non-zero exit, one readable message, no stack trace", async () => {
    const { exitCode, stderr } = await startOnce();
    expect(exitCode).not.toBe(0);
    expect(stderr).toContain("PatientLetterHub cannot start.");
    for (const name of ["DATABASE_URL", "HMAC_KEYS", "ENCRYPTION_KEYS"]) expect(stderr).toContain(name);
    expect(stderr).not.toContain("    at ");
    // One message, not one per problem.
    expect(stderr.split("Invalid configuration").length - 1).toBe(1);
  });

  // KNOWN BUG in src/config.ts (see above): APP_ORIGIN and the Azure settings are only reported
  // once every plain field parses. Flip test.failing → test when config.ts is fixed.
  test("the refusal also names APP_ORIGIN and the Azure settings in the same message", async () => {
    const { stderr } = await startOnce();
    for (const name of ["DATABASE_URL", "APP_ORIGIN", "HMAC_KEYS", "ENCRYPTION_KEYS", "AZURE_STORAGE_ACCOUNT_URL", "AZURE_STORAGE_CONNECTION_STRING"]) {
      expect(stderr).toContain(name);
    }
  });
});
