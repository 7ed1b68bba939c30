import { describe, expect, it } from 'vitest';
import { isProvenantError } from '../../../src/errors.js';
import {
  defaultIndexLimits,
  hostPlatform,
  parsePlatform,
  platformManifestsOfIndex,
  selectPlatformManifests,
  sha256Digest,
  type FetchedManifest,
} from '../../../src/storage/index.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const d = (c: string): string => `sha256:${c.repeat(64)}`;

function fetched(json: Record<string, unknown>): FetchedManifest {
  const bytes = new TextEncoder().encode(JSON.stringify(json));
  return { descriptor: { mediaType: String(json['mediaType']), digest: sha256Digest(bytes), size: bytes.length }, bytes, json };
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isProvenantError(err) ? err.code : 'not a ProvenantError';
  }
  return undefined;
}

describe('platformManifestsOfIndex', () => {
  it('lists platform manifests; skips buildx attestation manifests, nested indexes, bad digests and repeats', () => {
    const index = fetched({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        { mediaType: OCI_MANIFEST, digest: d('a'), size: 10, platform: { os: 'linux', architecture: 'amd64' } },
        { mediaType: 'application/vnd.docker.distribution.manifest.v2+json', digest: d('b'), size: 11, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
        { mediaType: OCI_MANIFEST, digest: d('c'), size: 12, platform: { os: 'unknown', architecture: 'unknown' }, annotations: { 'vnd.docker.reference.type': 'attestation-manifest' } },
        { mediaType: 'application/vnd.oci.image.index.v1+json', digest: d('d'), size: 13 },
        { mediaType: OCI_MANIFEST, digest: 'sha256:short', size: 1 },
        { mediaType: OCI_MANIFEST, digest: d('a'), size: 10, platform: { os: 'linux', architecture: 'amd64' } },
        null,
      ],
    });
    expect(platformManifestsOfIndex(index, 'r@x')).toEqual([
      { digest: d('a'), mediaType: OCI_MANIFEST, size: 10, platform: { os: 'linux', architecture: 'amd64' } },
      { digest: d('b'), mediaType: 'application/vnd.docker.distribution.manifest.v2+json', size: 11, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
    ]);
  });

  it('is bounded: too many entries or too many bytes is OCI_INDEX_TOO_LARGE; no manifests list is OCI_MANIFEST_INVALID', () => {
    const many = fetched({ schemaVersion: 2, manifests: Array.from({ length: 5 }, (_, i) => ({ mediaType: OCI_MANIFEST, digest: d(String(i)), size: 1 })) });
    expect(codeOf(() => platformManifestsOfIndex(many, 'r@x', { maxManifests: 4, maxBytes: defaultIndexLimits.maxBytes }))).toBe('OCI_INDEX_TOO_LARGE');
    expect(codeOf(() => platformManifestsOfIndex(many, 'r@x', { maxManifests: 5, maxBytes: 100 }))).toBe('OCI_INDEX_TOO_LARGE');
    expect(platformManifestsOfIndex(many, 'r@x', { maxManifests: 5, maxBytes: 10_000 })).toHaveLength(5);
    expect(codeOf(() => platformManifestsOfIndex(fetched({ schemaVersion: 2 }), 'r@x'))).toBe('OCI_MANIFEST_INVALID');
  });
});

describe('platform selection', () => {
  const manifests = [
    { digest: d('a'), mediaType: OCI_MANIFEST, size: 1, platform: { os: 'linux', architecture: 'amd64' } },
    { digest: d('b'), mediaType: OCI_MANIFEST, size: 1, platform: { os: 'linux', architecture: 'arm', variant: 'v6' } },
    { digest: d('c'), mediaType: OCI_MANIFEST, size: 1, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
    { digest: d('e'), mediaType: OCI_MANIFEST, size: 1 },
  ];
  it('one platform (a variant must match when given; else the first listed), or all', () => {
    expect(selectPlatformManifests(manifests, { os: 'linux', architecture: 'amd64' }).map((m) => m.digest)).toEqual([d('a')]);
    expect(selectPlatformManifests(manifests, { os: 'linux', architecture: 'arm', variant: 'v7' }).map((m) => m.digest)).toEqual([d('c')]);
    expect(selectPlatformManifests(manifests, { os: 'linux', architecture: 'arm' }).map((m) => m.digest)).toEqual([d('b')]);
    expect(selectPlatformManifests(manifests, { os: 'windows', architecture: 'amd64' })).toEqual([]);
    expect(selectPlatformManifests(manifests, 'all')).toHaveLength(4);
  });
  it('parses os/arch[/variant] and maps Node arch names to OCI (Go) ones', () => {
    expect(parsePlatform('linux/arm64/v8')).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(parsePlatform('linux')).toBeUndefined();
    expect(parsePlatform('linux//v8')).toBeUndefined();
    expect(hostPlatform('linux', 'x64')).toBe('linux/amd64');
    expect(hostPlatform('darwin', 'arm64')).toBe('darwin/arm64');
    expect(hostPlatform('win32', 'ia32')).toBe('windows/386');
  });
});
