/**
 * Digest validation as Tekton Chains does it (`artifacts.ParseDigest`: go-digest algorithms plus
 * sha1): `<alg>:<hex>` with exactly one colon, algorithm lower-cased, lower-case hex of the
 * algorithm's length.
 */
export const digestHexLengths: Readonly<Record<string, number>> = { sha256: 64, sha384: 96, sha512: 128, sha1: 40 };

export type DigestCheck = { readonly ok: true; readonly algorithm: string; readonly hex: string } | { readonly ok: false; readonly reason: string };

export function checkDigest(digest: string): DigestCheck {
  const parts = digest.split(':');
  if (parts.length !== 2) return { ok: false, reason: 'not in the form <algorithm>:<hex>' };
  const algorithm = (parts[0] ?? '').trim().toLowerCase();
  const hex = (parts[1] ?? '').trim();
  const len = digestHexLengths[algorithm];
  if (len === undefined) return { ok: false, reason: `unsupported digest algorithm ${JSON.stringify(algorithm)}` };
  if (hex.length !== len) return { ok: false, reason: `${algorithm} digest must have ${len} hex characters, got ${hex.length}` };
  if (!/^[a-f0-9]+$/.test(hex)) return { ok: false, reason: `${algorithm} digest must be lower-case hex` };
  return { ok: true, algorithm, hex };
}
