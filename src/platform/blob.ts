// The only module that talks to Azure Blob Storage. Connection-string mode serves Azurite (dev,
// tests) and account-key deployments; account-URL mode uses DefaultAzureCredential (managed
// identity) in production.
import type { TokenCredential } from "@azure/identity";
import { BlobBatch, BlobSASPermissions, BlobServiceClient, type ContainerClient, SASProtocol, type StoragePipelineOptions, type UserDelegationKey } from "@azure/storage-blob";
import { PassThrough, type Writable } from "node:stream";
import type { Config } from "../config.ts";

export type BlobStore = {
  readonly containerName: string;
  readonly container: ContainerClient;
  /** Fails fast (one try, short timeout) when storage is unreachable: used by /readyz. */
  ping(timeoutMs?: number): Promise<void>;
  ensureContainer(): Promise<void>;
  /** Writes a private blob with its content type; refuses to overwrite an existing blob (evidence). */
  putPrivate(name: string, data: Uint8Array, contentType: string): Promise<void>;
  /** A read-only URL for one blob, valid `seconds` (see readSasUrl below). */
  readUrl(name: string, options: ReadUrlOptions): Promise<string>;
  /** A create+write-only URL for one blob name, valid `seconds` (see uploadSasUrl below). */
  uploadUrl(name: string, options: UploadUrlOptions): Promise<string>;
  /** Size and content type of a blob, or null when there is no such blob. */
  inspect(name: string): Promise<BlobFacts | null>;
  /**
   * Takes an infinite lease with our own (secret) lease id: from then on nobody without that id can
   * write or delete the blob, so what the server checks is what stays. False when there is no blob.
   */
  lease(name: string, leaseId: string): Promise<boolean>;
  /** Streams the blob's bytes through `visit` in chunks (in memory, never to disk). */
  readChunks(name: string, visit: (chunk: Uint8Array) => void, options?: { leaseId?: string }): Promise<void>;
  /** The blob's bytes as a stream (in memory, never to disk); `leaseId` when the blob is leased. */
  readStream(name: string, options?: { leaseId?: string }): Promise<AsyncIterable<Uint8Array>>;
  /**
   * A block blob written from a stream as it is produced (bounded memory: a few blocks in flight).
   * Write into `stream`, end it, then await `done`. Refuses to overwrite an existing blob.
   */
  writeStream(name: string, contentType: string): { stream: Writable; done: Promise<void> };
  /** Deletes a blob (and its snapshots) if it exists; `leaseId` when the blob is leased. */
  remove(name: string, options?: { leaseId?: string }): Promise<void>;
  /** Every blob whose name starts with `prefix`, with its size. */
  list(prefix: string): Promise<{ name: string; size: number }[]>;
  /**
   * Deletes many blobs (and their snapshots) through Blob Batch, 256 per request; a blob already
   * gone is not an error. Should storage refuse batches (an emulator without them), falls back to
   * one delete per blob and says so in `mode`. Throws when any blob could not be deleted.
   */
  removeMany(items: readonly { name: string; leaseId?: string | null }[]): Promise<{ mode: "batch" | "single" }>;
};

export type BlobFacts = { size: number; contentType: string | null };

export type UploadUrlOptions = {
  /** How long the URL works: seconds, 1-600 (ten minutes at most). */
  seconds: number;
};

/**
 * DefaultAzureCredential, imported on the first token request: connection-string deployments never
 * need @azure/identity, which costs every process ~6 MB of memory. One per client, as before.
 */
function lazyDefaultCredential(): TokenCredential {
  let credential: Promise<TokenCredential> | undefined;
  return {
    async getToken(scopes, options) {
      credential ??= import("@azure/identity").then(({ DefaultAzureCredential }) => new DefaultAzureCredential());
      return (await credential).getToken(scopes, options);
    },
  };
}

