// Which outside part an error says is unreachable: PostgreSQL or Blob storage. The error handler
// answers those with 503 and a message that says what is down, instead of a bare 500: during a
// database restart or a storage outage people should read "try again shortly", not "a bug".
// Only the shape of the error is read (codes and names), never its text for display.

export type Outage = "database" | "storage";

const NODE_CONNECTION_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN"]);

// node-postgres and pg-pool say a connection broke in words only (no code).
const PG_CONNECTION_MESSAGES = [
  "Connection terminated", "connection error and is not queryable", "timeout exceeded when trying to connect",
  "Client was closed and is not queryable", "Cannot use a pool after calling end on the pool",
];

type ErrorShape = { name?: unknown; code?: unknown; message?: unknown; cause?: unknown; errors?: unknown; severity?: unknown };

function* causes(error: unknown): Generator<ErrorShape> {
  const seen = new Set<unknown>();
  const queue = [error];
  while (queue.length) {
    const e = queue.shift();
    if (!e || typeof e !== "object" || seen.has(e)) continue;
    seen.add(e);
    const shape = e as ErrorShape;
    yield shape;
    queue.push(shape.cause);
    if (Array.isArray(shape.errors)) queue.push(...shape.errors); // AggregateError (several addresses tried)
  }
}

function databaseDown(e: ErrorShape): boolean {
  const code = typeof e.code === "string" ? e.code : "";
  // SQLSTATE class 08 (connection exception), 57P01-57P03 (shut down, crash shut down, starting up).
  if (typeof e.severity === "string" && (/^08/.test(code) || /^57P0[123]$/.test(code))) return true;
  const message = typeof e.message === "string" ? e.message : "";
  return PG_CONNECTION_MESSAGES.some((m) => message.includes(m));
}

function storageDown(e: ErrorShape): boolean {
  // @azure/core-rest-pipeline: the request never got an answer (connection refused, reset, timeout).
  return e.name === "RestError" && (e.code === "REQUEST_SEND_ERROR" || e.code === "ECONNREFUSED" || e.code === "ECONNRESET");
}

/** "database" or "storage" when the error (or one of its causes) is that part being unreachable. */
export function outageOf(error: unknown): Outage | null {
  let connection = false;
  for (const e of causes(error)) {
    if (storageDown(e)) return "storage";
    if (databaseDown(e)) return "database";
    if (typeof e.code === "string" && NODE_CONNECTION_CODES.has(e.code)) connection = true;
  }
  // A bare socket error that no storage client wrapped comes from the database driver.
  return connection ? "database" : null;
}
