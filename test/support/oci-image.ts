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
}): Promise<PushedImage> {
  const client = createRegistryClient({ registry: options.host, insecure: true, credentials: options.credentials, logger: createSilentLogger() });
  const layerBytes = new TextEncoder().encode(`layer ${options.seed ?? options.repository} ${Math.random()}`);
  const layer = await client.pushBlob(options.repository, layerBytes, 'application/vnd.oci.image.layer.v1.tar');
  const config = new TextEncoder().encode(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layer.digest] }, config: {} }),
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
