/**
 * Reads what `createOciStorage` (or cosign) stored for an image: Sigstore bundles (referrers API or
 * tag-schema index), `.att` DSSE envelopes and `.sig` simple-signing signatures. For legacy layers with a
 * certificate or a Rekor bundle annotation a verifiable bundle is rebuilt; otherwise the raw envelope is
 * returned for key-based verification.
 */
import type { SerializedBundle, SerializedEnvelope } from '@sigstore/bundle';
import type { Config } from '../../config/index.js';
import type { Logger } from '../../observability/index.js';
import type { DockerCredentials } from './credentials.js';
import { createRegistryClient, type Descriptor, type RegistryClient } from './registry-client.js';
import { digestTag, parseImageDigestRef, type RepositoryRef } from './reference.js';
import {
  ANNOTATION_BUNDLE,
  ANNOTATION_BUNDLE_CONTENT,
  ANNOTATION_CERTIFICATE,
  ANNOTATION_CHAIN,
  ANNOTATION_SIGNATURE,
  MEDIA_TYPE_BUNDLE_V01,
  MEDIA_TYPE_DSSE,
  MEDIA_TYPE_SIMPLE_SIGNING,
  pemToDerBase64,
} from './layouts.js';
import { parseRepositoryOverride } from './oci-storage.js';
import { blobBudget, descriptorsOf } from './bounded-read.js';

export interface StoredEnvelope {
  /** The DSSE envelope as stored (`payloadType`, `payload`, `signatures[{keyid, sig}]`). */
  readonly envelope: SerializedEnvelope;
  readonly annotations: Readonly<Record<string, string>>;
  /** Rebuilt from the annotations when a certificate or a Rekor bundle is present. */
  readonly bundle?: SerializedBundle;
}

export interface StoredSignature {
  /** The signed simple-signing payload bytes. */
  readonly payload: Uint8Array;
  /** Base64 signature over `payload`. */
  readonly signature: string;
  readonly annotations: Readonly<Record<string, string>>;
  readonly bundle?: SerializedBundle;
}

export interface StoredAttestations {
  readonly bundles: SerializedBundle[];
  readonly envelopes: StoredEnvelope[];
  readonly signatures: StoredSignature[];
  /** Image signatures seen but not read (`attestationsOnly`): `.sig` layers and message-signature bundle referrers. */
  readonly unreadSignatures?: number;
}

export interface ReadOptions {
  /**
   * Only what attestations need (`verify --image`): `.sig` layers and referrers the index names
   * message-signature bundles (`dev.sigstore.bundle.content`) are counted, not downloaded.
   */
  readonly attestationsOnly?: boolean;
}

export interface OciReader {
  /** `imageRef` = `registry/repo@sha256:<hex>`. */
  readAttestations(imageRef: string, options?: ReadOptions): Promise<StoredAttestations>;
}

export interface OciReaderDeps {
  /** `storage.oci` config: `repository` override and `insecure` apply to reading too. */
  readonly config: Pick<Config['storage']['oci'], 'repository' | 'insecure'>;
  readonly credentials?: DockerCredentials | undefined;
  readonly logger: Logger;
  readonly fetch?: typeof fetch | undefined;
}

interface RekorBundleAnnotation {
  readonly SignedEntryTimestamp: string;
  readonly Payload: { readonly body: string; readonly integratedTime: number; readonly logIndex: number; readonly logID: string };
}

