import { createPublicKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { ProvenantError } from '../errors.js';
import type { KeyAlgorithm, KeySigner } from './types.js';

/** The hash each supported key signs with (null = the algorithm hashes itself, as ed25519 does). */
export function hashFor(algorithm: KeyAlgorithm): 'sha256' | 'sha384' | null {
  switch (algorithm) {
    case 'ecdsa-p256-sha256':
    case 'ecdsa-p384-sha256':
      return 'sha256';
    case 'ecdsa-p384-sha384':
      return 'sha384';
    case 'ed25519':
      return null;
  }
}

/**
 * The algorithm of a public or private key, or a `config` error for key types Sigstore bundles
 * cannot carry reliably (RSA: sigstore-js does not verify RSA-PSS; P-521, secp256k1: not in the
 * verifiers' lists). `source` names where the key came from, never its content.
 */
export function keyAlgorithmOf(key: KeyObject, source: string): KeyAlgorithm {
  const type = key.asymmetricKeyType;
  if (type === 'ed25519') return 'ed25519';
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1' || curve === 'P-256') return 'ecdsa-p256-sha256';
    // SHA-256, not the curve's "natural" SHA-384: what cosign 2.5 and Chains sign and verify with key files.
    if (curve === 'secp384r1' || curve === 'P-384') return 'ecdsa-p384-sha256';
    throw unsupported(source, `EC curve ${curve ?? 'unknown'}`);
  }
  throw unsupported(source, `${type ?? 'unknown'} key`);
}

function unsupported(source: string, what: string): ProvenantError {
  return new ProvenantError('config', 'SIGNING_KEY_UNSUPPORTED', `${source}: ${what} is not supported for signing`, {
    context: {
      source,
      hint: 'use an ECDSA P-256 key (recommended; e.g. `cosign generate-key-pair`), ECDSA P-384 or ed25519',
    },
  });
}

/** A KeySigner over an in-memory private key (Secret key files, ephemeral keys). */
export function keySignerFromPrivateKey(privateKey: KeyObject, source: string): KeySigner {
  const algorithm = keyAlgorithmOf(privateKey, source);
  const publicKeyPem = createPublicKey(privateKey).export({ format: 'pem', type: 'spki' }).toString();
  const hash = hashFor(algorithm);
  return {
    algorithm,
    publicKeyPem,
    // ECDSA signatures are DER (Node's default encoding), as bundles and Rekor expect.
    sign: async (data: Buffer) => ({
      signature: cryptoSign(hash, data, privateKey),
      key: { $case: 'publicKey', publicKey: publicKeyPem },
    }),
  };
}
