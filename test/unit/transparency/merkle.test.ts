/** RFC 6962 proofs: every leaf of trees of size 1..33 proves against the root; consistency between every pair of sizes. */
import { describe, it, expect } from 'vitest';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { hashChildren, hashLeaf, rootFromInclusionProof, verifyConsistency } from '../../../src/transparency/merkle.js';
import { checkpointKeyHint, checkpointSignedBy, parseSignedCheckpoint, signCheckpoint } from '../../../src/transparency/checkpoint.js';
import { canonicalJson } from '../../../src/transparency/canonical-json.js';

function k(n: number): number {
  let p = 1;
  while (p * 2 < n) p *= 2;
  return p;
}
function mth(leaves: Buffer[]): Buffer {
  if (leaves.length === 0) return createHash('sha256').digest();
  if (leaves.length === 1) return leaves[0] as Buffer;
  const s = k(leaves.length);
  return hashChildren(mth(leaves.slice(0, s)), mth(leaves.slice(s)));
}
function path(m: number, leaves: Buffer[]): Buffer[] {
  if (leaves.length <= 1) return [];
  const s = k(leaves.length);
  return m < s ? [...path(m, leaves.slice(0, s)), mth(leaves.slice(s))] : [...path(m - s, leaves.slice(s)), mth(leaves.slice(0, s))];
}
function consistency(m: number, leaves: Buffer[], complete = true): Buffer[] {
  if (m === leaves.length) return complete ? [] : [mth(leaves)];
  const s = k(leaves.length);
  return m <= s
    ? [...consistency(m, leaves.slice(0, s), complete), mth(leaves.slice(s))]
    : [...consistency(m - s, leaves.slice(s), false), mth(leaves.slice(0, s))];
}

const leaves = Array.from({ length: 33 }, (_, i) => hashLeaf(Buffer.from(`entry ${i}`)));

describe('RFC 6962 Merkle proofs', () => {
  it('every inclusion proof leads to the root; a changed hash or an index out of range does not', () => {
    for (let n = 1; n <= leaves.length; n++) {
      const tree = leaves.slice(0, n);
      const root = mth(tree);
      for (let m = 0; m < n; m++) {
        const proof = path(m, tree);
        expect(rootFromInclusionProof(BigInt(m), BigInt(n), tree[m] as Buffer, proof)?.equals(root)).toBe(true);
        if (proof.length > 0) {
          const bad = [...proof];
          bad[0] = hashLeaf(Buffer.from('x'));
          expect(rootFromInclusionProof(BigInt(m), BigInt(n), tree[m] as Buffer, bad)?.equals(root) ?? false).toBe(false);
        }
      }
      expect(rootFromInclusionProof(BigInt(n), BigInt(n), leaves[0] as Buffer, [])).toBeUndefined();
    }
  });

  it('consistency proofs verify between every pair of sizes and fail for another root', () => {
    for (let n = 1; n <= 20; n++) {
      for (let m = 1; m <= n; m++) {
        const proof = m === n ? [] : consistency(m, leaves.slice(0, n));
        expect(verifyConsistency(BigInt(m), BigInt(n), proof, mth(leaves.slice(0, m)), mth(leaves.slice(0, n)))).toBe(true);
        if (m < n) expect(verifyConsistency(BigInt(m), BigInt(n), proof, mth(leaves.slice(1, m + 1)), mth(leaves.slice(0, n)))).toBe(false);
      }
    }
  });
});

describe('signed checkpoints', () => {
  it('round-trips, verifies with the log key only, and rejects an edited note', () => {
    const log = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const text = signCheckpoint(
      { origin: 'rekor.local - 42', treeSize: 7n, rootHash: mth(leaves.slice(0, 7)), otherContent: [] },
      'rekor.local',
      (note) => sign('sha256', note, log.privateKey),
      checkpointKeyHint(log.publicKey),
    );
    const parsed = parseSignedCheckpoint(text);
    expect(parsed?.checkpoint.treeSize).toBe(7n);
    expect(parsed?.checkpoint.origin).toBe('rekor.local - 42');
    expect(checkpointSignedBy(parsed!, log.publicKey)).toBe(true);
    expect(checkpointSignedBy(parsed!, other.publicKey)).toBe(false);
    const edited = parseSignedCheckpoint(text.replace('\n7\n', '\n8\n'));
    expect(checkpointSignedBy(edited!, log.publicKey)).toBe(false);
    expect(parseSignedCheckpoint('not a note')).toBeUndefined();
  });
});

describe('canonical JSON (RFC 8785 subset)', () => {
  it('sorts keys and drops whitespace', () => {
    expect(canonicalJson({ logIndex: 3, body: 'x', logID: 'ab', integratedTime: 1 })).toBe('{"body":"x","integratedTime":1,"logID":"ab","logIndex":3}');
    expect(canonicalJson({ b: [1, { d: null, c: 'é' }], a: true })).toBe('{"a":true,"b":[1,{"c":"é","d":null}]}');
  });
});