function serviceClient(settings: Config["blob"], pipeline: StoragePipelineOptions): BlobServiceClient {
  if (settings.connectionString) return BlobServiceClient.fromConnectionString(settings.connectionString, pipeline);
  if (settings.accountUrl) return new BlobServiceClient(settings.accountUrl, lazyDefaultCredential(), pipeline);
  throw new Error("blob storage is not configured");
}

export function createBlobStore(settings: Config["blob"]): BlobStore {
  const service = serviceClient(settings, {});
  const probe = serviceClient(settings, { retryOptions: { maxTries: 1, tryTimeoutInMs: 2_000 } });
  const container = service.getContainerClient(settings.container);
  const probeContainer = probe.getContainerClient(settings.container);
  // One user delegation key (account-URL mode) for every SAS this store signs, read or upload.
  const delegationKey = settings.connectionString ? null : delegationKeyCache((startsOn, expiresOn) => service.getUserDelegationKey(startsOn, expiresOn));
  return {
    containerName: settings.container,
    container,
    async ping(timeoutMs = 2_000) {
      await probeContainer.getProperties({ abortSignal: AbortSignal.timeout(timeoutMs) });
    },
    async ensureContainer() {
      // Private: no anonymous access level is ever set on the PHI container.
      await container.createIfNotExists();
    },
    async putPrivate(name, data, contentType) {
      await container.getBlockBlobClient(name).uploadData(data, {
        blobHTTPHeaders: { blobContentType: contentType },
        conditions: { ifNoneMatch: "*" },
      });
    },
    readUrl: readSasUrl(container, delegationKey),
    uploadUrl: uploadSasUrl(container, delegationKey),
    async inspect(name) {
      try {
        const p = await container.getBlobClient(name).getProperties();
        return { size: p.contentLength ?? 0, contentType: p.contentType ?? null };
      } catch (error) {
        if (isNotFound(error)) return null;
        throw error;
      }
    },
    async lease(name, leaseId) {
      try {
        await container.getBlobClient(name).getBlobLeaseClient(leaseId).acquireLease(-1);
        return true;
      } catch (error) {
        if (isNotFound(error)) return false;
        throw error;
      }
    },
    async readChunks(name, visit, options = {}) {
      const res = await container.getBlobClient(name).download(0, undefined, options.leaseId ? { conditions: { leaseId: options.leaseId } } : {});
      const body = res.readableStreamBody;
      if (!body) throw new Error("blob download returned no body");
      for await (const chunk of body as AsyncIterable<Uint8Array | string>) visit(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
    },
    async readStream(name, options = {}) {
      const res = await container.getBlobClient(name).download(0, undefined, options.leaseId ? { conditions: { leaseId: options.leaseId } } : {});
      const body = res.readableStreamBody;
      if (!body) throw new Error("blob download returned no body");
      return (async function* () {
        for await (const chunk of body as AsyncIterable<Uint8Array | string>) yield typeof chunk === "string" ? Buffer.from(chunk) : chunk;
      })();
    },
    writeStream(name, contentType) {
      const stream = new PassThrough({ highWaterMark: WRITE_BLOCK_BYTES });
      const done = container.getBlockBlobClient(name)
        .uploadStream(stream, WRITE_BLOCK_BYTES, 2, { blobHTTPHeaders: { blobContentType: contentType }, conditions: { ifNoneMatch: "*" } })
        .then(() => undefined);
      return { stream, done };
    },
    async remove(name, options = {}) {
      await container.getBlobClient(name).deleteIfExists({ deleteSnapshots: "include", ...(options.leaseId ? { conditions: { leaseId: options.leaseId } } : {}) });
    },
    async list(prefix) {
      const found: { name: string; size: number }[] = [];
      for await (const item of container.listBlobsFlat({ prefix })) found.push({ name: item.name, size: item.properties.contentLength ?? 0 });
      return found;
    },
    async removeMany(items) {
      if (items.length === 0) return { mode: "batch" };
      const removeOne = (item: { name: string; leaseId?: string | null }) => container.getBlobClient(item.name)
        .deleteIfExists({ deleteSnapshots: "include", ...(item.leaseId ? { conditions: { leaseId: item.leaseId } } : {}) });
      const batchClient = container.getBlobBatchClient();
      for (let i = 0; i < items.length; i += BATCH_DELETE_MAX) {
        const chunk = items.slice(i, i + BATCH_DELETE_MAX);
        const batch = new BlobBatch();
        for (const item of chunk) {
          await batch.deleteBlob(container.getBlobClient(item.name), { deleteSnapshots: "include", ...(item.leaseId ? { conditions: { leaseId: item.leaseId } } : {}) });
        }
        let response;
        try {
          response = await batchClient.submitBatch(batch);
        } catch (error) {
          // The whole batch was refused (no Blob Batch support): nothing was deleted by it.
          if (!batchUnsupported(error)) throw error;
          for (const item of items) await removeOne(item);
          return { mode: "single" };
        }
        const failed = response.subResponses.filter((r) => r.status !== 202 && r.status !== 404);
        if (failed.length) throw new Error(`blob batch delete: ${failed.length} of ${chunk.length} blobs not deleted (status ${failed[0]!.status} ${failed[0]!.errorCode ?? ""})`);
      }
      return { mode: "batch" };
    },
  };
}

/** Blob Batch takes at most 256 sub-requests. */
const BATCH_DELETE_MAX = 256;

function batchUnsupported(error: unknown): boolean {
  const status = typeof error === "object" && error !== null ? (error as { statusCode?: number }).statusCode : undefined;
  return status === 400 || status === 404 || status === 405 || status === 501;
}

/** Block size for streamed writes: big enough for few requests, small enough to bound memory. */
const WRITE_BLOCK_BYTES = 4 * 1024 * 1024;

function isNotFound(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { statusCode?: number }).statusCode === 404;
}

