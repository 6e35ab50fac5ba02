// Outgoing mail through nodemailer. With SMTP_URL it speaks SMTP and insists on TLS (implicit for
// smtps://, STARTTLS required for smtp://): reset and invitation links are credentials. Without
// it (development, tests) each message is written as an .eml file that the dev mailbox lists.
import { randomInt } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import nodemailer from "nodemailer";
import { parseHeaderValue } from "nodemailer/lib/mime-funcs";
import { parseConnectionUrl } from "nodemailer/lib/shared";

export type MailMessage = { to: string; subject: string; text: string; html?: string; headers?: Record<string, string> };

export type Mailer = {
  send(message: MailMessage): Promise<void>;
  readonly mode: "smtp" | "files";
};

export type MailSettings = { smtpUrl?: string; from: string; dir: string };

/** A dev mail file name without ".eml": ISO time with ms (':' → '-') and 6 random characters. */
const DEV_MAIL_ID = /^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.\d{3}Z-[a-z0-9]{6}$/;
const RANDOM_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";
// Addressing comes from the message fields and the configured sender, never from extra headers.
const RESERVED_HEADERS = new Set(["from", "sender", "to", "cc", "bcc", "reply-to", "subject", "date", "message-id", "return-path"]);
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "::1", "[::1]", "localhost"]);

function checkedHeaders(headers: Record<string, string> | undefined): Record<string, string> | undefined {
  if (!headers) return undefined;
  for (const [name, value] of Object.entries(headers)) {
    if (!HEADER_NAME.test(name) || RESERVED_HEADERS.has(name.toLowerCase())) throw new Error(`mail header "${name}" is not allowed`);
    if (/[\r\n]/.test(value)) throw new Error(`mail header "${name}" must not contain line breaks`);
  }
  return headers;
}

/**
 * SMTP options from the URL, with TLS forced on. nodemailer lets URL query parameters set any
 * option (and they would win over ours), so a URL that tries to weaken TLS is refused outright.
 */
function smtpOptions(smtpUrl: string, allowPlain: boolean) {
  const protocol = new URL(smtpUrl).protocol;
  if (protocol !== "smtp:" && protocol !== "smtps:") throw new Error("SMTP_URL must start with smtp:// or smtps://");
  const parsed = parseConnectionUrl(smtpUrl) as ReturnType<typeof parseConnectionUrl> & Record<string, unknown>;
  const tls = (parsed.tls ?? {}) as Record<string, unknown>;
  if (parsed.ignoreTLS === true || parsed.requireTLS === false || parsed.opportunisticTLS === true || parsed.secure === false && protocol === "smtps:" || tls.rejectUnauthorized === false) {
    throw new Error("SMTP_URL must not weaken TLS (ignoreTLS, requireTLS=false, opportunisticTLS, tls.rejectUnauthorized=false)");
  }
  if (allowPlain && !LOOPBACK_HOSTS.has(String(parsed.host ?? ""))) {
    throw new Error("allowPlainSmtpForTests only applies to a loopback SMTP server");
  }
  const secure = protocol === "smtps:" || parsed.secure === true;
  return {
    ...parsed,
    secure,
    // With implicit TLS the whole session is already encrypted; otherwise STARTTLS is mandatory.
    requireTLS: !secure && !allowPlain,
    ignoreTLS: false,
    opportunisticTLS: false,
    tls: { ...tls, rejectUnauthorized: true },
    // Messages are built from our own strings: never let content pull in local files or URLs.
    disableFileAccess: true,
    disableUrlAccess: true,
  };
}

function randomSuffix(): string {
  let out = "";
  for (let i = 0; i < 6; i++) out += RANDOM_ALPHABET[randomInt(RANDOM_ALPHABET.length)];
  return out;
}

