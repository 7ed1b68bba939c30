/**
 * Sigstore trust material from a TUF mirror (`signers.x509.tuf.mirror.url`), as Tekton Chains does when
 * the key is not its default: the initial `root.json` is taken from `<mirror>/root.json` the first time
 * (trust on first use, Chains' `initializeTUF`), then `@sigstore/tuf` (tuf-js) keeps it current, following
 * root rotations, and returns the `trusted_root.json` target. Every TUF failure is a typed error: an expired
 * timestamp or snapshot never falls back to the cached or embedded trust material.
 *
 * Loaded lazily (only when a mirror is configured): tuf-js and its fetch stack stay out of other installs.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TrustedRoot } from '@sigstore/protobuf-specs';
import { ProvenantError, type SigningErrorCode } from '../errors.js';

/** Chains' default; with it, Chains (and provenant) does not initialise TUF from a mirror. */
export const defaultTufMirrorUrl = 'https://sigstore-tuf-root.storage.googleapis.com';

export interface TufTrustOptions {
  readonly mirrorUrl: string;
  /** Where TUF metadata is cached between reloads; default `$TUF_ROOT` or `<tmp>/provenant-tuf`. */
  readonly cachePath?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly fetch?: typeof fetch;
  readonly timeoutMs?: number;
}

const hint = 'check signers.x509.tuf.mirror.url: it must serve root.json, timestamp.json, <n>.snapshot.json, <n>.targets.json and targets/<sha256>.trusted_root.json';

/** tuf-js error classes, by constructor name (its error module is not exported). */
function classify(cause: unknown): { kind: 'transient' | 'config'; code: SigningErrorCode } {
  let err: unknown = cause;
  for (let i = 0; i < 4 && err instanceof Error; i += 1) {
    switch (err.constructor.name) {
      case 'ExpiredMetadataError':
        return { kind: 'transient', code: 'TUF_METADATA_EXPIRED' };
      case 'UnsignedMetadataError':
      case 'BadVersionError':
      case 'EqualVersionError':
      case 'LengthOrHashMismatchError':
      case 'RepositoryError':
      case 'ValueError':
        return { kind: 'config', code: 'TUF_METADATA_INVALID' };
      case 'DownloadHTTPError':
      case 'DownloadError':
      case 'DownloadLengthMismatchError':
      case 'FetchError':
        return { kind: 'transient', code: 'TUF_UNAVAILABLE' };
      default:
        err = (err as { cause?: unknown }).cause;
    }
  }
  return { kind: 'transient', code: 'TUF_UNAVAILABLE' };
}

/** The `trusted_root.json` target of the TUF repository at `mirrorUrl`, verified by tuf-js. */
export async function fetchTrustedRootFromMirror(options: TufTrustOptions): Promise<TrustedRoot> {
  const env = options.env ?? process.env;
  const mirrorUrl = options.mirrorUrl.replace(/\/+$/, '');
  const cachePath = options.cachePath ?? env['TUF_ROOT'] ?? join(tmpdir(), 'provenant-tuf');
  const url = new URL(mirrorUrl);
  // The same per-mirror directory @sigstore/tuf derives, to know whether a root is already trusted.
  const repoDir = join(cachePath, encodeURIComponent(url.host + url.pathname.replace(/\/$/, '')));
  let seedDir: string | undefined;
  let rootPath: string | undefined;
  if (!existsSync(join(repoDir, 'root.json'))) {
    const doFetch = options.fetch ?? fetch;
    let res: Response;
    try {
      res = await doFetch(`${mirrorUrl}/root.json`, { signal: AbortSignal.timeout(options.timeoutMs ?? 10_000) });
    } catch {
      throw new ProvenantError('transient', 'TUF_UNAVAILABLE', `TUF mirror ${mirrorUrl} did not answer for root.json`, { context: { mirror: mirrorUrl, hint } });
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new ProvenantError(res.status >= 500 ? 'transient' : 'config', 'TUF_UNAVAILABLE', `TUF mirror ${mirrorUrl} answered HTTP ${res.status} for root.json`, {
        context: { mirror: mirrorUrl, status: res.status, hint },
      });
    }
    await mkdir(cachePath, { recursive: true });
    seedDir = await mkdtemp(join(cachePath, 'seed-'));
    rootPath = join(seedDir, 'root.json');
    await writeFile(rootPath, Buffer.from(await res.arrayBuffer()));
  }
  try {
    const { getTrustedRoot } = await import('@sigstore/tuf');
    return await getTrustedRoot({
      mirrorURL: mirrorUrl,
      cachePath,
      ...(rootPath === undefined ? {} : { rootPath }),
      retry: false,
      timeout: options.timeoutMs ?? 10_000,
    });
  } catch (err) {
    const c = classify(err);
    const what = c.code === 'TUF_METADATA_EXPIRED' ? 'has expired metadata' : c.code === 'TUF_METADATA_INVALID' ? 'served metadata that does not verify' : 'could not be read';
    throw new ProvenantError(c.kind, c.code, `TUF mirror ${mirrorUrl} ${what}; the cached trust material is not used instead`, {
      cause: err,
      context: { mirror: mirrorUrl, tufCode: (err as { code?: unknown }).code, hint },
    });
  } finally {
    if (seedDir !== undefined) await rm(seedDir, { recursive: true, force: true });
  }
}

/**
 * Fulcio CA certificates (DER) of the mirror's trusted root, or undefined for Chains' default mirror
 * (Chains initialises TUF only for a non-default `signers.x509.tuf.mirror.url`).
 */
export async function fulcioCasFromMirror(
  mirrorUrl: string,
  deps: { readonly env?: NodeJS.ProcessEnv; readonly fetch?: typeof fetch; readonly logger?: { info(obj: object, msg: string): void } },
): Promise<Uint8Array[] | undefined> {
  if (mirrorUrl.replace(/\/+$/, '') === defaultTufMirrorUrl) return undefined;
  const root = await fetchTrustedRootFromMirror({ mirrorUrl, ...(deps.env === undefined ? {} : { env: deps.env }), ...(deps.fetch === undefined ? {} : { fetch: deps.fetch }) });
  const cas = root.certificateAuthorities.flatMap((ca) => (ca.certChain?.certificates ?? []).map((c) => c.rawBytes));
  if (cas.length === 0) {
    throw new ProvenantError('config', 'TUF_METADATA_INVALID', `the trusted root from ${mirrorUrl} lists no certificate authority`, { context: { mirror: mirrorUrl, hint } });
  }
  deps.logger?.info({ mirror: mirrorUrl, certificateAuthorities: root.certificateAuthorities.length, tlogs: root.tlogs.length }, 'trusted root loaded from the TUF mirror');
  return cas;
}
