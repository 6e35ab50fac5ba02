/** Content of "/" (the caller wraps it in Layout). */

const steps: { title: string; body: string }[] = [
  {
    title: "Sign the Business Associate Agreement.",
    body: "A practice admin signs our BAA online. We record who signed, in what capacity, when, and the exact document they saw, and keep the executed PDF. Nothing else can start until it is signed.",
  },
  {
    title: "Create a mailing job.",
    body: "Choose the letter type, the mail class and your letter text. Each job gets a reference such as PLH-2026-000123 that never contains patient names.",
  },
  {
    title: "Attest that the job carries patient information.",
    body: "Before any upload link is issued, you confirm the job contains PHI. We record who attested, when, from where, and the exact statement.",
  },
  {
    title: "Upload your recipient list directly to encrypted storage.",
    body: "Your browser sends the file straight to a private storage container, with a progress bar. We then check its size, type and checksum, or delete it and tell you why.",
  },
  {
    title: "Approve the PDF proof.",
    body: "Review the proof and approve it, or request changes and receive a new version. Your approval is tied to the exact proof you reviewed.",
  },
  {
    title: "Track it into the mail.",
    body: "Follow the job through production to mailed and completed.",
  },
];

const protections: { title: string; body: string }[] = [
  {
    title: "The BAA comes first",
    body: "No patient information moves until your practice has signed our current Business Associate Agreement. Upload links, job submission and file checks are refused without it, by the application and by the database itself.",
  },
  {
    title: "PHI attestation on every job",
    body: "Every job carries a recorded attestation (who, when, from which IP address, and the exact wording) before any file can be uploaded for it.",
  },
  {
    title: "Uploads go straight to storage",
    body: "Your browser uploads to a private Azure Blob container through a link that is valid for one file only, can only write that file, and expires within 10 minutes. The file never passes through our web servers, and patient information is never written to our logs, local disks or web addresses.",
  },
  {
    title: "Signed, short-lived proof links",
    body: "Proofs and data exports open through links signed for you that expire quickly. Your session and practice are checked again when you use one, every use is recorded, and the file itself is released from storage for a few seconds only.",
  },
  {
    title: "A tamper-evident audit trail",
    body: "Every action is recorded with who, what, when, from where and the outcome, without patient information in the details. Each entry is chained to the one before it with a SHA-256 hash, so any alteration breaks the chain and can be found. Admins and auditors can filter the trail and export it as CSV.",
  },
  {
    title: "Roles with clear limits",
    body: "Admins manage the team, the BAA, audit exports and data requests. Staff create and follow jobs. Auditors get read-only compliance views and never see patient information.",
  },
  {
    title: "Practices isolated by the database",
    body: "Every record belongs to one practice, and PostgreSQL row-level security enforces that on every query. The application's database account cannot bypass it. Another practice's data is simply not there for you.",
  },
  {
    title: "Data kept only as long as needed",
    body: "Job files and proofs are purged 30 days after a job is completed or cancelled. The audit trail is kept for 7 years. Admins can request an export of their practice's data or its deletion, completed within 30 days; the audit trail and the BAA record are kept, as the law requires.",
  },
  {
    title: "Multi-factor authentication required",
    body: "Every account needs a second factor from an authenticator app before it can reach any page with patient information. Sessions end after 15 minutes of inactivity and after 12 hours at most.",
  },
];

function CallsToAction() {
  return (
    <div class="actions">
      <a class="button" href="/signup">
        Create your practice account
      </a>
      <a class="button button-secondary" href="/login">
        Sign in
      </a>
    </div>
  );
}

export function LandingPage() {
  return (
    <>
      <section class="hero" aria-labelledby="hero-title">
        <h1 id="hero-title">Mailed patient letters, without PHI passing through the web tier</h1>
        <p class="lead">
          PatientLetterHub prints and mails the letters your practice must send: practice closure, provider
          departure, records transfer, recalls and breach notification. Your patients' protected health
          information (PHI) stays off our web tier: your recipient list goes from your browser straight to
          private, encrypted storage, and every step is recorded in an audit trail you can export.
        </p>
        <CallsToAction />
      </section>

      <section class="section" aria-labelledby="how-title">
        <h2 id="how-title">How it works</h2>
        <ol class="steps">
          {steps.map((step) => (
            <li>
              <strong>{step.title}</strong> {step.body}
            </li>
          ))}
        </ol>
      </section>

      <section class="section" aria-labelledby="protect-title">
        <h2 id="protect-title">How we protect patient information</h2>
        <p>
          Everything travels over TLS and is encrypted at rest. Beyond that, these rules are built into the
          service rather than left to policy:
        </p>
        <ul class="card-grid" role="list">
          {protections.map((item) => (
            <li class="card">
              <h3>{item.title}</h3>
              <p>{item.body}</p>
            </li>
          ))}
        </ul>
      </section>

      <section class="section section-cta" aria-labelledby="start-title">
        <h2 id="start-title">Get started</h2>
        <p>An admin creates the practice account and signs the BAA; then you can invite your team.</p>
        <CallsToAction />
      </section>
    </>
  );
}