type DelegationKey = (() => Promise<UserDelegationKey>) | null;

// ---- read SAS (added with the BAA: executed PDFs are served by redirect, never through the app) --

export type ReadUrlOptions = {
  /** How long the URL works: seconds, 1-3600. */
  seconds: number;
  /** The file name the browser saves as (Content-Disposition: attachment); letters, digits, . _ - only. */
  downloadName?: string;
  /** Show in the browser (Content-Disposition: inline) instead of saving. */
  inline?: boolean;
};

/**
 * Read SAS URLs. Connection-string mode (Azurite, account key): an account-key service SAS.
 * Account-URL mode (managed identity): a user-delegation SAS, its delegation key cached and renewed
 * before it expires. HTTPS-only whenever the endpoint is HTTPS.
 */
function readSasUrl(container: ContainerClient, delegationKey: DelegationKey) {
  return async function readUrl(name: string, options: ReadUrlOptions): Promise<string> {
    if (!Number.isInteger(options.seconds) || options.seconds < 1 || options.seconds > 3600) throw new RangeError("readUrl: seconds must be 1-3600");
    if (options.downloadName !== undefined && !/^[A-Za-z0-9._-]{1,100}$/.test(options.downloadName)) throw new RangeError("readUrl: downloadName must be letters, digits, . _ -");
    const blob = container.getBlobClient(name);
    const sas = {
      permissions: BlobSASPermissions.parse("r"),
      expiresOn: new Date(Date.now() + options.seconds * 1000),
      protocol: blob.url.startsWith("https:") ? SASProtocol.Https : SASProtocol.HttpsAndHttp,
      // Whatever is read through a SAS stays out of every cache between storage and the browser.
      cacheControl: "no-store",
      contentDisposition: options.inline ? "inline" : options.downloadName ? `attachment; filename="${options.downloadName}"` : undefined,
    };
    return delegationKey ? blob.generateUserDelegationSasUrl(sas, await delegationKey()) : blob.generateSasUrl(sas);
  };
}

// ---- upload SAS (direct browser uploads: src/jobs/uploads.ts) --------------------------------------

