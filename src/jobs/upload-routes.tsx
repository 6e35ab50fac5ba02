// The uploads step of a job and the two calls public/upload.js makes around its direct upload to
// blob storage: ask for an upload URL (JSON), then ask the server to verify what arrived (the
// kind's panel as an htmx fragment, or JSON). The bytes never pass through here.
import { type Context, Hono } from "hono";
import { z } from "zod";
import type { HonoEnv } from "../context.ts";
import { type AuditAction } from "../audit/actions.ts";
import { recordAudit } from "../audit/record.ts";
import { can } from "../auth/permissions.ts";
import { refuseWithoutBaa } from "../baa/http.tsx";
import { BaaRequiredError } from "../baa/service.ts";
import { respondWithError } from "../http/errors.tsx";
import { requirePermission } from "../http/guards.ts";
import { render } from "../http/render.tsx";

import { memberOf } from "../http/member.ts";
import { withContext } from "../platform/db.ts";
import type { JobFile } from "../platform/schema.ts";
import { type FileView, FilesPanel, type FilesPanelProps, UploadsPage, type UploadsPageProps, UploadsStep } from "../../views/jobs/uploads.tsx";
import { JobError } from "./service.ts";
import {
  completeUpload, FILE_KINDS, formatBytes, issueUploadUrl, jobReferenceOf, KIND_RULES, type KindFiles, maxBytesFor, type UploadDeps, UploadError,
  type UploadsOverview, uploadsOverview,
} from "./uploads.ts";

const uploadRequestForm = z.object({
  kind: z.enum(FILE_KINDS, { error: "Choose which file this is: recipients_csv, logo or signature" }),
  name: z.string({ error: "Give the file's name" }).trim().min(1, "Give the file's name").max(255, "The file name is too long (255 characters at most)")
    // deno-lint-ignore no-control-regex
    .refine((v) => !/[\u0000-\u001f\u007f]/.test(v), "The file name contains control characters"),
  size: z.coerce.number({ error: "Give the file's size in bytes" }).int("Give the file's size in bytes").min(1, "The file is empty").max(Number.MAX_SAFE_INTEGER),
  type: z.string({ error: "Give the file's type" }).trim().toLowerCase().min(1, "Give the file's type").max(100),
  sha256: z.string({ error: "Give the file's SHA-256 checksum" }).trim().toLowerCase().regex(/^[0-9a-f]{64}$/, "The SHA-256 checksum must be 64 hexadecimal digits"),
});

const JOB_STATUS: Record<JobError["code"], number> = {
  not_found: 404, forbidden: 403, not_allowed: 409, not_editable: 409, not_ready: 409, conflict: 409, stale_statement: 409,
};

function wantsJson(c: Context<HonoEnv>): boolean {
  const accept = c.req.header("accept") ?? "";
  return accept.includes("application/json") && !accept.includes("text/html");
}

function fileView(f: JobFile): FileView {
  const at = new Date(f.verified_at ?? f.created_at).toISOString();
  return { id: f.id, state: f.status, name: f.declared_name, size: formatBytes(Number(f.size ?? f.declared_size)), at, rejectedReason: f.rejected_reason, csv: f.csv_report };
}

