/**
 * `archivista` storage (`storage.archivista.url`): each provenance DSSE envelope is uploaded to
 * Archivista (`POST <url>/upload`, the envelope JSON as Chains' archivista client sends it), and the
 * returned gitoid is recorded on the run (`chains.tekton.dev/archivista-gitoid-<shortKey>`) and in the
 * store result. Image signatures are not DSSE envelopes: Chains fails on them, provenant skips them
 * (logged). Uploading the same envelope again yields the same gitoid (content address).
 * Reader: `GET <url>/download/<gitoid>`.
 */
import { createHash } from 'node:crypto';
import { ProvenantError } from '../errors.js';
import type { Logger } from '../observability/index.js';
import { archivistaGitoidAnnotation, formatRunKey, type RunKey } from '../tekton/index.js';
import { annotationsForStorage } from './tekton-storage.js';
import type { StorageBackend, StoreRequest, StoreResult } from './types.js';

export interface ArchivistaStorageDeps {
  readonly url: string;
  readonly logger: Logger;
  readonly fetch?: typeof fetch;
  /** Records the gitoid on the run; without it the gitoid is only in the store result and the log. */
  readonly patchAnnotations?: (run: RunKey, annotations: Record<string, string>) => Promise<void>;
  readonly timeoutMs?: number;
}

/** Archivista's (and git's) sha256 gitoid of a blob. */
export function gitoidSha256(data: Uint8Array): string {
  return createHash('sha256').update(`blob ${data.length}\0`).update(data).digest('hex');
}

function httpError(status: number, what: string, url: string): ProvenantError {
  const transient = status >= 500 || status === 429 || status === 408;
  return new ProvenantError(transient ? 'transient' : 'permanent', transient ? 'ARCHIVISTA_UNAVAILABLE' : 'ARCHIVISTA_REJECTED', `archivista: ${what} answered HTTP ${status}`, {
    context: { url, status },
  });
}

export function createArchivistaStorage(deps: ArchivistaStorageDeps): StorageBackend {
  const base = deps.url.replace(/\/+$/, '');
  const doFetch = deps.fetch ?? fetch;
  return {
    name: 'archivista',
    async store(request: StoreRequest): Promise<StoreResult> {
      if (request.bundle.dsseEnvelope === undefined) {
        deps.logger.debug({ run: formatRunKey(request.run), shortKey: request.artifact.shortKey }, 'archivista stores DSSE envelopes only; image signature skipped');
        return { backend: 'archivista', locations: [] };
      }
      const key = request.artifact.shortKey;
      const envelope = Buffer.from(annotationsForStorage(request)[`chains.tekton.dev/signature-${key}`] ?? '', 'base64');
      let res: Response;
      try {
        res = await doFetch(`${base}/upload`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json' },
          body: envelope,
          signal: AbortSignal.timeout(deps.timeoutMs ?? 30_000),
        });
      } catch {
        throw new ProvenantError('transient', 'ARCHIVISTA_UNAVAILABLE', `archivista at ${base} did not answer`, { context: { run: formatRunKey(request.run) } });
      }
      if (!res.ok) {
        await res.body?.cancel();
        throw httpError(res.status, 'upload', base);
      }
      let gitoid: unknown;
      try {
        gitoid = ((await res.json()) as { gitoid?: unknown }).gitoid;
      } catch {
        gitoid = undefined;
      }
      if (typeof gitoid !== 'string' || !/^[0-9a-f]{40,64}$/.test(gitoid)) {
        throw new ProvenantError('transient', 'ARCHIVISTA_BAD_RESPONSE', `archivista at ${base} returned no gitoid`);
      }
      await deps.patchAnnotations?.(request.run, { [archivistaGitoidAnnotation(key)]: gitoid });
      deps.logger.info({ run: formatRunKey(request.run), shortKey: key, gitoid }, 'stored in archivista');
      return { backend: 'archivista', locations: [`${base}/download/${gitoid}`] };
    },
  };
}

/** The envelope Archivista holds under `gitoid`, or undefined (404). */
export async function readArchivista(deps: Pick<ArchivistaStorageDeps, 'url' | 'fetch' | 'timeoutMs'>, gitoid: string): Promise<Buffer | undefined> {
  const base = deps.url.replace(/\/+$/, '');
  if (!/^[0-9a-f]{40,64}$/.test(gitoid)) throw new ProvenantError('input', 'ARCHIVISTA_GITOID_INVALID', 'not a gitoid');
  let res: Response;
  try {
    res = await (deps.fetch ?? fetch)(`${base}/download/${gitoid}`, { signal: AbortSignal.timeout(deps.timeoutMs ?? 30_000) });
  } catch {
    throw new ProvenantError('transient', 'ARCHIVISTA_UNAVAILABLE', `archivista at ${base} did not answer`);
  }
  if (res.status === 404) {
    await res.body?.cancel();
    return undefined;
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw httpError(res.status, 'download', base);
  }
  return Buffer.from(await res.arrayBuffer());
}

/**
 * Gitoids of the envelopes whose statement has a subject with one of these digest values (hex), through
 * Archivista's GraphQL API (`POST <url>/query`, the query archivistactl's search sends).
 */
export async function searchArchivista(deps: Pick<ArchivistaStorageDeps, 'url' | 'fetch' | 'timeoutMs'>, digests: readonly string[]): Promise<string[]> {
  const base = deps.url.replace(/\/+$/, '');
  const query = `query ($subjectDigests: [String!]) {
  dsses(where: {hasStatementWith: {hasSubjectsWith: {hasSubjectDigestsWith: {valueIn: $subjectDigests}}}}) {
    edges { node { gitoidSha256 } }
  }
}`;
  let res: Response;
  try {
    res = await (deps.fetch ?? fetch)(`${base}/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ query, variables: { subjectDigests: digests } }),
      signal: AbortSignal.timeout(deps.timeoutMs ?? 30_000),
    });
  } catch {
    throw new ProvenantError('transient', 'ARCHIVISTA_UNAVAILABLE', `archivista at ${base} did not answer`);
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw httpError(res.status, 'query', base);
  }
  let body: { data?: { dsses?: { edges?: Array<{ node?: { gitoidSha256?: unknown } }> } }; errors?: unknown };
  try {
    body = (await res.json()) as typeof body;
  } catch {
    throw new ProvenantError('transient', 'ARCHIVISTA_BAD_RESPONSE', `archivista at ${base} answered the query with no JSON`);
  }
  if (body.errors !== undefined || body.data?.dsses === undefined) throw new ProvenantError('permanent', 'ARCHIVISTA_REJECTED', `archivista at ${base} rejected the search query`);
  return (body.data.dsses.edges ?? []).map((e) => e.node?.gitoidSha256).filter((g): g is string => typeof g === 'string' && /^[0-9a-f]{40,64}$/.test(g));
}
