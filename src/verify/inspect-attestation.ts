/**
 * Reading attestations where they are stored, without verifying them: Tekton Chains' run annotations
 * (`chains.tekton.dev/{payload,signature,cert,chain}-<shortKey>`) turned back into Sigstore bundles
 * that `verifyBundle` accepts, and a plain description of any bundle (subjects, predicate, builder,
 * signer identity, Rekor entry) for `provenant inspect`. Nothing here is trusted: `verify` checks it.
 */
import type { SerializedBundle, SerializedEnvelope } from '@sigstore/bundle';
import { X509Certificate } from '@sigstore/core';
import {
  certAnnotationPrefix as certPrefix,
  chainAnnotationPrefix as chainPrefix,
  payloadAnnotationPrefix as payloadPrefix,
  signatureAnnotationPrefix as signaturePrefix,
} from '../tekton/index.js';
import { builderIdOf } from './policy.js';
import { ProvenantError } from '../errors.js';
import { checkBundleLimits } from './bundle-limits.js';

import { bundleFromEnvelope, bundleFromMessageSignature } from './bundle-build.js';

export { bundleFromEnvelope, bundleFromMessageSignature, bundleV03MediaType, inTotoPayloadType } from './bundle-build.js';

/** One artifact stored in a run's annotations by the `tekton` backend. */
export interface AnnotationArtifact {
  readonly shortKey: string;
  /** `provenance` when the signature annotation holds a DSSE envelope, else an image signature. */
  readonly type: 'provenance' | 'image-signature';
  /** Annotation keys the artifact was read from. */
  readonly annotations: readonly string[];
  /** Decoded `payload-<shortKey>`: the statement or simple-signing JSON bytes. */
  readonly payload: Buffer;
  /** A Sigstore bundle v0.3 rebuilt from signature + cert (no tlog entry: annotations do not carry it). */
  readonly bundle: SerializedBundle;
  /** Certificate PEM from `cert-<shortKey>`, when signed keyless or with a certificate. */
  readonly certificate?: string;
  /**
   * Set when the payload annotation differs from the payload inside the signed envelope: the
   * annotation was changed after signing, so what tools reading `payload-*` see is not what was signed.
   */
  readonly payloadMismatch: boolean;
}

function decodeB64(value: string | undefined): Buffer | undefined {
  if (value === undefined) return undefined;
  return Buffer.from(value, 'base64');
}

function parseEnvelope(bytes: Buffer): SerializedEnvelope | undefined {
  try {
    const o = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
    if (typeof o['payload'] !== 'string' || typeof o['payloadType'] !== 'string' || !Array.isArray(o['signatures'])) return undefined;
    return {
      payload: o['payload'],
      payloadType: o['payloadType'],
      signatures: (o['signatures'] as unknown[]).map((s) => {
        const sig = (typeof s === 'object' && s !== null ? s : {}) as Record<string, unknown>;
        return { sig: typeof sig['sig'] === 'string' ? sig['sig'] : '', keyid: typeof sig['keyid'] === 'string' ? sig['keyid'] : '' };
      }),
    };
  } catch {
    return undefined;
  }
}

/** Every artifact the `tekton` storage backend left in these annotations, sorted by short key. */
export function artifactsFromAnnotations(annotations: Readonly<Record<string, string>>): AnnotationArtifact[] {
  const out: AnnotationArtifact[] = [];
  const keys = Object.keys(annotations)
    .filter((k) => k.startsWith(payloadPrefix))
    .map((k) => k.slice(payloadPrefix.length))
    .sort();
  for (const shortKey of keys) {
    const payload = decodeB64(annotations[payloadPrefix + shortKey]) ?? Buffer.alloc(0);
    const signatureValue = annotations[signaturePrefix + shortKey];
    if (signatureValue === undefined) continue;
    const signature = Buffer.from(signatureValue, 'base64');
    const certText = decodeB64(annotations[certPrefix + shortKey])?.toString('utf8') ?? '';
    const certificate = certText.includes('BEGIN CERTIFICATE') ? certText : undefined;
    const used = [payloadPrefix, signaturePrefix, certPrefix, chainPrefix].map((p) => p + shortKey).filter((k) => annotations[k] !== undefined);
    const envelope = parseEnvelope(signature);
    const common = { shortKey, annotations: used, payload, ...(certificate === undefined ? {} : { certificate }) };
    if (envelope !== undefined) {
      out.push({
        ...common,
        type: 'provenance',
        bundle: bundleFromEnvelope(envelope, certificate),
        payloadMismatch: !Buffer.from(envelope.payload, 'base64').equals(payload),
      });
    } else {
      out.push({ ...common, type: 'image-signature', bundle: bundleFromMessageSignature(payload, signature.toString('base64'), certificate), payloadMismatch: false });
    }
  }
  return out;
}

