/**
 * `--vsa-out FILE --vsa-key KEY` for `verify` and `trace`: sign a SLSA Verification Summary Attestation
 * as a Sigstore bundle (DSSE, v0.3) and write it to FILE. KEY is a PEM private key file, a cosign key
 * (password from $COSIGN_PASSWORD), or a KMS / PKCS#11 reference (`awskms://`, `gcpkms://`, `pkcs11:`).
 */
import { createPrivateKey } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ProvenantError, errorMessage } from '../errors.js';
import { createSilentLogger } from '../observability/index.js';
import { createKmsSigner, decryptCosignKey, keySignerFromPrivateKey, kmsSchemes, signStatement, type KeySigner } from '../signing/index.js';
import { buildVsa, type VsaInput } from '../verify/index.js';
import type { CliIo } from './io.js';

export async function vsaSigner(value: string, io: CliIo): Promise<KeySigner> {
  if (Object.keys(kmsSchemes).some((s) => value.startsWith(s))) return createKmsSigner(value, { logger: createSilentLogger(), env: io.env });
  const file = path.resolve(io.cwd, value);
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (cause) {
    throw new ProvenantError('input', 'INPUT_UNREADABLE', `cannot read VSA key ${value}: ${errorMessage(cause)}`, { cause });
  }
  if (pem.includes('ENCRYPTED SIGSTORE PRIVATE KEY') || pem.includes('ENCRYPTED COSIGN PRIVATE KEY')) {
    return keySignerFromPrivateKey(decryptCosignKey(pem, io.env['COSIGN_PASSWORD'] ?? '', file), file);
  }
  try {
    return keySignerFromPrivateKey(createPrivateKey(pem), file);
  } catch (cause) {
    throw new ProvenantError('input', 'VSA_KEY_INVALID', `${value} is not a PEM private key, a cosign key or a KMS reference`, { cause });
  }
}

export async function writeVsa(io: CliIo, request: { out: string; key: string }, input: VsaInput): Promise<void> {
  const signer = await vsaSigner(request.key, io);
  try {
    const bundle = await signStatement(signer, buildVsa(input));
    await writeFile(path.resolve(io.cwd, request.out), `${JSON.stringify(bundle, null, 2)}\n`);
  } catch (cause) {
    if (cause instanceof ProvenantError) throw cause;
    throw new ProvenantError('input', 'OUTPUT_UNWRITABLE', `cannot write the VSA ${request.out}: ${errorMessage(cause)}`, { cause });
  } finally {
    await signer.close?.();
  }
}
