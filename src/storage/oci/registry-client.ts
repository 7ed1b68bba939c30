/**
 * A small OCI Distribution client: manifests (GET/HEAD/PUT), blobs (HEAD, POST+PUT upload, GET),
 * the referrers API probe, Basic and Bearer-token auth from Docker credentials.
 *
 * Why not `@sigstore/oci` 0.7 for this: it cannot take an injected `fetch`, always uses https for
 * non-loopback hosts (no `storage.oci.repository.insecure`), wraps every failure in one `OCIError`
 * without the status (we must classify 401/403/429/5xx), has no blob download or manifest read API,
 * and updates the referrers tag index without protection against concurrent writers.
 *
 * Security: credentials are only sent to the registry origin (and the token realm it names). Redirects
 * are followed by hand; a hop to another origin drops the `Authorization` header (blob downloads are
 * commonly redirected to object storage with their own signed URL).
 */
import { createHash } from 'node:crypto';
import type { Logger } from '../../observability/index.js';
import { ProvenantError, type ErrorCode } from '../../errors.js';
import type { DockerCredentials, RegistryCredential } from './credentials.js';
import { apiHost } from './reference.js';
import { httpTransport, type TransportResponse } from './http-transport.js';
import { limits } from '../../limits.js';
import { checkManifestDocument, readBlobBody, readJsonAnswer, readManifestBody } from './bounded-read.js';

export const MEDIA_TYPE_OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const MEDIA_TYPE_OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const MEDIA_TYPE_DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const MEDIA_TYPE_DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
const MANIFEST_ACCEPT = [MEDIA_TYPE_OCI_MANIFEST, MEDIA_TYPE_OCI_INDEX, MEDIA_TYPE_DOCKER_MANIFEST, MEDIA_TYPE_DOCKER_MANIFEST_LIST].join(', ');
const MAX_REDIRECTS = 5;

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly artifactType?: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface FetchedManifest {
  readonly descriptor: Descriptor;
  readonly bytes: Uint8Array;
  readonly json: Record<string, unknown>;
}

export interface RegistryClientDeps {
  /** `host[:port]` as image references spell it. */
  readonly registry: string;
  /** `storage.oci.repository.insecure`: plain http. Loopback hosts always use http (as go-containerregistry does). */
  readonly insecure: boolean;
  readonly credentials?: DockerCredentials | undefined;
  readonly logger: Logger;
  readonly fetch?: typeof fetch | undefined;
  /** Token scope actions requested: readers ask for `pull` only. */
  readonly actions?: 'pull' | 'pull,push';
  /** Named in auth errors so operators know whose pull secrets to fix. */
  readonly serviceAccount?: string | undefined;
  /** Deadline of one request, headers and body (default `limits.http.timeoutMs`). */
  readonly timeoutMs?: number | undefined;
}

export interface RegistryClient {
  readonly registry: string;
  /** undefined when the manifest does not exist (404). */
  headManifest(repository: string, reference: string): Promise<Descriptor | undefined>;
  getManifest(repository: string, reference: string): Promise<FetchedManifest | undefined>;
  putManifest(repository: string, reference: string, bytes: Uint8Array, mediaType: string): Promise<Descriptor>;
  /**
   * Uploads unless the blob is already there (by digest): known to this process (uploaded or seen
   * recently), or found by a HEAD. `fresh` skips the HEAD for content that cannot be there yet (it
   * embeds a signature made for this write), saving a round trip on the common path; a retry in
   * another process then re-uploads a few KB, which the registry de-duplicates by digest.
   */
  pushBlob(repository: string, bytes: Uint8Array, mediaType?: string, options?: { readonly fresh?: boolean }): Promise<Descriptor>;
  getBlob(repository: string, digest: string): Promise<Uint8Array>;
  /** `GET /v2/<repo>/referrers/<digest>` answered 200 with an index. */
  referrersSupported(repository: string, digest: string): Promise<boolean>;
  /** The referrers API answer for a digest (undefined when the API is missing). */
  getReferrers(repository: string, digest: string): Promise<Record<string, unknown> | undefined>;
}

