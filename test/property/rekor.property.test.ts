// Property tests at the Rekor boundary: mutated v1 log entries through tlogEntryFromRekor and
// fetchRekorEntry (what `verify --taskrun` reads), and mutated cosign Rekor-bundle annotations
// through bundleFromLegacyAnnotations (what the OCI reader rebuilds bundles from).
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { isProvenantError } from '../../src/errors.js';
import { bundleFromLegacyAnnotations } from '../../src/storage/oci/index.js';
import { fetchRekorEntry, tlogEntryFromRekor } from '../../src/verify/inspect-sources.js';
import { fuzzParameters, fuzzTimeout, jsonText, mutate, mutationOf } from '../support/fuzz.js';

const hex = (n: number, c: string): string => c.repeat(n);
const body = Buffer.from(JSON.stringify({ apiVersion: '0.0.1', kind: 'dsse', spec: { envelopeHash: { algorithm: 'sha256', value: hex(64, 'a') } } })).toString('base64');
const entry = {
  body,
  integratedTime: 1_700_000_000,
  logID: hex(64, 'c'),
  logIndex: 42,
  verification: {
    signedEntryTimestamp: Buffer.from('set').toString('base64'),
    inclusionProof: { checkpoint: 'rekor.example - 1\n43\nroot\n', hashes: [hex(64, 'd'), hex(64, 'e')], logIndex: 42, rootHash: hex(64, 'f'), treeSize: 43 },
  },
};
const answer = { [hex(80, '1')]: entry };
const annotation = JSON.stringify({ SignedEntryTimestamp: 'c2V0', Payload: { body, integratedTime: 1_700_000_000, logIndex: 42, logID: hex(64, 'c') } });
const annotations = { 'dev.sigstore.cosign/bundle': annotation, 'dev.sigstore.cosign/certificate': '' };
const envelope = { payload: 'e30=', payloadType: 'application/vnd.in-toto+json', signatures: [{ sig: 'c2ln', keyid: '' }] };

function typed(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!isProvenantError(err)) throw err;
  }
}

describe('Rekor: property tests over mutated log entries', () => {
  it(
    'a mutated log entry gives a tlog entry or REKOR_ENTRY_INVALID',
    () => {
      fc.assert(
        fc.property(fc.constant(null).chain(() => mutationOf(entry)), ({ path, mutation }) => {
          typed(() => tlogEntryFromRekor(mutate(entry, path, mutation) as typeof entry));
        }),
        fuzzParameters(30),
      );
    },
    fuzzTimeout(30_000),
  );

  it(
    'a mutated Rekor answer over HTTP gives a tlog entry or a typed error',
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.constant(null).chain(() => mutationOf(answer)), async ({ path, mutation }) => {
          const text = jsonText(mutate(answer, path, mutation));
          const fakeFetch = (async () => new Response(text, { status: 200, headers: { 'content-type': 'application/json' } })) as typeof fetch;
          try {
            await fetchRekorEntry('http://rekor.invalid/api/v1/log/entries?logIndex=42', fakeFetch);
          } catch (err) {
            if (!isProvenantError(err)) throw err;
          }
        }),
        fuzzParameters(30),
      );
    },
    fuzzTimeout(30_000),
  );

  it(
    'mutated cosign Rekor-bundle annotations never throw (undefined or a bundle)',
    () => {
      const parsed = JSON.parse(annotation) as Record<string, unknown>;
      fc.assert(
        fc.property(fc.constant(null).chain(() => mutationOf(parsed)), ({ path, mutation }) => {
          const mutated = { ...annotations, 'dev.sigstore.cosign/bundle': jsonText(mutate(parsed, path, mutation)) };
          bundleFromLegacyAnnotations(mutated, { dsseEnvelope: envelope });
        }),
        fuzzParameters(30),
      );
    },
    fuzzTimeout(30_000),
  );
});
