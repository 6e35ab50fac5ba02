import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Hono } from "hono";
import { createApp } from "../src/app.tsx";
import { loadConfig } from "../src/config.ts";
import type { HonoEnv } from "../src/context.ts";
import { devMailRoutes } from "../src/dev/routes.tsx";
import { createBlobStore } from "../src/platform/blob.ts";
import { createDb } from "../src/platform/db.ts";
import { createLogger } from "../src/platform/log.ts";
import { createMailer, listDevMail, readDevMail } from "../src/platform/mail.ts";
import { linkParts } from "../views/dev/mailbox.tsx";
import { createTestApp, randomKeyRing, type TestApp } from "./support/app.ts";

const FROM = "PatientLetterHub <no-reply@plh.test>";
const tempDirs: string[] = [];

async function tempMailDir(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "plh-mail-"));
  tempDirs.push(dir);
  return path.join(dir, "mail"); // not created yet: the mailer must create it
}

afterAll(async () => {
  await Promise.all(tempDirs.map((d) => fs.rm(d, { recursive: true, force: true })));
});

describe("files mode", () => {
  test("writes one private .eml per message, named by time", async () => {
    const dir = await tempMailDir();
    const mailer = createMailer({ from: FROM, dir });
    expect(mailer.mode).toBe("files");
    await mailer.send({ to: "a@example.test", subject: "first", text: "one" });
    await mailer.send({ to: "b@example.test", subject: "second", text: "two", html: "<p>two</p>" });
    const names = (await fs.readdir(dir)).sort();
    expect(names).toHaveLength(2);
    for (const name of names) {
      expect(name).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.\d{3}Z-[a-z0-9]{6}\.eml$/);
      expect((await fs.stat(path.join(dir, name))).mode & 0o777).toBe(0o600);
    }
    expect((await fs.stat(dir)).mode & 0o777).toBe(0o700);
    const raw = await fs.readFile(path.join(dir, names[0]!), "utf8");
    expect(raw).toContain(`From: ${FROM}\r\n`);
    expect(raw).toContain("To: a@example.test\r\n");
    expect(raw).toContain("Subject: first\r\n");
  });

  test("listDevMail returns newest first with decoded subjects and recipients", async () => {
    const dir = await tempMailDir();
    const mailer = createMailer({ from: FROM, dir });
    await mailer.send({ to: "a@example.test", subject: "oldest", text: "1" });
    await mailer.send({ to: "José Núñez <jose@example.test>", subject: "Réinitialisation — test", text: "2" });
    const long = `Rappel — ${"é".repeat(40)} 患者 ${"long subject ".repeat(6)}`.trim();
    await mailer.send({ to: "c@example.test", subject: long, text: "3" });

    const raw = await fs.readFile(path.join(dir, (await fs.readdir(dir)).sort()[1]!), "utf8");
    expect(raw).toContain("=?UTF-8?"); // really encoded on disk, so decoding is what is tested

    const list = await listDevMail(dir);
    expect(list.map((m) => m.subject)).toEqual([long, "Réinitialisation — test", "oldest"]);
    expect(list[1]!.to).toBe("José Núñez <jose@example.test>");
    expect(list[0]!.date).toBeInstanceOf(Date);
    expect(Math.abs(list[0]!.date.getTime() - Date.now())).toBeLessThan(60_000);
    expect(list.every((m) => /^[0-9TZ.-]+-[a-z0-9]{6}$/.test(m.id))).toBe(true);
  });

  test("listDevMail of a folder that does not exist yet is empty", async () => {
    expect(await listDevMail(await tempMailDir())).toEqual([]);
  });

  test("readDevMail returns the decoded text part, also next to an HTML part", async () => {
    const dir = await tempMailDir();
    const mailer = createMailer({ from: FROM, dir });
    const text = `Bonjour é 患者,\nReset: https://plh.test/reset?token=abc&x=1\n${"x".repeat(120)}\nfin`;
    await mailer.send({ to: "a@example.test", subject: "Réinitialisation — test", text, html: "<p>html only</p>" });
    await mailer.send({ to: "b@example.test", subject: "plain", text: "ascii only" });
    const [plain, rich] = await listDevMail(dir);
    const message = await readDevMail(dir, rich!.id);
    expect(message).toEqual({ to: "a@example.test", subject: "Réinitialisation — test", date: rich!.date, text });
    expect((await readDevMail(dir, plain!.id))?.text.trimEnd()).toBe("ascii only");
  });

  test("readDevMail refuses anything but a mail id", async () => {
    const dir = await tempMailDir();
    await createMailer({ from: FROM, dir }).send({ to: "a@example.test", subject: "s", text: "t" });
    // A real file one level up, reachable if ids were used as paths.
    await fs.writeFile(path.join(dir, "..", "secret.eml"), "Subject: secret\r\n\r\nsecret");
    for (const id of ["../etc/passwd", "x/../../y", "../secret", "..", "", "2026-01-01T00-00-00.000Z-abcdef/../../secret"]) {
      expect(await readDevMail(dir, id)).toBeNull();
    }
    expect(await readDevMail(dir, "2026-01-01T00-00-00.000Z-abcdef")).toBeNull(); // well formed, absent
  });

  test("reserved or multi-line headers are refused", async () => {
    const mailer = createMailer({ from: FROM, dir: await tempMailDir() });
    await expect(mailer.send({ to: "a@example.test", subject: "s", text: "t", headers: { From: "evil@example.test" } })).rejects.toThrow(/not allowed/);
    await expect(mailer.send({ to: "a@example.test", subject: "s", text: "t", headers: { "X-Tag": "a\r\nBcc: evil@example.test" } })).rejects.toThrow(/line breaks/);
  });
});