export function createMailer(settings: MailSettings, options: { allowPlainSmtpForTests?: boolean } = {}): Mailer {
  const envelope = (message: MailMessage) => ({
    from: settings.from,
    to: message.to,
    subject: message.subject,
    text: message.text,
    html: message.html,
    headers: checkedHeaders(message.headers),
  });

  if (settings.smtpUrl) {
    const transport = nodemailer.createTransport(smtpOptions(settings.smtpUrl, options.allowPlainSmtpForTests === true));
    return {
      mode: "smtp",
      async send(message) {
        await transport.sendMail(envelope(message));
      },
    };
  }

  const transport = nodemailer.createTransport({
    streamTransport: true,
    buffer: true,
    newline: "windows", // CRLF, as on the wire
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  // File names sort by time; within one process they also never tie, so "newest first" is exact.
  let lastMs = 0;
  return {
    mode: "files",
    async send(message) {
      const ms = Math.max(Date.now(), lastMs + 1);
      lastMs = ms;
      const date = new Date(ms);
      const info = await transport.sendMail({ ...envelope(message), date });
      const id = `${date.toISOString().replace(/:/g, "-")}-${randomSuffix()}`;
      // Dev mail holds sign-in and reset links: readable by this user only.
      await fs.mkdir(settings.dir, { recursive: true, mode: 0o700 });
      await fs.writeFile(path.join(settings.dir, `${id}.eml`), info.message as Buffer, { mode: 0o600, flag: "wx" });
    },
  };
}

// ---- development mailbox: reading the .eml files back ---------------------------------------------
// Just enough MIME for what createMailer writes: unfolded headers, RFC 2047 encoded words,
// multipart/alternative, quoted-printable and base64. The files are handled as latin1 strings
// (one char per byte) so byte-level decoding stays exact; text is decoded by its charset at the end.

export type DevMailSummary = { id: string; to: string; subject: string; date: Date };
export type DevMail = { to: string; subject: string; date: Date; text: string };

type Part = { headers: Map<string, string>; body: string };

function decodeBytes(bytes: Uint8Array, charset = "utf-8"): string {
  try {
    return new TextDecoder(charset.trim().toLowerCase() || "utf-8").decode(bytes);
  } catch {
    return new TextDecoder("utf-8").decode(bytes);
  }
}

const latin1Bytes = (s: string) => Buffer.from(s, "latin1");

function splitPart(raw: string): Part {
  const match = /\r?\n\r?\n/.exec(raw);
  const head = match ? raw.slice(0, match.index) : raw;
  const body = match ? raw.slice(match.index + match[0].length) : "";
  const headers = new Map<string, string>();
  for (const line of head.replace(/\r?\n(?=[ \t])/g, "").split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!headers.has(name)) headers.set(name, line.slice(colon + 1).trim());
  }
  return { headers, body };
}

/** RFC 2047: decodes =?charset?B|Q?...?= words; adjacent words are joined before decoding (a character may span two). */
export function decodeMimeWords(value: string): string {
  const word = /=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=/g;
  let out = "";
  let pending: { charset: string; bytes: Buffer[] } | undefined;
  let last = 0;
  const flush = () => {
    if (pending) out += decodeBytes(Buffer.concat(pending.bytes), pending.charset);
    pending = undefined;
  };
  for (let m = word.exec(value); m; m = word.exec(value)) {
    const between = value.slice(last, m.index);
    // Whitespace between two encoded words is not part of the text.
    if (!(pending && /^\s*$/.test(between))) {
      flush();
      out += between;
    }
    const charset = m[1]!.split("*")[0]!.toLowerCase();
    const bytes = /b/i.test(m[2]!)
      ? Buffer.from(m[3]!, "base64")
      : qpBytes(m[3]!.replace(/_/g, " "));
    if (pending && pending.charset !== charset) flush();
    pending ??= { charset, bytes: [] };
    pending.bytes.push(bytes);
    last = m.index + m[0].length;
  }
  flush();
  return out + value.slice(last);
}

/** Quoted-printable to bytes (RFC 2045); soft line breaks removed, malformed escapes kept as they are. */
function qpBytes(text: string): Buffer {
  const input = text.replace(/=\r?\n/g, "");
  const bytes: number[] = [];
  for (let i = 0; i < input.length; i++) {
    const ch = input[i]!;
    const hex = input.slice(i + 1, i + 3);
    if (ch === "=" && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(input.charCodeAt(i) & 0xff);
    }
  }
  return Buffer.from(bytes);
}

function headerText(part: Part, name: string): string {
  return decodeMimeWords(latin1Bytes(part.headers.get(name) ?? "").toString("utf8"));
}

function headerDate(part: Part, id: string): Date {
  const parsed = new Date(part.headers.get("date") ?? "");
  if (!Number.isNaN(parsed.getTime())) return parsed;
  // Fall back to the time in the file name.
  return new Date(id.slice(0, -7).replace(/T(\d{2})-(\d{2})-(\d{2})/, "T$1:$2:$3"));
}

function findTextPlain(part: Part, depth = 0): string | undefined {
  const type = parseHeaderValue(part.headers.get("content-type") ?? "text/plain");
  const mediaType = type.value.toLowerCase();
  if (mediaType.startsWith("multipart/")) {
    const boundary = type.params.boundary;
    if (!boundary || depth > 5) return undefined;
    const delimiter = `--${boundary}`;
    const sections = part.body.split(new RegExp(`\\r?\\n?${delimiter.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
    // sections[0] is the preamble; the last one starts with "--" (the closing delimiter).
    for (const section of sections.slice(1)) {
      if (section.startsWith("--")) break;
      const found = findTextPlain(splitPart(section.replace(/^[ \t]*\r?\n/, "")), depth + 1);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (mediaType !== "text/plain") return undefined;
  const encoding = (part.headers.get("content-transfer-encoding") ?? "7bit").trim().toLowerCase();
  const bytes =
    encoding === "base64" ? Buffer.from(part.body.replace(/\s+/g, ""), "base64")
    : encoding === "quoted-printable" ? qpBytes(part.body)
    : latin1Bytes(part.body);
  return decodeBytes(bytes, type.params.charset).replace(/\r\n/g, "\n");
}

async function readPart(dir: string, id: string): Promise<Part | null> {
  if (!DEV_MAIL_ID.test(id)) return null;
  try {
    return splitPart((await fs.readFile(path.join(dir, `${id}.eml`))).toString("latin1"));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}

/** The messages written in files mode, newest first. */
export async function listDevMail(dir: string): Promise<DevMailSummary[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  const ids = names
    .filter((n) => n.endsWith(".eml"))
    .map((n) => n.slice(0, -4))
    .filter((id) => DEV_MAIL_ID.test(id))
    .sort()
    .reverse();
  const summaries = await Promise.all(
    ids.map(async (id) => {
      const part = await readPart(dir, id);
      return part && { id, to: headerText(part, "to"), subject: headerText(part, "subject"), date: headerDate(part, id) };
    }),
  );
  return summaries.filter((s): s is DevMailSummary => s !== null);
}

/** One message written in files mode, or null when the id is unknown or not a mail id (no paths). */
export async function readDevMail(dir: string, id: string): Promise<DevMail | null> {
  const part = await readPart(dir, id);
  if (!part) return null;
  return {
    to: headerText(part, "to"),
    subject: headerText(part, "subject"),
    date: headerDate(part, id),
    text: findTextPlain(part) ?? "",
  };
}
