import { createContext, useContext } from "hono/jsx";

/**
 * The per-request CSP nonce. `Layout` provides it around the page content;
 * any component that renders hx-* attributes must stamp `hx-nonce={nonce}`
 * on that element, or htmx's hx-csp extension strips its htmx attributes.
 */
export const NonceContext = createContext("");

/** Shorthand for `useContext(NonceContext)`. */
export function useNonce(): string {
  return useContext(NonceContext);
}
