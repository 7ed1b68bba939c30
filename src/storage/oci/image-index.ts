/**
 * Image indexes (OCI image index, Docker manifest list): the platform manifests an index names
 * (tektoncd/chains#1070). Read bounded: a HEAD first (no body read for a plain image manifest or
 * an index over the size limit), then the index body, checked against its digest and the count limit.
 * Only one level is followed: a nested index and buildx attestation manifests are not platforms.
 */
import { ProvenantError } from '../../errors.js';
import type { Logger } from '../../observability/index.js';
import type { DockerCredentials } from './credentials.js';
import {
  MEDIA_TYPE_DOCKER_MANIFEST,
  MEDIA_TYPE_DOCKER_MANIFEST_LIST,
  MEDIA_TYPE_OCI_INDEX,
  MEDIA_TYPE_OCI_MANIFEST,
  createRegistryClient,
  type FetchedManifest,
  type RegistryClient,
} from './registry-client.js';
import { formatRepository, isSha256Digest, type ImageDigestRef } from './reference.js';

export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
}

export interface PlatformManifest {
  /** `sha256:<hex>` */
  readonly digest: string;
  readonly mediaType: string;
  readonly size: number;
  readonly platform?: Platform;
}

export interface IndexLimits {
  /** Most platform entries an index may list. */
  readonly maxManifests: number;
  /** Largest index body read, in bytes. */
  readonly maxBytes: number;
}

/** Generous for real multi-arch images (a dozen platforms, a few KiB), small enough to bound memory. */
export const defaultIndexLimits: IndexLimits = { maxManifests: 256, maxBytes: 4 * 1024 * 1024 };

export function isIndexMediaType(mediaType: string | undefined): boolean {
  return mediaType === MEDIA_TYPE_OCI_INDEX || mediaType === MEDIA_TYPE_DOCKER_MANIFEST_LIST;
}

const platformMediaTypes = new Set([MEDIA_TYPE_OCI_MANIFEST, MEDIA_TYPE_DOCKER_MANIFEST]);

function tooLarge(ref: string, what: string, context: Record<string, unknown>): ProvenantError {
  return new ProvenantError('permanent', 'OCI_INDEX_TOO_LARGE', `image index ${ref}: ${what}`, { context: { image: ref, ...context } });
}

function asPlatform(raw: unknown): Platform | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  const o = raw as Record<string, unknown>;
  if (typeof o['os'] !== 'string' || typeof o['architecture'] !== 'string') return undefined;
  return { os: o['os'], architecture: o['architecture'], ...(typeof o['variant'] === 'string' && o['variant'] !== '' ? { variant: o['variant'] } : {}) };
}

/** The platform manifests of a fetched index (pure); throws `OCI_INDEX_TOO_LARGE` / `OCI_MANIFEST_INVALID`. */
export function platformManifestsOfIndex(fetched: FetchedManifest, ref: string, limits: IndexLimits = defaultIndexLimits): PlatformManifest[] {
  if (fetched.bytes.length > limits.maxBytes) throw tooLarge(ref, `${fetched.bytes.length} bytes`, { bytes: fetched.bytes.length, maxBytes: limits.maxBytes });
  const entries = fetched.json['manifests'];
  if (!Array.isArray(entries)) {
    throw new ProvenantError('permanent', 'OCI_MANIFEST_INVALID', `image index ${ref} has no manifests list`, { context: { image: ref } });
  }
  if (entries.length > limits.maxManifests) {
    throw tooLarge(ref, `${entries.length} manifests`, { manifests: entries.length, maxManifests: limits.maxManifests });
  }
  const out: PlatformManifest[] = [];
  for (const entry of entries as unknown[]) {
    if (entry === null || typeof entry !== 'object') continue;
    const e = entry as Record<string, unknown>;
    const digest = e['digest'];
    const mediaType = e['mediaType'];
    if (typeof digest !== 'string' || !isSha256Digest(digest) || typeof mediaType !== 'string' || !platformMediaTypes.has(mediaType)) continue;
    const annotations = (e['annotations'] ?? {}) as Record<string, unknown>;
    // buildx puts its attestation manifests (platform unknown/unknown) in the index: not a platform.
    if (annotations['vnd.docker.reference.type'] === 'attestation-manifest') continue;
    const platform = asPlatform(e['platform']);
    if (platform?.os === 'unknown' && platform.architecture === 'unknown') continue;
    if (out.some((m) => m.digest === digest)) continue;
    out.push({ digest, mediaType, size: typeof e['size'] === 'number' ? e['size'] : 0, ...(platform ? { platform } : {}) });
  }
  return out;
}

