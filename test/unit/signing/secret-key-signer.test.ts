import { describe, expect, it } from 'vitest';
import { createSecretKeySigner } from '../../../src/signing/secret-key-signer.js';
import { createEphemeralSigner } from '../../../src/signing/ephemeral-signer.js';
import { signMessage, signStatement } from '../../../src/signing/bundle.js';
import { verifyBundle } from '../../../src/verify/index.js';
import { createCapturingLogger, createSilentLogger } from '../../../src/observability/index.js';
import { encryptCosignKey, flipPayloadByte, generateKey, pemOf, secretDir, statement, type TestKeyType } from './helpers.js';

const deps = { logger: createSilentLogger() };
const payload = Buffer.from(JSON.stringify(statement));

describe('signers from the signing Secret', () => {
  it.each<[TestKeyType, string]>([
    ['p256', 'ecdsa-p256-sha256'],
    ['p384', 'ecdsa-p384-sha256'],
    ['ed25519', 'ed25519'],
  ])('x509.pem %s signs a DSSE bundle that verifies, and a flipped byte fails', async (type, algorithm) => {
    const { privateKey, publicKey } = generateKey(type);
    const signer = await createSecretKeySigner(await secretDir({ 'x509.pem': pemOf(privateKey) }), deps);
    expect(signer.algorithm).toBe(algorithm);
    const bundle = await signStatement(signer, payload);
    expect(bundle.mediaType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json');
    const verified = verifyBundle(bundle, { key: pemOf(publicKey) });
    expect(verified.predicateType).toBe(statement.predicateType);
    expect(verified.subjects).toEqual(statement.subject);
    expect(verified.signer).toEqual({ publicKey: pemOf(publicKey) });
    expect(() => verifyBundle(flipPayloadByte(bundle), { key: pemOf(publicKey) })).toThrow(
      expect.objectContaining({ kind: 'permanent', code: 'VERIFY_SIGNATURE_INVALID' }),
    );
  });

  it('cosign.key + cosign.password signs; secrets stay out of logs', async () => {
    const { privateKey, publicKey } = generateKey('p256');
    const password = 'pw-SENTINEL-123';
    const { logger, lines } = createCapturingLogger();
    const dir = await secretDir({ 'cosign.key': encryptCosignKey(privateKey, password), 'cosign.password': password });
    const signer = await createSecretKeySigner(dir, { logger });
    verifyBundle(await signStatement(signer, payload), { key: pemOf(publicKey) });
    const logged = lines.join('\n');
    expect(lines.length).toBeGreaterThan(0);
    expect(logged).not.toContain(password);
    expect(logged).not.toContain('PRIVATE KEY');
  });

  it('accepts a password file ending in a newline', async () => {
    const { privateKey } = generateKey('p256');
    const dir = await secretDir({ 'cosign.key': encryptCosignKey(privateKey, 'pw'), 'cosign.password': 'pw\n' });
    await expect(createSecretKeySigner(dir, deps)).resolves.toMatchObject({ algorithm: 'ecdsa-p256-sha256' });
  });

  it('treats a missing cosign.password as the empty password', async () => {
    const { privateKey } = generateKey('p256');
    const dir = await secretDir({ 'cosign.key': encryptCosignKey(privateKey, '') });
    await expect(createSecretKeySigner(dir, deps)).resolves.toMatchObject({ algorithm: 'ecdsa-p256-sha256' });
  });

  it('wrong password → SIGNING_KEY_PASSWORD_INVALID, not leaking the password', async () => {
    const { privateKey } = generateKey('p256');
    const dir = await secretDir({ 'cosign.key': encryptCosignKey(privateKey, 'right'), 'cosign.password': 'WRONG-SENTINEL' });
    const err = await createSecretKeySigner(dir, deps).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'config', code: 'SIGNING_KEY_PASSWORD_INVALID' });
    expect(`${String(err)} ${JSON.stringify(err)}`).not.toContain('WRONG-SENTINEL');
  });

  it('missing key files → SIGNING_KEY_MISSING naming both files and the dir', async () => {
    const dir = await secretDir({});
    const err = await createSecretKeySigner(dir, deps).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'config', code: 'SIGNING_KEY_MISSING', context: { source: dir } });
    expect(String(err)).toContain('cosign.key');
    expect(String(err)).toContain('x509.pem');
  });

  it('garbled x509.pem → SIGNING_KEY_UNREADABLE', async () => {
    const dir = await secretDir({ 'x509.pem': '-----BEGIN PRIVATE KEY-----\nZ2FyYmxlZA==\n-----END PRIVATE KEY-----\n' });
    await expect(createSecretKeySigner(dir, deps)).rejects.toMatchObject({ kind: 'config', code: 'SIGNING_KEY_UNREADABLE' });
  });

  it.each<TestKeyType>(['rsa', 'p521'])('%s key → SIGNING_KEY_UNSUPPORTED', async (type) => {
    const dir = await secretDir({ 'x509.pem': pemOf(generateKey(type).privateKey) });
    await expect(createSecretKeySigner(dir, deps)).rejects.toMatchObject({ kind: 'config', code: 'SIGNING_KEY_UNSUPPORTED' });
  });

  it('prefers x509.pem over cosign.key, as Chains does', async () => {
    const x509 = generateKey('p256');
    const cosign = generateKey('p256');
    const dir = await secretDir({ 'x509.pem': pemOf(x509.privateKey), 'cosign.key': encryptCosignKey(cosign.privateKey, 'p'), 'cosign.password': 'p' });
    const signer = await createSecretKeySigner(dir, deps);
    expect(signer.publicKeyPem).toBe(pemOf(x509.publicKey));
  });
});

describe('ephemeral signer and bundles', () => {
  it('signs DSSE with the ephemeral P-256 key; a different key is rejected', async () => {
    const signer = createEphemeralSigner();
    expect(signer.algorithm).toBe('ecdsa-p256-sha256');
    const bundle = await signStatement(signer, payload);
    expect(verifyBundle(bundle, { key: signer.publicKeyPem }).payloadType).toBe('application/vnd.in-toto+json');
    expect(() => verifyBundle(bundle, { key: pemOf(generateKey('p256').publicKey) })).toThrow(
      expect.objectContaining({ code: 'VERIFY_SIGNATURE_INVALID' }),
    );
  });

  it.each<TestKeyType>(['p256', 'p384'])('signs a %s message-signature bundle (v0.3) for simple signing', async (type) => {
    const { privateKey, publicKey } = generateKey(type);
    const signer = await createSecretKeySigner(await secretDir({ 'x509.pem': pemOf(privateKey) }), deps);
    const simple = Buffer.from('{"critical":{"identity":{"docker-reference":"r/app"},"image":{"docker-manifest-digest":"sha256:aa"},"type":"cosign container image signature"},"optional":null}');
    const bundle = await signMessage(signer, simple);
    expect(bundle.mediaType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json');
    const verified = verifyBundle(bundle, { key: pemOf(publicKey) }, { artifact: simple });
    expect(verified.payloadType).toBeUndefined();
    const other = Buffer.from(simple);
    other[5] = 0x41;
    expect(() => verifyBundle(bundle, { key: pemOf(publicKey) }, { artifact: other })).toThrow(expect.objectContaining({ kind: 'permanent' }));
  });
});
