import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig, type KmsAuthConfig } from '../../src/config/index.js';
import { createCapturingLogger } from '../../src/observability/index.js';
import { createHashivaultSigner } from '../../src/signing/hashivault-signer.js';
import { createSignerFromConfig } from '../../src/signing/registry.js';
import { signAndVerifyDsse } from '../support/kms-test-keys.js';
import { startSpiffeWorkloadServer, type SpiffeWorkloadTestServer } from '../support/spiffe-workload-server.js';
import { startVaultServer, type VaultTestServer } from '../support/vault-server.js';
import { rejection } from '../support/rejection.js';

const payload = Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: [], predicate: { v: 1 } }));
const SA_JWT = 'eyJhbGciOiJSUzI1NiJ9.provenantFakeServiceAccountJwtDoNotLeak.sig';
const SVID = 'eyJhbGciOiJFUzI1NiJ9.provenantFakeSvidDoNotLeak.sig';

let vault: VaultTestServer;
let spiffe: SpiffeWorkloadTestServer;
let dir: string;

beforeAll(async () => {
  vault = await startVaultServer();
  vault.addKey('chains-p256', 'ecdsa-p256');
  vault.addKey('chains-p384', 'ecdsa-p384');
  vault.addKey('chains-ed', 'ed25519');
  vault.addKey('chains-aes', 'aes256-gcm96');
  vault.allowLogin('kubernetes', 'tekton-chains', SA_JWT);
  vault.allowLogin('jwt', 'spire-chains', SVID);
  spiffe = await startSpiffeWorkloadServer((aud) => (aud === 'vault' ? SVID : 'wrong-audience'));
  dir = await mkdtemp(join(tmpdir(), 'vault-test-'));
});
afterAll(async () => {
  await vault.stop();
  await spiffe.stop();
});

type AuthPatch = Partial<Omit<KmsAuthConfig, 'oidc' | 'spire'>> & { oidc?: Partial<KmsAuthConfig['oidc']>; spire?: Partial<KmsAuthConfig['spire']> };

function auth(patch: AuthPatch): KmsAuthConfig {
  return {
    address: vault.url,
    token: undefined,
    tokenPath: undefined,
    ...patch,
    oidc: { path: undefined, role: undefined, tokenPath: join(dir, 'none'), ...patch.oidc },
    spire: { sock: undefined, audience: undefined, ...patch.spire },
  };
}

function noSecrets(texts: string[]): void {
  for (const t of texts) {
    expect(t).not.toContain('provenantFake');
    expect(t).not.toMatch(/hvs\.[0-9a-f]{24}/);
  }
}

