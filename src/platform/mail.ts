// Outgoing mail through nodemailer. With SMTP_URL it speaks SMTP and insists on TLS (implicit for
// smtps://, STARTTLS required for smtp://): reset and invitation links are credentials. Without
// it (development, tests) each message is written as an .eml file that the dev mailbox lists.
import { randomInt } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import nodemailer from "nodemailer";
import { parseHeaderValue } from "nodemailer/lib/mime-funcs";
import { parseConnectionUrl } from "nodemailer/lib/shared";

// Every message is either a service email (security, proofs, jobs, data requests, invitations: always
// sent) or one of the non-essential categories a person may turn off. The mailer is the one path
// all mail takes, so it is where preferences are honoured: a non-essential message names its user,
// is skipped when that user opted out, and carries a signed one-click unsubscribe link with the
// RFC 8058 headers; every message carries a link to the preferences page (see MailAudience).

/** The non-essential categories, each of which a person may turn off (src/account/preferences.ts). */
// Only what something actually sends: the weekly job summary (src/account/weekly-summary.ts).
export const NON_ESSENTIAL_CATEGORIES = ["job_summary"] as const;
export type NonEssentialCategory = (typeof NON_ESSENTIAL_CATEGORIES)[number];
export type MailCategory = "service" | NonEssentialCategory;

type MailContent = { to: string; subject: string; text: string; html?: string; headers?: Record<string, string> };
/**
 * A service email: always sent, whatever the recipient's preferences (it may go to someone without an
 * account). Builders say `category: "service"`; a message that says nothing is a service email, so a
 * security notice can never be silenced by a forgotten field (non-essential mail must name its user).
 */
export type ServiceMail = MailContent & { category?: "service" };
/** A non-essential email: for one user, who may have turned its category off. */
export type NonEssentialMail = MailContent & { category: NonEssentialCategory; userId: string };
export type MailMessage = ServiceMail | NonEssentialMail;

export function isNonEssential(message: MailMessage): message is NonEssentialMail {
  return message.category !== undefined && message.category !== "service";
}

/** "skipped": a non-essential message whose recipient opted out (or no longer has an active account). */
export type MailOutcome = "sent" | "skipped";

export type Mailer = {
  send(message: MailMessage): Promise<MailOutcome>;
  readonly mode: "smtp" | "files";
};

/**
 * What the mailer needs to honour preferences; built from the database and config by
 * src/account/preferences.ts (mailAudience). Without one, the mailer sends service mail without the
 * footer and refuses non-essential mail outright: it cannot tell whether the person wants it.
 */
export type MailAudience = {
  /** Whether the user currently wants this category (false for an unknown or deactivated user). */
  wants(userId: string, category: NonEssentialCategory): Promise<boolean>;
  /** The signed one-click unsubscribe URL (https:// in production) for this user and category. */
  unsubscribeUrl(userId: string, category: NonEssentialCategory): string;
  /** The page where a signed-in person chooses what they receive. */
  preferencesUrl: string;
  /** How the footer names a category ("weekly job summary"). */
  categoryLabel(category: NonEssentialCategory): string;
};

export type MailSettings = { smtpUrl?: string; from: string; dir: string };

/** A dev mail file name without ".eml": ISO time with ms (':' → '-') and 6 random characters. */
const DEV_MAIL_ID = /^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.\d{3}Z-[a-z0-9]{6}$/;
const RANDOM_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";
// Addressing comes from the message fields and the configured sender, never from extra headers.
// The unsubscribe headers are the mailer's own (signed per user): a caller cannot set them.
const RESERVED_HEADERS = new Set(["from", "sender", "to", "cc", "bcc", "reply-to", "subject", "date", "message-id", "return-path", "list-unsubscribe", "list-unsubscribe-post"]);
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

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

/** The message as it goes out: the footer appended to each body, and the unsubscribe headers. */
type Outgoing = MailContent & { extraHeaders: Record<string, string> };

