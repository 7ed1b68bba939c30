/**
 * `gcs` storage (`storage.gcs.bucket`), with `@google-cloud/storage`, writing Tekton Chains' object names:
 *
 *   <taskrun|pipelinerun>-<namespace>-<name>/<shortKey>.signature   the signature (DSSE envelope JSON for provenance)
 *   …/<shortKey>.payload                                            the signed payload bytes
 *   …/<shortKey>.cert, …/<shortKey>.chain                           PEM, only when the signature carries a certificate
 *
 * The bytes are those the `tekton` backend puts (base64) in annotations, so both read back the same.
 * Objects are written whole (`resumable: false`); writing the same request again rewrites identical
 * bytes. The SDK is imported on first use. Credentials: Application Default Credentials, as Chains.
 */
import type { Bucket, StorageOptions } from '@google-cloud/storage';
import { ProvenantError, type StorageErrorCode } from '../errors.js';
import type { Logger } from '../observability/index.js';
import { formatRunKey, type RunKey } from '../tekton/run-key.js';
import { annotationsForStorage } from './tekton-storage.js';
import type { StorageBackend, StoreRequest, StoreResult } from './types.js';

export interface GcsStorageDeps {
  readonly bucket: string;
  readonly logger: Logger;
  /** Passed to `new Storage()` (apiEndpoint, projectId, credentials …). */
  readonly gcsOptions?: StorageOptions;
}

/** Chains' object-name prefix of one artifact. */
export function gcsObjectPrefix(run: Pick<RunKey, 'kind' | 'namespace' | 'name'>, shortKey: string): string {
  return `${run.kind.toLowerCase()}-${run.namespace}-${run.name}/${shortKey}`;
}

type Part = 'signature' | 'payload' | 'cert' | 'chain';

/** The raw bytes Chains writes per part (the tekton backend's annotation values, decoded). */
export function gcsObjectsFor(request: StoreRequest): Array<{ name: string; data: Buffer }> {
  const a = annotationsForStorage(request);
  const key = request.artifact.shortKey;
  const value = (part: Part): Buffer => Buffer.from(a[`chains.tekton.dev/${part}-${key}`] ?? '', 'base64');
  const prefix = gcsObjectPrefix(request.run, key);
  const out = [
    { name: `${prefix}.signature`, data: value('signature') },
    { name: `${prefix}.payload`, data: value('payload') },
  ];
  const cert = value('cert');
  if (cert.length > 0) out.push({ name: `${prefix}.cert`, data: cert }, { name: `${prefix}.chain`, data: value('chain') });
  return out;
}

function classify(err: unknown): { kind: 'transient' | 'permanent' | 'config'; code: StorageErrorCode } {
  const code = (err as { code?: unknown }).code;
  if (code === 401 || code === 403) return { kind: 'config', code: 'GCS_ACCESS_DENIED' };
  if (code === 404) return { kind: 'config', code: 'GCS_BUCKET_NOT_FOUND' };
  if (typeof code === 'number' && code < 500 && code !== 408 && code !== 429) return { kind: 'permanent', code: 'GCS_REQUEST_REJECTED' };
  return { kind: 'transient', code: 'GCS_UNAVAILABLE' };
}

async function bucketOf(deps: GcsStorageDeps): Promise<Bucket> {
  const { Storage } = await import('@google-cloud/storage');
  return new Storage(deps.gcsOptions ?? {}).bucket(deps.bucket);
}

export function createGcsStorage(deps: GcsStorageDeps): StorageBackend {
  let bucket: Promise<Bucket> | undefined;
  return {
    name: 'gcs',
    async store(request: StoreRequest): Promise<StoreResult> {
      bucket ??= bucketOf(deps);
      const b = await bucket;
      const objects = gcsObjectsFor(request);
      try {
        // Payload before signature would be nicer for readers, but Chains' order is kept: a reader
        // needs both anyway and checks the signature over the payload.
        for (const o of objects) await b.file(o.name).save(o.data, { resumable: false, contentType: 'application/octet-stream' });
      } catch (err) {
        const c = classify(err);
        throw new ProvenantError(c.kind, c.code, `gcs storage: cannot write to bucket ${deps.bucket}`, {
          context: { run: formatRunKey(request.run), bucket: deps.bucket, status: (err as { code?: unknown }).code, hint: 'grant the controller roles/storage.objectCreator on the bucket' },
        });
      }
      deps.logger.debug({ bucket: deps.bucket, objects: objects.map((o) => o.name) }, 'stored in gcs');
      return { backend: 'gcs', locations: objects.map((o) => `gs://${deps.bucket}/${o.name}`) };
    },
  };
}

export interface GcsEntry {
  readonly signature: Buffer;
  readonly payload: Buffer;
  readonly cert?: Buffer;
  readonly chain?: Buffer;
}

/** Reads what `gcs` stored for one artifact (Chains' `RetrieveSignatures`/`RetrievePayloads`), or undefined. */
export async function readGcs(deps: GcsStorageDeps, run: Pick<RunKey, 'kind' | 'namespace' | 'name'>, shortKey: string): Promise<GcsEntry | undefined> {
  return readGcsPrefix(deps, gcsObjectPrefix(run, shortKey));
}

/** Reads the objects `<prefix>.signature`, `.payload`, `.cert`, `.chain`, or undefined. */
export async function readGcsPrefix(deps: GcsStorageDeps, prefix: string): Promise<GcsEntry | undefined> {
  const b = await bucketOf(deps);
  const get = async (part: Part): Promise<Buffer | undefined> => {
    try {
      return (await b.file(`${prefix}.${part}`).download())[0];
    } catch (err) {
      if ((err as { code?: unknown }).code === 404) return undefined;
      const c = classify(err);
      throw new ProvenantError(c.kind, c.code, `gcs storage: cannot read gs://${deps.bucket}/${prefix}.${part}`, { context: { bucket: deps.bucket } });
    }
  };
  const [signature, payload, cert, chain] = await Promise.all([get('signature'), get('payload'), get('cert'), get('chain')]);
  if (signature === undefined || payload === undefined) return undefined;
  return { signature, payload, ...(cert === undefined ? {} : { cert }), ...(chain === undefined ? {} : { chain }) };
}

/**
 * The artifact prefixes stored in the bucket (`<run dir>/<shortKey>` of every `*.payload` object), at most
 * `max` objects listed: what `trace --gcs-bucket` indexes by subject digest.
 */
export async function listGcsArtifacts(deps: GcsStorageDeps, max = 2000): Promise<string[]> {
  const b = await bucketOf(deps);
  try {
    const [files] = await b.getFiles({ autoPaginate: true, maxResults: max });
    return files.map((f) => f.name).filter((n) => n.endsWith('.payload')).map((n) => n.slice(0, -'.payload'.length));
  } catch (err) {
    const c = classify(err);
    throw new ProvenantError(c.kind, c.code, `gcs storage: cannot list gs://${deps.bucket}`, { context: { bucket: deps.bucket } });
  }
}
