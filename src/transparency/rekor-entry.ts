/**
 * Decoding a Rekor v1 entry body (hashedrekord 0.0.1, dsse 0.0.1, intoto 0.0.2, other kinds as is)
 * into what a person or `trace` wants: who signed, over which digests, and the envelope and statement
 * when the type keeps them (intoto: Rekor returns the statement as `attestation.data`). Pure.
 */
import { createHash, createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { X509Certificate } from '@sigstore/core';
import { ProvenantError } from '../errors.js';

export interface RekorVerifier {
  readonly pem: string;
  readonly type: 'publicKey' | 'certificate';
  /** Certificate subject alternative name (Fulcio identity). */
  readonly san?: string;
  /** Fulcio OIDC issuer extension. */
  readonly issuer?: string;
}

export interface RekorEnvelope {
  readonly payloadType: string;
  /** base64 */
  readonly payload: string;
  readonly signatures: readonly { readonly keyid?: string; readonly sig: string }[];
}

export interface DecodedRekorBody {
  readonly kind: string;
  readonly apiVersion: string;
  readonly body: Record<string, unknown>;
  readonly envelope?: RekorEnvelope;
  readonly statement?: Record<string, unknown>;
  readonly signature?: { readonly content: string; readonly digest?: string };
  readonly verifiers: readonly RekorVerifier[];
  readonly digests: readonly string[];
}

const issuerV1 = '1.3.6.1.4.1.57264.1.1';
const issuerV2 = '1.3.6.1.4.1.57264.1.8';

function invalid(message: string): ProvenantError {
  return new ProvenantError('permanent', 'TLOG_RESPONSE_INVALID', message);
}

function verifierFrom(b64Pem: unknown): RekorVerifier | undefined {
  if (typeof b64Pem !== 'string') return undefined;
  const pem = Buffer.from(b64Pem, 'base64').toString('utf8');
  if (!pem.includes('BEGIN CERTIFICATE')) return { pem, type: 'publicKey' };
  try {
    const cert = X509Certificate.parse(pem);
    const v2 = cert.extension(issuerV2);
    const issuer = v2 === undefined ? cert.extension(issuerV1)?.value.toString('ascii') : v2.valueObj.subs[0]?.value.toString('ascii');
    const san = cert.subjectAltName;
    return { pem, type: 'certificate', ...(san === undefined ? {} : { san }), ...(issuer === undefined ? {} : { issuer }) };
  } catch {
    return { pem, type: 'certificate' };
  }
}

function hashKey(h: unknown): string | undefined {
  const hash = h as { algorithm?: unknown; value?: unknown } | undefined;
  return typeof hash?.algorithm === 'string' && typeof hash.value === 'string' ? `${hash.algorithm}:${hash.value}`.toLowerCase() : undefined;
}

function statementDigests(statement: Record<string, unknown>): string[] {
  const subjects = Array.isArray(statement['subject']) ? (statement['subject'] as { digest?: Record<string, string> }[]) : [];
  return subjects.flatMap((s) => Object.entries(s.digest ?? {}).map(([alg, d]) => `${alg}:${d}`.toLowerCase()));
}

function pae(type: string, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`DSSEv1 ${Buffer.byteLength(type)} ${type} ${payload.length} `), payload]);
}

function envelopeSignedBy(envelope: RekorEnvelope, verifiers: readonly RekorVerifier[]): boolean {
  const data = pae(envelope.payloadType, Buffer.from(envelope.payload, 'base64'));
  return envelope.signatures.every((s) =>
    verifiers.some((v) => {
      try {
        const key = createPublicKey(v.pem);
        const hashes = key.asymmetricKeyType === 'ed25519' ? [null] : ['sha256', 'sha384'];
        return hashes.some((h) => cryptoVerify(h, data, key, Buffer.from(s.sig, 'base64')));
      } catch {
        return false;
      }
    }),
  );
}

