/**
 * Signed checkpoints (transparency-dev "signed note" format) as Rekor writes them:
 *
 *   <origin>\n<tree size>\n<base64 root hash>\n[other lines\n]
 *   \n
 *   — <signer name> <base64(4-byte key hint ‖ signature)>\n
 *
 * Rekor v1: origin `<hostname> - <tree ID>`, key hint = first 4 bytes of SHA-256(SPKI DER), ECDSA
 * signature over SHA-256 of the note text. A checkpoint is valid when one signature verifies with the
 * log key.
 */
import { createHash, verify as cryptoVerify, type KeyObject } from 'node:crypto';

export interface Checkpoint {
  readonly origin: string;
  readonly treeSize: bigint;
  readonly rootHash: Buffer;
  readonly otherContent: readonly string[];
}

export interface SignedCheckpoint {
  /** The note text the signatures cover (ends with a newline). */
  readonly note: string;
  readonly checkpoint: Checkpoint;
  readonly signatures: readonly { readonly name: string; readonly keyHint: Buffer; readonly signature: Buffer }[];
}

/** Parses a signed checkpoint; undefined when the text is not one. */
export function parseSignedCheckpoint(text: string): SignedCheckpoint | undefined {
  const split = text.lastIndexOf('\n\n');
  if (split < 0) return undefined;
  const note = text.slice(0, split + 1);
  const sigBlock = text.slice(split + 2);
  if (!sigBlock.endsWith('\n')) return undefined;
  const signatures = [];
  for (const line of sigBlock.slice(0, -1).split('\n')) {
    const m = /^\u2014 (\S+) (\S+)$/u.exec(line);
    if (m === null) return undefined;
    const bytes = Buffer.from(m[2] as string, 'base64');
    if (bytes.length < 5) return undefined;
    signatures.push({ name: m[1] as string, keyHint: bytes.subarray(0, 4), signature: bytes.subarray(4) });
  }
  if (signatures.length === 0) return undefined;
  const lines = note.split('\n');
  if (lines.length < 4) return undefined;
  const [origin, size, hash] = lines as [string, string, string];
  if (origin === '' || !/^\d+$/.test(size)) return undefined;
  const rootHash = Buffer.from(hash, 'base64');
  if (rootHash.toString('base64') !== hash) return undefined;
  const otherContent = lines.slice(3).filter((l, i, all) => !(l === '' && i === all.length - 1));
  return { note, checkpoint: { origin, treeSize: BigInt(size), rootHash, otherContent }, signatures };
}

/** The 4-byte key hint Rekor v1 uses: SHA-256 of the key's SPKI DER, first 4 bytes. */
export function checkpointKeyHint(key: KeyObject): Buffer {
  return createHash('sha256').update(key.export({ format: 'der', type: 'spki' })).digest().subarray(0, 4);
}

function verifyWith(key: KeyObject, data: Buffer, signature: Buffer): boolean {
  try {
    return cryptoVerify(key.asymmetricKeyType === 'ed25519' ? null : 'sha256', data, key, signature);
  } catch {
    return false;
  }
}

/** True when a signature on the checkpoint, whose key hint is `hint`, verifies with `key`. */
export function checkpointSignedBy(signed: SignedCheckpoint, key: KeyObject, hint: Buffer = checkpointKeyHint(key)): boolean {
  const data = Buffer.from(signed.note, 'utf8');
  return signed.signatures.some((s) => s.keyHint.equals(hint) && verifyWith(key, data, s.signature));
}

/** Produces a signed checkpoint (for the stand-in logs in test/support and for tests). */
export function signCheckpoint(
  checkpoint: Checkpoint,
  name: string,
  sign: (note: Buffer) => Buffer,
  keyHint: Buffer,
): string {
  const note = [checkpoint.origin, checkpoint.treeSize.toString(), checkpoint.rootHash.toString('base64'), ...checkpoint.otherContent, ''].join('\n');
  const sig = Buffer.concat([keyHint.subarray(0, 4), sign(Buffer.from(note, 'utf8'))]).toString('base64');
  return `${note}\n\u2014 ${name} ${sig}\n`;
}
