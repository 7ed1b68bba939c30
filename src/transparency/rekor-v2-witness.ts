/**
 * Logging in Rekor v2 (rekor-tiles): `POST /api/v2/log/entries` with a `hashedRekordRequestV002`.
 * Current rekor-tiles accepts only hashedrekord 0.0.2, so a DSSE envelope is logged as the SHA-256 of
 * its PAE (what was signed) with the signature, as rekor-tiles' CLIENTS.md prescribes, and the
 * verifier is the public key (SPKI DER) or the certificate it really is. @sigstore/sign 5.1's v2 client
 * sends the deprecated `dsseRequestV002` and always labels the key an X.509 certificate, which a
 * current log refuses; @sigstore/verify checks these entries (hashedrekord 0.0.2 over a DSSE PAE).
 *
 * The answer is a TransparencyLogEntry with an inclusion proof and a signed checkpoint, and no SET.
 * Exactly once: a 409 carries the existing entry's index (`x-log-index`); the entry is rebuilt from
 * the deterministic canonical body, the checkpoint and the hash tiles.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import type { SignatureBundle, VerificationMaterial, Witness } from '@sigstore/sign';
import { TransparencyLogEntry } from '@sigstore/protobuf-specs';
import { dsse } from '@sigstore/core';
import { ProvenantError, errorMessage } from '../errors.js';
import type { Logger } from '../observability/index.js';
import { canonicalJson } from './canonical-json.js';
import { parseSignedCheckpoint } from './checkpoint.js';
import { createTileReader } from './rekor-v2-tiles.js';

export interface RekorV2WitnessDeps {
  readonly url: string;
  readonly logger: Logger;
  readonly timeoutMs?: number;
  readonly fetch?: typeof globalThis.fetch;
  /** hex log ID (the checkpoint key ID); needed only to rebuild an entry after a 409. Learned from any 201. */
  readonly logId?: string;
}

function keyDetailsOf(key: KeyObject): { keyDetails: string; hash: 'sha256' | 'sha384' | 'sha512' } {
  if (key.asymmetricKeyType === 'ed25519') return { keyDetails: 'PKIX_ED25519', hash: 'sha512' };
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (curve === 'secp384r1') return { keyDetails: 'PKIX_ECDSA_P384_SHA_384', hash: 'sha384' };
  if (curve === 'secp521r1') return { keyDetails: 'PKIX_ECDSA_P521_SHA_512', hash: 'sha512' };
  return { keyDetails: 'PKIX_ECDSA_P256_SHA_256', hash: 'sha256' };
}