export function uploadRoutes(deps: UploadDeps) {
  const app = new Hono<HonoEnv>();
  const writer = requirePermission(deps, "jobs.write");

  const actorOf = memberOf;

  function panelProps(c: Context<HonoEnv>, o: UploadsOverview, k: KindFiles, notice?: FilesPanelProps["notice"]): FilesPanelProps {
    const rule = KIND_RULES[k.kind];
    const max = maxBytesFor(deps.config, k.kind);
    const mayWrite = can(c.get("membership")?.role, "jobs.write");
    return {
      jobId: o.job.id, kind: k.kind, label: rule.label, hint: rule.hint, required: rule.required, accept: rule.accept, maxBytes: max, maxLabel: formatBytes(max),
      verified: k.verified ? fileView(k.verified) : null, latest: k.latest ? fileView(k.latest) : null,
      editable: mayWrite && o.editable && o.attested,
      lockedReason: !o.attested ? "Confirm the PHI attestation (step 2) before uploading." : !o.editable ? "This job has been submitted: its files can no longer change." : undefined,
      notice: notice ?? null,
    };
  }

  function pageProps(c: Context<HonoEnv>, o: UploadsOverview, notices: Partial<Record<string, FilesPanelProps["notice"]>> = {}): UploadsPageProps {
    const recipients = o.kinds.find((k) => k.kind === "recipients_csv");
    const ready = Boolean(recipients?.verified);
    return {
      jobId: o.job.id, reference: o.job.reference, title: o.job.title, attested: o.attested,
      done: ["details", ...(o.attested ? (["attestation"] as const) : []), ...(ready ? (["uploads"] as const) : [])],
      panels: o.kinds.map((k) => panelProps(c, o, k, notices[k.kind])),
      message: o.attested ? null : "Confirm the PHI attestation for this job first: no file can be uploaded before it.",
      ready,
    };
  }

  /** Records a refused step (its own transaction: the refused change rolled back) as denied or error. */
  async function auditRefusal(c: Context<HonoEnv>, action: AuditAction, jobId: string, outcome: "denied" | "error", details: Record<string, string | number>) {
    const actor = actorOf(c);
    const reference = await jobReferenceOf(deps, actor, jobId);
    const target = reference ? { type: "job", id: reference } : { type: "route", id: `${c.req.method} ${c.req.routePath}` };
    await withContext(deps.db, { actor: `user:${actor.userId}`, userId: actor.userId, practiceId: actor.practiceId }, (tx) =>
      recordAudit(tx, { practiceId: actor.practiceId, actor: { type: "user", id: actor.userId, role: actor.role }, action, outcome, target, details, request: actor.request }),
    );
  }

  /** The answer to a refused upload step: JSON for upload.js, a page or fragment otherwise. */
  function refuse(c: Context<HonoEnv>, status: number, code: string, message: string, retryAfter?: number) {
    if (retryAfter) c.header("Retry-After", String(retryAfter));
    if (wantsJson(c)) return c.json({ error: code, message, requestId: c.get("requestId") }, status as 400);
    return respondWithError(c, status, message);
  }

  async function refusal(c: Context<HonoEnv>, error: unknown, action: AuditAction, jobId: string, details: Record<string, string | number> = {}) {
    if (error instanceof BaaRequiredError) {
      const reference = await jobReferenceOf(deps, actorOf(c), jobId);
      return refuseWithoutBaa(deps.db, c, error, { action, target: reference ? { type: "job", id: reference } : undefined });
    }
    if (error instanceof UploadError) {
      await auditRefusal(c, action, jobId, error.code === "storage_error" ? "error" : "denied", { ...details, reason: error.code });
      return refuse(c, error.status, error.code, error.message, error.retryAfterSeconds);
    }
    if (error instanceof JobError) {
      await auditRefusal(c, action, jobId, "denied", { ...details, reason: error.code });
      return refuse(c, JOB_STATUS[error.code], error.code, error.message);
    }
    throw error;
  }

  // Step 3 of the job wizard: the upload panels (a page, or #job-uploads for htmx).
  app.get("/jobs/:id/uploads", writer, async (c) => {
    let o: UploadsOverview;
    try {
      o = await uploadsOverview(deps, actorOf(c), c.req.param("id"));
    } catch (error) {
      if (error instanceof UploadError || error instanceof JobError) return respondWithError(c, 404, "There is no such job in this practice.");
      throw error;
    }
    const props = pageProps(c, o);
    return render(c, { title: `Files for ${o.job.reference}`, page: <UploadsPage {...props} />, fragment: <UploadsStep {...props} /> });
  });

  // An upload URL for one file: JSON { fileId, uploadUrl, expiresAt, contentType, completeUrl, … }.
  app.post("/jobs/:id/files", writer, async (c) => {
    const jobId = c.req.param("id");
    const raw = (c.req.header("content-type") ?? "").includes("application/json") ? await c.req.json().catch(() => ({})) : await c.req.parseBody();
    const parsed = uploadRequestForm.safeParse(raw);
    if (!parsed.success) {
      const message = parsed.error.issues.map((i) => i.message).join(". ");
      await auditRefusal(c, "job.upload_url.issued", jobId, "denied", { reason: "invalid" });
      return refuse(c, 422, "invalid", message);
    }
    try {
      const issued = await issueUploadUrl(deps, actorOf(c), jobId, parsed.data);
      return c.json(issued, 201);
    } catch (error) {
      return refusal(c, error, "job.upload_url.issued", jobId, { kind: parsed.data.kind, declared_size: parsed.data.size });
    }
  });

  // After the browser's upload: verify the blob, then answer with the kind's panel (htmx swaps it).
  app.post("/jobs/:id/files/:fileId/complete", writer, async (c) => {
    const jobId = c.req.param("id");
    const fileId = c.req.param("fileId");
    let result: Awaited<ReturnType<typeof completeUpload>>;
    try {
      result = await completeUpload(deps, actorOf(c), jobId, fileId);
    } catch (error) {
      return refusal(c, error, "job.file.rejected", jobId, { file_id: /^[0-9a-f-]{36}$/i.test(fileId) ? fileId : "invalid" });
    }
    const file = result.file;
    const status = result.outcome === "verified" ? 200 : 422;
    const notice: FilesPanelProps["notice"] = result.outcome === "verified"
      ? { kind: "success", text: `Verified: ${file.declared_name} (${formatBytes(Number(file.size))}) arrived intact.${result.replaced ? " It replaces the previous file." : ""}` }
      : { kind: "error", text: `Rejected and deleted: ${result.reason}` };
    if (wantsJson(c)) return c.json({ fileId: file.id, kind: file.kind, state: file.status, message: notice.text }, status);
    const o = await uploadsOverview(deps, actorOf(c), jobId);
    const props = pageProps(c, o, { [file.kind]: notice });
    const panel = props.panels.find((p) => p.kind === file.kind)!;
    return render(c, { title: `Files for ${o.job.reference}`, status, page: <UploadsPage {...props} />, fragment: <FilesPanel {...panel} /> });
  });

  return app;
}
