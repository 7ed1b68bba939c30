import { generateKeyPairSync } from 'node:crypto';
import { keySignerFromPrivateKey } from './key-signer.js';
import type { KeySigner } from './types.js';

/** A P-256 key that lives only in this process: the default key holder behind Fulcio. */
export function createEphemeralSigner(): KeySigner {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return keySignerFromPrivateKey(privateKey, 'ephemeral key');
}