/** The request and the canonical body rekor-tiles will store for it (protojson, then RFC 8785). */
export function hashedRekordV002(content: SignatureBundle, verifierPem: string): { request: Record<string, unknown>; body: string } {
  const isCert = verifierPem.includes('BEGIN CERTIFICATE');
  const der = Buffer.from(verifierPem.replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64');
  const key = isCert ? createPublicKey(verifierPem) : createPublicKey({ key: der, format: 'der', type: 'spki' });
  const { keyDetails, hash } = keyDetailsOf(key);
  let digest: Buffer;
  let signature: Buffer;
  if (content.$case === 'dsseEnvelope') {
    const env = content.dsseEnvelope;
    digest = createHash(hash).update(dsse.preAuthEncoding(env.payloadType, env.payload)).digest();
    signature = env.signatures[0]?.sig ?? Buffer.alloc(0);
  } else {
    digest = content.messageSignature.messageDigest?.digest ?? Buffer.alloc(0);
    signature = content.messageSignature.signature;
  }
  const verifier = { keyDetails, ...(isCert ? { x509Certificate: { rawBytes: der.toString('base64') } } : { publicKey: { rawBytes: der.toString('base64') } }) };
  const sig = { content: signature.toString('base64'), verifier };
  const algorithm = { sha256: 'SHA2_256', sha384: 'SHA2_384', sha512: 'SHA2_512' }[hash];
  return {
    request: { hashedRekordRequestV002: { digest: digest.toString('base64'), signature: sig } },
    body: canonicalJson({ apiVersion: '0.0.2', kind: 'hashedrekord', spec: { hashedRekordV002: { data: { algorithm, digest: digest.toString('base64') }, signature: sig } } }),
  };
}

export function createRekorV2Witness(deps: RekorV2WitnessDeps): Witness {
  const url = deps.url.replace(/\/+$/, '');
  const doFetch = deps.fetch ?? globalThis.fetch;
  const timeoutMs = deps.timeoutMs ?? 30_000;
  let logId = deps.logId;

  async function rebuild(index: bigint, body: string): Promise<TransparencyLogEntry> {
    if (logId === undefined) {
      throw new ProvenantError('transient', 'REKOR_UNAVAILABLE', 'the entry exists in the Rekor v2 log but its log ID is unknown to rebuild it', { context: { rekor: url, logIndex: index.toString() } });
    }
    const tiles = createTileReader({ baseUrl: url, fetch: doFetch, timeoutMs });
    const checkpoint = await tiles.checkpoint();
    const parsed = parseSignedCheckpoint(checkpoint);
    if (parsed === undefined || parsed.checkpoint.treeSize <= index) throw new ProvenantError('transient', 'REKOR_UNAVAILABLE', 'the Rekor v2 checkpoint does not cover the existing entry yet');
    const hashes = await tiles.inclusionProof(index, parsed.checkpoint.treeSize);
    return {
      logIndex: index.toString(),
      logId: { keyId: Buffer.from(logId, 'hex') },
      kindVersion: { kind: 'hashedrekord', version: '0.0.2' },
      integratedTime: '0',
      inclusionPromise: undefined,
      inclusionProof: {
        logIndex: index.toString(),
        rootHash: parsed.checkpoint.rootHash,
        treeSize: parsed.checkpoint.treeSize.toString(),
        hashes,
        checkpoint: { envelope: checkpoint },
      },
      canonicalizedBody: Buffer.from(body, 'utf8'),
    };
  }

  return {
    async testify(content: SignatureBundle, publicKey: string): Promise<VerificationMaterial> {
      const { request, body } = hashedRekordV002(content, publicKey);
      let res: Response;
      try {
        res = await doFetch(`${url}/api/v2/log/entries`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
          body: JSON.stringify(request),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (cause) {
        throw new ProvenantError('transient', 'REKOR_UNAVAILABLE', `Rekor v2 is unavailable: ${errorMessage(cause)}`, { cause, context: { rekor: url } });
      }
      const text = await res.text();
      let entry: TransparencyLogEntry;
      if (res.status === 201 || res.status === 200) {
        entry = TransparencyLogEntry.fromJSON(JSON.parse(text));
        logId ??= Buffer.from(entry.logId?.keyId ?? Buffer.alloc(0)).toString('hex');
      } else if (res.status === 409 && /^\d+$/.test(res.headers.get('x-log-index') ?? '')) {
        entry = await rebuild(BigInt(res.headers.get('x-log-index') ?? '0'), body);
      } else if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) {
        throw new ProvenantError('permanent', 'REKOR_REJECTED', `Rekor v2 refused the entry (HTTP ${res.status})`, { context: { rekor: url, status: res.status } });
      } else {
        throw new ProvenantError('transient', 'REKOR_UNAVAILABLE', `Rekor v2 answered HTTP ${res.status}`, { context: { rekor: url, status: res.status } });
      }
      if (entry.logId === undefined || entry.kindVersion === undefined || entry.inclusionProof === undefined) {
        throw new ProvenantError('permanent', 'TLOG_RESPONSE_INVALID', 'the Rekor v2 entry lacks a log ID, kind or inclusion proof');
      }
      deps.logger.info({ rekor: url, logIndex: entry.logIndex, kind: 'hashedrekord', version: 2 }, 'logged in Rekor v2');
      return { tlogEntries: [{ ...entry, logId: entry.logId, kindVersion: entry.kindVersion }] };
    },
  };
}
