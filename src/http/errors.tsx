// The error handler and 404: a page for browsers, a fragment for htmx, JSON for API callers;
// never a stack trace outside development.
import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { HonoEnv } from "../context.ts";
import { type Outage, outageOf } from "../platform/outages.ts";
import { ErrorFragment, ErrorPage, NotFoundPage } from "../../views/errors.tsx";
import { render } from "./render.tsx";

const TITLES: Record<number, string> = {
  400: "Bad request",
  401: "Please sign in",
  403: "Not allowed",
  404: "Page not found",
  405: "Method not allowed",
  409: "Conflict",
  413: "Too large",
  422: "Please check the form",
  429: "Too many requests",
  500: "Something went wrong",
  503: "Service unavailable",
};

const MESSAGES: Record<number, string> = {
  403: "This request was refused. If you followed a link from another site, open PatientLetterHub directly and try again.",
  500: "The problem has been logged. Please try again in a moment; if it keeps happening, contact support with the reference below.",
};

const OUTAGE_MESSAGES: Record<Outage, string> = {
  database: "PatientLetterHub cannot reach its database right now, so this was not done. Please try again in a minute; if it keeps happening, contact support with the reference below.",
  storage: "File storage is not answering right now, so this was not done. Files already stored are safe. Please try again in a few minutes; if it keeps happening, contact support with the reference below.",
};

function wantsJson(c: Context<HonoEnv>): boolean {
  const accept = c.req.header("accept") ?? "";
  return accept.includes("application/json") && !accept.includes("text/html");
}

export function respondWithError(c: Context<HonoEnv>, status: number, message?: string): Response | Promise<Response> {
  const title = TITLES[status] ?? (status >= 500 ? TITLES[500]! : "Request refused");
  const text = message ?? MESSAGES[status] ?? MESSAGES[500]!;
  const requestId = c.get("requestId");
  if (wantsJson(c)) return c.json({ error: title, message: text, requestId }, status as 500);
  const props = { status, title, message: text, requestId };
  return render(c, { title, status, page: <ErrorPage {...props} />, fragment: <ErrorFragment {...props} /> });
}

export function errorHandler(options: { exposeDetails?: boolean } = {}): ErrorHandler<HonoEnv> {
  return function errorHandler(error, c) {
    if (error instanceof HTTPException) {
      // Our own messages are written for people; library ones ("Forbidden") get our wording.
      const ownMessage = error.res ? undefined : error.message || undefined;
      return respondWithError(c, error.status, ownMessage);
    }
    const outage = outageOf(error);
    if (outage) {
      // A part outside the process is down (a database restart, a storage outage): say so, and
      // when to come back, rather than report a bug.
      c.get("log")?.warn({ outage, err: { type: error.name, message: error.message } }, "dependency unavailable");
      c.header("Retry-After", "30");
      return respondWithError(c, 503, OUTAGE_MESSAGES[outage]);
    }
    c.get("log")?.error({ err: { type: error.name, message: error.message, stack: error.stack } }, "unhandled error");
    return respondWithError(c, 500, options.exposeDetails ? `${error.name}: ${error.message}` : undefined);
  };
}

export function notFoundHandler(): NotFoundHandler<HonoEnv> {
  return function notFound(c) {
    if (wantsJson(c)) return c.json({ error: "Not found", requestId: c.get("requestId") }, 404);
    return render(c, { title: TITLES[404]!, status: 404, page: <NotFoundPage requestId={c.get("requestId")} /> });
  };
}
