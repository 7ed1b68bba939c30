/**
 * The lean path of `verifyBundle` for the common keyed case: a DSSE bundle checked against a public key
 * with no trusted root (`verify --image REF --key PEM`). What `@sigstore/verify` does on that path is a
 * structural check of the bundle and one signature over the DSSE pre-authentication encoding, which
 * `node:crypto` does without loading @sigstore/verify, /bundle, /core and the protobuf-specs (most of
 * the JavaScript `verify --image` parsed, see docs/cli-build.md).
 *
 * It decides only what it is sure `verifyBundle` decides the same way: a bundle whose shape is exactly
 * one that `bundleFromJSON` accepts and `toSignedEntity` reads without parsing anything (a public-key
 * hint, one DSSE signature, no transparency log entries, no RFC 3161 timestamps). Anything else,
 * however harmless, returns `undefined` and the caller runs `verifyBundle`, which then gives its own
 * result and typed error. test/unit/verify/verify-key.test.ts checks both paths agree on generated bundles.
 */
import { createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { ProvenantError } from '../errors.js';
import { checkBundleLimits, parseStatementBounded } from './bundle-limits.js';
import type { VerificationPolicy, VerifiedArtifact } from './verify-bundle.js';

/**
 * The hashes a key's signatures may use, first the one provenant signs with now. sigstore-js assumes
 * SHA-256 for every EC key; P-384 keys held by provenant sign SHA-256 too (as cosign and Chains), but
 * bundles written before that change and KMS P-384 keys (which can only sign SHA-384) use SHA-384.
 */
export function hashesForKey(key: KeyObject): readonly (string | null)[] {
  if (key.asymmetricKeyType === 'ed25519') return [null];
  return key.asymmetricKeyDetails?.namedCurve === 'secp384r1' ? ['sha256', 'sha384'] : ['sha256'];
}

/** Verifies `signature` over `signed` with each hash `key` may sign with. */
export function verifyWithKeyHashes(key: KeyObject, signed: Buffer, signature: Buffer): boolean {
  return hashesForKey(key).some((hash) => {
    try {
      return cryptoVerify(hash, signed, key, signature);
    } catch {
      return false;
    }
  });
}

/** DSSE pre-authentication encoding (as `@sigstore/core`'s `dsse.preAuthEncoding`). */
export function dssePreAuthEncoding(payloadType: string, payload: Buffer): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `, 'ascii'), type, Buffer.from(` ${payload.length} `, 'ascii'), payload]);
}

export function parsePublicKey(pem: string): KeyObject {
  try {
    return createPublicKey(pem);
  } catch (cause) {
    throw new ProvenantError('input', 'VERIFY_KEY_INVALID', 'the verification key is not a PEM public key', { cause });
  }
}

/** The statement, subjects and predicate type of a verified payload: what both paths return. */
export function verifiedArtifact(
  payload: Buffer,
  payloadType: string | undefined,
  signer: VerifiedArtifact['signer'],
  tlog: VerifiedArtifact['tlog'] | undefined,
): VerifiedArtifact {
  const statement = payloadType === 'application/vnd.in-toto+json' ? parseStatementBounded(payload) : undefined;
  const rawSubjects = Array.isArray(statement?.['subject']) ? (statement['subject'] as unknown[]) : [];
  const subjects = rawSubjects
    .filter((s): s is { name?: unknown; digest?: unknown } => typeof s === 'object' && s !== null)
    .map((s) => ({ name: typeof s.name === 'string' ? s.name : '', digest: (s.digest ?? {}) as Record<string, string> }));
  const predicateType = typeof statement?.['predicateType'] === 'string' ? statement['predicateType'] : undefined;
  return {
    payload,
    payloadType,
    ...(statement === undefined ? {} : { statement }),
    subjects,
    predicateType,
    signer,
    ...(tlog === undefined ? {} : { tlog }),
  };
}

function record(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

const absent = (v: unknown): boolean => v === undefined || v === null;

// @sigstore/bundle's media type checks (validate.ts), unanchored at the end as there.
const mediaTypePatterns = [/^application\/vnd\.dev\.sigstore\.bundle\+json;version=\d\.\d/, /^application\/vnd\.dev\.sigstore\.bundle\.v\d\.\d\+json/];

interface LeanDsse {
  readonly payload: Buffer;
  readonly payloadType: string;
  readonly signature: Buffer;
}

/** The envelope of a bundle of the one shape the lean path decides, else undefined. */
function leanShape(json: unknown): LeanDsse | undefined {
  const bundle = record(json);
  if (bundle === undefined) return undefined;
  const mediaType = bundle['mediaType'];
  if (typeof mediaType !== 'string' || !mediaTypePatterns.some((p) => p.test(mediaType))) return undefined;
  const material = record(bundle['verificationMaterial']);
  if (material === undefined || absent(material['publicKey'])) return undefined;
  const tlogEntries = material['tlogEntries'];
  if (!absent(tlogEntries) && !(Array.isArray(tlogEntries) && tlogEntries.length === 0)) return undefined;
  const timestamps = material['timestampVerificationData'];
  if (!absent(timestamps)) {
    const list = record(timestamps)?.['rfc3161Timestamps'];
    if (record(timestamps) === undefined || !(absent(list) || (Array.isArray(list) && list.length === 0))) return undefined;
  }
  if (!absent(bundle['messageSignature'])) return undefined;
  const envelope = record(bundle['dsseEnvelope']);
  if (envelope === undefined) return undefined;
  const { payload, payloadType, signatures } = envelope;
  if (typeof payload !== 'string' || typeof payloadType !== 'string' || !Array.isArray(signatures) || signatures.length !== 1) return undefined;
  const only = record(signatures[0]);
  const sig = only?.['sig'];
  if (typeof sig !== 'string' || !(absent(only?.['keyid']) || typeof only?.['keyid'] === 'string')) return undefined;
  const lean = { payload: Buffer.from(payload, 'base64'), payloadType, signature: Buffer.from(sig, 'base64') };
  return lean.payload.length === 0 || lean.signature.length === 0 ? undefined : lean;
}

/**
 * `verifyBundle(bundleJson, policy)` for a keyed policy without a trusted root, when the bundle has the
 * one shape decided here; `undefined` when `verifyBundle` must decide. `key` is `policy.key` parsed once
 * by the caller (`parsePublicKey`), so a batch of bundles parses it once.
 */
export function verifyKeyedDsse(bundleJson: unknown, policy: VerificationPolicy, key?: KeyObject): VerifiedArtifact | undefined {
  if (!('key' in policy) || policy.trustedRoot !== undefined) return undefined;
  checkBundleLimits(bundleJson); // verifyBundle checks these first too
  const dsse = leanShape(bundleJson);
  if (dsse === undefined) return undefined;
  // verifyBundle's order: a required log entry, then the key, then the trusted root it needs.
  if (policy.requireTlog === true) throw new ProvenantError('permanent', 'VERIFY_TLOG_MISSING', 'the bundle has no transparency log entry');
  const publicKey = key ?? parsePublicKey(policy.key);
  if (!verifyWithKeyHashes(publicKey, dssePreAuthEncoding(dsse.payloadType, dsse.payload), dsse.signature)) {
    throw new ProvenantError('permanent', 'VERIFY_SIGNATURE_INVALID', 'bundle rejected: signature verification failed');
  }
  return verifiedArtifact(dsse.payload, dsse.payloadType, { publicKey: publicKey.export({ format: 'pem', type: 'spki' }).toString() }, undefined);
}