/** A v0.1 bundle (inclusion promise only, as cosign's legacy annotations carry) from legacy annotations. */
export function bundleFromLegacyAnnotations(
  annotations: Readonly<Record<string, string>>,
  content: { dsseEnvelope: SerializedEnvelope } | { messageSignature: { messageDigest: { algorithm: string; digest: string }; signature: string } },
): SerializedBundle | undefined {
  const certPem = annotations[ANNOTATION_CERTIFICATE];
  const rekorJson = annotations[ANNOTATION_BUNDLE];
  if ((certPem === undefined || certPem === '') && rekorJson === undefined) return undefined;
  const tlogEntries: SerializedBundle['verificationMaterial']['tlogEntries'] = [];
  if (rekorJson !== undefined) {
    try {
      const rb = JSON.parse(rekorJson) as RekorBundleAnnotation;
      const body = JSON.parse(Buffer.from(rb.Payload.body, 'base64').toString('utf8')) as { kind?: string; apiVersion?: string };
      tlogEntries.push({
        logIndex: String(rb.Payload.logIndex),
        logId: { keyId: Buffer.from(rb.Payload.logID, 'hex').toString('base64') },
        kindVersion: { kind: body.kind ?? '', version: body.apiVersion ?? '' },
        integratedTime: String(rb.Payload.integratedTime),
        inclusionPromise: { signedEntryTimestamp: rb.SignedEntryTimestamp },
        inclusionProof: undefined,
        canonicalizedBody: rb.Payload.body,
      });
    } catch {
      return undefined;
    }
  }
  const certs = certPem !== undefined && certPem !== '' ? [certPem, ...splitPem(annotations[ANNOTATION_CHAIN] ?? '')] : [];
  const der = certs.map(pemToDerBase64);
  if (der.some((d) => d === undefined)) return undefined;
  const verificationMaterial = {
    ...(der.length > 0 ? { x509CertificateChain: { certificates: der.map((rawBytes) => ({ rawBytes: rawBytes! })) } } : { publicKey: { hint: '' } }),
    tlogEntries,
    timestampVerificationData: undefined,
  } as SerializedBundle['verificationMaterial'];
  return { mediaType: MEDIA_TYPE_BUNDLE_V01, verificationMaterial, ...content } as SerializedBundle;
}

function splitPem(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];
}

function layers(doc: Record<string, unknown> | undefined): Descriptor[] {
  return descriptorsOf<Descriptor>(doc?.['layers']);
}

function normaliseEnvelope(raw: unknown): SerializedEnvelope | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  const o = raw as Record<string, unknown>;
  if (typeof o['payload'] !== 'string' || typeof o['payloadType'] !== 'string' || !Array.isArray(o['signatures'])) return undefined;
  return {
    payload: o['payload'],
    payloadType: o['payloadType'],
    signatures: (o['signatures'] as Record<string, unknown>[]).map((s) => ({ sig: String(s['sig'] ?? ''), keyid: String(s['keyid'] ?? '') })),
  };
}

