/**
 * The development mailbox: what the app "sent" in files mode. Pure functions of the data they
 * are given; links in a message become <a> elements through JSX, so every character of the
 * message is escaped and only http(s) URLs are ever made clickable.
 */

export type MailboxEntry = { id: string; to: string; subject: string; date: Date };
export type MailboxMessage = { id: string; to: string; subject: string; date: Date; text: string };

export type TextPart = { kind: "text"; text: string } | { kind: "link"; href: string; text: string };

const URL_IN_TEXT = /https?:\/\/[^\s<>"'`]+/g;

/** Splits text into plain runs and http(s) links; trailing punctuation stays outside the link. */
export function linkParts(text: string): TextPart[] {
  const parts: TextPart[] = [];
  let last = 0;
  for (const match of text.matchAll(URL_IN_TEXT)) {
    let candidate = match[0];
    // "see https://x/a." or "(https://x/a)": the sentence's punctuation is not part of the URL.
    for (;;) {
      const trimmed = candidate.replace(/[.,;:!?*]+$/, "");
      const unbalanced = trimmed.endsWith(")") && (trimmed.match(/\(/g)?.length ?? 0) < (trimmed.match(/\)/g)?.length ?? 0);
      const next = unbalanced ? trimmed.slice(0, -1) : trimmed;
      if (next === candidate) break;
      candidate = next;
    }
    const start = match.index;
    let href: string | undefined;
    try {
      const url = new URL(candidate);
      if (url.protocol === "http:" || url.protocol === "https:") href = url.href;
    } catch {
      href = undefined;
    }
    if (!href) continue;
    if (start > last) parts.push({ kind: "text", text: text.slice(last, start) });
    parts.push({ kind: "link", href, text: candidate });
    last = start + candidate.length;
  }
  if (last < text.length) parts.push({ kind: "text", text: text.slice(last) });
  return parts;
}

function formatTime(date: Date): string {
  return Number.isNaN(date.getTime()) ? "unknown" : `${date.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

function DevNotice() {
  return (
    <div class="alert alert-info" role="note">
      <p>
        Messages the app would have emailed, written to the local mail folder because no SMTP server is
        configured. This page exists only in development and test.
      </p>
    </div>
  );
}

export function MailboxListPage(props: { messages: MailboxEntry[] }) {
  const { messages } = props;
  return (
    <section aria-labelledby="mailbox-title">
      <h1 id="mailbox-title">Development mailbox — not available in production</h1>
      <DevNotice />
      {messages.length === 0 ? (
        <p class="muted">No messages yet.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <caption class="visually-hidden">Messages, newest first</caption>
            <thead>
              <tr>
                <th scope="col">To</th>
                <th scope="col">Subject</th>
                <th scope="col">Time</th>
              </tr>
            </thead>
            <tbody>
              {messages.map((m) => (
                <tr>
                  <td>{m.to}</td>
                  <td>
                    <a href={`/dev/mail/${encodeURIComponent(m.id)}`}>{m.subject || "(no subject)"}</a>
                  </td>
                  <td>
                    <time datetime={Number.isNaN(m.date.getTime()) ? undefined : m.date.toISOString()}>{formatTime(m.date)}</time>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

export function MailboxMessagePage(props: { message: MailboxMessage }) {
  const { message } = props;
  return (
    <section aria-labelledby="mailbox-title">
      <p class="eyebrow">Development mailbox — not available in production</p>
      <h1 id="mailbox-title">{message.subject || "(no subject)"}</h1>
      <dl>
        <dt>To</dt>
        <dd>{message.to}</dd>
        <dt>Time</dt>
        <dd>{formatTime(message.date)}</dd>
      </dl>
      <pre class="mail-text">
        {linkParts(message.text).map((part) =>
          part.kind === "link" ? (
            <a href={part.href} rel="noreferrer">
              {part.text}
            </a>
          ) : (
            part.text
          ),
        )}
      </pre>
      <p>
        <a href="/dev/mail">Back to the mailbox</a>
      </p>
    </section>
  );
}
