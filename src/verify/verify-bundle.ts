/**
 * Verifies a Sigstore bundle (DSSE or message signature) against a public key or a keyless identity,
 * with `@sigstore/verify` and a TrustedRoot given by the caller (no TUF fetch: works offline).
 */
import { createPublicKey } from 'node:crypto';
import { bundleFromJSON, type Bundle } from '@sigstore/bundle';
import { dsse } from '@sigstore/core';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { Verifier, toSignedEntity, toTrustMaterial, type SignedEntity, type VerificationPolicy as SigstorePolicy } from '@sigstore/verify';
import { ProvenantError, errorMessage, type TransparencyErrorCode, type VerifyErrorCode } from '../errors.js';
import { checkBundleLimits } from './bundle-limits.js';
import { parsePublicKey, verifiedArtifact, verifyWithKeyHashes } from './verify-key.js';

export type VerificationPolicy =
  | {
      /** PEM public key the bundle must be signed with. */
      readonly key: string;
      /** Needed only to check the bundle's Rekor entries (always with `requireTlog`). */
      readonly trustedRoot?: unknown;
      readonly requireTlog?: boolean;
    }
  | {
      readonly identity: { readonly san: string | RegExp; readonly issuer: string };
      /** JSON TrustedRoot (`trusted_root.json`) holding the Fulcio CA, Rekor and CT log keys. */
      readonly trustedRoot: unknown;
      readonly requireTlog?: boolean;
    };

export interface Subject {
  readonly name: string;
  readonly digest: Readonly<Record<string, string>>;
}

export interface VerifiedArtifact {
  readonly payload: Buffer;
  /** DSSE payload type; undefined for a message signature. */
  readonly payloadType: string | undefined;
  readonly statement?: Record<string, unknown>;
  readonly subjects: readonly Subject[];
  readonly predicateType: string | undefined;
  readonly signer: { readonly publicKey: string } | { readonly san: string; readonly issuer: string | undefined };
  readonly tlog?: { readonly logIndex: string; readonly integratedTime: string; readonly logId: string };
}

const codeFor: Record<string, VerifyErrorCode | TransparencyErrorCode> = {
  SIGNATURE_ERROR: 'VERIFY_SIGNATURE_INVALID',
  UNTRUSTED_SIGNER_ERROR: 'VERIFY_IDENTITY_MISMATCH',
  CERTIFICATE_ERROR: 'VERIFY_CERTIFICATE_INVALID',
  PUBLIC_KEY_ERROR: 'VERIFY_KEY_MISMATCH',
  TLOG_BODY_ERROR: 'VERIFY_TLOG_MISMATCH',
  TLOG_ERROR: 'VERIFY_TLOG_INVALID',
  TLOG_INCLUSION_PROOF_ERROR: 'TLOG_INCLUSION_PROOF_INVALID',
  TLOG_INCLUSION_PROMISE_ERROR: 'TLOG_SET_INVALID',
  TLOG_MISSING_INCLUSION_ERROR: 'VERIFY_TLOG_INVALID',
  TIMESTAMP_ERROR: 'VERIFY_TIMESTAMP_INVALID',
};

function rejected(code: VerifyErrorCode | TransparencyErrorCode, message: string, cause?: unknown): ProvenantError {
  return new ProvenantError('permanent', code, message, cause === undefined ? {} : { cause });
}

/** Re-checks signatures with each hash the key may sign with (P-384: SHA-256, or SHA-384 for legacy and KMS bundles). */
function withKeyHash(entity: SignedEntity, bundle: Bundle, artifact: Buffer | undefined): SignedEntity {
  const content = bundle.content;
  const signed =
    content.$case === 'dsseEnvelope'
      ? dsse.preAuthEncoding(content.dsseEnvelope.payloadType, content.dsseEnvelope.payload)
      : artifact;
  const signature = entity.signature.signature;
  if (signed === undefined) return entity;
  const original = entity.signature;
  return {
    ...entity,
    signature: {
      signature,
      compareSignature: (s) => original.compareSignature(s),
      compareDigest: (d) => original.compareDigest(d),
      compareSignedDigest: (d) => original.compareSignedDigest(d),
      verifySignature: (key) => verifyWithKeyHashes(key, signed, signature),
    },
  };
}

function parseBundle(json: unknown): Bundle {
  checkBundleLimits(json);
  try {
    return bundleFromJSON(json);
  } catch (cause) {
    throw new ProvenantError('input', 'VERIFY_BUNDLE_INVALID', `not a Sigstore bundle: ${errorMessage(cause)}`, { cause });
  }
}

function parseTrustedRoot(json: unknown): TrustedRoot {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ProvenantError('input', 'VERIFY_TRUSTED_ROOT_INVALID', 'the trusted root is not a JSON object');
  }
  try {
    return TrustedRoot.fromJSON(json);
  } catch (cause) {
    throw new ProvenantError('input', 'VERIFY_TRUSTED_ROOT_INVALID', `not a TrustedRoot: ${errorMessage(cause)}`, { cause });
  }
}

