import { describe, expect, it } from 'vitest';
import { defaultConfig, type Config } from '../../../src/config/index.js';
import { createKmsSigner, createSignerFromConfig, createSignersFromConfig, isFulcioSigner } from '../../../src/signing/registry.js';
import { createSilentLogger } from '../../../src/observability/index.js';
import { generateKey, pemOf, secretDir } from './helpers.js';

const deps = { logger: createSilentLogger() };

function withSigners(config: Config, patch: { secretPath?: string; fulcio?: boolean; kmsref?: string }): Config {
  return {
    ...config,
    signers: {
      ...config.signers,
      secretPath: patch.secretPath ?? config.signers.secretPath,
      kms: { ...config.signers.kms, kmsref: patch.kmsref ?? config.signers.kms.kmsref },
      x509: { ...config.signers.x509, fulcio: { ...config.signers.x509.fulcio, enabled: patch.fulcio ?? false } },
    },
  };
}

describe('signer registry', () => {
  it('x509 without Fulcio loads the Secret key; with Fulcio wraps an ephemeral key', async () => {
    const dir = await secretDir({ 'x509.pem': pemOf(generateKey('p256').privateKey) });
    const keyed = await createSignerFromConfig(withSigners(defaultConfig(), { secretPath: dir }), deps, 'x509');
    expect(isFulcioSigner(keyed)).toBe(false);
    const keyless = await createSignerFromConfig(withSigners(defaultConfig(), { fulcio: true }), deps, 'x509');
    expect(isFulcioSigner(keyless)).toBe(true);
  });

  it('missing Secret key files → SIGNING_KEY_MISSING', async () => {
    const dir = await secretDir({});
    await expect(createSignerFromConfig(withSigners(defaultConfig(), { secretPath: dir }), deps, 'x509')).rejects.toMatchObject({
      kind: 'config',
      code: 'SIGNING_KEY_MISSING',
    });
  });

  it.each(['ftp://x'])('kms %s → SIGNING_KMS_SCHEME_UNSUPPORTED', async (ref) => {
    await expect(createKmsSigner(ref, deps)).rejects.toMatchObject({ kind: 'config', code: 'SIGNING_KMS_SCHEME_UNSUPPORTED', context: { key: 'signers.kms.kmsref' } });
  });

  it('kms without kmsref → SIGNING_KMS_REF_MISSING', async () => {
    await expect(createKmsSigner(undefined, deps)).rejects.toMatchObject({ kind: 'config', code: 'SIGNING_KMS_REF_MISSING' });
  });

  it('builds each named signer once and shares it between artifact kinds', async () => {
    const dir = await secretDir({ 'x509.pem': pemOf(generateKey('p256').privateKey) });
    const base = withSigners(defaultConfig(), { secretPath: dir });
    const config: Config = { ...base, artifacts: { ...base.artifacts, oci: { ...base.artifacts.oci, signer: 'none' } } };
    const set = await createSignersFromConfig(config, deps);
    expect(set.signerFor('taskrun')).toBeDefined();
    expect(set.signerFor('taskrun')).toBe(set.signerFor('pipelinerun'));
    expect(set.signerFor('oci')).toBeUndefined();
    await set.close();
  });
});
