/**
 * Pure builders for the two OCI layouts cosign reads (rules and sources: docs/oci-layout.md).
 * No I/O here: given a bundle and the current manifest, they return bytes and the merged manifest.
 */
import { createHash, X509Certificate } from 'node:crypto';
import type { SerializedBundle, SerializedEnvelope } from '@sigstore/bundle';
import { ProvenantError } from '../../errors.js';
import { mergeSignatureLayers } from './layer-merge.js';
import { MEDIA_TYPE_OCI_INDEX, MEDIA_TYPE_OCI_MANIFEST, sha256Digest, type Descriptor } from './registry-client.js';

export const MEDIA_TYPE_OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const MEDIA_TYPE_OCI_EMPTY = 'application/vnd.oci.empty.v1+json';
export const MEDIA_TYPE_DSSE = 'application/vnd.dsse.envelope.v1+json';
export const MEDIA_TYPE_SIMPLE_SIGNING = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const MEDIA_TYPE_BUNDLE_V03 = 'application/vnd.dev.sigstore.bundle.v0.3+json';
export const MEDIA_TYPE_BUNDLE_V01 = 'application/vnd.dev.sigstore.bundle+json;version=0.1';

export const ANNOTATION_SIGNATURE = 'dev.cosignproject.cosign/signature';
export const ANNOTATION_CERTIFICATE = 'dev.sigstore.cosign/certificate';
export const ANNOTATION_CHAIN = 'dev.sigstore.cosign/chain';
export const ANNOTATION_BUNDLE = 'dev.sigstore.cosign/bundle';
export const ANNOTATION_PREDICATE_TYPE = 'predicateType';
export const ANNOTATION_BUNDLE_CONTENT = 'dev.sigstore.bundle.content';
export const ANNOTATION_BUNDLE_PREDICATE_TYPE = 'dev.sigstore.bundle.predicateType';
export const ANNOTATION_CREATED = 'org.opencontainers.image.created';
export const ANNOTATION_TITLE = 'org.opencontainers.image.title';

/** `{}`: the OCI empty descriptor's content. */
export const EMPTY_JSON = new TextEncoder().encode('{}');

export interface Layer {
  readonly bytes: Uint8Array;
  readonly descriptor: Descriptor & { readonly annotations: Readonly<Record<string, string>> };
}

