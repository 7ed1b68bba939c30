// The `.sig`/`.att` layer merge rule: never lose verification material, never drop a distinct signature.
import { describe, expect, it } from 'vitest';
import { hasSignatureLayers, mergeSignatureLayers, verificationStrength, type Descriptor } from '../../../src/storage/oci/index.js';

const SIG = 'dev.cosignproject.cosign/signature';
const CERT = 'dev.sigstore.cosign/certificate';
const CHAIN = 'dev.sigstore.cosign/chain';
const BUNDLE = 'dev.sigstore.cosign/bundle';
const TS = 'dev.sigstore.cosign/rfc3161timestamp';
const simple = 'application/vnd.dev.cosign.simplesigning.v1+json';
const dsse = 'application/vnd.dsse.envelope.v1+json';

function layer(annotations: Record<string, string>, digest = `sha256:${'1'.repeat(64)}`, mediaType = simple): Descriptor {
  return { mediaType, digest, size: 10, annotations };
}

describe('mergeSignatureLayers', () => {
  it('same signature, the new copy has the Rekor bundle: one layer, the bundle kept (the issue 16 scenario with a deterministic signer)', () => {
    const before = layer({ [SIG]: 'c2ln', [CERT]: 'cert' });
    const after = layer({ [SIG]: 'c2ln', [CERT]: 'cert', [CHAIN]: 'chain', [BUNDLE]: '{"rekor":1}' });
    const { layers, changed } = mergeSignatureLayers([before], [after]);
    expect(changed).toBe(true);
    expect(layers).toHaveLength(1);
    expect(layers[0]?.annotations).toEqual(after.annotations);
  });

  it('same signature, the new copy has less: nothing changes', () => {
    const stored = layer({ [SIG]: 'c2ln', [CERT]: 'cert', [BUNDLE]: '{"rekor":1}' });
    const { layers, changed } = mergeSignatureLayers([stored], [layer({ [SIG]: 'c2ln', [CERT]: 'cert' })]);
    expect(changed).toBe(false);
    expect(layers).toEqual([stored]);
    expect(hasSignatureLayers([stored], [layer({ [SIG]: 'c2ln' })])).toBe(true);
  });

  it('same signature, one with a Rekor bundle and one with a timestamp: merged into one layer carrying both', () => {
    const logged = layer({ [SIG]: 'c2ln', [CERT]: 'cert', [BUNDLE]: 'b' });
    const stamped = layer({ [SIG]: 'c2ln', [CERT]: 'cert', [TS]: 't' });
    for (const [a, b] of [[logged, stamped], [stamped, logged]] as const) {
      const { layers, changed } = mergeSignatureLayers([a], [b]);
      expect(changed).toBe(true);
      expect(layers).toHaveLength(1);
      expect(layers[0]?.annotations).toEqual({ [SIG]: 'c2ln', [CERT]: 'cert', [BUNDLE]: 'b', [TS]: 't' });
      expect(verificationStrength(layers[0] as Descriptor)).toBe(3);
    }
  });

  it('same signature under two different certificates: the stronger layer wins as it is (a bundle belongs to its certificate)', () => {
    const weak = layer({ [SIG]: 'c2ln', [CERT]: 'cert-a', [TS]: 't' });
    const strong = layer({ [SIG]: 'c2ln', [CERT]: 'cert-b', [BUNDLE]: 'b' });
    expect(mergeSignatureLayers([weak], [strong]).layers).toEqual([strong]);
    expect(mergeSignatureLayers([strong], [weak])).toEqual({ layers: [strong], changed: false });
  });

  it('different signatures over the same payload (same digest): both stay, in order', () => {
    const first = layer({ [SIG]: 'Zmlyc3Q=', [CERT]: 'cert-1' });
    const second = layer({ [SIG]: 'c2Vjb25k', [CERT]: 'cert-2', [BUNDLE]: 'b' });
    const { layers, changed } = mergeSignatureLayers([first], [second]);
    expect(changed).toBe(true);
    expect(layers).toEqual([first, second]);
  });

  it('.att: the envelope digest is the signature; equal digests merge, different ones stay', () => {
    const a = layer({ [SIG]: '', predicateType: 'p' }, `sha256:${'a'.repeat(64)}`, dsse);
    const aLogged = layer({ [SIG]: '', predicateType: 'p', [BUNDLE]: 'b' }, `sha256:${'a'.repeat(64)}`, dsse);
    const b = layer({ [SIG]: '', predicateType: 'p' }, `sha256:${'b'.repeat(64)}`, dsse);
    expect(mergeSignatureLayers([a], [aLogged]).layers).toEqual([aLogged]);
    expect(mergeSignatureLayers([a], [b]).layers).toEqual([a, b]);
  });

  it('an identical layer is a no-op; an empty manifest takes the layer', () => {
    const l = layer({ [SIG]: 'c2ln' });
    expect(mergeSignatureLayers([l], [l]).changed).toBe(false);
    expect(mergeSignatureLayers([], [l])).toEqual({ layers: [l], changed: true });
  });
});
