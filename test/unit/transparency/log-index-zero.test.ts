/**
 * The first entry of a log has logIndex 0, which protobuf JSON (bundleToJSON) omits: every reader of a
 * bundle's tlog entry must read the missing field as 0, not NaN/null (a fresh private Rekor hits this).
 */
import { describe, it, expect } from 'vitest';
import type { SerializedBundle } from '@sigstore/bundle';
import { tlogEntryOf } from '../../../src/transparency/index.js';
import { cosignRekorBundle } from '../../../src/storage/oci/layouts.js';
import { describeBundle } from '../../../src/verify/inspect-attestation.js';

const bundle = {
  mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
  verificationMaterial: {
    publicKey: { hint: 'k' },
    tlogEntries: [
      {
        logId: { keyId: Buffer.alloc(32, 1).toString('base64') },
        kindVersion: { kind: 'dsse', version: '0.0.1' },
        integratedTime: '1700000000',
        inclusionPromise: { signedEntryTimestamp: 'c2V0' },
        canonicalizedBody: Buffer.from('{}').toString('base64'),
      },
    ],
    timestampVerificationData: { rfc3161Timestamps: [] },
  },
  dsseEnvelope: { payload: Buffer.from('{}').toString('base64'), payloadType: 'application/vnd.in-toto+json', signatures: [{ sig: 'c2ln', keyid: '' }] },
} as unknown as SerializedBundle;

describe('log index 0 (omitted by protobuf JSON)', () => {
  it('is read as 0 by tlogEntryOf, the cosign bundle annotation and describeBundle', () => {
    expect(tlogEntryOf(bundle)?.logIndex).toBe(0);
    expect((JSON.parse(cosignRekorBundle(bundle)!) as { Payload: { logIndex: unknown } }).Payload.logIndex).toBe(0);
    expect(describeBundle(bundle).tlog?.logIndex).toBe(0);
  });
});
