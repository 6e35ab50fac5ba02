import type { Flash } from "../layout.tsx";

const PREFIX: Record<Flash["kind"], string> = {
  success: "Success: ",
  error: "Error: ",
  info: "Note: ",
};

/** One flash message. Errors are announced immediately (role="alert"). */
export function FlashMessage(props: { flash: Flash }) {
  const { kind, message } = props.flash;
  return (
    <div class={`alert alert-${kind}`} role={kind === "error" ? "alert" : undefined}>
      <span class="visually-hidden">{PREFIX[kind]}</span>
      {message}
    </div>
  );
}

/**
 * The flash region. It is always rendered (even when empty) so htmx responses
 * can swap messages into it and screen readers announce them politely.
 */
export function FlashRegion(props: { messages?: Flash[] | undefined }) {
  const messages = props.messages ?? [];
  return (
    <div id="flash" role="status" aria-live="polite">
      {messages.map((flash) => (
        <FlashMessage flash={flash} />
      ))}
    </div>
  );
}
