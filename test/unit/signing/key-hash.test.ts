// Which hash each key signs with (docs/signing.md "Hash per key"), what the verifiers accept, and the
// key/Rekor combinations refused at config load.
import { createHash, createPublicKey, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';
import type { Signer } from '@sigstore/sign';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';
import { bundleFromJSON, type SerializedBundle } from '@sigstore/bundle';
import { describe, expect, it } from 'vitest';
import { defaultConfig, type Config } from '../../../src/config/index.js';
import { signMessage, signStatement } from '../../../src/signing/bundle.js';
import { assertRekorCompatible, hashFor, keySignerFromPrivateKey, rekorRefusalReason, type KeyAlgorithm } from '../../../src/signing/index.js';
import { createSignerFromConfig } from '../../../src/signing/registry.js';
import { verifyBundle } from '../../../src/verify/index.js';
import { createSilentLogger } from '../../../src/observability/index.js';
import { rekorV1Refusal } from '../../support/rekor-v1-acceptance.js';
import { generateKey, pemOf, secretDir, statement } from './helpers.js';

const payload = Buffer.from(JSON.stringify(statement));
const emptyRoot = { mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1', tlogs: [], ctlogs: [], certificateAuthorities: [], timestampAuthorities: [] };

/** What plain sigstore-js (and so `sigstore verify`) concludes with only the key. */
function sigstoreJsAccepts(bundleJson: unknown, publicKeyPem: string, artifact?: Buffer): boolean {
  const trust = toTrustMaterial(emptyRoot as never, () => ({ publicKey: createPublicKey(publicKeyPem), validFor: () => true }));
  try {
    new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(toSignedEntity(bundleFromJSON(bundleJson), artifact));
    return true;
  } catch {
    return false;
  }
}

/** A signer over a P-384 key that signs SHA-384, as provenant did before (and KMS P-384 keys still do). */
function legacyP384Signer(): { signer: Signer; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKey('p384');
  const publicKeyPem = pemOf(publicKey);
  return { publicKeyPem, signer: { sign: async (data) => ({ signature: cryptoSign('sha384', data, privateKey), key: { $case: 'publicKey', publicKey: publicKeyPem } }) } };
}

describe('hash per key', () => {
  it.each<[KeyAlgorithm, string | null]>([
    ['ecdsa-p256-sha256', 'sha256'],
    ['ecdsa-p384-sha256', 'sha256'],
    ['ecdsa-p384-sha384', 'sha384'],
    ['ed25519', null],
  ])('%s signs with %s', (algorithm, hash) => {
    expect(hashFor(algorithm)).toBe(hash);
  });

  it('a P-384 key from the signing Secret signs SHA-256 (cosign key files and Chains x509.pem), not SHA-384', async () => {
    const { privateKey, publicKey } = generateKey('p384');
    const signer = keySignerFromPrivateKey(privateKey, 'test');
    expect(signer.algorithm).toBe('ecdsa-p384-sha256');
    const data = Buffer.from('hello');
    const { signature } = await signer.sign(data);
    expect(cryptoVerify('sha256', data, publicKey, signature)).toBe(true);
    expect(cryptoVerify('sha384', data, publicKey, signature)).toBe(false);
  });

  it('P-384 bundles (DSSE and message signature) now verify with plain sigstore-js and with provenant verify', async () => {
    const { privateKey, publicKey } = generateKey('p384');
    const signer = keySignerFromPrivateKey(privateKey, 'test');
    const dsse = await signStatement(signer, payload);
    expect(sigstoreJsAccepts(dsse, pemOf(publicKey))).toBe(true);
    expect(verifyBundle(dsse, { key: pemOf(publicKey) }).predicateType).toBe(statement.predicateType);
    const artifact = Buffer.from('{"critical":{}}');
    const message = await signMessage(signer, artifact);
    expect(sigstoreJsAccepts(message, pemOf(publicKey), artifact)).toBe(true);
    expect(verifyBundle(message, { key: pemOf(publicKey) }, { artifact }).payload.equals(artifact)).toBe(true);
  });

  it('legacy P-384/SHA-384 bundles (written before, or by KMS P-384 keys) still verify with provenant verify', async () => {
    const { signer, publicKeyPem } = legacyP384Signer();
    const dsse = await signStatement(signer, payload);
    expect(sigstoreJsAccepts(dsse, publicKeyPem)).toBe(false);
    expect(verifyBundle(dsse, { key: publicKeyPem }).predicateType).toBe(statement.predicateType);
    const artifact = Buffer.from('{"critical":{}}');
    expect(verifyBundle(await signMessage(signer, artifact), { key: publicKeyPem }, { artifact }).payload.equals(artifact)).toBe(true);
  });

  it('accepting SHA-384 for P-384 does not make P-256 accept it, nor a tampered P-384 bundle pass', async () => {
    const p256 = generateKey('p256');
    const publicKeyPem = pemOf(p256.publicKey);
    const sha384Signer: Signer = { sign: async (data) => ({ signature: cryptoSign('sha384', data, p256.privateKey), key: { $case: 'publicKey', publicKey: publicKeyPem } }) };
    const bundle = await signStatement(sha384Signer, payload);
    expect(() => verifyBundle(bundle, { key: publicKeyPem })).toThrow(expect.objectContaining({ code: 'VERIFY_SIGNATURE_INVALID' }));

    const { signer, publicKeyPem: p384Pem } = legacyP384Signer();
    const legacy = await signStatement(signer, payload);
    const other = generateKey('p384');
    expect(() => verifyBundle(legacy, { key: pemOf(other.publicKey) })).toThrow(expect.objectContaining({ code: 'VERIFY_SIGNATURE_INVALID' }));
    const tampered = structuredClone(legacy) as typeof legacy & { dsseEnvelope: { payload: string } };
    tampered.dsseEnvelope.payload = Buffer.from(JSON.stringify({ ...statement, predicateType: 'x' })).toString('base64');
    expect(() => verifyBundle(tampered, { key: p384Pem })).toThrow(expect.objectContaining({ code: 'VERIFY_SIGNATURE_INVALID' }));
  });
});

/** The bundle as the mock Rekor leaves it: one entry of `kind` whose body declares the artifact's sha256. */
function logged(bundle: SerializedBundle, kind: string, artifact?: Buffer): SerializedBundle {
  const body = kind === 'hashedrekord' ? { spec: { data: { hash: { algorithm: 'sha256', value: createHash('sha256').update(artifact ?? Buffer.alloc(0)).digest('hex') } } } } : { spec: {} };
  const entry = { kindVersion: { kind, version: '0.0.1' }, canonicalizedBody: Buffer.from(JSON.stringify(body)).toString('base64') };
  return { ...bundle, verificationMaterial: { ...bundle.verificationMaterial, tlogEntries: [entry] } } as unknown as SerializedBundle;
}

describe('what a real Rekor v1 accepts (test/support/rekor-v1-acceptance.ts; the mock Rekor does not check)', () => {
  const artifact = Buffer.from('{"critical":{}}');

  it('P-256 and Secret P-384 (SHA-256) entries of both kinds; ed25519 DSSE entries', async () => {
    for (const type of ['p256', 'p384'] as const) {
      const signer = keySignerFromPrivateKey(generateKey(type).privateKey, 'test');
      expect(rekorV1Refusal(logged(await signStatement(signer, payload), 'dsse'), signer.publicKeyPem)).toBeUndefined();
      expect(rekorV1Refusal(logged(await signMessage(signer, artifact), 'hashedrekord', artifact), signer.publicKeyPem, artifact)).toBeUndefined();
    }
    const ed = keySignerFromPrivateKey(generateKey('ed25519').privateKey, 'test');
    expect(rekorV1Refusal(logged(await signStatement(ed, payload), 'dsse'), ed.publicKeyPem)).toBeUndefined();
  });

  it('refuses what provenant now refuses at load: P-384/SHA-384 (KMS) entries, ed25519 image signatures', async () => {
    const { signer, publicKeyPem } = legacyP384Signer();
    expect(rekorV1Refusal(logged(await signStatement(signer, payload), 'dsse'), publicKeyPem)).toMatch(/SHA-256/);
    expect(rekorV1Refusal(logged(await signMessage(signer, artifact), 'hashedrekord', artifact), publicKeyPem, artifact)).toBeDefined();
    const ed = keySignerFromPrivateKey(generateKey('ed25519').privateKey, 'test');
    expect(rekorV1Refusal(logged(await signMessage(ed, artifact), 'hashedrekord', artifact), ed.publicKeyPem, artifact)).toMatch(/Ed25519ph/);
  });
});

describe('keys Rekor v1 and cosign cannot take are refused at config load', () => {
  const withTransparency = (mode: Config['transparency']['mode'], oci: 'x509' | 'kms' | 'none' = 'x509'): Config => {
    const base = defaultConfig();
    return {
      ...base,
      transparency: { ...base.transparency, mode },
      artifacts: { ...base.artifacts, oci: { ...base.artifacts.oci, signer: oci } },
    };
  };

  it.each<[KeyAlgorithm, 'dsse' | 'hashedrekord', boolean]>([
    ['ecdsa-p256-sha256', 'dsse', true],
    ['ecdsa-p256-sha256', 'hashedrekord', true],
    ['ecdsa-p384-sha256', 'dsse', true],
    ['ecdsa-p384-sha256', 'hashedrekord', true],
    ['ecdsa-p384-sha384', 'dsse', false],
    ['ecdsa-p384-sha384', 'hashedrekord', false],
    ['ed25519', 'dsse', true],
    ['ed25519', 'hashedrekord', false],
  ])('%s as a %s entry: loggable=%s', (algorithm, entry, loggable) => {
    expect(rekorRefusalReason(algorithm, entry) === undefined).toBe(loggable);
  });

  it.each<[KeyAlgorithm, 'dsse' | 'hashedrekord', boolean]>([
    ['ecdsa-p256-sha256', 'dsse', true],
    ['ecdsa-p256-sha256', 'hashedrekord', true],
    ['ecdsa-p384-sha256', 'dsse', false],
    ['ecdsa-p384-sha256', 'hashedrekord', false],
    ['ecdsa-p384-sha384', 'dsse', true],
    ['ecdsa-p384-sha384', 'hashedrekord', false],
    ['ed25519', 'dsse', false],
    ['ed25519', 'hashedrekord', false],
  ])('Rekor v2 (rekor-tiles default algorithms, hashedrekord 0.0.2): %s as %s loggable=%s', (algorithm, entry, loggable) => {
    expect(rekorRefusalReason(algorithm, entry, 'v2') === undefined).toBe(loggable);
  });

  it('transparency.version v2 in the config selects the v2 rules', () => {
    const base = withTransparency('true');
    const v2: Config = { ...base, transparency: { ...base.transparency, version: 'v2' } };
    expect(() => assertRekorCompatible(v2, 'x509', 'ecdsa-p384-sha256')).toThrow(expect.objectContaining({ code: 'SIGNING_KEY_TLOG_UNSUPPORTED', context: expect.objectContaining({ rekorVersion: 'v2' }) }));
    const v2AttestationsOnly: Config = { ...v2, artifacts: { ...v2.artifacts, oci: { ...v2.artifacts.oci, signer: 'none' } } };
    expect(() => assertRekorCompatible(v2AttestationsOnly, 'x509', 'ecdsa-p384-sha384')).not.toThrow();
    expect(() => assertRekorCompatible(v2, 'x509', 'ecdsa-p384-sha384')).toThrow(expect.objectContaining({ code: 'SIGNING_KEY_TLOG_UNSUPPORTED' }));
    expect(() => assertRekorCompatible(base, 'x509', 'ecdsa-p384-sha256')).not.toThrow();
  });

  it('KMS P-384 with transparency on (true or manual) → config SIGNING_KEY_TLOG_UNSUPPORTED; off → accepted', () => {
    const base = defaultConfig();
    const kms: Config = {
      ...base,
      transparency: { ...base.transparency, mode: 'true' },
      artifacts: { ...base.artifacts, taskrun: { ...base.artifacts.taskrun, signer: 'kms' }, oci: { ...base.artifacts.oci, signer: 'none' } },
    };
    expect(() => assertRekorCompatible(kms, 'kms', 'ecdsa-p384-sha384')).toThrow(
      expect.objectContaining({ kind: 'config', code: 'SIGNING_KEY_TLOG_UNSUPPORTED', context: expect.objectContaining({ key: 'artifacts.taskrun.signer', entryType: 'dsse' }) }),
    );
    expect(() => assertRekorCompatible({ ...kms, transparency: { ...kms.transparency, mode: 'manual' } }, 'kms', 'ecdsa-p384-sha384')).toThrow(
      expect.objectContaining({ code: 'SIGNING_KEY_TLOG_UNSUPPORTED' }),
    );
    expect(() => assertRekorCompatible({ ...kms, transparency: { ...kms.transparency, mode: 'false' } }, 'kms', 'ecdsa-p384-sha384')).not.toThrow();
    // A signer no artifact kind uses is not checked.
    const unused: Config = { ...kms, artifacts: { ...kms.artifacts, taskrun: { ...kms.artifacts.taskrun, signer: 'x509' } } };
    expect(() => assertRekorCompatible(unused, 'kms', 'ecdsa-p384-sha384')).not.toThrow();
  });

  it('ed25519 is refused only when it signs image signatures (.sig, hashedrekord) that are logged', () => {
    expect(() => assertRekorCompatible(withTransparency('true'), 'x509', 'ed25519')).toThrow(
      expect.objectContaining({ kind: 'config', code: 'SIGNING_KEY_TLOG_UNSUPPORTED', context: expect.objectContaining({ key: 'artifacts.oci.signer', entryType: 'hashedrekord' }) }),
    );
    expect(() => assertRekorCompatible(withTransparency('true', 'none'), 'x509', 'ed25519')).not.toThrow();
    expect(() => assertRekorCompatible(withTransparency('false'), 'x509', 'ed25519')).not.toThrow();
    expect(() => assertRekorCompatible(withTransparency('true'), 'x509', 'ecdsa-p384-sha256')).not.toThrow();
  });

  it('createSignerFromConfig applies it to the Secret key (config load and provenant sign)', async () => {
    const dir = await secretDir({ 'x509.pem': pemOf(generateKey('ed25519').privateKey) });
    const logged = { ...withTransparency('true'), signers: { ...defaultConfig().signers, secretPath: dir } };
    await expect(createSignerFromConfig(logged, { logger: createSilentLogger() }, 'x509')).rejects.toMatchObject({ kind: 'config', code: 'SIGNING_KEY_TLOG_UNSUPPORTED' });
    const unlogged = { ...withTransparency('false'), signers: logged.signers };
    await expect(createSignerFromConfig(unlogged, { logger: createSilentLogger() }, 'x509')).resolves.toMatchObject({ algorithm: 'ed25519' });
  });
});
