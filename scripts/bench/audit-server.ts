// The app server for `bun run bench audit`, run as its own process so that its memory (RSS) is the
// export's alone, not the benchmark's seeding or HTTP client. Reads its settings as one JSON line
// on stdin, serves on 127.0.0.1 at an ephemeral port, signs the bench user in, prints
// {"port","token"} as one JSON line on stdout, and runs until stdin closes.
import { createApp } from "../../src/app.tsx";
import { createSession } from "../../src/auth/sessions.ts";
import { loadConfig } from "../../src/config.ts";
import { createBlobStore } from "../../src/platform/blob.ts";
import { createDb, withContext } from "../../src/platform/db.ts";
import { createLogger } from "../../src/platform/log.ts";
import { createMailer } from "../../src/platform/mail.ts";

export type AuditServerSettings = { appUrl: string; blobConnectionString: string; userId: string; practiceId: string };

const stdin = Bun.stdin.stream().getReader();
let input = "";
while (!input.includes("\n")) {
  const { value, done } = await stdin.read();
  if (done) process.exit(1);
  input += new TextDecoder().decode(value);
}
const settings = JSON.parse(input) as AuditServerSettings;

const config = loadConfig({
  NODE_ENV: "test", DATABASE_URL: settings.appUrl, AZURE_STORAGE_CONNECTION_STRING: settings.blobConnectionString,
  HMAC_KEYS: `b:${Buffer.alloc(32, 1).toString("base64")}`, ENCRYPTION_KEYS: `b:${Buffer.alloc(32, 2).toString("base64")}`, MAIL_DIR: "/tmp/plh-bench-mail",
});
const db = createDb(config.database.url, { max: 4 });
const app = createApp({ config, db, blob: createBlobStore(config.blob), logger: createLogger({ level: "silent" }), mailer: createMailer(config.mail) });
// idleTimeout 0: a slow benchmark client must not be cut off mid-download.
const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch, idleTimeout: 0 });
const { token } = await withContext(db, { actor: "bench", userId: settings.userId }, (tx) =>
  createSession(tx, { userId: settings.userId, practiceId: settings.practiceId, mfaVerified: true, request: { ip: "127.0.0.1", userAgent: "bench", requestId: "bench-0000001" } }, config.session),
);
console.log(JSON.stringify({ port: server.port, token }));

// The benchmark closes stdin (or exits) when it is done with us.
while (!(await stdin.read()).done);
await server.stop(true);
await db.destroy();
process.exit(0);