export interface SignerDescription {
  readonly type: 'key' | 'certificate';
  /** Key hint / DSSE keyid, when signed with a key. */
  readonly keyId?: string;
  /** Certificate SAN and Fulcio OIDC issuer extension, when signed with a certificate. */
  readonly san?: string;
  readonly issuer?: string;
}

export interface MaterialDescription {
  readonly uri: string;
  readonly digest: Readonly<Record<string, string>>;
}

export interface ProvenanceDescription {
  readonly builderId?: string;
  readonly buildType?: string;
  /** v0.2 `materials` or v1 `resolvedDependencies`. */
  readonly materials: readonly MaterialDescription[];
  /** Names of v0.2 `invocation.parameters` or v1 `externalParameters` top-level keys. */
  readonly parameters: readonly string[];
  /** v0.2 `invocation.configSource.uri` / v1 `externalParameters.buildConfigSource` style source, when present. */
  readonly configSource?: string;
  readonly startedOn?: string;
  readonly finishedOn?: string;
}

export interface AttestationDescription {
  readonly type: 'provenance' | 'image-signature';
  readonly payloadType?: string;
  readonly predicateType?: string;
  readonly subjects: readonly { readonly name: string; readonly digest: Readonly<Record<string, string>> }[];
  readonly provenance?: ProvenanceDescription;
  /** For an image signature: the image reference and digest named in the simple-signing payload. */
  readonly image?: { readonly reference?: string; readonly digest?: string };
  readonly signer: SignerDescription;
  readonly tlog?: { readonly logIndex: number; readonly integratedTime: number; readonly integratedAt: string };
}

