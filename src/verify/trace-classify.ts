/**
 * One image's attestations → one verdict. Every stored DSSE attestation (Sigstore bundle referrer or
 * cosign `.att` layer) is verified against the caller's policies; when a policy rejects it, the bundle
 * is checked against the key material it carries itself to tell "intact but signed by someone else"
 * (identity mismatch) from "altered after signing" (invalid signature).
 */
import { createHash, createPublicKey, verify as cryptoVerify, X509Certificate, type KeyObject } from 'node:crypto';
import type { SerializedBundle, SerializedEnvelope } from '@sigstore/bundle';
import { dsse } from '@sigstore/core';
import { isProvenantError } from '../errors.js';
import type { StoredAttestations } from '../storage/index.js';
import { certificateExtensionsMatch } from './trace-identity.js';
import { verifyBundle, type VerificationPolicy, type VerifiedArtifact } from './verify-bundle.js';

export type AttestationOutcome =
  | { readonly status: 'verified'; readonly verified: VerifiedArtifact }
  | { readonly status: 'invalid-signature' | 'identity-mismatch' | 'subject-mismatch'; readonly code: string };

const BUNDLE_V03 = 'application/vnd.dev.sigstore.bundle.v0.3+json';

/** The DSSE bundles stored for an image, de-duplicated (the `both` encoding stores each one twice). */
export function dsseBundles(stored: StoredAttestations): SerializedBundle[] {
  const out: SerializedBundle[] = [];
  const seen = new Set<string>();
  const add = (bundle: SerializedBundle): void => {
    const env = bundle.dsseEnvelope;
    if (env === undefined) return;
    const key = `${env.payload}\n${env.signatures.map((s) => s.sig).join(',')}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push(bundle);
  };
  for (const b of stored.bundles) add(b);
  for (const e of stored.envelopes) add(e.bundle ?? keyOnlyBundle(e.envelope));
  return out;
}

/** A `.att` envelope without certificate or Rekor annotations can only be checked with a key. */
function keyOnlyBundle(envelope: SerializedEnvelope): SerializedBundle {
  const bundle = {
    mediaType: BUNDLE_V03,
    verificationMaterial: { publicKey: { hint: envelope.signatures[0]?.keyid ?? '' }, tlogEntries: [], timestampVerificationData: undefined },
    dsseEnvelope: envelope,
  };
  return bundle as unknown as SerializedBundle;
}

function safe<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}

function keyFromPem(pem: string): KeyObject | undefined {
  return safe(() => (pem.includes('BEGIN CERTIFICATE') ? new X509Certificate(pem).publicKey : createPublicKey(pem)));
}

/** The key the bundle says signed it: its certificate, or the verifier recorded in its Rekor entry. */
export function embeddedKey(bundle: SerializedBundle): KeyObject | undefined {
  const vm = bundle.verificationMaterial as Record<string, unknown>;
  const certB64 =
    (vm['certificate'] as { rawBytes?: string } | undefined)?.rawBytes ??
    (vm['x509CertificateChain'] as { certificates?: { rawBytes?: string }[] } | undefined)?.certificates?.[0]?.rawBytes;
  if (certB64 !== undefined) {
    const key = safe(() => new X509Certificate(Buffer.from(certB64, 'base64')).publicKey);
    if (key !== undefined) return key;
  }
  for (const entry of bundle.verificationMaterial.tlogEntries ?? []) {
    const body = safe(() => JSON.parse(Buffer.from(entry.canonicalizedBody, 'base64').toString('utf8')) as Record<string, unknown>);
    const spec = body?.['spec'] as { signatures?: { verifier?: string }[] } | undefined;
    // dsse: spec.signatures[].verifier; hashedrekord: spec.signature.publicKey.content; intoto 0.0.2:
    // spec.content.envelope.signatures[].publicKey (all base64 PEM).
    const hashed = (body?.['spec'] as { signature?: { publicKey?: { content?: string } } } | undefined)?.signature?.publicKey?.content;
    const intoto = (body?.['spec'] as { content?: { envelope?: { signatures?: { publicKey?: string }[] } } } | undefined)?.content?.envelope?.signatures?.[0]?.publicKey;
    const verifier = spec?.signatures?.[0]?.verifier ?? hashed ?? intoto;
    if (typeof verifier === 'string') {
      const key = keyFromPem(Buffer.from(verifier, 'base64').toString('utf8'));
      if (key !== undefined) return key;
    }
  }
  return undefined;
}

export function hashOf(key: KeyObject): string | null {
  if (key.asymmetricKeyType !== 'ec') return null;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  return curve === 'secp384r1' ? 'sha384' : curve === 'secp521r1' ? 'sha512' : 'sha256';
}

function dsseSignatureValid(envelope: SerializedEnvelope, key: KeyObject): boolean {
  const sig = envelope.signatures[0]?.sig;
  if (sig === undefined) return false;
  const pae = dsse.preAuthEncoding(envelope.payloadType, Buffer.from(envelope.payload, 'base64'));
  return safe(() => cryptoVerify(hashOf(key), pae, key, Buffer.from(sig, 'base64'))) ?? false;
}

export function sameKey(a: KeyObject, b: KeyObject): boolean {
  return a.export({ format: 'der', type: 'spki' }).equals(b.export({ format: 'der', type: 'spki' }));
}

/** Names a key can be hinted by: sha256 of its SPKI DER or of its PEM (hex, full or 16-char prefix, base64). */
function hintsOf(key: KeyObject): Set<string> {
  const der = key.export({ format: 'der', type: 'spki' });
  const pem = key.export({ format: 'pem', type: 'spki' }).toString();
  const out = new Set<string>();
  for (const bytes of [der, Buffer.from(pem)]) {
    const h = createHash('sha256').update(bytes).digest();
    out.add(h.toString('hex')).add(h.toString('hex').slice(0, 16)).add(h.toString('base64'));
  }
  return out;
}

export function policyKeys(policies: readonly VerificationPolicy[]): KeyObject[] {
  return policies.flatMap((p) => ('key' in p ? [keyFromPem(p.key)].filter((k): k is KeyObject => k !== undefined) : []));
}

/**
 * Why a bundle the policies rejected was rejected. Intact under its own key/certificate → someone else
 * signed it (identity mismatch), unless that key is one of ours. A key-only bundle without a Rekor
 * entry carries no key: a key hint naming another key means identity mismatch; otherwise a wrong key
 * and an altered payload cannot be told apart and the stricter verdict (invalid signature) is given.
 */
function classifyRejection(bundle: SerializedBundle, policies: readonly VerificationPolicy[], codes: readonly string[]): AttestationOutcome {
  const envelope = bundle.dsseEnvelope;
  const code = codes.find((c) => c !== 'VERIFY_IDENTITY_MISMATCH') ?? codes[0] ?? 'VERIFY_FAILED';
  if (envelope === undefined) return { status: 'invalid-signature', code };
  const ours = policyKeys(policies);
  const own = embeddedKey(bundle);
  if (own !== undefined) {
    if (!dsseSignatureValid(envelope, own)) return { status: 'invalid-signature', code: 'VERIFY_SIGNATURE_INVALID' };
    if (ours.some((k) => sameKey(k, own))) return { status: 'invalid-signature', code };
    return { status: 'identity-mismatch', code: codes.includes('VERIFY_IDENTITY_MISMATCH') ? 'VERIFY_IDENTITY_MISMATCH' : 'VERIFY_KEY_MISMATCH' };
  }
  if (codes.includes('VERIFY_IDENTITY_MISMATCH') || codes.includes('VERIFY_CERTIFICATE_MISSING')) {
    return { status: 'identity-mismatch', code: codes.includes('VERIFY_IDENTITY_MISMATCH') ? 'VERIFY_IDENTITY_MISMATCH' : 'VERIFY_CERTIFICATE_MISSING' };
  }
  const hint = (bundle.verificationMaterial as { publicKey?: { hint?: string } }).publicKey?.hint || envelope.signatures[0]?.keyid || '';
  if (hint !== '' && ours.length > 0 && !ours.some((k) => hintsOf(k).has(hint))) return { status: 'identity-mismatch', code: 'VERIFY_KEY_MISMATCH' };
  return { status: 'invalid-signature', code };
}

/** True when one of the statement's subjects has the image's sha256 digest. */
function coversDigest(verified: VerifiedArtifact, hex: string): boolean {
  return verified.subjects.some((s) => s.digest['sha256']?.toLowerCase() === hex);
}

/**
 * Verifies one attestation about the image with sha256 `hex` against any of `policies`. `extensions[i]`
 * (Fulcio certificate extension values) further restricts `policies[i]`.
 */
export function classifyAttestation(
  bundle: SerializedBundle,
  policies: readonly VerificationPolicy[],
  hex: string,
  extensions: readonly (Readonly<Record<string, string | RegExp>> | undefined)[] = [],
): AttestationOutcome {
  const codes: string[] = [];
  for (const [i, policy] of policies.entries()) {
    try {
      const verified = verifyBundle(bundle, policy);
      const wanted = extensions[i];
      if (wanted !== undefined && !certificateExtensionsMatch(bundle, wanted)) {
        codes.push('VERIFY_IDENTITY_MISMATCH');
        continue;
      }
      if (verified.statement === undefined) return { status: 'invalid-signature', code: 'VERIFY_PAYLOAD_INVALID' };
      // Signed, but about another artifact: copied next to this image, it proves nothing about it.
      if (!coversDigest(verified, hex)) return { status: 'subject-mismatch', code: 'TRACE_SUBJECT_MISMATCH' };
      return { status: 'verified', verified };
    } catch (err) {
      if (!isProvenantError(err) || err.kind === 'transient') throw err;
      codes.push(err.code);
    }
  }
  return classifyRejection(bundle, policies, codes);
}
