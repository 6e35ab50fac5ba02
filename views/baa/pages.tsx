// BAA pages other than the wizard: the status for members who cannot sign, the signature history,
// the gate's refusal page, and the banner shown to admins on practice pages.
import { AgreementText, type BlockView, type SignedView, type VersionView } from "./wizard.tsx";

export type BaaStateView = "signed" | "never_signed" | "out_of_date";

export function BaaStatusPage(props: {
  practiceName: string;
  state: BaaStateView;
  admins: string[];
  signed: SignedView | null;
  canRead: boolean;
  version?: VersionView | null;
  blocks?: BlockView[];
}) {
  return (
    <section aria-labelledby="baa-title">
      <h1 id="baa-title">Business Associate Agreement</h1>
      {props.state === "signed" && props.signed ? (
        <div class="alert alert-success" role="status">
          <p>{props.practiceName} has signed the current agreement (version {props.signed.version}) on {props.signed.signedAtUtc.slice(0, 10)}: {props.signed.typedName}, {props.signed.title}.</p>
        </div>
      ) : (
        <div class="alert alert-info" role="status">
          <p>
            {props.state === "out_of_date" ? "A new version of the agreement is in effect and has not been signed yet. " : "Your practice has not signed the agreement yet. "}
            Until an administrator signs it, nobody in the practice can create mailing jobs or upload patient information, and this step cannot be skipped.
          </p>
          <p>{props.admins.length ? <>Who can sign: {props.admins.join(", ")}.</> : "Your practice has no active administrator: contact support."}</p>
        </div>
      )}
      {props.canRead ? <p><a href="/baa/signatures">Signature history</a> · <a href="/baa/agreement.pdf" download>Download the current agreement (PDF, unsigned)</a></p> : null}
      {props.canRead && props.version && props.blocks ? (
        <>
          <h2 id="agreement-title">The agreement in effect: version {props.version.version}</h2>
          <p>In effect from {props.version.effectiveOn}. SHA-256 <code class="hash">{props.version.sha256}</code></p>
          <AgreementText blocks={props.blocks} labelledBy="agreement-title" />
        </>
      ) : null}
    </section>
  );
}

export type HistoryRow = SignedView & { signerAccount: string; ip: string; current: boolean };

export function BaaHistoryPage(props: { practiceName: string; rows: HistoryRow[]; state: BaaStateView }) {
  return (
    <section aria-labelledby="history-title">
      <h1 id="history-title">BAA signature history</h1>
      <p>Every Business Associate Agreement {props.practiceName} has signed, newest first. Records cannot be changed or deleted.</p>
      {props.state !== "signed" ? <div class="alert alert-info"><p>The version in effect has not been signed yet. <a href="/baa">Go to the BAA page</a>.</p></div> : null}
      {props.rows.length === 0 ? <p>No agreement has been signed yet.</p> : (
        <table>
          <caption>Signatures</caption>
          <thead><tr><th scope="col">Version</th><th scope="col">Signed (UTC)</th><th scope="col">Signer</th><th scope="col">Evidence</th><th scope="col">Executed PDF</th></tr></thead>
          <tbody>
            {props.rows.map((r) => (
              <tr>
                <td>{r.version}{r.current ? " (in effect)" : ""}</td>
                <td><time datetime={r.signedAtUtc}>{r.signedAtUtc}</time></td>
                <td>{r.typedName}, {r.title}<br /><span class="muted">account: {r.signerAccount}</span></td>
                <td>
                  <details>
                    <summary>Details<span class="visually-hidden"> of the signature of version {r.version}</span></summary>
                    <dl class="facts">
                      <dt>Verification id</dt><dd><code>{r.verificationId}</code></dd>
                      <dt>IP address</dt><dd>{r.ip}</dd>
                      <dt>Agreement SHA-256</dt><dd><code class="hash">{r.baaSha256}</code></dd>
                      <dt>PDF SHA-256</dt><dd><code class="hash">{r.pdfSha256}</code></dd>
                    </dl>
                  </details>
                </td>
                <td><a href={r.downloadHref}>Download<span class="visually-hidden"> the executed agreement, version {r.version}</span></a></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** The gate's answer (403): what cannot happen yet, and what to do about it. */
export function BaaRequiredPage(props: { admins: string[]; canSign: boolean; outOfDate: boolean; requestId?: string }) {
  const who = props.admins.length ? props.admins.join(", ") : "an administrator of your practice";
  return (
    <section class="error-page" aria-labelledby="baa-required-title">
      <p class="eyebrow">Error 403</p>
      <h1 id="baa-required-title">Sign the Business Associate Agreement first</h1>
      <p>
        Your practice must sign the current Business Associate Agreement before creating mailing jobs, attesting, uploading or verifying patient information.
        {props.outOfDate ? " A new version of the agreement is in effect since your practice last signed." : ""}
      </p>
      {props.canSign ? (
        <p><a class="button" href="/baa">Go to the BAA page and sign</a></p>
      ) : (
        <>
          <p>Ask {who} to sign it on the BAA page.</p>
          <p><a class="button" href="/baa">See the BAA page</a></p>
        </>
      )}
      {props.requestId ? <p class="muted">Reference: <code>{props.requestId}</code></p> : null}
    </section>
  );
}

/** The compact form of the refusal, for htmx swaps. */
export function BaaRequiredFragment(props: { admins: string[]; canSign: boolean }) {
  return (
    <div role="alert" class="alert alert-error">
      <p><strong>Sign the Business Associate Agreement first</strong></p>
      <p>
        Your practice must sign the current Business Associate Agreement before patient information can be added.{" "}
        {props.canSign ? <a href="/baa">Go to the BAA page</a> : <>Ask {props.admins.join(", ") || "an administrator"} to sign it (<a href="/baa">BAA page</a>).</>}
      </p>
    </div>
  );
}

/** Shown to admins on every practice page while the practice lacks the BAA in force. */
export function BaaBanner(props: { state: "never_signed" | "out_of_date" }) {
  return (
    <div class="alert alert-info baa-banner" role="region" aria-label="Business Associate Agreement">
      <p>
        {props.state === "out_of_date"
          ? "A new version of the Business Associate Agreement is in effect. Sign it before your practice uploads patient information again; jobs already in progress continue."
          : "Your practice has not signed the Business Associate Agreement yet: no patient information can be added until it is signed."}{" "}
        <a href="/baa">{props.state === "out_of_date" ? "Review and sign the new version" : "Sign the agreement"}</a>
      </p>
    </div>
  );
}