describe("dev mailbox pages", () => {
  // createApp mounts the mailbox outside production, reading the test app's own MAIL_DIR.
  let t: TestApp;
  let mailDir: string;
  beforeAll(async () => {
    t = await createTestApp();
    mailDir = t.config.mail.dir;
    expect(t.mailer.mode).toBe("files");
    await t.mailer.send({ to: "a@example.test", subject: "Réinitialisation — test", text: "bonjour" });
    await t.mailer.send({
      to: "b@example.test",
      subject: "<script>alert(1)</script>",
      text: "Open https://plh.test/reset?token=abc&x=1. Not javascript:alert(2) nor <b>bold</b>.\n(see http://localhost:3000/help)",
    });
  });
  afterAll(() => t.close());

  test("the list shows every message, newest first, escaped, with the production warning", async () => {
    const res = await t.app.request("/dev/mail");
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain("Development mailbox — not available in production");
    expect(html).toContain("Réinitialisation — test");
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(html).not.toContain("<script>alert(1)");
    expect(html.indexOf("&lt;script&gt;")).toBeLessThan(html.indexOf("Réinitialisation"));
    const ids = [...html.matchAll(/href="\/dev\/mail\/([^"]+)"/g)].map((m) => m[1]);
    expect(ids).toEqual((await listDevMail(mailDir)).map((m) => m.id));
    expect(res.headers.get("content-security-policy")).toBeTruthy(); // the app's middleware ran
  });

  test("a message page shows the text with only http(s) links made clickable", async () => {
    const [newest] = await listDevMail(mailDir);
    const res = await t.app.request(`/dev/mail/${newest!.id}`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain("<title>Mail: &lt;script&gt;alert(1)&lt;/script&gt;");
    expect(html).not.toContain("<script>alert(1)");
    expect(html).toContain('<a href="https://plh.test/reset?token=abc&amp;x=1" rel="noreferrer">https://plh.test/reset?token=abc&amp;x=1</a>. Not');
    expect(html).toContain('<a href="http://localhost:3000/help" rel="noreferrer">http://localhost:3000/help</a>)');
    expect(html).toContain("javascript:alert(2) nor &lt;b&gt;bold&lt;/b&gt;.");
    expect(html).not.toContain('href="javascript');
    expect(html).not.toContain("<b>bold</b>");
  });

  test("unknown or malformed ids answer 404", async () => {
    for (const id of ["2026-01-01T00-00-00.000Z-abcdef", "..%2F..%2Fetc%2Fpasswd", "x"]) {
      const res = await t.app.request(`/dev/mail/${id}`);
      expect(res.status).toBe(404);
      expect(await res.text()).toContain("Page not found");
    }
  });

  test("the sub-app serves the folder it is given", async () => {
    const other = await tempMailDir();
    await createMailer({ from: FROM, dir: other }).send({ to: "c@example.test", subject: "from the other folder", text: "x" });
    const app = new Hono<HonoEnv>().route("/", devMailRoutes({ mailDir: other }));
    const html = await (await app.request("/dev/mail")).text();
    expect(html).toContain("from the other folder");
    expect(html).not.toContain("Réinitialisation");
  });

  test("a production app does not mount the mailbox", async () => {
    const config = loadConfig({
      NODE_ENV: "production",
      APP_ORIGIN: "https://plh.example.test",
      // Nothing here is contacted: pools, credentials and SMTP connect lazily, and /dev/mail needs none.
      DATABASE_URL: "postgres://plh_app:x@127.0.0.1:1/none?sslmode=require",
      AZURE_STORAGE_ACCOUNT_URL: "https://plhtest.blob.core.windows.net",
      SMTP_URL: "smtps://user:pass@mail.example.test:465",
      SECURITY_CONTACT_EMAIL: "security@plh.example.test",
      HMAC_KEYS: randomKeyRing(),
      ENCRYPTION_KEYS: randomKeyRing(),
      MAIL_DIR: mailDir,
    });
    const db = createDb(config.database.url, { max: 1 });
    try {
      const app = createApp({ config, db, blob: createBlobStore(config.blob), logger: createLogger({ level: "silent" }), mailer: createMailer(config.mail) });
      const [message] = await listDevMail(mailDir);
      for (const url of ["/dev/mail", `/dev/mail/${message!.id}`]) {
        const res = await app.request(`https://plh.example.test${url}`);
        expect(res.status).toBe(404);
        expect(await res.text()).not.toContain("bonjour");
      }
    } finally {
      await db.destroy();
    }
  });
});

describe("linkParts", () => {
  test("keeps trailing punctuation and unbalanced parentheses outside links", () => {
    expect(linkParts("a https://x.test/p?q=1, (https://x.test/(b)) end.")).toEqual([
      { kind: "text", text: "a " },
      { kind: "link", href: "https://x.test/p?q=1", text: "https://x.test/p?q=1" },
      { kind: "text", text: ", (" },
      { kind: "link", href: "https://x.test/(b)", text: "https://x.test/(b)" },
      { kind: "text", text: ") end." },
    ]);
    expect(linkParts("ftp://x.test javascript:alert(1) data:text/html,x")).toEqual([
      { kind: "text", text: "ftp://x.test javascript:alert(1) data:text/html,x" },
    ]);
  });
});

// ---- SMTP mode, against a minimal SMTP sink on loopback ---------------------------------------

type Sink = { port: number; messages: string[]; commands: string[]; stop(): void };

/** Just enough SMTP for one client: greeting, EHLO without STARTTLS, envelope, DATA, QUIT. */
function startSmtpSink(): Sink {
  const messages: string[] = [];
  const commands: string[] = [];
  type State = { buffer: string; inData: boolean };
  const server = Bun.listen<State>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(socket) {
        socket.data = { buffer: "", inData: false };
        socket.write("220 sink.test ESMTP\r\n");
      },
      data(socket, chunk) {
        const state = socket.data;
        state.buffer += new TextDecoder().decode(chunk);
        for (;;) {
          if (state.inData) {
            const end = state.buffer.indexOf("\r\n.\r\n");
            if (end < 0) return;
            messages.push(state.buffer.slice(0, end));
            state.buffer = state.buffer.slice(end + 5);
            state.inData = false;
            socket.write("250 2.0.0 queued\r\n");
            continue;
          }
          const eol = state.buffer.indexOf("\r\n");
          if (eol < 0) return;
          const line = state.buffer.slice(0, eol);
          state.buffer = state.buffer.slice(eol + 2);
          commands.push(line);
          const verb = line.split(" ")[0]!.toUpperCase();
          if (verb === "EHLO") socket.write("250-sink.test\r\n250 8BITMIME\r\n");
          else if (verb === "STARTTLS") socket.write("502 5.5.1 STARTTLS not supported\r\n");
          else if (verb === "DATA") {
            state.inData = true;
            socket.write("354 end with <CRLF>.<CRLF>\r\n");
          } else if (verb === "QUIT") {
            socket.write("221 bye\r\n");
            socket.end();
            return;
          } else socket.write("250 OK\r\n");
        }
      },
    },
  });
  return { port: server.port, messages, commands, stop: () => server.stop(true) };
}

