import { describe, expect, it } from 'vitest';
import { createEphemeralSigner } from '../../../src/signing/ephemeral-signer.js';
import { signMessage, signStatement } from '../../../src/signing/bundle.js';
import { verifyBundle } from '../../../src/verify/index.js';
import { generateKey, pemOf, statement } from '../signing/helpers.js';

const payload = Buffer.from(JSON.stringify(statement));

describe('verifyBundle', () => {
  it('returns the statement, subjects, predicate type and signer key', async () => {
    const signer = createEphemeralSigner();
    const v = verifyBundle(await signStatement(signer, payload), { key: signer.publicKeyPem });
    expect(v.statement).toEqual(statement);
    expect(v.payload.equals(payload)).toBe(true);
    expect(v.tlog).toBeUndefined();
  });

  it('garbled bundle → input VERIFY_BUNDLE_INVALID', () => {
    expect(() => verifyBundle({ mediaType: 'nope' }, { key: pemOf(generateKey('p256').publicKey) })).toThrow(
      expect.objectContaining({ kind: 'input', code: 'VERIFY_BUNDLE_INVALID' }),
    );
  });

  it('garbled key → input VERIFY_KEY_INVALID', async () => {
    const bundle = await signStatement(createEphemeralSigner(), payload);
    expect(() => verifyBundle(bundle, { key: 'not a key' })).toThrow(expect.objectContaining({ kind: 'input', code: 'VERIFY_KEY_INVALID' }));
  });

  it('message signature without the artifact → VERIFY_ARTIFACT_REQUIRED', async () => {
    const signer = createEphemeralSigner();
    const bundle = await signMessage(signer, Buffer.from('x'));
    expect(() => verifyBundle(bundle, { key: signer.publicKeyPem })).toThrow(expect.objectContaining({ code: 'VERIFY_ARTIFACT_REQUIRED' }));
  });

  it('--require-tlog with a key needs a trusted root', async () => {
    const signer = createEphemeralSigner();
    const bundle = await signStatement(signer, payload);
    expect(() => verifyBundle(bundle, { key: signer.publicKeyPem, requireTlog: true })).toThrow(expect.objectContaining({ code: 'VERIFY_TLOG_MISSING' }));
  });

  it('keyless policy with an unusable trusted root → input VERIFY_TRUSTED_ROOT_INVALID', async () => {
    const bundle = await signStatement(createEphemeralSigner(), payload);
    expect(() => verifyBundle(bundle, { identity: { san: 'x', issuer: 'y' }, trustedRoot: 'garbage' })).toThrow(
      expect.objectContaining({ kind: 'input', code: 'VERIFY_TRUSTED_ROOT_INVALID' }),
    );
  });

  it('keyless policy on a key-signed bundle → VERIFY_CERTIFICATE_MISSING', async () => {
    const bundle = await signStatement(createEphemeralSigner(), payload);
    const root = { mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1', tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: [] };
    expect(() => verifyBundle(bundle, { identity: { san: 'x', issuer: 'y' }, trustedRoot: root })).toThrow(
      expect.objectContaining({ kind: 'permanent', code: 'VERIFY_CERTIFICATE_MISSING' }),
    );
  });
});
