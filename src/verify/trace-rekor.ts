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
 * Entries come from the transparency room's reader (`createRekorReader`), which returns them only
 * after verifying the signed entry timestamp, the inclusion proof and its signed checkpoint against the
 * trusted root's log keys. A search holding an entry that fails is dropped as a whole and counted
 * (`TLOG_ENTRY_INVALID` when nothing else is known about the image). The rebuilt bundle carries the
 * entry (`tlogEntries`), so `@sigstore/verify` also checks the body against the envelope or signature
 * and, for certificates, uses the entry's time.
 */
import { createHash, X509Certificate } from 'node:crypto';
import type { SerializedBundle } from '@sigstore/bundle';
import { isProvenantError } from '../errors.js';
import { simpleSigningPayload } from '../provenance/index.js';
import type { ImageDigestRef, StoredAttestations, StoredSignature } from '../storage/oci/index.js';
import type { RekorLogEntry, RekorReader } from '../transparency/index.js';
import type { EvidenceProvider } from './trace.js';

const BUNDLE_V03 = 'application/vnd.dev.sigstore.bundle.v0.3+json';

function material(pem: string): Record<string, unknown> {
  if (pem.includes('BEGIN CERTIFICATE')) return { certificate: { rawBytes: Buffer.from(new X509Certificate(pem).raw).toString('base64') } };
  return { publicKey: { hint: '' } };
}

/** An `intoto` entry whose attestation the log kept, as a DSSE bundle; undefined otherwise. */
export function intotoBundle(entry: RekorLogEntry): SerializedBundle | undefined {
  const verifier = entry.verifiers[0];
  if (entry.kind !== 'intoto' || entry.envelope === undefined || verifier === undefined) return undefined;
  return {
    mediaType: BUNDLE_V03,
    verificationMaterial: { ...material(verifier.pem), tlogEntries: [entry.bundleEntry], timestampVerificationData: undefined },
    dsseEnvelope: { payloadType: entry.envelope.payloadType, payload: entry.envelope.payload, signatures: entry.envelope.signatures.map((x) => ({ sig: x.sig, keyid: x.keyid ?? '' })) },
  } as unknown as SerializedBundle;
}

/** A `hashedrekord` entry over `payload` as a message-signature bundle; undefined otherwise. */
export function hashedRekordBundle(entry: RekorLogEntry, payload: Uint8Array): SerializedBundle | undefined {
  const verifier = entry.verifiers[0];
  if (entry.kind !== 'hashedrekord' || entry.signature === undefined || verifier === undefined) return undefined;
  return {
    mediaType: BUNDLE_V03,
    verificationMaterial: { ...material(verifier.pem), tlogEntries: [entry.bundleEntry], timestampVerificationData: undefined },
    messageSignature: { messageDigest: { algorithm: 'SHA2_256', digest: createHash('sha256').update(payload).digest('base64') }, signature: entry.signature.content },
  } as unknown as SerializedBundle;
}

/** Rekor as an evidence provider (source `rekor`). */
export function createRekorEvidence(deps: { readonly reader: Pick<RekorReader, 'searchByDigest'>; readonly maxEntries?: number }): EvidenceProvider & {
  readonly stats: { rejected: number; hashOnly: number };
} {
  const stats = { rejected: 0, hashOnly: 0 };
  const rejectedByDigest = new Map<string, number>();
  const max = deps.maxEntries ?? 32;
  const search = async (hash: string, image: string): Promise<RekorLogEntry[]> => {
    try {
      return (await deps.reader.searchByDigest(hash)).slice(0, max);
    } catch (err) {
      // An entry that does not verify (SET, inclusion proof, checkpoint, UUID) spoils the answer.
      if (isProvenantError(err) && err.kind === 'permanent' && err.code.startsWith('TLOG_') && err.code !== 'TLOG_SEARCH_UNSUPPORTED') {
        stats.rejected++;
        rejectedByDigest.set(image, (rejectedByDigest.get(image) ?? 0) + 1);
        return [];
      }
      throw err;
    }
  };
  return {
    source: 'rekor',
    stats,
    rejected: (digest) => rejectedByDigest.get(digest) ?? 0,
    async read(_ref: string, image: ImageDigestRef): Promise<StoredAttestations> {
      const bundles: SerializedBundle[] = [];
      const signatures: StoredSignature[] = [];
      for (const entry of await search(image.digest, image.digest)) {
        const bundle = intotoBundle(entry);
        if (bundle !== undefined) bundles.push(bundle);
        else if (entry.kind === 'dsse') stats.hashOnly++;
      }
      const payload = simpleSigningPayload({ name: `${image.registry}/${image.repository}`, digest: image.digest });
      for (const entry of await search(`sha256:${createHash('sha256').update(payload).digest('hex')}`, image.digest)) {
        const bundle = hashedRekordBundle(entry, payload);
        if (bundle?.messageSignature !== undefined) signatures.push({ payload, signature: bundle.messageSignature.signature, annotations: {}, bundle });
      }
      return { bundles, envelopes: [], signatures };
    },
  };
}
