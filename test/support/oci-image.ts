/**
 * Test helpers for OCI storage: push a real (tiny) image to a registry through provenant's own registry
 * client, and sign Sigstore bundles (DSSE provenance, simple-signing message signature) with an
 * in-test ECDSA P-256 key. Keys are generated per test run and never written to disk.
 */
import { createHash, generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { DSSEBundleBuilder, MessageSignatureBundleBuilder, type Signer, type Witness } from '@sigstore/sign';
import { bundleToJSON, type SerializedBundle } from '@sigstore/bundle';
import { createSilentLogger } from '../../src/observability/logger.js';
import { createRegistryClient, sha256Digest, type DockerCredentials } from '../../src/storage/oci/index.js';

export interface PushedImage {
  /** `host/repo` (no digest), as a subject name. */
  readonly name: string;
  readonly repository: string;
  /** `sha256:<hex>` */
  readonly digest: string;
  readonly hex: string;
  /** `host/repo@sha256:<hex>` */
  readonly ref: string;
  readonly mediaType: string;
  readonly size: number;
}

/** Pushes config blob + one layer + an OCI image manifest tagged `tag`; returns its digest. */
export async function pushTestImage(options: {
  host: string;
  repository: string;
  tag?: string;
  credentials?: DockerCredentials;
  seed?: string;
  /** `os/arch[/variant]` written in the image config; default linux/amd64. */
  platform?: string;
}): Promise<PushedImage> {
  const [os = 'linux', architecture = 'amd64', variant] = (options.platform ?? 'linux/amd64').split('/');
  const client = createRegistryClient({ registry: options.host, insecure: true, credentials: options.credentials, logger: createSilentLogger() });
  const layerBytes = new TextEncoder().encode(`layer ${options.seed ?? options.repository} ${Math.random()}`);
  const layer = await client.pushBlob(options.repository, layerBytes, 'application/vnd.oci.image.layer.v1.tar');
  const config = new TextEncoder().encode(
    JSON.stringify({ architecture, os, ...(variant ? { variant } : {}), rootfs: { type: 'layers', diff_ids: [layer.digest] }, config: {} }),
  );
  const configDesc = await client.pushBlob(options.repository, config, 'application/vnd.oci.image.config.v1+json');
  const mediaType = 'application/vnd.oci.image.manifest.v1+json';
  const manifest = new TextEncoder().encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDesc.digest, size: configDesc.size },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layer.digest, size: layer.size }],
    }),
  );
  await client.putManifest(options.repository, options.tag ?? 'latest', manifest, mediaType);
  const digest = sha256Digest(manifest);
  const name = `${options.host}/${options.repository}`;
  return { name, repository: options.repository, digest, hex: digest.slice(7), ref: `${name}@${digest}`, mediaType, size: manifest.length };
}

export interface TestKey {
  readonly privateKey: KeyObject;
  readonly publicKeyPem: string;
  readonly signer: Signer;
}

export function createTestKey(): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicKeyPem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
  const signer: Signer = {
    sign: async (data) => ({
      signature: cryptoSign('sha256', data, privateKey),
      key: { $case: 'publicKey', publicKey: publicKeyPem, hint: createHash('sha256').update(publicKeyPem).digest('hex').slice(0, 16) },
    }),
  };
  return { privateKey, publicKeyPem, signer };
}

/** An in-toto statement about `image` with a distinguishing `n` (so many differ). */
export function testStatement(image: PushedImage, n = 0, predicateType = 'https://slsa.dev/provenance/v0.2'): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify({
      _type: 'https://in-toto.io/Statement/v0.1',
      predicateType,
      subject: [{ name: image.name, digest: { sha256: image.hex } }],
      predicate: { builder: { id: 'https://tekton.dev/chains/v2' }, invocation: { parameters: { n } } },
    }),
  );
}

export async function signProvenance(key: TestKey, statement: Uint8Array, witnesses: Witness[] = []): Promise<SerializedBundle> {
  const builder = new DSSEBundleBuilder({ signer: key.signer, witnesses, certificateChain: false });
  return bundleToJSON(await builder.create({ data: Buffer.from(statement), type: 'application/vnd.in-toto+json' }));
}

/** cosign's simple-signing payload for an image. */
export function simpleSigningPayload(image: PushedImage): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify({ critical: { identity: { 'docker-reference': image.name }, image: { 'docker-manifest-digest': image.digest }, type: 'cosign container image signature' }, optional: null }),
  );
}

export async function signMessage(key: TestKey, payload: Uint8Array, witnesses: Witness[] = []): Promise<SerializedBundle> {
  const builder = new MessageSignatureBundleBuilder({ signer: key.signer, witnesses });
  return bundleToJSON(await builder.create({ data: Buffer.from(payload) }));
}

export interface PushedIndex extends PushedImage {
  /** The platform images, in index order, each with its `os/arch[/variant]`. */
  readonly platforms: readonly (PushedImage & { readonly platform: string })[];
}

/**
 * A multi-arch image: one image per platform (pushed by digest), then an OCI image index (or, with
 * `docker`, a Docker manifest list) naming them with their platforms, tagged `tag`. `extra` adds raw
 * entries to the index (e.g. a buildx attestation manifest).
 */
export async function pushTestIndex(options: {
  host: string;
  repository: string;
  platforms: readonly string[];
  tag?: string;
  credentials?: DockerCredentials;
  docker?: boolean;
  extra?: readonly Record<string, unknown>[];
}): Promise<PushedIndex> {
  const client = createRegistryClient({ registry: options.host, insecure: true, credentials: options.credentials, logger: createSilentLogger() });
  const platforms: (PushedImage & { platform: string })[] = [];
  for (const platform of options.platforms) {
    const image = await pushTestImage({ host: options.host, repository: options.repository, tag: `p-${platform.replaceAll('/', '-')}`, ...(options.credentials ? { credentials: options.credentials } : {}), seed: platform, platform });
    platforms.push({ ...image, platform });
  }
  const mediaType = options.docker ? 'application/vnd.docker.distribution.manifest.list.v2+json' : 'application/vnd.oci.image.index.v1+json';
  const index = new TextEncoder().encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      manifests: [
        ...platforms.map((p) => {
          const [os, architecture, variant] = p.platform.split('/');
          return { mediaType: p.mediaType, digest: p.digest, size: p.size, platform: { architecture, os, ...(variant ? { variant } : {}) } };
        }),
        ...(options.extra ?? []),
      ],
    }),
  );
  await client.putManifest(options.repository, options.tag ?? 'latest', index, mediaType);
  const digest = sha256Digest(index);
  const name = `${options.host}/${options.repository}`;
  return { name, repository: options.repository, digest, hex: digest.slice(7), ref: `${name}@${digest}`, mediaType, size: index.length, platforms };
}
