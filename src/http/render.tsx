// The one place that decides full page vs htmx fragment. htmx 4 sends HX-Request on every request
// it makes and HX-Request-Type "full" when it swaps the whole body; both kinds of answer vary on
// HX-Request, so caches never hand a fragment to a full navigation.
import type { Context } from "hono";
import type { Child } from "hono/jsx";
import type { HonoEnv } from "../context.ts";
import { type Flash, Layout } from "../../views/layout.tsx";
import { NonceContext } from "../../views/components/nonce-context.ts";

export function isFragmentRequest(c: Context<HonoEnv>): boolean {
  return c.req.header("hx-request") === "true" && c.req.header("hx-request-type") !== "full";
}

export type RenderOptions = {
  title: string;
  page: Child;
  /** What an htmx request receives instead of the whole page; defaults to the page content. */
  fragment?: Child;
  status?: number;
  flash?: Flash[];
};

export function render(c: Context<HonoEnv>, options: RenderOptions): Response | Promise<Response> {
  c.header("Vary", "HX-Request", { append: true });
  const status = (options.status ?? 200) as 200;
  const nonce = c.get("secureHeadersNonce") ?? "";
  // Fragments need the nonce too: hx-csp strips htmx attributes from elements without it.
  if (isFragmentRequest(c)) return c.html(<NonceContext.Provider value={nonce}>{options.fragment ?? options.page}</NonceContext.Provider>, status);
  // The header names the person only once they are fully signed in (past the second factor).
  const session = c.get("session");
  const user = session?.mfa_verified_at ? { name: c.get("user")!.full_name } : null;
  const deadline = c.get("idleDeadline");
  const idleSeconds = session?.mfa_verified_at && deadline ? Math.max(1, Math.round((deadline.getTime() - Date.now()) / 1000)) : null;
  return c.html(
    "<!doctype html>" +
      (
        <Layout title={options.title} nonce={nonce} flash={options.flash} user={user} idleSeconds={idleSeconds} clerk={user ? c.get("clerkFrontend") : null} baaBanner={c.get("baaBanner")}
          practiceNav={Boolean(user && session?.practice_id)}>
          {options.page}
        </Layout>
      ).toString(),
    status,
  );
}

/** After a saved step: the next page (htmx follows HX-Redirect with a full page load; others get a 303). */
export function goTo(c: Context<HonoEnv>, url: string): Response {
  if (isFragmentRequest(c)) {
    c.header("Vary", "HX-Request", { append: true });
    return c.body(null, 200, { "HX-Redirect": url });
  }
  return c.redirect(url, 303);
}
