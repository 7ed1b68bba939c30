/**
 * Images for the `trace` chain tests: manifests with the OCI base-image annotations, image indexes
 * with platform manifests, and cosign image signatures (simple signing) stored the way the
 * controller's OCI storage stores them (`.sig` layer and/or message-signature bundle referrer).
 */
import type { SerializedBundle } from '@sigstore/bundle';
import type { Signer } from '@sigstore/sign';
import type { OciEncoding } from '../../src/config/types.js';
import { createSilentLogger } from '../../src/observability/logger.js';
import { simpleSigningPayload } from '../../src/provenance/index.js';
import { createOciStorage, createRegistryClient, sha256Digest } from '../../src/storage/oci/index.js';
import { signMessage, type PushedImage, type TestKey } from './oci-image.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

function describeImage(host: string, repository: string, bytes: Uint8Array, mediaType: string): PushedImage {
  const digest = sha256Digest(bytes);
  const name = `${host}/${repository}`;
  return { name, repository, digest, hex: digest.slice(7), ref: `${name}@${digest}`, mediaType, size: bytes.length };
}

/** An image manifest with `annotations` (e.g. `org.opencontainers.image.base.*`). */
export async function pushAnnotatedImage(options: {
  host: string;
  repository: string;
  annotations?: Record<string, string>;
  architecture?: string;
  tag?: string;
}): Promise<PushedImage> {
  const client = createRegistryClient({ registry: options.host, insecure: true, logger: createSilentLogger() });
  const layer = await client.pushBlob(options.repository, new TextEncoder().encode(`layer ${options.repository} ${Math.random()}`), 'application/vnd.oci.image.layer.v1.tar');
  const config = new TextEncoder().encode(JSON.stringify({ architecture: options.architecture ?? 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layer.digest] }, config: {} }));
  const configDesc = await client.pushBlob(options.repository, config, 'application/vnd.oci.image.config.v1+json');
  const bytes = new TextEncoder().encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDesc.digest, size: configDesc.size },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layer.digest, size: layer.size }],
      ...(options.annotations === undefined ? {} : { annotations: options.annotations }),
    }),
  );
  await client.putManifest(options.repository, options.tag ?? sha256Digest(bytes), bytes, OCI_MANIFEST);
  return describeImage(options.host, options.repository, bytes, OCI_MANIFEST);
}

/** An OCI image index over platform manifests pushed to the same repository. */
export async function pushIndex(host: string, repository: string, platforms: readonly { os: string; architecture: string; variant?: string; image: PushedImage }[]): Promise<PushedImage> {
  const client = createRegistryClient({ registry: host, insecure: true, logger: createSilentLogger() });
  const bytes = new TextEncoder().encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: platforms.map((p) => ({
        mediaType: p.image.mediaType,
        digest: p.image.digest,
        size: p.image.size,
        platform: { os: p.os, architecture: p.architecture, ...(p.variant === undefined ? {} : { variant: p.variant }) },
      })),
    }),
  );
  await client.putManifest(repository, 'latest', bytes, OCI_INDEX);
  return describeImage(host, repository, bytes, OCI_INDEX);
}

export function baseAnnotations(base: PushedImage, tag = '1.0'): Record<string, string> {
  return { 'org.opencontainers.image.base.name': `${base.name}:${tag}`, 'org.opencontainers.image.base.digest': base.digest };
}

/** Stores a cosign image signature (simple signing) for `image`, as the controller does. */
export async function storeImageSignature(image: PushedImage, bundle: SerializedBundle, payload: Uint8Array, encoding: OciEncoding = 'both'): Promise<void> {
  const storage = createOciStorage({ config: { repository: undefined, insecure: true, encoding }, logger: createSilentLogger(), tagUpdate: { settleMs: 5 } });
  await storage.store({
    run: { kind: 'TaskRun', namespace: 'ci', name: `sign-${image.hex.slice(0, 8)}`, uid: `s${image.hex.slice(0, 11)}` },
    artifact: { type: 'image-signature', shortKey: image.hex.slice(0, 12), subjects: [{ name: image.name, digest: { sha256: image.hex } }] },
    payload,
    bundle,
  });
}

/** Signs `image` (or, with `claim`, the payload naming another image) with `key` and stores the signature. */
export async function signImage(
  key: TestKey | { signer: Signer },
  image: PushedImage,
  options: { encoding?: OciEncoding; claim?: PushedImage; tamper?: boolean } = {},
): Promise<void> {
  const claimed = options.claim ?? image;
  const payload = simpleSigningPayload({ name: claimed.name, digest: claimed.digest });
  let bundle = await signMessage(key as TestKey, payload);
  if (options.tamper === true) {
    const sig = Buffer.from(bundle.messageSignature!.signature, 'base64');
    sig[sig.length - 1] = sig[sig.length - 1]! ^ 0xff;
    bundle = { ...bundle, messageSignature: { ...bundle.messageSignature!, signature: sig.toString('base64') } } as SerializedBundle;
  }
  await storeImageSignature(image, bundle, payload, options.encoding ?? 'both');
}