export interface OciManifest {
  readonly schemaVersion: 2;
  readonly mediaType: string;
  readonly artifactType?: string;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
  readonly subject?: Descriptor;
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface OciIndex {
  readonly schemaVersion: 2;
  readonly mediaType: string;
  readonly manifests: readonly Descriptor[];
  readonly annotations?: Readonly<Record<string, string>>;
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

/** The DSSE envelope JSON exactly as cosign (go-securesystemslib `dsse.Envelope`) marshals it. */
export function cosignEnvelopeJson(env: SerializedEnvelope): string {
  return JSON.stringify({
    payloadType: env.payloadType,
    payload: env.payload,
    signatures: env.signatures.map((s) => ({ keyid: s.keyid ?? '', sig: s.sig })),
  });
}

interface RekorBody {
  readonly kind?: string;
  readonly apiVersion?: string;
  readonly spec?: { readonly envelopeHash?: { readonly value?: string } };
}

function decodeBody(canonicalizedBody: string): RekorBody | undefined {
  try {
    return JSON.parse(Buffer.from(canonicalizedBody, 'base64').toString('utf8')) as RekorBody;
  } catch {
    return undefined;
  }
}

/**
 * The `.att` layer bytes for a DSSE bundle. cosign checks a `dsse` Rekor entry's `envelopeHash` against
 * sha256(layer bytes), so when the bundle has such an entry we push whichever serialisation Rekor hashed:
 * the sigstore-js one (`RekorWitness` sends `JSON.stringify(envelopeToJSON(env))`) or cosign's own.
 * Without an entry, the sigstore-js serialisation (what a later upload would hash); if no candidate
 * matches the entry, the cosign serialisation.
 */
export function dsseEnvelopeBytes(bundle: SerializedBundle): { bytes: Uint8Array; matchesTlog: boolean | undefined } {
  const env = bundle.dsseEnvelope;
  if (env === undefined) {
    throw new ProvenantError('permanent', 'OCI_BUNDLE_INVALID', 'provenance bundle has no DSSE envelope');
  }
  const cosign = enc(cosignEnvelopeJson(env));
  const entry = bundle.verificationMaterial?.tlogEntries?.find((e) => e.kindVersion?.kind === 'dsse');
  const wanted = entry !== undefined ? decodeBody(entry.canonicalizedBody)?.spec?.envelopeHash?.value : undefined;
  const sigstoreJs = enc(
    JSON.stringify({
      payload: env.payload,
      payloadType: env.payloadType,
      signatures: env.signatures.map((s) => (s.keyid ? { sig: s.sig, keyid: s.keyid } : { sig: s.sig })),
    }),
  );
  // Unlogged: the bytes our Rekor witness would log, so that the same signature stored before and after
  // its upload (a resumed checkpoint) is one layer that the merge rule can upgrade (layer-merge.ts).
  if (wanted === undefined) return { bytes: sigstoreJs, matchesTlog: undefined };
  for (const candidate of [cosign, sigstoreJs, enc(JSON.stringify(env))]) {
    if (createHash('sha256').update(candidate).digest('hex') === wanted) return { bytes: candidate, matchesTlog: true };
  }
  return { bytes: cosign, matchesTlog: false };
}

function pem(der: Buffer): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

/** Leaf certificate and chain (PEM) from the bundle's verification material, when it has any. */
export function certificatesPem(bundle: SerializedBundle): { leaf: string; chain: string } | undefined {
  const vm = bundle.verificationMaterial;
  const raw = vm?.certificate !== undefined ? [vm.certificate.rawBytes] : (vm?.x509CertificateChain?.certificates.map((c) => c.rawBytes) ?? []);
  const [leaf, ...chain] = raw.map((b64) => pem(Buffer.from(b64, 'base64')));
  if (leaf === undefined) return undefined;
  return { leaf, chain: chain.join('') };
}

/**
 * cosign's `dev.sigstore.cosign/bundle` annotation (`cosign/bundle.RekorBundle`, Go field order):
 * needs the inclusion promise (SET); without one there is nothing cosign can verify offline.
 */
export function cosignRekorBundle(bundle: SerializedBundle): string | undefined {
  const entry = bundle.verificationMaterial?.tlogEntries?.[0];
  if (entry?.inclusionPromise === undefined) return undefined;
  return JSON.stringify({
    SignedEntryTimestamp: entry.inclusionPromise.signedEntryTimestamp,
    Payload: {
      body: entry.canonicalizedBody,
      integratedTime: Number(entry.integratedTime),
      // Protobuf JSON omits a zero log index (the first entry of a log).
      logIndex: Number((entry as { logIndex?: string }).logIndex ?? 0),
      logID: Buffer.from(entry.logId.keyId, 'base64').toString('hex'),
    },
  });
}

function verificationAnnotations(bundle: SerializedBundle): Record<string, string> {
  const out: Record<string, string> = {};
  const certs = certificatesPem(bundle);
  if (certs !== undefined) {
    out[ANNOTATION_CERTIFICATE] = certs.leaf;
    out[ANNOTATION_CHAIN] = certs.chain;
  }
  const rekor = cosignRekorBundle(bundle);
  if (rekor !== undefined) out[ANNOTATION_BUNDLE] = rekor;
  const ts = bundle.verificationMaterial?.timestampVerificationData?.rfc3161Timestamps?.[0];
  if (ts !== undefined) out['dev.sigstore.cosign/rfc3161timestamp'] = JSON.stringify({ SignedRFC3161Timestamp: ts.signedTimestamp });
  return out;
}

/** One `.att` layer: the DSSE envelope, empty signature annotation, predicate type, cert/chain/bundle. */
export function attestationLayer(bundle: SerializedBundle, predicateType: string | undefined): Layer & { matchesTlog: boolean | undefined } {
  const { bytes, matchesTlog } = dsseEnvelopeBytes(bundle);
  const annotations: Record<string, string> = { [ANNOTATION_SIGNATURE]: '' };
  if (predicateType !== undefined) annotations[ANNOTATION_PREDICATE_TYPE] = predicateType;
  Object.assign(annotations, verificationAnnotations(bundle));
  return { bytes, matchesTlog, descriptor: { mediaType: MEDIA_TYPE_DSSE, digest: sha256Digest(bytes), size: bytes.length, annotations } };
}

/** One `.sig` layer: the simple-signing payload, signature annotation = b64 message signature. */
export function signatureLayer(bundle: SerializedBundle, payload: Uint8Array): Layer {
  const sig = bundle.messageSignature?.signature;
  if (sig === undefined) {
    throw new ProvenantError('permanent', 'OCI_BUNDLE_INVALID', 'image-signature bundle has no message signature');
  }
  const annotations: Record<string, string> = { [ANNOTATION_SIGNATURE]: sig, ...verificationAnnotations(bundle) };
  const bytes = Uint8Array.from(payload);
  return { bytes, descriptor: { mediaType: MEDIA_TYPE_SIMPLE_SIGNING, digest: sha256Digest(bytes), size: bytes.length, annotations } };
}

/** The image config cosign's signature images carry (go-containerregistry `empty.Image` + layers). */
export function signatureImageConfig(layers: readonly Descriptor[]): Uint8Array {
  return enc(
    JSON.stringify({
      architecture: '',
      created: '0001-01-01T00:00:00Z',
      history: layers.map(() => ({ created: '0001-01-01T00:00:00Z' })),
      os: '',
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
      config: {},
    }),
  );
}

function layersOf(manifest: Record<string, unknown> | undefined): Descriptor[] {
  const layers = manifest?.['layers'];
  return Array.isArray(layers) ? (layers as Descriptor[]) : [];
}

/**
 * Read-modify-write step for `.att`/`.sig`: the existing layers merged with the new ones by the
 * rule in layer-merge.ts. `changed: false` means there is nothing to write.
 */
export function mergeSignatureManifest(
  existing: Record<string, unknown> | undefined,
  add: readonly Descriptor[],
): { layers: Descriptor[]; config: Uint8Array; manifest: (configDescriptor: Descriptor) => OciManifest; changed: boolean } {
  const { layers, changed } = mergeSignatureLayers(layersOf(existing), add);
  const config = signatureImageConfig(layers);
  return {
    layers,
    config,
    changed,
    manifest: (configDescriptor) => ({ schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_MANIFEST, config: configDescriptor, layers }),
  };
}

export function manifestHasLayers(manifest: Record<string, unknown> | undefined, digests: readonly string[]): boolean {
  const present = new Set(layersOf(manifest).map((l) => l.digest));
  return digests.every((d) => present.has(d));
}

/** The creation time we stamp: the tlog integration time (deterministic, so re-stores are no-ops), if any. */
function createdAt(bundle: SerializedBundle): string | undefined {
  const t = bundle.verificationMaterial?.tlogEntries?.[0]?.integratedTime;
  const secs = t === undefined ? NaN : Number(t);
  return Number.isFinite(secs) && secs > 0 ? new Date(secs * 1000).toISOString() : undefined;
}

export function bundleAnnotations(bundle: SerializedBundle, predicateType: string | undefined): Record<string, string> {
  const out: Record<string, string> = {
    [ANNOTATION_BUNDLE_CONTENT]: bundle.dsseEnvelope !== undefined ? 'dsse-envelope' : 'message-signature',
  };
  if (bundle.dsseEnvelope !== undefined && predicateType !== undefined) out[ANNOTATION_BUNDLE_PREDICATE_TYPE] = predicateType;
  const created = createdAt(bundle);
  if (created !== undefined) out[ANNOTATION_CREATED] = created;
  return out;
}

/** The OCI 1.1 referrer manifest for a Sigstore bundle (cosign specs/BUNDLE_SPEC.md). */
export function bundleReferrerManifest(args: {
  bundleBytes: Uint8Array;
  subject: Descriptor;
  annotations: Readonly<Record<string, string>>;
}): { bytes: Uint8Array; layer: Descriptor; config: Descriptor } {
  const digest = sha256Digest(args.bundleBytes);
  const layer: Descriptor = {
    mediaType: MEDIA_TYPE_BUNDLE_V03,
    digest,
    size: args.bundleBytes.length,
    annotations: { [ANNOTATION_TITLE]: `${digest.replace(':', '-')}.sigstore.json` },
  };
  const config: Descriptor = { mediaType: MEDIA_TYPE_OCI_EMPTY, digest: sha256Digest(EMPTY_JSON), size: EMPTY_JSON.length };
  const manifest: OciManifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPE_OCI_MANIFEST,
    artifactType: MEDIA_TYPE_BUNDLE_V03,
    config,
    layers: [layer],
    subject: { mediaType: args.subject.mediaType, digest: args.subject.digest, size: args.subject.size },
    annotations: args.annotations,
  };
  return { bytes: enc(JSON.stringify(manifest)), layer, config };
}

/** Appends a referrer descriptor to the tag-schema index (dedup by digest). */
export function mergeReferrersIndex(existing: Record<string, unknown> | undefined, add: Descriptor): { index: OciIndex; changed: boolean } {
  const manifests = Array.isArray(existing?.['manifests']) ? [...(existing['manifests'] as Descriptor[])] : [];
  const changed = !manifests.some((m) => m.digest === add.digest);
  if (changed) manifests.push(add);
  return { index: { schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_INDEX, manifests }, changed };
}

export function indexHas(existing: Record<string, unknown> | undefined, digest: string): boolean {
  return Array.isArray(existing?.['manifests']) && (existing['manifests'] as Descriptor[]).some((m) => m.digest === digest);
}

/** PEM → DER base64 of the first certificate (for rebuilding bundles from legacy annotations). */
export function pemToDerBase64(pemText: string): string | undefined {
  try {
    return new X509Certificate(pemText).raw.toString('base64');
  } catch {
    return undefined;
  }
}
