/**
 * Discovery in Rekor (v1): attestations and image signatures about an image that the registry does
 * not hold, found in the transparency log by the image digest.
 *
 * What each entry type makes retrievable (Rekor's pkg/types):
 * - `intoto` 0.0.2 indexes the statement's subject digests and keeps the attestation (the statement,
 *   served as `attestation.data`); the body keeps the signatures and verifiers: the DSSE envelope can
 *   be rebuilt and verified.
 * - `dsse` 0.0.1 indexes the subject digests too but keeps only hashes of the envelope and payload:
 *   Rekor proves such an attestation exists, not what it says. Counted, never followed.
 * - `hashedrekord` 0.0.1 indexes the signed data's digest: a cosign image signature is found by the
 *   digest of the simple-signing payload rebuilt for the image, then verified as a message signature.
 *
 * Every entry is verified before use, as part of a Sigstore bundle rebuilt around it: signed entry
 * timestamp and inclusion proof (with its checkpoint) against the trusted root's log keys, and the body
 * against the envelope / signature (`@sigstore/verify`). Entries that fail are dropped and counted.
 * A small interface (`RekorIndex`) is the only network dependency, so the transparency room's reader
 * can replace the minimal client here.
 */
import { createHash, createPublicKey, X509Certificate } from 'node:crypto';
import type { SerializedBundle } from '@sigstore/bundle';
import { ProvenantError, errorMessage } from '../errors.js';
import type { ImageDigestRef, StoredAttestations, StoredSignature } from '../storage/oci/index.js';
import { simpleSigningPayload } from '../provenance/index.js';
import { tlogEntryFromRekor } from './inspect-sources.js';
import type { EvidenceProvider } from './trace.js';
import { verifyBundle } from './verify-bundle.js';

/** Rekor v1's log entry JSON (the value under the entry id). */
export interface RekorEntryJson {
  readonly body: string;
  readonly integratedTime: number;
  readonly logID: string;
  readonly logIndex: number;
  readonly attestation?: { readonly data?: string };
  readonly verification?: Record<string, unknown>;
}

/** What discovery needs from a Rekor client: the hash index and entries by id. */
export interface RekorIndex {
  search(hash: string): Promise<string[]>;
  get(id: string): Promise<RekorEntryJson | undefined>;
}

/** A minimal Rekor v1 client: `POST /api/v1/index/retrieve` and `GET /api/v1/log/entries/{id}`. */
export function createRekorIndex(baseUrl: string, fetchFn: typeof fetch = fetch): RekorIndex {
  const call = async (path: string, init?: RequestInit): Promise<Response> => {
    try {
      return await fetchFn(new URL(path, baseUrl), { ...init, headers: { accept: 'application/json', 'content-type': 'application/json' }, signal: AbortSignal.timeout(15_000) });
    } catch (cause) {
      throw new ProvenantError('transient', 'REKOR_UNAVAILABLE', `cannot reach Rekor at ${baseUrl}: ${errorMessage(cause)}`, { cause });
    }
  };
  return {
    async search(hash) {
      const r = await call('/api/v1/index/retrieve', { method: 'POST', body: JSON.stringify({ hash }) });
      if (!r.ok) throw new ProvenantError('transient', 'REKOR_UNAVAILABLE', `Rekor search answered HTTP ${r.status}`);
      const json = (await r.json()) as unknown;
      return Array.isArray(json) ? json.filter((x): x is string => typeof x === 'string') : [];
    },
    async get(id) {
      const r = await call(`/api/v1/log/entries/${encodeURIComponent(id)}`);
      if (r.status === 404) return undefined;
      if (!r.ok) throw new ProvenantError('transient', 'REKOR_UNAVAILABLE', `Rekor answered HTTP ${r.status} for entry ${id}`);
      const json = (await r.json()) as Record<string, RekorEntryJson>;
      return Object.values(json)[0];
    },
  };
}

const BUNDLE_V03 = 'application/vnd.dev.sigstore.bundle.v0.3+json';

function b64d(s: string): string {
  return Buffer.from(s, 'base64').toString('utf8');
}

function material(pem: string): Record<string, unknown> {
  if (pem.includes('BEGIN CERTIFICATE')) return { certificate: { rawBytes: Buffer.from(new X509Certificate(pem).raw).toString('base64') } };
  return { publicKey: { hint: '' } };
}

function keyPemOf(pem: string): string {
  const key = pem.includes('BEGIN CERTIFICATE') ? new X509Certificate(pem).publicKey : createPublicKey(pem);
  return key.export({ format: 'pem', type: 'spki' }).toString();
}

interface Rebuilt {
  readonly bundle: SerializedBundle;
  readonly verifierPem: string;
  readonly artifact?: Buffer;
}

