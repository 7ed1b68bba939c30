/**
 * The lean Rekor v1 client (src/transparency/rekor-v1-client.ts) against @sigstore/mock over HTTP:
 * what it records and returns is what sigstore-js's RekorWitness records and returns (same proposed
 * entry, same transparency log entry but for the SET's randomised signature), for `dsse`, `intoto` and `hashedrekord`, including the 409 path.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { bundleFromJSON } from '@sigstore/bundle';
import { RekorWitness, type VerificationMaterial } from '@sigstore/sign';
import { startSigstoreMock, type SigstoreMock } from '../support/sigstore-mock.js';
import { createSilentLogger } from '../../src/observability/logger.js';
import { createEphemeralSigner } from '../../src/signing/index.js';
import { createRekorWitness, signUnwitnessed } from '../../src/transparency/index.js';

let mock: SigstoreMock;
beforeAll(async () => {
  mock = await startSigstoreMock();
});
afterAll(async () => {
  await mock.stop();
});

const signer = createEphemeralSigner();

/**
 * The entry without its signatures: ECDSA signatures are randomised, and the mock signs the SET and
 * the checkpoint again on every answer. The signed checkpoint text (its first lines) stays.
 */
function withoutSet(material: VerificationMaterial): unknown {
  return (material.tlogEntries ?? []).map((e) => {
    expect(e.inclusionPromise?.signedEntryTimestamp.length).toBeGreaterThan(0);
    const proof = e.inclusionProof;
    const note = proof?.checkpoint?.envelope.split('\n\n')[0];
    return { ...e, inclusionPromise: undefined, inclusionProof: proof && { ...proof, checkpoint: { envelope: note } } };
  });
}
const statement = (n: number): Uint8Array => new TextEncoder().encode(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: [], n }));

describe('lean Rekor v1 client', () => {
  it.each(['dsse', 'intoto'] as const)('%s: logs once; sigstore-js then gets 409 and returns the very same entry', async (entryType) => {
    const signed = await signUnwitnessed(signer, { kind: 'dsse', data: statement(entryType === 'dsse' ? 1 : 2) });
    const content = bundleFromJSON(signed.bundle).content;
    const before = mock.rekorEntryCount();
    const lean = createRekorWitness({ url: mock.rekorUrl, logger: createSilentLogger(), entryType, proxied: false });
    const ours = await lean.testify(content, signed.verifier);
    expect(mock.rekorEntryCount() - before).toBe(1);
    const theirs = await new RekorWitness({ rekorBaseURL: mock.rekorUrl, entryType, fetchOnConflict: true, retry: 0 }).testify(content, signed.verifier);
    expect(mock.rekorEntryCount() - before).toBe(1);
    expect(withoutSet(ours)).toEqual(withoutSet(theirs));
    expect(ours.tlogEntries?.[0]?.kindVersion).toEqual({ kind: entryType, version: entryType === 'dsse' ? '0.0.1' : '0.0.2' });
    // And the other way round: the lean client's 409 path fetches the existing entry.
    expect(withoutSet(await lean.testify(content, signed.verifier))).toEqual(withoutSet(ours));
    expect(mock.rekorEntryCount() - before).toBe(1);
  });

  it('hashedrekord (message signatures) matches sigstore-js too', async () => {
    const signed = await signUnwitnessed(signer, { kind: 'message-signature', data: statement(3) });
    const content = bundleFromJSON(signed.bundle).content;
    const ours = await createRekorWitness({ url: mock.rekorUrl, logger: createSilentLogger(), proxied: false }).testify(content, signed.verifier);
    const theirs = await new RekorWitness({ rekorBaseURL: mock.rekorUrl, fetchOnConflict: true, retry: 0 }).testify(content, signed.verifier);
    expect(withoutSet(ours)).toEqual(withoutSet(theirs));
    expect(ours.tlogEntries?.[0]?.kindVersion?.kind).toBe('hashedrekord');
  });

  it('an unreachable Rekor is a transient REKOR_UNAVAILABLE', async () => {
    const signed = await signUnwitnessed(signer, { kind: 'dsse', data: statement(4) });
    const err = await createRekorWitness({ url: 'http://127.0.0.1:9', logger: createSilentLogger(), proxied: false })
      .testify(bundleFromJSON(signed.bundle).content, signed.verifier)
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'transient', code: 'REKOR_UNAVAILABLE' });
  });
});