/**
 * Upload SAS URLs for one blob name: create and write only (no read, list or delete; Put Blob, Put
 * Block and Put Block List work, nothing else), at most ten minutes, HTTPS-only whenever the
 * endpoint is HTTPS. Account key (connection string) or user delegation key (managed identity),
 * the same cached key as read SAS.
 */
function uploadSasUrl(container: ContainerClient, delegationKey: DelegationKey) {
  return async function uploadUrl(name: string, options: UploadUrlOptions): Promise<string> {
    if (!Number.isInteger(options.seconds) || options.seconds < 1 || options.seconds > 600) throw new RangeError("uploadUrl: seconds must be 1-600");
    const blob = container.getBlobClient(name);
    const sas = {
      permissions: BlobSASPermissions.parse("cw"),
      expiresOn: new Date(Date.now() + options.seconds * 1000),
      protocol: blob.url.startsWith("https:") ? SASProtocol.Https : SASProtocol.HttpsAndHttp,
    };
    return delegationKey ? blob.generateUserDelegationSasUrl(sas, await delegationKey()) : blob.generateSasUrl(sas);
  };
}

/**
 * A user delegation key shared by every SAS this process signs: fetched once, then renewed when
 * less than `renewBeforeMs` of its life is left (concurrent callers share one fetch).
 */
export function delegationKeyCache(
  fetchKey: (startsOn: Date, expiresOn: Date) => Promise<UserDelegationKey>,
  options: { lifetimeMs?: number; renewBeforeMs?: number; now?: () => number } = {},
): () => Promise<UserDelegationKey> {
  const lifetimeMs = options.lifetimeMs ?? 60 * 60_000;
  const renewBeforeMs = options.renewBeforeMs ?? 10 * 60_000;
  const now = options.now ?? Date.now;
  let cached: { key: UserDelegationKey; expiresAt: number } | null = null;
  let pending: Promise<UserDelegationKey> | null = null;
  return function delegationKey() {
    if (cached && cached.expiresAt - now() > renewBeforeMs) return Promise.resolve(cached.key);
    pending ??= (async () => {
      try {
        const startsOn = new Date(now() - 5 * 60_000); // tolerate clock skew with the service
        const expiresAt = now() + lifetimeMs;
        const key = await fetchKey(startsOn, new Date(expiresAt));
        cached = { key, expiresAt };
        return key;
      } finally {
        pending = null;
      }
    })();
    return pending;
  };
}

/** Service-level CORS so browsers on the app origin may PUT directly to storage (dev and tests). */
export async function allowBrowserUploadsFrom(settings: Config["blob"], origin: string): Promise<void> {
  await serviceClient(settings, {}).setProperties({
    cors: [
      {
        allowedOrigins: origin,
        allowedMethods: "PUT,OPTIONS",
        allowedHeaders: "content-type,x-ms-blob-type,x-ms-blob-content-type,x-ms-version,x-ms-date,x-ms-client-request-id,content-md5,x-ms-blob-content-md5",
        exposedHeaders: "etag,x-ms-request-id,x-ms-content-crc64,content-md5",
        maxAgeInSeconds: 600,
      },
    ],
  });
}

/** The storage CORS rules in force (what `bun run storage:setup` checks after applying its own). */
export async function corsRules(settings: Config["blob"]): Promise<{ allowedOrigins: string; allowedMethods: string; allowedHeaders: string }[]> {
  const properties = await serviceClient(settings, {}).getProperties();
  return (properties.cors ?? []).map((r) => ({ allowedOrigins: r.allowedOrigins, allowedMethods: r.allowedMethods, allowedHeaders: r.allowedHeaders }));
}

/**
 * The PHI container's anonymous access level: "private" (none), "blob" or "container" (public), or
 * "missing" when the container does not exist.
 */
export async function containerAccess(settings: Config["blob"]): Promise<"private" | "blob" | "container" | "missing"> {
  try {
    const properties = await serviceClient(settings, {}).getContainerClient(settings.container).getProperties();
    return properties.blobPublicAccess ?? "private";
  } catch (error) {
    if (isNotFound(error)) return "missing";
    throw error;
  }
}
