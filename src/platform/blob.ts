// The only module that talks to Azure Blob Storage. Connection-string mode serves Azurite (dev,
// tests) and account-key deployments; account-URL mode uses DefaultAzureCredential (managed
// identity) in production.
import { DefaultAzureCredential } from "@azure/identity";
import { BlobServiceClient, type ContainerClient, type StoragePipelineOptions } from "@azure/storage-blob";
import type { Config } from "../config.ts";

export type BlobStore = {
  readonly containerName: string;
  readonly container: ContainerClient;
  /** Fails fast (one try, short timeout) when storage is unreachable: used by /readyz. */
  ping(timeoutMs?: number): Promise<void>;
  ensureContainer(): Promise<void>;
};

function serviceClient(settings: Config["blob"], pipeline: StoragePipelineOptions): BlobServiceClient {
  if (settings.connectionString) return BlobServiceClient.fromConnectionString(settings.connectionString, pipeline);
  if (settings.accountUrl) return new BlobServiceClient(settings.accountUrl, new DefaultAzureCredential(), pipeline);
  throw new Error("blob storage is not configured");
}

export function createBlobStore(settings: Config["blob"]): BlobStore {
  const service = serviceClient(settings, {});
  const probe = serviceClient(settings, { retryOptions: { maxTries: 1, tryTimeoutInMs: 2_000 } });
  const container = service.getContainerClient(settings.container);
  const probeContainer = probe.getContainerClient(settings.container);
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
