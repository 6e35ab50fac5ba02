// The practice member a request acts as, once requirePermission has set the membership: who,
// in which practice, with which role, and the request facts every audit event carries.
import type { Context } from "hono";
import type { HonoEnv, RequestMeta } from "../context.ts";
import type { Role } from "../platform/schema.ts";
import { requestMeta } from "./request-context.ts";

export type RequestMember = { userId: string; practiceId: string; role: Role; request: RequestMeta };

export function memberOf(c: Context<HonoEnv>): RequestMember {
  const membership = c.get("membership")!;
  return { userId: c.get("session")!.user_id, practiceId: membership.practiceId, role: membership.role, request: requestMeta(c) };
}
