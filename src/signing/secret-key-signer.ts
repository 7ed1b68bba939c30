import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createPrivateKey } from 'node:crypto';
import { ProvenantError, isProvenantError } from '../errors.js';
import { cosignKeyPemTypes, decryptCosignKey, pemBlock } from './cosign-key.js';
import { keySignerFromPrivateKey } from './key-signer.js';
import type { KeySigner, SignerDeps } from './types.js';

export const secretKeyFiles = { x509: 'x509.pem', cosignKey: 'cosign.key', cosignPassword: 'cosign.password' } as const;

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ProvenantError('config', 'SIGNING_KEY_UNREADABLE', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, {
      cause: err,
      context: { source: file, hint: 'check the signing Secret mount and its file permissions' },
    });
  }
}

/**
 * The key from the mounted signing Secret, looked up as Tekton Chains does: `x509.pem` (a PKCS#8
 * PEM private key) first, else `cosign.key` decrypted with `cosign.password` (a missing password file
 * means the empty password, as `COSIGN_PASSWORD=""`).
 */
export async function createSecretKeySigner(secretDir: string, deps: SignerDeps): Promise<KeySigner> {
  const x509Path = path.join(secretDir, secretKeyFiles.x509);
  const x509 = await readOptional(x509Path);
  if (x509 !== undefined) {
    if (pemBlock(x509, cosignKeyPemTypes) !== undefined) {
      // Someone put a cosign key under the x509 name; it still needs its password.
      const password = (await readOptional(path.join(secretDir, secretKeyFiles.cosignPassword))) ?? '';
      return logged(keySignerFromPrivateKey(decryptWithPassword(x509, password, x509Path), x509Path), x509Path, deps);
    }
    let key;
    try {
      key = createPrivateKey({ key: x509, format: 'pem' });
    } catch (cause) {
      throw new ProvenantError('config', 'SIGNING_KEY_UNREADABLE', `${x509Path}: not a PEM private key`, {
        cause,
        context: { source: x509Path, hint: 'x509.pem must be an unencrypted PKCS#8 (or SEC1 EC) PEM private key' },
      });
    }
    return logged(keySignerFromPrivateKey(key, x509Path), x509Path, deps);
  }
  const cosignPath = path.join(secretDir, secretKeyFiles.cosignKey);
  const cosignKey = await readOptional(cosignPath);
  if (cosignKey !== undefined) {
    const password = (await readOptional(path.join(secretDir, secretKeyFiles.cosignPassword))) ?? '';
    return logged(keySignerFromPrivateKey(decryptWithPassword(cosignKey, password, cosignPath), cosignPath), cosignPath, deps);
  }
  throw new ProvenantError('config', 'SIGNING_KEY_MISSING', `no signing key in ${secretDir}: looked for ${secretKeyFiles.x509} and ${secretKeyFiles.cosignKey}`, {
    context: {
      source: secretDir,
      hint: 'create the signing Secret (`cosign generate-key-pair k8s://<namespace>/signing-secrets`), set signers.secret.path, or enable signers.x509.fulcio.enabled',
    },
  });
}

/** The password file's exact bytes first (as Chains), then without a trailing newline that `echo` adds. */
function decryptWithPassword(pem: string, password: string, source: string) {
  try {
    return decryptCosignKey(pem, password, source);
  } catch (err) {
    const trimmed = password.replace(/\r?\n$/, '');
    if (trimmed === password || !isProvenantError(err, 'SIGNING_KEY_PASSWORD_INVALID')) throw err;
    return decryptCosignKey(pem, trimmed, source);
  }
}

function logged(signer: KeySigner, source: string, deps: SignerDeps): KeySigner {
  deps.logger.info({ source, algorithm: signer.algorithm }, 'signing key loaded');
  return signer;
}