const emptyRoot: TrustedRoot = { mediaType: '', tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: [] };

/**
 * Verifies `bundleJson` (a serialized bundle) against `policy`. `artifact` is needed only for message
 * signatures (the signed bytes are not in the bundle). Throws ProvenantError: `input` for unusable
 * arguments, `permanent` (VERIFY_*) when the bundle is rejected.
 */
export function verifyBundle(bundleJson: unknown, policy: VerificationPolicy, options: { readonly artifact?: Buffer } = {}): VerifiedArtifact {
  const bundle = parseBundle(bundleJson);
  const tlogEntries = bundle.verificationMaterial.tlogEntries;
  const requireTlog = policy.requireTlog ?? false;
  if (requireTlog && tlogEntries.length === 0) {
    throw rejected('VERIFY_TLOG_MISSING', 'the bundle has no transparency log entry');
  }
  if (bundle.content.$case === 'messageSignature' && options.artifact === undefined) {
    throw new ProvenantError('input', 'VERIFY_ARTIFACT_REQUIRED', 'a message-signature bundle needs the signed artifact to verify');
  }

  let entity: SignedEntity;
  try {
    entity = toSignedEntity(bundle, options.artifact);
  } catch (cause) {
    throw new ProvenantError('input', 'VERIFY_BUNDLE_INVALID', `unusable Sigstore bundle: ${errorMessage(cause)}`, { cause });
  }
  let verifier: Verifier;
  let sigstorePolicy: SigstorePolicy | undefined;
  if ('key' in policy) {
    const key = parsePublicKey(policy.key);
    if (requireTlog && policy.trustedRoot === undefined) {
      throw new ProvenantError('input', 'VERIFY_TRUSTED_ROOT_REQUIRED', 'checking the transparency log needs a trusted root (Rekor public key)');
    }
    const root = policy.trustedRoot === undefined ? emptyRoot : parseTrustedRoot(policy.trustedRoot);
    // The given key verifies the signature whatever key material the bundle names (cosign verify --key).
    entity = { ...entity, key: { $case: 'public-key', hint: '' } };
    // Without a trusted root the log entries cannot be checked: ignore them rather than fail.
    if (policy.trustedRoot === undefined) entity = { ...entity, tlogEntries: [], timestamps: [] };
    const trust = toTrustMaterial(root, () => ({ publicKey: key, validFor: () => true }));
    verifier = new Verifier(trust, { tlogThreshold: requireTlog ? 1 : 0, ctlogThreshold: 0, timestampThreshold: 0 });
  } else {
    const trust = toTrustMaterial(parseTrustedRoot(policy.trustedRoot));
    if (entity.key.$case !== 'certificate') {
      throw rejected('VERIFY_CERTIFICATE_MISSING', 'the bundle is signed with a key, not a certificate: verify it with the key');
    }
    // A certificate is only valid at a proven time: a Rekor entry or a TSA timestamp.
    verifier = new Verifier(trust, { tlogThreshold: requireTlog ? 1 : 0, ctlogThreshold: 1, timestampThreshold: 1 });
    sigstorePolicy = { subjectAlternativeName: policy.identity.san, extensions: { issuer: policy.identity.issuer } };
  }
  entity = withKeyHash(entity, bundle, options.artifact);

  let signer;
  try {
    signer = verifier.verify(entity, sigstorePolicy);
  } catch (err) {
    const sigstoreCode = (err as { code?: unknown }).code;
    const code = typeof sigstoreCode === 'string' ? (codeFor[sigstoreCode] ?? 'VERIFY_FAILED') : 'VERIFY_FAILED';
    throw rejected(code, `bundle rejected: ${errorMessage(err)}`, err);
  }

  const payload = bundle.content.$case === 'dsseEnvelope' ? bundle.content.dsseEnvelope.payload : (options.artifact ?? Buffer.alloc(0));
  const payloadType = bundle.content.$case === 'dsseEnvelope' ? bundle.content.dsseEnvelope.payloadType : undefined;
  const firstTlog = entity.tlogEntries[0];
  const tlog =
    firstTlog === undefined
      ? undefined
      : { logIndex: firstTlog.logIndex, integratedTime: firstTlog.integratedTime, logId: Buffer.from(firstTlog.logId.keyId).toString('hex') };
  const verifiedSigner =
    'key' in policy
      ? { publicKey: createPublicKey(policy.key).export({ format: 'pem', type: 'spki' }).toString() }
      : { san: signer.identity?.subjectAlternativeName ?? '', issuer: signer.identity?.extensions?.issuer };
  return verifiedArtifact(payload, payloadType, verifiedSigner, tlog);
}
