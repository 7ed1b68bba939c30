import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { RekorWitness } from '@sigstore/sign';
import { defaultConfig, type Config } from '../../src/config/index.js';
import { createSignerFromConfig } from '../../src/signing/index.js';
import { signStatement } from '../../src/signing/bundle.js';
import { verifyBundle } from '../../src/verify/index.js';
import { createCapturingLogger } from '../../src/observability/index.js';
import { startSigstoreMock, type SigstoreMock } from '../support/sigstore-mock.js';
import { flipPayloadByte, jwt, secretDir, statement } from '../unit/signing/helpers.js';

const issuer = 'https://kubernetes.default.svc';
const san = 'https://kubernetes.io/namespaces/build/serviceaccounts/pipeline';

describe('keyless signing against mock Fulcio + Rekor', () => {
  let mock: SigstoreMock;
  let config: Config;
  const token = jwt({
    iss: issuer,
    sub: 'system:serviceaccount:build:pipeline',
    aud: ['sigstore'],
    'kubernetes.io': { namespace: 'build', serviceaccount: { name: 'pipeline' } },
  });

  beforeAll(async () => {
    mock = await startSigstoreMock();
    const dir = await secretDir({ 'oidc-token': token });
    const base = defaultConfig();
    config = {
      ...base,
      signers: {
        ...base.signers,
        x509: { ...base.signers.x509, identityTokenFile: path.join(dir, 'oidc-token'), fulcio: { ...base.signers.x509.fulcio, enabled: true, address: mock.fulcioUrl } },
      },
    };
  });
  afterAll(async () => {
    await mock.stop();
  });

  it('signs with a Fulcio certificate, logs in Rekor, verifies with the SAN and rejects a wrong one', async () => {
    const { logger, lines } = createCapturingLogger();
    const signer = await createSignerFromConfig(config, { logger }, 'x509');
    const witness = new RekorWitness({ rekorBaseURL: mock.rekorUrl, entryType: 'dsse', fetchOnConflict: true });
    const payload = Buffer.from(JSON.stringify(statement));
    const before = mock.rekorEntryCount();
    const bundle = await signStatement(signer, payload, { witnesses: [witness] });
    const second = await signStatement(signer, payload, { witnesses: [witness] });
    expect(mock.rekorEntryCount()).toBe(before + 2);
    expect(mock.fulcioCertificateCount()).toBe(1);

    const verified = verifyBundle(bundle, { identity: { san, issuer }, trustedRoot: mock.trustedRoot, requireTlog: true });
    expect(verified.signer).toEqual({ san, issuer });
    expect(verified.subjects).toEqual(statement.subject);
    expect(verified.tlog).toBeDefined();
    verifyBundle(second, { identity: { san, issuer }, trustedRoot: mock.trustedRoot });

    expect(() =>
      verifyBundle(bundle, { identity: { san: 'https://kubernetes.io/namespaces/build/serviceaccounts/other', issuer }, trustedRoot: mock.trustedRoot }),
    ).toThrow(expect.objectContaining({ kind: 'permanent', code: 'VERIFY_IDENTITY_MISMATCH' }));
    expect(() => verifyBundle(bundle, { identity: { san, issuer: 'https://evil.example' }, trustedRoot: mock.trustedRoot })).toThrow(
      expect.objectContaining({ code: 'VERIFY_IDENTITY_MISMATCH' }),
    );
    expect(() => verifyBundle(flipPayloadByte(bundle), { identity: { san, issuer }, trustedRoot: mock.trustedRoot })).toThrow(
      expect.objectContaining({ kind: 'permanent' }),
    );
    expect(lines.join('')).not.toContain(token);
  });

  it('a bundle without a log entry fails --require-tlog', async () => {
    const signer = await createSignerFromConfig(config, { logger: createCapturingLogger().logger }, 'x509');
    const bundle = await signStatement(signer, Buffer.from(JSON.stringify(statement)));
    expect(() => verifyBundle(bundle, { identity: { san, issuer }, trustedRoot: mock.trustedRoot, requireTlog: true })).toThrow(
      expect.objectContaining({ code: 'VERIFY_TLOG_MISSING' }),
    );
  });
});