describe('hashivault:// against a Vault transit stand-in', () => {
  it('signs with a static token: prehashed SHA-256, asn1, pinned key version; @sigstore/verify accepts it', async () => {
    const { logger, lines } = createCapturingLogger();
    const token = vault.issueToken();
    const signer = await createHashivaultSigner('hashivault://chains-p256', { logger, env: {}, kmsAuth: auth({ token }) });
    expect(signer.algorithm).toBe('ecdsa-p256-sha256');
    await signAndVerifyDsse(signer, signer.publicKeyPem, payload);
    const sign = vault.calls.findLast((c) => c.path === '/v1/transit/sign/chains-p256');
    expect(sign?.body).toMatchObject({ prehashed: true, hash_algorithm: 'sha2-256', marshaling_algorithm: 'asn1', key_version: 1 });
    expect(sign?.token).toBe(token);
    noSecrets(lines);
  });

  it('P-384 keys sign a SHA-384 digest; ed25519 keys sign the message', async () => {
    const { logger } = createCapturingLogger();
    const kmsAuth = auth({ token: vault.issueToken() });
    const p384 = await createHashivaultSigner('hashivault://chains-p384', { logger, env: {}, kmsAuth });
    expect(p384.algorithm).toBe('ecdsa-p384-sha384');
    await p384.sign(Buffer.from('x'));
    expect(vault.calls.findLast((c) => c.path === '/v1/transit/sign/chains-p384')?.body).toMatchObject({ hash_algorithm: 'sha2-384', prehashed: true });
    const ed = await createHashivaultSigner('hashivault://chains-ed', { logger, env: {}, kmsAuth });
    expect(ed.algorithm).toBe('ed25519');
    const { createPublicKey, verify } = await import('node:crypto');
    const sig = await ed.sign(Buffer.from('hello'));
    expect(verify(null, Buffer.from('hello'), createPublicKey(ed.publicKeyPem), sig.signature)).toBe(true);
    expect(vault.calls.findLast((c) => c.path === '/v1/transit/sign/chains-ed')?.body).toMatchObject({ prehashed: false });
  });

  it('token-path wins over token and is re-read after a 403 (rotated Secret)', async () => {
    const { logger, lines } = createCapturingLogger();
    const file = join(dir, 'vault-token');
    const first = vault.issueToken();
    await writeFile(file, `${first}\n`);
    const signer = await createHashivaultSigner('hashivault://chains-p256', { logger, env: {}, kmsAuth: auth({ token: 'ignored', tokenPath: file }) });
    vault.revokeToken(first);
    const second = vault.issueToken();
    await writeFile(file, second);
    await signer.sign(Buffer.from('after rotation'));
    expect(vault.calls.findLast((c) => c.path === '/v1/transit/sign/chains-p256')?.token).toBe(second);
    noSecrets(lines);
  });

  it('Kubernetes/JWT login (oidc.path, oidc.role, oidc.token-path) when no static token is set', async () => {
    const { logger, lines } = createCapturingLogger();
    const jwtFile = join(dir, 'sa-token');
    await writeFile(jwtFile, `${SA_JWT}\n`);
    const signer = await createHashivaultSigner('hashivault://chains-p256', {
      logger,
      env: {},
      kmsAuth: auth({ oidc: { path: 'kubernetes', role: 'tekton-chains', tokenPath: jwtFile } }),
    });
    await signAndVerifyDsse(signer, signer.publicKeyPem, payload);
    const loginCall = vault.calls.findLast((c) => c.path === '/v1/auth/kubernetes/login');
    expect(loginCall?.body).toEqual({ role: 'tekton-chains', jwt: SA_JWT });
    noSecrets(lines);
  });

  it('SPIRE: a JWT-SVID for spire.audience from the Workload API logs in at auth/jwt/login', async () => {
    const { logger, lines } = createCapturingLogger();
    const before = spiffe.requests.length;
    const signer = await createHashivaultSigner('hashivault://chains-p256', {
      logger,
      env: {},
      kmsAuth: auth({ token: 'ignored-static', oidc: { role: 'spire-chains' }, spire: { sock: spiffe.socket, audience: 'vault' } }),
    });
    await signer.sign(Buffer.from('x'));
    expect(spiffe.requests.slice(before)).toEqual([{ audience: ['vault'], hadHeader: true }]);
    expect(vault.calls.findLast((c) => c.path === '/v1/auth/jwt/login')?.body).toEqual({ role: 'spire-chains', jwt: SVID });
    noSecrets(lines);
  });

  it('from chains-config through the registry, with VAULT_ADDR-free config and TRANSIT_SECRET_ENGINE_PATH default', async () => {
    const { logger } = createCapturingLogger();
    const { config } = parseConfig({
      'artifacts.taskrun.signer': 'kms',
      'signers.kms.kmsref': 'hashivault://chains-p256',
      'signers.kms.auth.address': vault.url,
      'signers.kms.auth.token': vault.issueToken(),
    });
    const signer = await createSignerFromConfig(config, { logger, env: {} }, 'kms');
    await signAndVerifyDsse(signer as Parameters<typeof signAndVerifyDsse>[0], (signer as { publicKeyPem: string }).publicKeyPem, payload);
  });

  it('typed errors: unknown key, non-signing key, bad token, no token, no address, bad reference', async () => {
    const { logger, lines } = createCapturingLogger();
    const token = vault.issueToken();
    const errs = [
      await rejection(createHashivaultSigner('hashivault://missing', { logger, env: {}, kmsAuth: auth({ token }) })),
      await rejection(createHashivaultSigner('hashivault://chains-aes', { logger, env: {}, kmsAuth: auth({ token }) })),
      await rejection(createHashivaultSigner('hashivault://chains-p256', { logger, env: {}, kmsAuth: auth({ token: 'hvs.provenantFakeBadToken' }) })),
      await rejection(createHashivaultSigner('hashivault://chains-p256', { logger, env: {}, kmsAuth: auth({}) })),
      await rejection(createHashivaultSigner('hashivault://chains-p256', { logger, env: {}, kmsAuth: auth({ address: undefined, token }) })),
      await rejection(createHashivaultSigner('hashivault://transit/keys/x', { logger, env: {}, kmsAuth: auth({ token }) })),
    ];
    expect(errs.map((e) => [e.kind, e.code])).toEqual([
      ['config', 'KMS_KEY_NOT_FOUND'],
      ['config', 'KMS_KEY_UNSUITABLE'],
      ['config', 'KMS_ACCESS_DENIED'],
      ['config', 'VAULT_TOKEN_MISSING'],
      ['config', 'VAULT_ADDRESS_MISSING'],
      ['config', 'KMS_REF_INVALID'],
    ]);
    noSecrets([...lines, ...errs.flatMap((e) => [String(e), JSON.stringify(e), e.stack ?? ''])]);
  });

  it('Vault unreachable → transient KMS_UNREACHABLE', async () => {
    const { logger } = createCapturingLogger();
    const err = await rejection(createHashivaultSigner('hashivault://k', { logger, env: {}, kmsAuth: auth({ address: 'http://127.0.0.1:9', token: 't' }) }));
    expect([err.kind, err.code]).toEqual(['transient', 'KMS_UNREACHABLE']);
  });
});