function rec(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function materialsOf(list: unknown): MaterialDescription[] {
  if (!Array.isArray(list)) return [];
  return list
    .map((m) => rec(m))
    .filter((m): m is Record<string, unknown> => m !== undefined)
    .map((m) => ({ uri: str(m['uri']) ?? str(m['name']) ?? '', digest: (rec(m['digest']) ?? {}) as Record<string, string> }));
}

/** The parts of a SLSA v0.2 or v1 predicate worth showing; unknown predicates give what they have. */
export function describeProvenance(statement: Record<string, unknown>): ProvenanceDescription {
  const predicate = rec(statement['predicate']) ?? {};
  const buildDefinition = rec(predicate['buildDefinition']);
  const builderId = builderIdOf(statement);
  if (buildDefinition !== undefined) {
    const external = rec(buildDefinition['externalParameters']) ?? {};
    const metadata = rec(rec(predicate['runDetails'])?.['metadata']) ?? {};
    const buildType = str(buildDefinition['buildType']);
    const startedOn = str(metadata['startedOn']);
    const finishedOn = str(metadata['finishedOn']);
    return {
      ...(builderId === undefined ? {} : { builderId }),
      ...(buildType === undefined ? {} : { buildType }),
      materials: materialsOf(buildDefinition['resolvedDependencies']),
      parameters: Object.keys(external).sort(),
      ...(startedOn === undefined ? {} : { startedOn }),
      ...(finishedOn === undefined ? {} : { finishedOn }),
    };
  }
  const invocation = rec(predicate['invocation']) ?? {};
  const metadata = rec(predicate['metadata']) ?? {};
  const buildType = str(predicate['buildType']);
  const configSource = str(rec(invocation['configSource'])?.['uri']);
  const startedOn = str(metadata['buildStartedOn']);
  const finishedOn = str(metadata['buildFinishedOn']);
  return {
    ...(builderId === undefined ? {} : { builderId }),
    ...(buildType === undefined ? {} : { buildType }),
    materials: materialsOf(predicate['materials']),
    parameters: Object.keys(rec(invocation['parameters']) ?? {}).sort(),
    ...(configSource === undefined ? {} : { configSource }),
    ...(startedOn === undefined ? {} : { startedOn }),
    ...(finishedOn === undefined ? {} : { finishedOn }),
  };
}

const oidIssuerV1 = '1.3.6.1.4.1.57264.1.1';
const oidIssuerV2 = '1.3.6.1.4.1.57264.1.8';

/** SAN and Fulcio issuer of a certificate (DER base64 or PEM); undefined when it does not parse. */
export function describeCertificate(cert: string): SignerDescription | undefined {
  try {
    const x = X509Certificate.parse(cert.includes('BEGIN') ? cert : Buffer.from(cert, 'base64'));
    const v2 = x.extension(oidIssuerV2);
    const issuer = v2 !== undefined ? v2.valueObj.subs[0]?.value.toString('ascii') : x.extension(oidIssuerV1)?.value.toString('ascii');
    const san = x.subjectAltName;
    return { type: 'certificate', ...(san === undefined ? {} : { san }), ...(issuer === undefined ? {} : { issuer }) };
  } catch {
    return undefined;
  }
}

function signerOf(bundle: SerializedBundle): SignerDescription {
  const material = bundle.verificationMaterial as Partial<SerializedBundle['verificationMaterial']> & Record<string, unknown>;
  const chain = rec(material['x509CertificateChain'])?.['certificates'];
  const certDer = str(rec(material['certificate'])?.['rawBytes']) ?? str(rec(Array.isArray(chain) ? chain[0] : undefined)?.['rawBytes']);
  if (certDer !== undefined) return describeCertificate(certDer) ?? { type: 'certificate' };
  const hint = str(rec(material['publicKey'])?.['hint']) || str(bundle.dsseEnvelope?.signatures[0]?.keyid) || '';
  return hint === '' ? { type: 'key' } : { type: 'key', keyId: hint };
}

/**
 * The parts `describeBundle` reads have the types it expects (a bundle read from a registry or a file
 * can hold anything): `input` `VERIFY_BUNDLE_INVALID` otherwise, and the limits of `checkBundleLimits`.
 */
function assertDescribable(bundle: unknown): void {
  checkBundleLimits(bundle);
  const b = rec(bundle);
  const material = rec(b?.['verificationMaterial']);
  const envelope = b?.['dsseEnvelope'];
  const e = rec(envelope);
  const entries = material?.['tlogEntries'];
  const ok =
    material !== undefined &&
    (envelope === undefined ||
      (e !== undefined && typeof e['payload'] === 'string' && typeof e['payloadType'] === 'string' && Array.isArray(e['signatures']) && e['signatures'].every((x) => rec(x) !== undefined))) &&
    (entries === undefined || (Array.isArray(entries) && entries.every((x) => rec(x) !== undefined))) &&
    ['certificate', 'x509CertificateChain', 'publicKey'].every((k) => material[k] === undefined || rec(material[k]) !== undefined);
  if (!ok) throw new ProvenantError('input', 'VERIFY_BUNDLE_INVALID', 'not a Sigstore bundle (verificationMaterial or dsseEnvelope malformed)');
}

/**
 * Decodes a bundle without verifying it. `payload`: the signed bytes of a message signature (the
 * bundle holds only their digest).
 */
export function describeBundle(bundle: SerializedBundle, payload?: Uint8Array): AttestationDescription {
  assertDescribable(bundle);
  const signer = signerOf(bundle);
  const entry = (bundle.verificationMaterial as Partial<SerializedBundle['verificationMaterial']> | undefined)?.tlogEntries?.[0];
  const tlog =
    entry === undefined
      ? undefined
      : {
          // Protobuf JSON omits a zero log index (the first entry of a log).
          logIndex: Number((entry as { logIndex?: string }).logIndex ?? 0),
          integratedTime: Number(entry.integratedTime),
          integratedAt: new Date(Number(entry.integratedTime) * 1000).toISOString(),
        };
  const common = { signer, ...(tlog === undefined ? {} : { tlog }) };
  if (bundle.dsseEnvelope !== undefined) {
    const payloadType = bundle.dsseEnvelope.payloadType;
    let statement: Record<string, unknown> | undefined;
    try {
      statement = rec(JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString('utf8')));
    } catch {
      statement = undefined;
    }
    const subjects = Array.isArray(statement?.['subject'])
      ? (statement['subject'] as unknown[])
          .map((s) => rec(s))
          .filter((s): s is Record<string, unknown> => s !== undefined)
          .map((s) => ({ name: str(s['name']) ?? '', digest: (rec(s['digest']) ?? {}) as Record<string, string> }))
      : [];
    const predicateType = str(statement?.['predicateType']);
    return {
      type: 'provenance',
      payloadType,
      ...(predicateType === undefined ? {} : { predicateType }),
      subjects,
      ...(statement === undefined ? {} : { provenance: describeProvenance(statement) }),
      ...common,
    };
  }
  let image: { reference?: string; digest?: string } | undefined;
  if (payload !== undefined) {
    try {
      const critical = rec(rec(JSON.parse(Buffer.from(payload).toString('utf8')))?.['critical']);
      const reference = str(rec(critical?.['identity'])?.['docker-reference']);
      const digest = str(rec(critical?.['image'])?.['docker-manifest-digest']);
      image = { ...(reference === undefined ? {} : { reference }), ...(digest === undefined ? {} : { digest }) };
    } catch {
      image = undefined;
    }
  }
  const subjects =
    image?.reference !== undefined && image.digest !== undefined
      ? [{ name: image.reference, digest: { [image.digest.split(':')[0] ?? 'sha256']: image.digest.split(':')[1] ?? '' } }]
      : [];
  return { type: 'image-signature', subjects, ...(image === undefined ? {} : { image }), ...common };
}