export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

interface Challenge {
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

/** RFC 7235 challenge: `Bearer realm="…",service="…",scope="…"`. */
export function parseChallenge(header: string): Challenge | undefined {
  const m = /^\s*([A-Za-z]+)\s*(.*)$/.exec(header);
  if (m === null) return undefined;
  const params: Record<string, string> = {};
  const re = /([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g;
  for (const p of (m[2] ?? '').matchAll(re)) {
    params[(p[1] ?? '').toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : (p[3] ?? '');
  }
  return { scheme: (m[1] ?? '').toLowerCase(), params };
}

function isLoopback(host: string): boolean {
  const h = host.replace(/:\d+$/, '');
  return h === 'localhost' || h.startsWith('127.') || h === '[::1]';
}

interface SendOptions {
  readonly headers?: Record<string, string>;
  readonly body?: Uint8Array;
  /** Most bytes of the answer's body held in memory (default `limits.blob.maxBytes`), and the code past it. */
  readonly maxBytes?: number;
  readonly tooLargeCode?: 'OCI_MANIFEST_INVALID' | 'OCI_BLOB_INVALID';
}

/**
 * Blob uploads in flight in this process, by `registry/repository@digest`, shared by every client:
 * storage instances with other credentials (other ServiceAccounts, other wirings) uploading the same
 * blob at once make Distribution answer 500 while it rewrites the link. Entries live only while an
 * upload is in flight.
 */
const blobUploads = new Map<string, Promise<Descriptor>>();

/**
 * Blobs a client uploaded or found (HEAD 200) recently, by `registry/repository@digest`, with the
 * time they were last confirmed: not re-checked (the empty config every referrer shares, a retry's
 * layers). Bounded and short-lived so a registry garbage collection is noticed; a manifest PUT that
 * still finds a blob missing forgets the repository's entries (see `putManifest`). One per client
 * (oci-storage keeps one client per registry per wiring), never module state.
 */
const knownBlobTtlMs = 10 * 60_000;
const knownBlobMax = 20_000;

interface KnownBlobs {
  has(key: string, now: number): boolean;
  remember(key: string, now: number): void;
  forgetRepository(repositoryKey: string): void;
}

function createKnownBlobs(): KnownBlobs {
  const known = new Map<string, number>();
  return {
    has(key, now) {
      const at = known.get(key);
      if (at === undefined) return false;
      if (now - at <= knownBlobTtlMs) return true;
      known.delete(key);
      return false;
    },
    remember(key, now) {
      known.delete(key);
      known.set(key, now);
      while (known.size > knownBlobMax) {
        const oldest = known.keys().next().value;
        if (oldest === undefined) break;
        known.delete(oldest);
      }
    },
    forgetRepository(repositoryKey) {
      for (const key of known.keys()) if (key.startsWith(`${repositoryKey}@`)) known.delete(key);
    },
  };
}

/** Registry requests this process has sent (every hop, auth challenges included): a benchmark figure. */
let requestsSent = 0;

export function registryRequestsSent(): number {
  return requestsSent;
}

export function createRegistryClient(deps: RegistryClientDeps): RegistryClient {
  const doFetch = deps.fetch ?? fetch;
  const host = apiHost(deps.registry);
  const scheme = deps.insecure || isLoopback(host) ? 'http' : 'https';
  const origin = new URL(`${scheme}://${host}`).origin;
  const actions = deps.actions ?? 'pull,push';
  const credential: RegistryCredential | undefined = deps.credentials?.get(deps.registry);
  const log = deps.logger.child({ registry: deps.registry });
  /** Authorization per repository (Bearer tokens are scoped to a repository) and for the host (Basic). */
  const tokens = new Map<string, string>();
  const pendingTokens = new Map<string, Promise<string>>();
  let basic: string | undefined;
  const referrersCache = new Map<string, boolean>();
  const knownBlobs = createKnownBlobs();
  const timeoutMs = deps.timeoutMs ?? limits.http.timeoutMs;
  const bodyTooLarge =
    (code: ErrorCode = 'OCI_BLOB_INVALID') =>
    (actual: number, max: number): ProvenantError =>
      new ProvenantError('input', code, `registry ${deps.registry} sent a body of more than ${max} bytes (${actual} read)`, {
        context: { registry: deps.registry, limit: 'bytes', max, actual, hint: 'see docs/limits.md' },
      });

  const errorContext = (repository: string, status?: number): Record<string, unknown> => ({
    registry: deps.registry,
    repository,
    ...(status !== undefined ? { status } : {}),
    ...(deps.serviceAccount !== undefined ? { serviceAccount: deps.serviceAccount } : {}),
  });

  function statusError(status: number, repository: string, what: string): ProvenantError {
    const ctx = errorContext(repository, status);
    const sa = deps.serviceAccount !== undefined ? ` (ServiceAccount ${deps.serviceAccount})` : '';
    if (status === 401) {
      return new ProvenantError('permanent', 'OCI_UNAUTHORIZED', `registry ${deps.registry} rejected the credentials${sa} for ${repository} (${what})`, {
        context: { ...ctx, hint: 'add registry credentials (imagePullSecrets of the run ServiceAccount, or --docker-config)' },
      });
    }
    if (status === 403) {
      return new ProvenantError('permanent', 'OCI_FORBIDDEN', `registry ${deps.registry} denied ${what} on ${repository}${sa}`, {
        context: { ...ctx, hint: 'the credentials need push access to the repository' },
      });
    }
    if (status === 408 || status === 429 || status >= 500) {
      return new ProvenantError('transient', 'OCI_UNAVAILABLE', `registry ${deps.registry} answered ${status} to ${what} on ${repository}`, { context: ctx });
    }
    return new ProvenantError('permanent', 'OCI_REQUEST_FAILED', `registry ${deps.registry} answered ${status} to ${what} on ${repository}`, { context: ctx });
  }

  function networkError(err: unknown, repository: string, what: string): ProvenantError {
    return new ProvenantError('transient', 'OCI_UNAVAILABLE', `registry ${deps.registry} unreachable during ${what} on ${repository}`, {
      cause: err,
      context: errorContext(repository),
    });
  }

  /** One request, following redirects by hand so credentials never cross origins. */
  async function send(method: string, url: string, opts: SendOptions, auth: string | undefined): Promise<TransportResponse> {
    let current = new URL(url, origin);
    let currentMethod = method;
    let body = opts.body;
    for (let hop = 0; ; hop++) {
      const headers: Record<string, string> = { ...opts.headers };
      if (auth !== undefined && current.origin === origin) headers['Authorization'] = auth;
      if (body === undefined) delete headers['Content-Type'];
      const init = { method: currentMethod, headers, ...(body !== undefined ? { body } : {}) };
      requestsSent++;
      const res = deps.fetch
        ? await deps.fetch(current, { ...init, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) })
        : await httpTransport(current, { ...init, timeoutMs, maxBodyBytes: opts.maxBytes ?? limits.blob.maxBytes, tooLarge: bodyTooLarge(opts.tooLargeCode) });
      if (![301, 302, 303, 307, 308].includes(res.status)) return res;
      const location = res.headers.get('location');
      await res.body?.cancel();
      if (location === null || hop >= MAX_REDIRECTS) return res;
      current = new URL(location, current);
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && currentMethod === 'POST')) {
        if (currentMethod !== 'HEAD') currentMethod = 'GET';
        body = undefined;
      }
    }
  }

  async function fetchToken(challenge: Challenge, repository: string): Promise<string> {
    if (credential?.registryToken !== undefined) return credential.registryToken;
    const realm = challenge.params['realm'];
    if (realm === undefined) throw statusError(401, repository, 'token challenge without realm');
    const service = challenge.params['service'];
    const scope = `repository:${repository}:${actions}`;
    let res: Response;
    requestsSent++;
    try {
      if (credential?.identityToken !== undefined) {
        const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: credential.identityToken, client_id: 'provenant', scope });
        if (service !== undefined) form.set('service', service);
        res = await doFetch(realm, {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
          body: form.toString(),
          redirect: 'error',
          signal: AbortSignal.timeout(timeoutMs),
        });
      } else {
        const u = new URL(realm);
        if (service !== undefined) u.searchParams.set('service', service);
        u.searchParams.set('scope', scope);
        const headers: Record<string, string> = {};
        if (credential?.username !== undefined) {
          headers['Authorization'] = `Basic ${Buffer.from(`${credential.username}:${credential.password ?? ''}`).toString('base64')}`;
        }
        res = await doFetch(u, { headers, redirect: 'error', signal: AbortSignal.timeout(timeoutMs) });
      }
    } catch (err) {
      throw networkError(err, repository, 'token request');
    }
    if (res.status !== 200) {
      await res.body?.cancel();
      throw statusError(res.status, repository, 'token request');
    }
    const json = ((await readJsonAnswer(res, { registry: deps.registry, repository }, 'token answer', limits.http.tokenMaxBytes)) ?? {}) as {
      token?: unknown;
      access_token?: unknown;
    };
    const token = typeof json.token === 'string' ? json.token : typeof json.access_token === 'string' ? json.access_token : undefined;
    if (token === undefined) throw statusError(401, repository, 'token request (no token in answer)');
    return token;
  }

  async function authorize(res: TransportResponse, repository: string): Promise<boolean> {
    const challenge = parseChallenge(res.headers.get('www-authenticate') ?? '');
    if (challenge === undefined) return false;
    if (challenge.scheme === 'basic') {
      if (credential?.username === undefined) return false;
      basic = `Basic ${Buffer.from(`${credential.username}:${credential.password ?? ''}`).toString('base64')}`;
      return true;
    }
    if (challenge.scheme === 'bearer') {
      let pending = pendingTokens.get(repository);
      if (pending === undefined) {
        pending = fetchToken(challenge, repository).finally(() => pendingTokens.delete(repository));
        pendingTokens.set(repository, pending);
      }
      tokens.set(repository, `Bearer ${await pending}`);
      return true;
    }
    return false;
  }

  /**
   * Where this client last uploaded each blob (by digest), so the same bytes going to another
   * repository of the registry are mounted from there (`POST ?mount=&from=`, one request) instead of
   * uploaded again (POST + PUT): a provenance's `.att` layer and config are the same bytes for every
   * image of a run, and a run's images usually live in different repositories. Bounded; an entry
   * that no longer holds (garbage collected) only costs the fallback the registry answers anyway.
   */
  const blobHomes = new Map<string, { readonly repository: string; readonly uploaded: Promise<unknown> }>();
  const maxBlobHomes = 2_000;

  async function startUpload(repository: string, digest: string, mountFrom: string | undefined): Promise<TransportResponse | undefined> {
    if (mountFrom !== undefined && !tokens.has(repository)) {
      // A mount needs pull on the source repository too; a Bearer token scoped to this repository alone
      // is refused, so mount only without tokens (anonymous or Basic) and fall back on any refusal.
      const mount = await request('POST', v2(repository, `blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(mountFrom)}`), repository, 'blob mount').catch(
        () => undefined,
      );
      if (mount !== undefined) {
        await mount.body?.cancel();
        // 201: mounted; 202: the registry could not mount and opened an upload instead (use it).
        if (mount.status === 201 || (mount.status === 202 && mount.headers.get('location') !== null)) return mount;
      }
    }
    return undefined;
  }

  async function pushBlobOnce(repository: string, bytes: Uint8Array, digest: string, mediaType: string, fresh: boolean, mountFrom: string | undefined): Promise<Descriptor> {
    const descriptor: Descriptor = { mediaType, digest, size: bytes.length };
    if (!fresh) {
      const head = await request('HEAD', v2(repository, `blobs/${digest}`), repository, 'blob HEAD');
      await head.body?.cancel();
      if (head.status === 200) return descriptor;
    }
    const mounted = await startUpload(repository, digest, mountFrom);
    if (mounted?.status === 201) return descriptor;
    const start = mounted ?? (await request('POST', v2(repository, 'blobs/uploads/'), repository, 'blob upload start'));
    await start.body?.cancel();
    const location = start.headers.get('location');
    if (start.status !== 202 || location === null) throw statusError(start.status, repository, 'blob upload start');
    const target = new URL(location, origin);
    target.searchParams.set('digest', digest);
    const put = await request('PUT', target.toString(), repository, 'blob upload', {
      headers: { 'Content-Type': 'application/octet-stream' },
      body: bytes,
    });
    await put.body?.cancel();
    if (put.status !== 201 && put.status !== 200) throw statusError(put.status, repository, 'blob upload');
    return descriptor;
  }

  /** Sends with auth; on a 401 answers the challenge once and retries. Classifies 401/403/429/5xx. */
  async function request(method: string, url: string, repository: string, what: string, opts: SendOptions = {}): Promise<TransportResponse> {
    for (let attempt = 0; ; attempt++) {
      const auth = tokens.get(repository) ?? basic;
      let res: TransportResponse;
      try {
        res = await send(method, url, opts, auth);
      } catch (err) {
        if (err instanceof ProvenantError) throw err;
        throw networkError(err, repository, what);
      }
      if (res.status === 401 && attempt === 0) {
        await res.body?.cancel();
        if (await authorize(res, repository)) continue;
        throw statusError(401, repository, what);
      }
      if (res.status === 401 || res.status === 403 || res.status === 408 || res.status === 429 || res.status >= 500) {
        await res.body?.cancel();
        throw statusError(res.status, repository, what);
      }
      return res;
    }
  }

  const v2 = (repository: string, rest: string): string => `${origin}/v2/${repository}/${rest}`;

  async function readManifest(res: TransportResponse, repository: string, reference: string): Promise<FetchedManifest> {
    const { bytes, digest, json } = await readManifestBody(res, { registry: deps.registry, repository, reference });
    const mediaType =
      typeof json['mediaType'] === 'string' ? json['mediaType'] : (res.headers.get('content-type') ?? MEDIA_TYPE_OCI_MANIFEST).split(';')[0]!.trim();
    return { descriptor: { mediaType, digest, size: bytes.length }, bytes, json };
  }

  return {
    registry: deps.registry,

    async headManifest(repository, reference) {
      const res = await request('HEAD', v2(repository, `manifests/${reference}`), repository, 'manifest HEAD', { headers: { Accept: MANIFEST_ACCEPT } });
      if (res.status === 404) return undefined;
      if (res.status !== 200) throw statusError(res.status, repository, 'manifest HEAD');
      const digest = res.headers.get('docker-content-digest');
      const size = Number(res.headers.get('content-length'));
      const mediaType = res.headers.get('content-type')?.split(';')[0]?.trim();
      if (digest === null || !Number.isFinite(size) || size <= 0 || mediaType === undefined) {
        // Some registries omit headers on HEAD: fall back to a GET.
        const got = await this.getManifest(repository, reference);
        return got?.descriptor;
      }
      return { mediaType, digest, size };
    },

    async getManifest(repository, reference) {
      const res = await request('GET', v2(repository, `manifests/${reference}`), repository, 'manifest GET', {
        headers: { Accept: MANIFEST_ACCEPT },
        maxBytes: limits.manifest.maxBytes,
        tooLargeCode: 'OCI_MANIFEST_INVALID',
      });
      if (res.status === 404) {
        await res.body?.cancel();
        return undefined;
      }
      if (res.status !== 200) {
        await res.body?.cancel();
        throw statusError(res.status, repository, 'manifest GET');
      }
      return readManifest(res, repository, reference);
    },

    async putManifest(repository, reference, bytes, mediaType) {
      // Distribution briefly reports a blob as unknown while a concurrent upload of the same blob (the
      // empty config every referrer shares) commits: MANIFEST_BLOB_UNKNOWN. The blob is there a moment
      // later, so retry a few times before failing.
      for (let attempt = 1; ; attempt++) {
        const res = await request('PUT', v2(repository, `manifests/${reference}`), repository, 'manifest PUT', {
          headers: { 'Content-Type': mediaType },
          body: bytes,
        });
        if (res.status === 201 || res.status === 200) {
          await res.body?.cancel();
          break;
        }
        const body = res.status === 400 ? await res.text().catch(() => '') : (await res.body?.cancel(), '');
        const blobUnknown = body.includes('MANIFEST_BLOB_UNKNOWN');
        if (attempt < 5 && blobUnknown) {
          await new Promise((r) => setTimeout(r, 20 * attempt));
          continue;
        }
        // A blob we believed present is gone (garbage collected): let the retry upload it again.
        if (blobUnknown) knownBlobs.forgetRepository(`${deps.registry}/${repository}`);
        throw statusError(res.status, repository, 'manifest PUT');
      }
      log.debug({ repository, reference, mediaType }, 'manifest written');
      return { mediaType, digest: sha256Digest(bytes), size: bytes.length };
    },

    async pushBlob(repository, bytes, mediaType = 'application/octet-stream', options = {}) {
      const digest = sha256Digest(bytes);
      const key = `${deps.registry}/${repository}@${digest}`;
      if (knownBlobs.has(key, Date.now())) return { mediaType, digest, size: bytes.length };
      // Concurrent uploads of the same blob (the empty config every referrer shares) make Distribution
      // answer 500 or "blob unknown" while the link is rewritten: one upload per blob at a time.
      const running = blobUploads.get(key);
      if (running !== undefined) return { ...(await running), mediaType };
      // The same bytes uploaded (or being uploaded) to another repository: wait for that, then mount.
      const home = blobHomes.get(digest);
      const mounting = home !== undefined && home.repository !== repository;
      const upload = (async () => {
        const mountFrom = mounting ? await home.uploaded.then(() => home.repository, () => undefined) : undefined;
        return pushBlobOnce(repository, bytes, digest, mediaType, options.fresh === true, mountFrom);
      })();
      blobUploads.set(key, upload);
      if (!mounting) {
        blobHomes.delete(digest);
        blobHomes.set(digest, { repository, uploaded: upload });
        while (blobHomes.size > maxBlobHomes) {
          const oldest = blobHomes.keys().next().value;
          if (oldest === undefined) break;
          blobHomes.delete(oldest);
        }
      }
      try {
        const descriptor = await upload;
        knownBlobs.remember(key, Date.now());
        return descriptor;
      } finally {
        blobUploads.delete(key);
      }
    },

    async getBlob(repository, digest) {
      const res = await request('GET', v2(repository, `blobs/${digest}`), repository, 'blob GET');
      if (res.status !== 200) {
        await res.body?.cancel();
        if (res.status === 404) {
          throw new ProvenantError('permanent', 'OCI_BLOB_NOT_FOUND', `blob ${digest} missing in ${deps.registry}/${repository}`, {
            context: errorContext(repository, 404),
          });
        }
        throw statusError(res.status, repository, 'blob GET');
      }
      return readBlobBody(res, digest, { registry: deps.registry, repository });
    },

    async getReferrers(repository, digest) {
      const res = await request('GET', v2(repository, `referrers/${digest}`), repository, 'referrers GET', {
        headers: { Accept: MEDIA_TYPE_OCI_INDEX },
        maxBytes: limits.manifest.maxBytes,
        tooLargeCode: 'OCI_MANIFEST_INVALID',
      });
      const type = res.headers.get('content-type') ?? '';
      if (res.status !== 200 || !type.startsWith(MEDIA_TYPE_OCI_INDEX)) {
        await res.body?.cancel();
        referrersCache.set(repository, false);
        return undefined;
      }
      referrersCache.set(repository, true);
      const index = await readJsonAnswer(res, { registry: deps.registry, repository }, `referrers of ${digest}`, limits.manifest.maxBytes);
      return checkManifestDocument(index, `referrers of ${digest} on ${deps.registry}/${repository}`);
    },

    async referrersSupported(repository, digest) {
      const known = referrersCache.get(repository);
      if (known !== undefined) return known;
      return (await this.getReferrers(repository, digest)) !== undefined;
    },
  };
}