export function createOciReader(deps: OciReaderDeps): OciReader {
  const override = parseRepositoryOverride(deps.config.repository);
  const log = deps.logger.child({ reader: 'oci' });
  const clients = new Map<string, RegistryClient>();
  const clientFor = (registry: string): RegistryClient => {
    let c = clients.get(registry);
    if (c === undefined) {
      c = createRegistryClient({ registry, insecure: deps.config.insecure, credentials: deps.credentials, logger: log, fetch: deps.fetch, actions: 'pull' });
      clients.set(registry, c);
    }
    return c;
  };

  async function readBundles(target: RepositoryRef, digest: string, spend: (size: number) => void, attestationsOnly: boolean): Promise<{ bundles: SerializedBundle[]; skipped: number }> {
    const client = clientFor(target.registry);
    // The tag-schema index is asked for with the referrers API, not after it: one round trip less where
    // the API is missing, one request (usually a 404) more where it answers.
    const fallback = client.getManifest(target.repository, digestTag(digest)).then(
      (m) => ({ json: m?.json }),
      (error: unknown) => ({ error }),
    );
    const index = (await client.getReferrers(target.repository, digest)) ?? (await fallback.then((r) => ('error' in r ? Promise.reject(r.error) : r.json)));
    const all = descriptorsOf<Descriptor>(index?.['manifests']).filter((e) => (e.artifactType ?? '').startsWith('application/vnd.dev.sigstore.bundle'));
    const entries = attestationsOnly ? all.filter((e) => e.annotations?.[ANNOTATION_BUNDLE_CONTENT] !== 'message-signature') : all;
    const read = await Promise.all(
      entries.map(async (entry): Promise<SerializedBundle | undefined> => {
        const manifest = await client.getManifest(target.repository, entry.digest);
        const layer = layers(manifest?.json)[0];
        if (layer === undefined) return undefined;
        const bytes = await client.getBlob(target.repository, layer.digest);
        spend(bytes.length);
        try {
          return JSON.parse(Buffer.from(bytes).toString('utf8')) as SerializedBundle;
        } catch {
          log.warn({ digest: layer.digest }, 'referrer layer is not a JSON bundle; skipped');
          return undefined;
        }
      }),
    );
    return { bundles: read.filter((b) => b !== undefined), skipped: all.length - entries.length };
  }

  async function readEnvelopes(target: RepositoryRef, digest: string, spend: (size: number) => void): Promise<StoredEnvelope[]> {
    const client = clientFor(target.registry);
    const att = await client.getManifest(target.repository, digestTag(digest, 'att'));
    const read = await Promise.all(
      layers(att?.json)
        .filter((layer) => layer.mediaType === MEDIA_TYPE_DSSE)
        .map(async (layer): Promise<StoredEnvelope | undefined> => {
          const bytes = await client.getBlob(target.repository, layer.digest);
          spend(bytes.length);
          let envelope: SerializedEnvelope | undefined;
          try {
            envelope = normaliseEnvelope(JSON.parse(Buffer.from(bytes).toString('utf8')));
          } catch {
            envelope = undefined;
          }
          if (envelope === undefined) {
            log.warn({ digest: layer.digest }, '.att layer is not a DSSE envelope; skipped');
            return undefined;
          }
          const annotations = layer.annotations ?? {};
          const bundle = bundleFromLegacyAnnotations(annotations, { dsseEnvelope: envelope });
          return { envelope, annotations, ...(bundle !== undefined ? { bundle } : {}) };
        }),
    );
    return read.filter((e) => e !== undefined);
  }

  async function readSignatures(target: RepositoryRef, digest: string, spend: (size: number) => void, attestationsOnly: boolean): Promise<{ signatures: StoredSignature[]; skipped: number }> {
    const client = clientFor(target.registry);
    const sig = await client.getManifest(target.repository, digestTag(digest, 'sig'));
    const found = layers(sig?.json).filter((layer) => layer.mediaType === MEDIA_TYPE_SIMPLE_SIGNING);
    if (attestationsOnly) return { signatures: [], skipped: found.length };
    const signatures = await Promise.all(
      found.map(async (layer): Promise<StoredSignature> => {
          const annotations = layer.annotations ?? {};
          const signature = annotations[ANNOTATION_SIGNATURE] ?? '';
          const payload = await client.getBlob(target.repository, layer.digest);
          spend(payload.length);
          const bundle = bundleFromLegacyAnnotations(annotations, {
            messageSignature: {
              // The simple-signing layer is the signed message, so its digest is the message digest.
              messageDigest: { algorithm: 'SHA2_256', digest: Buffer.from(layer.digest.slice('sha256:'.length), 'hex').toString('base64') },
              signature,
            },
          });
          return { payload, signature, annotations, ...(bundle !== undefined ? { bundle } : {}) };
        }),
    );
    return { signatures, skipped: 0 };
  }

  return {
    async readAttestations(imageRef, options = {}) {
      const image = parseImageDigestRef(imageRef);
      const target = override ?? image;
      const spend = blobBudget(target);
      // The three places attestations live are read at once (each a chain of manifest then blobs).
      const only = options.attestationsOnly === true;
      const [bundles, envelopes, signatures] = await Promise.all([
        readBundles(target, image.digest, spend, only),
        readEnvelopes(target, image.digest, spend),
        readSignatures(target, image.digest, spend, only),
      ]);
      const unread = bundles.skipped + signatures.skipped;
      return { bundles: bundles.bundles, envelopes, signatures: signatures.signatures, ...(only ? { unreadSignatures: unread } : {}) };
    },
  };
}
