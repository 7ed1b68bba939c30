/**
 * Image signatures as cosign checks them: a cosign `.sig` layer (simple-signing payload + base64
 * signature, with certificate / Rekor bundle annotations when keyless) or a Sigstore bundle with a
 * message signature over the simple-signing payload. The signature must verify under an accepted
 * identity AND the payload's `critical.image.docker-manifest-digest` must be the image's digest (a
 * valid signature of another image, copied next to this one, proves nothing about it).
 */
import { createHash, verify as cryptoVerify } from 'node:crypto';
import type { SerializedBundle } from '@sigstore/bundle';
import { isProvenantError } from '../errors.js';
import { simpleSigningPayload } from '../provenance/index.js';
import { embeddedKey, hashOf } from './trace-classify.js';
import { certificateExtensionsMatch } from './trace-identity.js';
import type { TraceIdentity } from './trace-policy.js';
import { verifyBundle, type VerifiedArtifact } from './verify-bundle.js';

export type SignatureVerdict = 'verified' | 'unsigned' | 'invalid-signature' | 'identity-mismatch';

/**
 * Attestation stores `trace` can also read (`--gcs-bucket`, `--archivista-url`, `--docdb-url`, …), each the
 * reader of a storage backend; their evidence providers are listed in cli/commands/trace-stores.ts.
 */
export const storeEvidenceSources = ['gcs', 'archivista', 'docdb', 'grafeas'] as const;
export type StoreEvidenceSource = (typeof storeEvidenceSources)[number];

/** Where a piece of evidence was read: the registry, the transparency log, a local directory, or a store. */
export type EvidenceSource = 'registry' | 'rekor' | 'local' | StoreEvidenceSource;

/** One image signature candidate: the payload it signs (when known) and its bundle. */
export interface SignatureCandidate {
  readonly bundle: SerializedBundle;
  /** The simple-signing payload bytes; for a referrer bundle, found by its message digest. */
  readonly payload?: Uint8Array;
  readonly source: EvidenceSource;
}

export interface SignatureResult {
  readonly verdict: SignatureVerdict;
  readonly reason?: string;
  readonly signer?: VerifiedArtifact['signer'];
  readonly source?: EvidenceSource;
  /** Signatures found (verified or not). */
  readonly count: number;
}

const BUNDLE_V03 = 'application/vnd.dev.sigstore.bundle.v0.3+json';

/** A `.sig` layer without certificate or Rekor annotations: a key-only message-signature bundle. */
export function keyOnlyMessageBundle(payload: Uint8Array, signature: string): SerializedBundle {
  return {
    mediaType: BUNDLE_V03,
    verificationMaterial: { publicKey: { hint: '' }, tlogEntries: [], timestampVerificationData: undefined },
    messageSignature: { messageDigest: { algorithm: 'SHA2_256', digest: createHash('sha256').update(payload).digest('base64') }, signature },
  } as unknown as SerializedBundle;
}

/** The digest a simple-signing payload claims to sign, or undefined when it is not one. */
export function signedManifestDigest(payload: Uint8Array): string | undefined {
  try {
    const doc = JSON.parse(Buffer.from(payload).toString('utf8')) as { critical?: { image?: { 'docker-manifest-digest'?: unknown } } };
    const d = doc.critical?.image?.['docker-manifest-digest'];
    return typeof d === 'string' ? d : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A referrer bundle's message signature covers a payload the bundle does not carry: find it among
 * the `.sig` payloads or rebuild cosign's payload for this image, by the bundle's message digest.
 */
export function payloadForBundle(bundle: SerializedBundle, known: readonly Uint8Array[], image: { name: string; digest: string }): Uint8Array | undefined {
  const digest = bundle.messageSignature?.messageDigest?.digest;
  if (digest === undefined) return undefined;
  const want = Buffer.from(digest, 'base64').toString('hex');
  const candidates = [...known, simpleSigningPayload(image)];
  return candidates.find((p) => createHash('sha256').update(p).digest('hex') === want);
}

function signatureIntact(bundle: SerializedBundle, payload: Uint8Array): boolean {
  const key = embeddedKey(bundle);
  const sig = bundle.messageSignature?.signature;
  if (key === undefined || sig === undefined) return false;
  try {
    return cryptoVerify(hashOf(key), payload, key, Buffer.from(sig, 'base64'));
  } catch {
    return false;
  }
}

type Outcome = { ok: true; signer: VerifiedArtifact['signer'] } | { ok: false; verdict: 'invalid-signature' | 'identity-mismatch'; reason: string };

function classifyOne(candidate: SignatureCandidate, identities: readonly TraceIdentity[], digest: string): Outcome {
  const { bundle, payload } = candidate;
  if (payload === undefined) return { ok: false, verdict: 'invalid-signature', reason: 'TRACE_SIGNATURE_PAYLOAD_UNKNOWN' };
  const codes: string[] = [];
  for (const identity of identities) {
    try {
      const verified = verifyBundle(bundle, identity.policy, { artifact: Buffer.from(payload) });
      if (identity.extensions !== undefined && !certificateExtensionsMatch(bundle, identity.extensions)) {
        codes.push('VERIFY_IDENTITY_MISMATCH');
        continue;
      }
      // Signed by an accepted identity, but for another image: cosign rejects it too.
      if (signedManifestDigest(payload) !== digest) return { ok: false, verdict: 'invalid-signature', reason: 'TRACE_SIGNATURE_DIGEST_MISMATCH' };
      return { ok: true, signer: verified.signer };
    } catch (err) {
      if (!isProvenantError(err) || err.kind === 'transient') throw err;
      codes.push(err.code);
    }
  }
  if (signatureIntact(bundle, payload)) {
    return { ok: false, verdict: 'identity-mismatch', reason: codes.includes('VERIFY_IDENTITY_MISMATCH') ? 'VERIFY_IDENTITY_MISMATCH' : 'VERIFY_KEY_MISMATCH' };
  }
  if (codes.includes('VERIFY_CERTIFICATE_MISSING')) return { ok: false, verdict: 'identity-mismatch', reason: 'VERIFY_CERTIFICATE_MISSING' };
  return { ok: false, verdict: 'invalid-signature', reason: codes.find((c) => c !== 'VERIFY_IDENTITY_MISMATCH') ?? 'VERIFY_SIGNATURE_INVALID' };
}

/** One verdict for an image's signatures: verified when any verifies; otherwise the worst outcome. */
export function classifySignatures(candidates: readonly SignatureCandidate[], identities: readonly TraceIdentity[], digest: string): SignatureResult {
  if (candidates.length === 0) return { verdict: 'unsigned', count: 0 };
  const outcomes = candidates.map((c) => ({ c, o: classifyOne(c, identities, digest) }));
  const good = outcomes.find((x) => x.o.ok);
  if (good !== undefined && good.o.ok) return { verdict: 'verified', signer: good.o.signer, source: good.c.source, count: candidates.length };
  const bad = outcomes.find((x) => !x.o.ok && x.o.verdict === 'invalid-signature') ?? outcomes[0]!;
  const o = bad.o as Extract<Outcome, { ok: false }>;
  return { verdict: o.verdict, reason: o.reason, source: bad.c.source, count: candidates.length };
}
