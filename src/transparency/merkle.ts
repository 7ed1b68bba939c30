/**
 * RFC 6962 Merkle tree hashing and inclusion-proof verification (the tree Rekor v1 and v2 logs keep).
 * Leaf hash = SHA-256(0x00 ‖ entry); node hash = SHA-256(0x01 ‖ left ‖ right). A Rekor v1 entry's
 * UUID is the leaf hash of its canonical body.
 */
import { createHash } from 'node:crypto';

export function hashLeaf(data: Uint8Array): Buffer {
  return createHash('sha256').update(Buffer.from([0])).update(data).digest();
}

export function hashChildren(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash('sha256').update(Buffer.from([1])).update(left).update(right).digest();
}

function bitLength(n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length;
}

function onesCount(n: bigint): number {
  return [...n.toString(2)].filter((c) => c === '1').length;
}

/**
 * The root hash an inclusion proof leads to for `leafHash` at `index` in a tree of `treeSize`, or
 * undefined when the proof has the wrong shape (index out of range, wrong number of hashes).
 * Same algorithm as transparency-dev/merkle `proof.RootFromInclusionProof`.
 */
export function rootFromInclusionProof(index: bigint, treeSize: bigint, leafHash: Uint8Array, proof: readonly Uint8Array[]): Buffer | undefined {
  if (index < 0n || index >= treeSize) return undefined;
  const inner = bitLength(index ^ (treeSize - 1n));
  const border = onesCount(index >> BigInt(inner));
  if (proof.length !== inner + border) return undefined;
  let hash: Buffer = Buffer.from(leafHash);
  for (let i = 0; i < inner; i++) {
    const sibling = proof[i] as Uint8Array;
    hash = ((index >> BigInt(i)) & 1n) === 0n ? hashChildren(hash, sibling) : hashChildren(sibling, hash);
  }
  for (let i = inner; i < proof.length; i++) hash = hashChildren(proof[i] as Uint8Array, hash);
  return hash;
}

/** True when the consistency proof shows the tree of `size1` (root1) is a prefix of the tree of `size2` (root2). */
export function verifyConsistency(size1: bigint, size2: bigint, proof: readonly Uint8Array[], root1: Uint8Array, root2: Uint8Array): boolean {
  if (size1 > size2 || size1 < 0n) return false;
  if (size1 === size2) return proof.length === 0 && Buffer.from(root1).equals(Buffer.from(root2));
  if (size1 === 0n) return proof.length === 0;
  if (proof.length === 0) return false;
  // RFC 9162 section 2.1.4.2.
  let path = [...proof];
  if ((size1 & (size1 - 1n)) === 0n) path = [root1, ...path];
  let fn = size1 - 1n;
  let sn = size2 - 1n;
  while ((fn & 1n) === 1n) {
    fn >>= 1n;
    sn >>= 1n;
  }
  let fr: Buffer = Buffer.from(path[0] as Uint8Array);
  let sr: Buffer = Buffer.from(path[0] as Uint8Array);
  for (const c of path.slice(1)) {
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      fr = hashChildren(c, fr);
      sr = hashChildren(c, sr);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      sr = hashChildren(sr, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n && fr.equals(Buffer.from(root1)) && sr.equals(Buffer.from(root2));
}