/** An `intoto` 0.0.2 entry with its attestation as a DSSE bundle; undefined for other kinds. */
function intotoBundle(entry: RekorEntryJson): Rebuilt | undefined {
  const body = JSON.parse(b64d(entry.body)) as { kind?: string; apiVersion?: string; spec?: { content?: { envelope?: { payloadType?: string; signatures?: { sig?: string; publicKey?: string; keyid?: string }[] } } } };
  const env = body.spec?.content?.envelope;
  const sig = env?.signatures?.[0];
  const data = entry.attestation?.data;
  if (body.kind !== 'intoto' || env?.payloadType === undefined || sig?.sig === undefined || sig.publicKey === undefined || data === undefined) return undefined;
  const verifierPem = b64d(sig.publicKey);
  const bundle = {
    mediaType: BUNDLE_V03,
    verificationMaterial: { ...material(verifierPem), tlogEntries: [tlogEntryFromRekor(entry)], timestampVerificationData: undefined },
    dsseEnvelope: { payloadType: env.payloadType, payload: data, signatures: [{ sig: b64d(sig.sig), keyid: sig.keyid ?? '' }] },
  } as unknown as SerializedBundle;
  return { bundle, verifierPem };
}

/** A `hashedrekord` entry over `payload` as a message-signature bundle. */
function hashedRekordBundle(entry: RekorEntryJson, payload: Uint8Array): Rebuilt | undefined {
  const body = JSON.parse(b64d(entry.body)) as { kind?: string; spec?: { signature?: { content?: string; publicKey?: { content?: string } } } };
  const content = body.spec?.signature?.content;
  const key = body.spec?.signature?.publicKey?.content;
  if (body.kind !== 'hashedrekord' || content === undefined || key === undefined) return undefined;
  const verifierPem = b64d(key);
  const bundle = {
    mediaType: BUNDLE_V03,
    verificationMaterial: { ...material(verifierPem), tlogEntries: [tlogEntryFromRekor(entry)], timestampVerificationData: undefined },
    messageSignature: { messageDigest: { algorithm: 'SHA2_256', digest: createHash('sha256').update(payload).digest('base64') }, signature: content },
  } as unknown as SerializedBundle;
  return { bundle, verifierPem, artifact: Buffer.from(payload) };
}

/** Rekor as an evidence provider (source `rekor`); `rejected` counts entries that failed verification. */
export function createRekorEvidence(deps: { readonly index: RekorIndex; readonly trustedRoot: unknown; readonly maxEntries?: number }): EvidenceProvider & {
  readonly stats: { rejected: number; hashOnly: number };
} {
  const stats = { rejected: 0, hashOnly: 0 };
  const rejectedByDigest = new Map<string, number>();
  const max = deps.maxEntries ?? 32;
  /** Entry verified under its own key against the trusted root's log: SET, inclusion proof, body. */
  const logged = (r: Rebuilt, digest: string): boolean => {
    try {
      verifyBundle(r.bundle, { key: keyPemOf(r.verifierPem), trustedRoot: deps.trustedRoot, requireTlog: true }, r.artifact === undefined ? {} : { artifact: r.artifact });
      return true;
    } catch {
      stats.rejected++;
      rejectedByDigest.set(digest, (rejectedByDigest.get(digest) ?? 0) + 1);
      return false;
    }
  };
  return {
    source: 'rekor',
    stats,
    rejected: (digest) => rejectedByDigest.get(digest) ?? 0,
    async read(_ref: string, image: ImageDigestRef): Promise<StoredAttestations> {
      const bundles: SerializedBundle[] = [];
      const signatures: StoredSignature[] = [];
      for (const id of (await deps.index.search(image.digest)).slice(0, max)) {
        const entry = await deps.index.get(id);
        if (entry === undefined) continue;
        const rebuilt = intotoBundle(entry);
        if (rebuilt === undefined) {
          if ((JSON.parse(b64d(entry.body)) as { kind?: string }).kind === 'dsse') stats.hashOnly++;
          continue;
        }
        if (logged(rebuilt, image.digest)) bundles.push(rebuilt.bundle);
      }
      const payload = simpleSigningPayload({ name: `${image.registry}/${image.repository}`, digest: image.digest });
      const payloadHash = `sha256:${createHash('sha256').update(payload).digest('hex')}`;
      for (const id of (await deps.index.search(payloadHash)).slice(0, max)) {
        const entry = await deps.index.get(id);
        const rebuilt = entry === undefined ? undefined : hashedRekordBundle(entry, payload);
        if (rebuilt === undefined || !logged(rebuilt, image.digest)) continue;
        const sig = (rebuilt.bundle.messageSignature as { signature: string }).signature;
        signatures.push({ payload, signature: sig, annotations: {}, bundle: rebuilt.bundle });
      }
      return { bundles, envelopes: [], signatures };
    },
  };
}
