// The typed Hono environment: every c.set key the middleware chain uses is declared here.
import type { Server } from "bun";
import type { Logger } from "./platform/log.ts";
import type { Role, Session, User } from "./platform/schema.ts";

/** Who sent a request, as recorded in audit events. Never holds PHI. */
export type RequestMeta = { requestId: string; ip: string; userAgent: string };

export type HonoEnv = {
  Bindings: { server?: Server<unknown> } | undefined;
  Variables: {
    requestId: string;
    clientIp: string;
    log: Logger;
    /** Set by hono/secure-headers: the per-request CSP nonce for script tags. */
    secureHeadersNonce?: string;
    /** The live session behind the cookie and its user, when there is one (http/session.ts). */
    session?: Session;
    user?: User;
    /** Clerk mode only: what signed-in pages need to load Clerk's script (token refresh). */
    clerkFrontend?: { scriptUrl: string; publishableKey: string };
    /** When the session ends if no further request comes (set with the session). */
    idleDeadline?: Date;
    /** AUTH_PROVIDER=clerk: why a Clerk session token was not accepted (http/session.ts). */
    clerkRefusal?: "no-account" | "no-second-factor" | "ended" | "invalid";
    /** The active practice and the user's role in it, set by requirePermission. */
    membership?: { practiceId: string; role: Role };
    /** Admins only: the practice lacks the BAA in force, so every page shows a banner (baa/http.tsx). */
    baaBanner?: "never_signed" | "out_of_date";
  };
};
