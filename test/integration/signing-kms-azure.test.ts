import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCapturingLogger } from '../../src/observability/index.js';
import { createAzureKmsSigner, parseAzureKmsRef, type AzureKmsSignerDeps } from '../../src/signing/azure-kms-signer.js';
import { signAndVerifyDsse } from '../support/kms-test-keys.js';
import { startAzureKeyVaultServer, type AzureKeyVaultTestServer } from '../support/azure-keyvault-server.js';
import { createTestTls, type TestTls } from '../support/test-ca.js';
import { rejection } from '../support/rejection.js';

const payload = Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: [], predicate: { a: 1 } }));
const CLIENT_ID = '00000000-0000-4000-8000-00000000c1d0';
const SECRET = 'provenantFakeClientSecretDoNotLeak';
const FEDERATED = 'eyJhbGciOiJSUzI1NiJ9.provenantFakeFederatedTokenDoNotLeak.sig';

let tls: TestTls;
let az: AzureKeyVaultTestServer;
let p256: { version: string; publicKeyPem: string };
let tokenFile: string;

beforeAll(async () => {
  tls = createTestTls();
  az = await startAzureKeyVaultServer(tls);
  p256 = az.addKey('chains', 'P-256');
  az.addKey('chains384', 'P-384');
  az.allowClientSecret(CLIENT_ID, SECRET);
  az.allowFederatedToken(CLIENT_ID, FEDERATED);
  tokenFile = join(await mkdtemp(join(tmpdir(), 'azure-wi-')), 'azure-identity-token');
  await writeFile(tokenFile, FEDERATED);
});
afterAll(async () => {
  await az.stop();
});

function deps(env: NodeJS.ProcessEnv, logger = createCapturingLogger().logger): AzureKmsSignerDeps {
  return {
    logger,
    env: { AZURE_AUTHORITY_HOST: az.url, AZURE_TENANT_ID: az.tenantId, AZURE_CLIENT_ID: CLIENT_ID, ...env },
    // The SDK's own TLS settings carry the test CA; the vault is 127.0.0.1, not *.vault.azure.net.
    azureClientOptions: { tlsOptions: { ca: tls.caPem }, disableChallengeResourceVerification: true, disableInstanceDiscovery: true, retryOptions: { maxRetries: 0 } },
  };
}

describe('azurekms:// with @azure/keyvault-keys and @azure/identity against an HTTPS stand-in', () => {
  it('parses sigstore/sigstore references', () => {
    expect(parseAzureKmsRef('azurekms://v.vault.azure.net/k')).toEqual({ vaultUrl: 'https://v.vault.azure.net/', keyName: 'k' });
    expect(parseAzureKmsRef('azurekms://v.vault.azure.net/k/0123abcd')).toEqual({ vaultUrl: 'https://v.vault.azure.net/', keyName: 'k', version: '0123abcd' });
    expect(() => parseAzureKmsRef('azurekms://v.vault.azure.net')).toThrow(expect.objectContaining({ code: 'KMS_REF_INVALID' }));
  });

  it('client secret: signs a DSSE bundle @sigstore/verify accepts, pinned to the key version', async () => {
    const { logger, lines } = createCapturingLogger();
    const signer = await createAzureKmsSigner(`azurekms://${az.host}/chains`, deps({ AZURE_CLIENT_SECRET: SECRET }, logger));
    expect(signer.algorithm).toBe('ecdsa-p256-sha256');
    expect(signer.publicKeyPem).toBe(p256.publicKeyPem);
    await signAndVerifyDsse(signer, signer.publicKeyPem, payload);
    const sign = az.calls.findLast((c) => c.path.endsWith('/sign'));
    expect(sign?.path).toBe(`/keys/chains/${p256.version}/sign`);
    expect(sign?.body?.['alg']).toBe('ES256');
    const token = az.calls.findLast((c) => c.path.endsWith('/oauth2/v2.0/token'));
    expect(token?.form?.['client_secret']).toBe(SECRET);
    for (const l of lines) expect(l).not.toContain('provenantFake');
  });

  it('workload identity: the federated token file is the client assertion', async () => {
    const { logger, lines } = createCapturingLogger();
    const signer = await createAzureKmsSigner(`azurekms://${az.host}/chains384`, deps({ AZURE_FEDERATED_TOKEN_FILE: tokenFile }, logger));
    expect(signer.algorithm).toBe('ecdsa-p384-sha384');
    const { createPublicKey, verify } = await import('node:crypto');
    const sig = await signer.sign(Buffer.from('hello'));
    expect(verify('sha384', Buffer.from('hello'), createPublicKey(signer.publicKeyPem), sig.signature)).toBe(true);
    const token = az.calls.findLast((c) => c.path.endsWith('/oauth2/v2.0/token'));
    expect(token?.form?.['client_assertion']).toBe(FEDERATED);
    expect(token?.form?.['client_assertion_type']).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    for (const l of lines) expect(l).not.toContain('provenantFake');
  });

  it('typed errors: wrong secret, unknown key; no secret in them', async () => {
    const { logger, lines } = createCapturingLogger();
    const denied = await rejection(createAzureKmsSigner(`azurekms://${az.host}/chains`, deps({ AZURE_CLIENT_SECRET: 'provenantFakeWrongSecret' }, logger)));
    const missing = await rejection(createAzureKmsSigner(`azurekms://${az.host}/nope`, deps({ AZURE_CLIENT_SECRET: SECRET }, logger)));
    expect([denied.kind, denied.code]).toEqual(['config', 'KMS_ACCESS_DENIED']);
    expect([missing.kind, missing.code]).toEqual(['config', 'KMS_KEY_NOT_FOUND']);
    for (const t of [...lines, JSON.stringify(denied), String(denied), JSON.stringify(missing)]) expect(t).not.toContain('provenantFake');
  });
});