/**
 * Decodes a canonical body (and, for intoto, the attestation Rekor returned with it). The statement is
 * only returned after checking that its hash is the entry's payloadHash and that the envelope
 * signatures verify with the entry's keys (TLOG_ATTESTATION_MISMATCH otherwise).
 */
export function decodeRekorBody(body: Buffer, attestation?: Buffer): DecodedRekorBody {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw invalid('the entry body is not JSON');
  }
  const kind = parsed['kind'];
  const apiVersion = parsed['apiVersion'];
  if (typeof kind !== 'string' || typeof apiVersion !== 'string') throw invalid('the entry body has no kind/apiVersion');
  const spec = (parsed['spec'] ?? {}) as Record<string, unknown>;
  const base = { kind, apiVersion, body: parsed };

  if (kind === 'hashedrekord') {
    const sig = (spec['signature'] ?? {}) as { content?: unknown; publicKey?: { content?: unknown } };
    const digest = hashKey((spec['data'] as { hash?: unknown } | undefined)?.hash);
    const verifier = verifierFrom(sig.publicKey?.content);
    return {
      ...base,
      ...(typeof sig.content === 'string' ? { signature: { content: sig.content, ...(digest === undefined ? {} : { digest }) } } : {}),
      verifiers: verifier === undefined ? [] : [verifier],
      digests: digest === undefined ? [] : [digest],
    };
  }
  if (kind === 'dsse') {
    const sigs = Array.isArray(spec['signatures']) ? (spec['signatures'] as { verifier?: unknown }[]) : [];
    return {
      ...base,
      verifiers: sigs.map((s) => verifierFrom(s.verifier)).filter((v): v is RekorVerifier => v !== undefined),
      digests: [hashKey(spec['payloadHash']), hashKey(spec['envelopeHash'])].filter((d): d is string => d !== undefined),
    };
  }
  if (kind === 'intoto') {
    const content = (spec['content'] ?? {}) as { envelope?: { payloadType?: unknown; signatures?: unknown }; payloadHash?: unknown; hash?: unknown };
    const sigs = Array.isArray(content.envelope?.signatures) ? (content.envelope.signatures as { keyid?: unknown; sig?: unknown; publicKey?: unknown }[]) : [];
    const verifiers = sigs.map((s) => verifierFrom(s.publicKey)).filter((v): v is RekorVerifier => v !== undefined);
    const payloadHash = hashKey(content.payloadHash);
    const digests = [payloadHash, hashKey(content.hash)].filter((d): d is string => d !== undefined);
    const payloadType = content.envelope?.payloadType;
    if (attestation === undefined || typeof payloadType !== 'string') return { ...base, verifiers, digests };
    if (payloadHash !== `sha256:${createHash('sha256').update(attestation).digest('hex')}`) {
      throw new ProvenantError('permanent', 'TLOG_ATTESTATION_MISMATCH', 'the attestation returned with the entry does not hash to its payloadHash');
    }
    // intoto 0.0.2 stores the signature base64-encoded twice.
    const envelope: RekorEnvelope = {
      payloadType,
      payload: attestation.toString('base64'),
      signatures: sigs.map((s) => ({
        ...(typeof s.keyid === 'string' && s.keyid !== '' ? { keyid: s.keyid } : {}),
        sig: Buffer.from(String(s.sig), 'base64').toString('utf8'),
      })),
    };
    if (!envelopeSignedBy(envelope, verifiers)) {
      throw new ProvenantError('permanent', 'TLOG_ATTESTATION_MISMATCH', 'the envelope rebuilt from the entry does not verify with its keys');
    }
    let statement: Record<string, unknown> | undefined;
    if (payloadType === 'application/vnd.in-toto+json') {
      try {
        statement = JSON.parse(attestation.toString('utf8')) as Record<string, unknown>;
      } catch {
        statement = undefined;
      }
    }
    return {
      ...base,
      envelope,
      ...(statement === undefined ? {} : { statement }),
      verifiers,
      digests: [...digests, ...(statement === undefined ? [] : statementDigests(statement))],
    };
  }
  return { ...base, verifiers: [], digests: [] };
}
