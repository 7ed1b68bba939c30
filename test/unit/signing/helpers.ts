// Test-only helpers: throwaway keys written in the formats the signing Secret holds.
import { generateKeyPairSync, randomBytes, scryptSync, type KeyObject } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import nacl from 'tweetnacl';

/** Encrypts a private key exactly as `cosign generate-key-pair` does (scrypt N=32768 to keep tests fast). */
export function encryptCosignKey(privateKey: KeyObject, password: string, N = 32768): string {
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  const salt = randomBytes(32);
  const nonce = randomBytes(24);
  const key = scryptSync(Buffer.from(password), salt, 32, { N, r: 8, p: 1, maxmem: 256 * N * 8 });
  const ciphertext = nacl.secretbox(der, nonce, key);
  const json = JSON.stringify({
    kdf: { name: 'scrypt', params: { N, r: 8, p: 1 }, salt: salt.toString('base64') },
    cipher: { name: 'nacl/secretbox', nonce: nonce.toString('base64') },
    ciphertext: Buffer.from(ciphertext).toString('base64'),
  });
  const b64 = Buffer.from(json).toString('base64').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n${b64}\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n`;
}

export type TestKeyType = 'p256' | 'p384' | 'ed25519' | 'rsa' | 'p521';

export function generateKey(type: TestKeyType): { privateKey: KeyObject; publicKey: KeyObject } {
  switch (type) {
    case 'p256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' });
    case 'p384':
      return generateKeyPairSync('ec', { namedCurve: 'P-384' });
    case 'p521':
      return generateKeyPairSync('ec', { namedCurve: 'P-521' });
    case 'ed25519':
      return generateKeyPairSync('ed25519');
    case 'rsa':
      return generateKeyPairSync('rsa', { modulusLength: 2048 });
  }
}

export function pemOf(key: KeyObject): string {
  return key.type === 'private'
    ? key.export({ format: 'pem', type: 'pkcs8' }).toString()
    : key.export({ format: 'pem', type: 'spki' }).toString();
}

/** A temp dir standing in for the mounted signing Secret. */
export async function secretDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'provenant-secret-'));
  for (const [name, content] of Object.entries(files)) await writeFile(path.join(dir, name), content);
  return dir;
}

export function jwt(claims: Record<string, unknown>): string {
  const enc = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${enc({ alg: 'RS256', kid: 'test' })}.${enc(claims)}.c2lnbmF0dXJl`;
}

export const statement = {
  _type: 'https://in-toto.io/Statement/v0.1',
  predicateType: 'https://slsa.dev/provenance/v0.2',
  subject: [{ name: 'registry.local/app', digest: { sha256: 'a'.repeat(64) } }],
  predicate: { builder: { id: 'https://tekton.dev/chains/v2' } },
};

export function flipPayloadByte(bundle: unknown): unknown {
  const copy = JSON.parse(JSON.stringify(bundle)) as { dsseEnvelope: { payload: string } };
  const bytes = Buffer.from(copy.dsseEnvelope.payload, 'base64');
  bytes[10] = (bytes[10] ?? 0) ^ 0x01;
  copy.dsseEnvelope.payload = bytes.toString('base64');
  return copy;
}
