/**
 * What a real Rekor v1 (sigstore/rekor 1.3.9 .. 1.5) checks before it accepts an entry, applied to a
 * bundle provenant built, for tests whose Rekor is a mock that does not verify signatures:
 *
 * - `dsse` 0.0.1 / `intoto` 0.0.2: every envelope signature must verify over the DSSE PAE with
 *   `signature.LoadVerifier(key, crypto.SHA256)`: ECDSA with SHA-256 whatever the curve, ed25519 pure.
 * - `hashedrekord` 0.0.1: the signature must verify over the declared digest (ECDSA), and an ed25519
 *   key only as Ed25519ph over a SHA-512 digest (`options.WithED25519ph()`). sigstore-js declares
 *   `sha256` of the artifact, so for ECDSA this is "verifies over the artifact with SHA-256"; an
 *   ed25519 signature never passes (it is pure Ed25519 over the artifact, not Ed25519ph over SHA-512).
 *
 * Returns the reason Rekor would answer 400, or undefined when it would accept the entry.
 */
import { createHash, createPublicKey, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { dsse } from '@sigstore/core';
import type { SerializedBundle } from '@sigstore/bundle';

function verifiesAsRekor(key: KeyObject, data: Buffer, signature: Buffer): boolean {
  try {
    return nodeVerify(key.asymmetricKeyType === 'ed25519' ? null : 'sha256', data, key, signature);
  } catch {
    return false;
  }
}

/** `artifact`: the signed bytes of a message-signature bundle (unused for DSSE). */
export function rekorV1Refusal(bundle: SerializedBundle, verifierPem: string, artifact?: Buffer): string | undefined {
  const key = createPublicKey(verifierPem);
  const entry = bundle.verificationMaterial.tlogEntries?.[0];
  if (entry === undefined) return 'no tlog entry';
  const kind = entry.kindVersion?.kind ?? 'unknown';
  const content = bundle as SerializedBundle & {
    dsseEnvelope?: { payload: string; payloadType: string; signatures: { sig: string }[] };
    messageSignature?: { messageDigest?: { algorithm: string; digest: string }; signature: string };
  };
  if (content.dsseEnvelope !== undefined) {
    if (kind !== 'dsse' && kind !== 'intoto') return `a DSSE envelope logged as ${kind}`;
    const env = content.dsseEnvelope;
    const pae = dsse.preAuthEncoding(env.payloadType, Buffer.from(env.payload, 'base64'));
    for (const s of env.signatures) {
      if (!verifiesAsRekor(key, pae, Buffer.from(s.sig, 'base64'))) return `${kind}: signature does not verify with SHA-256 (Rekor's LoadVerifier default)`;
    }
    return undefined;
  }
  if (content.messageSignature !== undefined) {
    if (kind !== 'hashedrekord') return `a message signature logged as ${kind}`;
    const body = JSON.parse(Buffer.from(entry.canonicalizedBody, 'base64').toString('utf8')) as {
      spec?: { data?: { hash?: { algorithm?: string; value?: string } } };
    };
    const declared = body.spec?.data?.hash;
    if (key.asymmetricKeyType === 'ed25519') return 'hashedrekord: ed25519 keys are verified as Ed25519ph over a SHA-512 digest';
    if (declared?.algorithm !== 'sha256') return `hashedrekord declares ${declared?.algorithm ?? 'no'} digest; this check knows sha256 only`;
    if (artifact === undefined) return 'the artifact is needed to check a hashedrekord entry';
    if (declared.value !== createHash('sha256').update(artifact).digest('hex')) return 'hashedrekord digest is not the artifact digest';
    if (!verifiesAsRekor(key, artifact, Buffer.from(content.messageSignature.signature, 'base64'))) return 'hashedrekord: signature does not verify over the declared SHA-256 digest';
    return undefined;
  }
  return 'unknown bundle content';
}