describe("smtp mode", () => {
  test("delivers with the configured From when plain SMTP is explicitly allowed for a loopback test", async () => {
    const sink = startSmtpSink();
    try {
      const mailer = createMailer({ smtpUrl: `smtp://127.0.0.1:${sink.port}`, from: FROM, dir: "unused" }, { allowPlainSmtpForTests: true });
      expect(mailer.mode).toBe("smtp");
      await mailer.send({ to: "dest@example.test", subject: "Réinitialisation — test", text: "hello over smtp" });
      expect(sink.messages).toHaveLength(1);
      const message = sink.messages[0]!;
      expect(message).toContain(`From: ${FROM}`);
      expect(message).toContain("To: dest@example.test");
      expect(message).toMatch(/Subject: =\?UTF-8\?[QB]\?/);
      expect(sink.commands).toContain("MAIL FROM:<no-reply@plh.test>");
      expect(sink.commands).toContain("RCPT TO:<dest@example.test>");
    } finally {
      sink.stop();
    }
  });

  test("by default refuses a server that does not offer STARTTLS: nothing is sent in clear text", async () => {
    const sink = startSmtpSink();
    try {
      const mailer = createMailer({ smtpUrl: `smtp://127.0.0.1:${sink.port}`, from: FROM, dir: "unused" });
      await expect(mailer.send({ to: "dest@example.test", subject: "secret", text: "secret" })).rejects.toThrow();
      expect(sink.commands).toContain("STARTTLS");
      expect(sink.messages).toEqual([]);
      expect(sink.commands.some((c) => c.startsWith("MAIL FROM"))).toBe(false);
    } finally {
      sink.stop();
    }
  });

  test("an SMTP_URL that weakens TLS is refused, and the test escape hatch only works on loopback", () => {
    for (const query of ["ignoreTLS=true", "requireTLS=false", "opportunisticTLS=true", "tls.rejectUnauthorized=false"]) {
      expect(() => createMailer({ smtpUrl: `smtp://mail.example.test:587?${query}`, from: FROM, dir: "unused" })).toThrow(/weaken TLS/);
    }
    expect(() => createMailer({ smtpUrl: "smtp://mail.example.test:587", from: FROM, dir: "unused" }, { allowPlainSmtpForTests: true })).toThrow(/loopback/);
    expect(createMailer({ smtpUrl: "smtps://user:pass@mail.example.test", from: FROM, dir: "unused" }).mode).toBe("smtp");
  });
});