/**
 * The platform manifests of `image` when it is an index; undefined for a plain image manifest or a
 * missing image (the image-signature store reports that one). One HEAD, plus one GET for an index.
 */
export async function readPlatformManifests(client: RegistryClient, image: ImageDigestRef, limits: IndexLimits = defaultIndexLimits): Promise<PlatformManifest[] | undefined> {
  const ref = `${formatRepository(image)}@${image.digest}`;
  const head = await client.headManifest(image.repository, image.digest);
  if (head === undefined || !isIndexMediaType(head.mediaType)) return undefined;
  if (head.size > limits.maxBytes) throw tooLarge(ref, `${head.size} bytes`, { bytes: head.size, maxBytes: limits.maxBytes });
  const fetched = await client.getManifest(image.repository, image.digest);
  if (fetched === undefined) return undefined;
  if (fetched.descriptor.digest !== image.digest) {
    throw new ProvenantError('permanent', 'OCI_DIGEST_MISMATCH', `registry returned ${fetched.descriptor.digest} for ${ref}`, {
      context: { image: ref, returned: fetched.descriptor.digest },
    });
  }
  return platformManifestsOfIndex(fetched, ref, limits);
}

export interface IndexReaderDeps {
  /** `storage.oci.repository.insecure`; an index is read from the image's own repository. */
  readonly insecure: boolean;
  readonly credentials?: DockerCredentials | undefined;
  readonly logger: Logger;
  readonly fetch?: typeof fetch | undefined;
  readonly serviceAccount?: string | undefined;
  readonly limits?: IndexLimits;
}

export interface IndexReader {
  /** Platform manifests when `image` is an index, else undefined. */
  platformManifests(image: ImageDigestRef): Promise<PlatformManifest[] | undefined>;
}

export function createIndexReader(deps: IndexReaderDeps): IndexReader {
  const clients = new Map<string, RegistryClient>();
  return {
    platformManifests(image) {
      let client = clients.get(image.registry);
      if (client === undefined) {
        client = createRegistryClient({
          registry: image.registry,
          insecure: deps.insecure,
          credentials: deps.credentials,
          logger: deps.logger,
          fetch: deps.fetch,
          serviceAccount: deps.serviceAccount,
          actions: 'pull',
        });
        clients.set(image.registry, client);
      }
      return readPlatformManifests(client, image, deps.limits);
    },
  };
}

/** Node's `process.platform`/`process.arch` as an OCI platform (`linux/amd64`, `linux/arm64`, …). */
export function hostPlatform(platform: string = process.platform, arch: string = process.arch): string {
  const os = platform === 'win32' ? 'windows' : platform;
  const goArch: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', loong64: 'loong64', mips: 'mips', mipsel: 'mipsle' };
  return `${os}/${goArch[arch] ?? arch}`;
}

/** Parses `os/arch[/variant]`; undefined when malformed. */
export function parsePlatform(text: string): Platform | undefined {
  const parts = text.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '')) return undefined;
  const [os, architecture, variant] = parts as [string, string, string | undefined];
  return { os, architecture, ...(variant !== undefined ? { variant } : {}) };
}

export function formatPlatform(p: Platform | undefined): string {
  return p === undefined ? 'unknown' : [p.os, p.architecture, ...(p.variant ? [p.variant] : [])].join('/');
}

/**
 * The manifests matching `wanted`: `all`, or one platform (a wanted variant must match; without one,
 * any variant matches, the first listed wins, as `docker pull` picks).
 */
export function selectPlatformManifests(manifests: readonly PlatformManifest[], wanted: 'all' | Platform): PlatformManifest[] {
  if (wanted === 'all') return [...manifests];
  const match = manifests.filter(
    (m) =>
      m.platform !== undefined &&
      m.platform.os === wanted.os &&
      m.platform.architecture === wanted.architecture &&
      (wanted.variant === undefined || m.platform.variant === wanted.variant),
  );
  return match.slice(0, 1);
}
