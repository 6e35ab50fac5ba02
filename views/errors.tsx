/**
 * Error views. They show only the title, message and request id they are
 * given: never a stack trace or internal detail.
 */

export type ErrorProps = { status: number; title: string; message: string; requestId?: string };

/** Content of a full error page (the caller wraps it in Layout). */
export function ErrorPage(props: ErrorProps) {
  const { status, title, message, requestId } = props;
  return (
    <section class="error-page" aria-labelledby="error-title">
      <p class="eyebrow">Error {status}</p>
      <h1 id="error-title">{title}</h1>
      <p>{message}</p>
      {requestId ? (
        <p class="muted">
          Reference: <code>{requestId}</code>
          <br />
          Quote this reference if you contact support.
        </p>
      ) : null}
      <p>
        <a class="button" href="/">
          Back to home
        </a>
      </p>
    </section>
  );
}

/** Compact error for htmx swaps. */
export function ErrorFragment(props: ErrorProps) {
  const { title, message, requestId } = props;
  return (
    <div role="alert" class="alert alert-error">
      <p>
        <strong>{title}</strong>
      </p>
      <p>{message}</p>
      {requestId ? (
        <p class="alert-ref">
          Reference: <code>{requestId}</code>
        </p>
      ) : null}
    </div>
  );
}

/** Content of the 404 page (also used for another practice's resources). */
export function NotFoundPage(props: { requestId?: string } = {}) {
  return (
    <ErrorPage
      status={404}
      title="Page not found"
      message="We couldn't find that page. The address may be mistyped, or the item may not exist or may belong to another practice."
      requestId={props.requestId}
    />
  );
}