function withFooter(message: MailMessage, audience: MailAudience | undefined): Outgoing {
  if (!audience) return { ...message, extraHeaders: {} };
  const lines: string[] = [];
  const extraHeaders: Record<string, string> = {};
  if (!isNonEssential(message)) {
    lines.push(
      "This is a service email about your account, your practice's work or security. It is sent whatever your email preferences.",
      `Choose which other emails you receive: ${audience.preferencesUrl}`,
    );
  } else {
    const unsubscribe = audience.unsubscribeUrl(message.userId, message.category);
    lines.push(
      `You receive ${audience.categoryLabel(message.category)} because your email preferences allow it.`,
      `Unsubscribe with one click: ${unsubscribe}`,
      `Choose which emails you receive: ${audience.preferencesUrl}`,
    );
    // RFC 8058: a mail client may POST "List-Unsubscribe=One-Click" to the URL, no sign-in needed.
    extraHeaders["List-Unsubscribe"] = `<${unsubscribe}>`;
    extraHeaders["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click";
  }
  const footerHtml = lines.map((line) => `<p>${escapeHtml(line)}</p>`).join("");
  return {
    ...message,
    text: `${message.text}\n\n-- \n${lines.join("\n")}\n`,
    html: message.html === undefined ? undefined : `${message.html}<hr>${footerHtml}`,
    extraHeaders,
  };
}

export type MailerOptions = { allowPlainSmtpForTests?: boolean; audience?: MailAudience };

export function createMailer(settings: MailSettings, options: MailerOptions = {}): Mailer {
  const envelope = (message: Outgoing) => ({
    from: settings.from,
    to: message.to,
    subject: message.subject,
    text: message.text,
    html: message.html,
    headers: { ...checkedHeaders(message.headers), ...message.extraHeaders },
  });
  /** The message to send, or null when its recipient does not want it. */
  async function prepare(message: MailMessage): Promise<Outgoing | null> {
    checkedHeaders(message.headers);
    if (isNonEssential(message)) {
      // Checked at run time too: a category from elsewhere (a job payload) must be one we know.
      if (!(NON_ESSENTIAL_CATEGORIES as readonly string[]).includes(message.category)) throw new Error(`unknown mail category "${String(message.category)}"`);
      if (!options.audience) throw new Error("non-essential mail needs the mailer's audience (preferences); none was given");
      if (!/^[0-9a-f-]{36}$/i.test(message.userId ?? "")) throw new Error("non-essential mail must name its recipient's user id");
      if (!(await options.audience.wants(message.userId, message.category))) return null;
    }
    return withFooter(message, options.audience);
  }

  if (settings.smtpUrl) {
    const transport = nodemailer.createTransport(smtpOptions(settings.smtpUrl, options.allowPlainSmtpForTests === true));
    return {
      mode: "smtp",
      async send(message) {
        const outgoing = await prepare(message);
        if (!outgoing) return "skipped";
        await transport.sendMail(envelope(outgoing));
        return "sent";
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
      const outgoing = await prepare(message);
      if (!outgoing) return "skipped";
      const ms = Math.max(Date.now(), lastMs + 1);
      lastMs = ms;
      const date = new Date(ms);
      const info = await transport.sendMail({ ...envelope(outgoing), date });
      const id = `${date.toISOString().replace(/:/g, "-")}-${randomSuffix()}`;
      // Dev mail holds sign-in and reset links: readable by this user only.
      await fs.mkdir(settings.dir, { recursive: true, mode: 0o700 });
      await fs.writeFile(path.join(settings.dir, `${id}.eml`), info.message as Buffer, { mode: 0o600, flag: "wx" });
      return "sent";
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

/** One header of a message written in files mode (decoded, folding removed), or null. */
export async function readDevMailHeader(dir: string, id: string, name: string): Promise<string | null> {
  const part = await readPart(dir, id);
  return part?.headers.has(name.toLowerCase()) ? headerText(part, name.toLowerCase()) : null;
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
