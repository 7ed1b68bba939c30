/**
 * cosign's encrypted private key format (`cosign generate-key-pair`): a PEM block
 * `ENCRYPTED SIGSTORE PRIVATE KEY` (older cosign: `ENCRYPTED COSIGN PRIVATE KEY`) whose bytes are the
 * go-securesystemslib `encrypted` JSON envelope:
 *   {"kdf":{"name":"scrypt","params":{"N","r","p"},"salt":b64},"cipher":{"name":"nacl/secretbox","nonce":b64},"ciphertext":b64}
 * The key is scrypt(password, salt, N, r, p, 32 bytes); the plaintext is a PKCS#8 DER private key.
 */
import { createPrivateKey, scryptSync, type KeyObject } from 'node:crypto';
import nacl from 'tweetnacl';
import { ProvenantError } from '../errors.js';

export const cosignKeyPemTypes = ['ENCRYPTED SIGSTORE PRIVATE KEY', 'ENCRYPTED COSIGN PRIVATE KEY'] as const;

/** The scrypt parameter sets securesystemslib writes (legacy, standard, OWASP); others are refused as it does. */
const allowedScrypt = [
  { N: 32768, r: 8, p: 1 },
  { N: 65536, r: 8, p: 1 },
  { N: 131072, r: 8, p: 1 },
] as const;

interface EncryptedEnvelope {
  kdf: { name: string; params: { N: number; r: number; p: number }; salt: string };
  cipher: { name: string; nonce: string };
  ciphertext: string;
}

function garbled(source: string, what: string, cause?: unknown): ProvenantError {
  return new ProvenantError('config', 'SIGNING_KEY_UNREADABLE', `${source}: ${what}`, {
    cause,
    context: { source, hint: 'the signing Secret must hold a key written by `cosign generate-key-pair` (or x509.pem, a PKCS#8 PEM key)' },
  });
}

/** Extracts the bytes of the first PEM block whose type is one of `types`. */
export function pemBlock(pem: string, types: readonly string[]): { type: string; der: Buffer } | undefined {
  const match = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/.exec(pem);
  if (match === null || match[1] === undefined || !types.includes(match[1])) return undefined;
  return { type: match[1], der: Buffer.from((match[2] ?? '').replace(/\s+/g, ''), 'base64') };
}

/** Decrypts the go-securesystemslib `encrypted` envelope (exported for the test vectors). */
export function decryptEnvelope(envelopeJson: Buffer | string, password: string, source: string): Buffer {
  let env: EncryptedEnvelope;
  try {
    env = JSON.parse(envelopeJson.toString()) as EncryptedEnvelope;
  } catch {
    // No cause: V8's JSON errors quote the input.
    throw garbled(source, 'the encrypted key is not valid JSON');
  }
  if (env.kdf?.name !== 'scrypt' || env.cipher?.name !== 'nacl/secretbox' || typeof env.ciphertext !== 'string') {
    throw new ProvenantError('config', 'SIGNING_KEY_UNSUPPORTED', `${source}: unsupported key encryption (kdf ${String(env.kdf?.name)}, cipher ${String(env.cipher?.name)})`, {
      context: { source, hint: 'cosign keys use scrypt + nacl/secretbox; re-create the key with `cosign generate-key-pair`' },
    });
  }
  const { N, r, p } = env.kdf.params ?? { N: 0, r: 0, p: 0 };
  if (!allowedScrypt.some((a) => a.N === N && a.r === r && a.p === p)) {
    throw new ProvenantError('config', 'SIGNING_KEY_UNSUPPORTED', `${source}: unsupported scrypt parameters`, {
      context: { source, hint: 're-create the key with `cosign generate-key-pair`' },
    });
  }
  const salt = Buffer.from(env.kdf.salt, 'base64');
  const nonce = Buffer.from(env.cipher.nonce, 'base64');
  if (nonce.length !== nacl.secretbox.nonceLength) throw garbled(source, 'the encrypted key has a malformed nonce');
  const key = scryptSync(Buffer.from(password, 'utf8'), salt, nacl.secretbox.keyLength, { N, r, p, maxmem: 256 * N * r * p });
  const opened = nacl.secretbox.open(Buffer.from(env.ciphertext, 'base64'), nonce, key);
  if (opened === null) {
    throw new ProvenantError('config', 'SIGNING_KEY_PASSWORD_INVALID', `${source}: cannot decrypt the key: wrong password or corrupted key`, {
      context: { source, hint: 'check that cosign.password in the signing Secret belongs to cosign.key' },
    });
  }
  return Buffer.from(opened);
}

/** Decrypts a cosign private key PEM with its password. Errors never contain the password or key bytes. */
export function decryptCosignKey(pem: string, password: string, source = 'cosign.key'): KeyObject {
  const block = pemBlock(pem, cosignKeyPemTypes);
  if (block === undefined) throw garbled(source, 'no ENCRYPTED SIGSTORE PRIVATE KEY PEM block found');
  const der = decryptEnvelope(block.der, password, source);
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } catch (cause) {
    throw garbled(source, 'the decrypted key is not a PKCS#8 private key', cause);
  }
}
