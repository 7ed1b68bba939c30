/**
 * Sign latency per signer: one DSSE bundle (a ~4 KiB SLSA statement) signed N times with each
 * signer, against the same local stand-ins the tests use (real SDKs and protocols over loopback:
 * the AWS KMS JSON 1.1 server, the Cloud KMS gRPC server, the Vault transit (HTTP) and Azure Key Vault
 * (HTTPS, test CA) servers, a SoftHSM2 token, @sigstore/mock Fulcio).
 * Loopback hides network latency: these figures are provenant's own cost per signature plus the
 * stand-in's, not what a real cloud KMS round trip costs (add ~10-60 ms for that).
 *
 *   npx tsx bench/sign-latency.ts            (BENCH_SIGNS=200 by default)
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { generateKeyPairSync } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { grpc } from 'google-gax';
import type { Signer } from '@sigstore/sign';
import { createSilentLogger } from '../src/observability/index.js';
import { createAwsKmsSigner } from '../src/signing/aws-kms-signer.js';
import { createGcpKmsSigner } from '../src/signing/gcp-kms-signer.js';
import { createAzureKmsSigner } from '../src/signing/azure-kms-signer.js';
import { createHashivaultSigner } from '../src/signing/hashivault-signer.js';
import { createPkcs11Signer } from '../src/signing/pkcs11-signer.js';
import { createEphemeralSigner, createFulcioSigner, createSecretKeySigner, signStatement } from '../src/signing/index.js';
import { startAwsKmsServer } from '../test/support/aws-kms-server.js';
import { startGcpKmsServer } from '../test/support/gcp-kms-server.js';
import { startSoftHsm } from '../test/support/softhsm.js';
import { startSigstoreMock } from '../test/support/sigstore-mock.js';
import { createTestTls } from '../test/support/test-ca.js';
import { startAzureKeyVaultServer } from '../test/support/azure-keyvault-server.js';
import { startVaultServer } from '../test/support/vault-server.js';

const n = Number(process.env['BENCH_SIGNS'] ?? '200');
const logger = createSilentLogger();
const statement = Buffer.from(
  JSON.stringify({
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: 'registry.example.com/app', digest: { sha256: 'a'.repeat(64) } }],
    predicateType: 'https://slsa.dev/provenance/v1',
    predicate: { buildDefinition: { buildType: 'https://tekton.dev/chains/v2/slsa', externalParameters: { pad: 'x'.repeat(3800) } } },
  }),
);

async function measure(name: string, signer: Signer): Promise<Record<string, number | string>> {
  for (let i = 0; i < 5; i++) await signStatement(signer, statement); // warm-up
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await signStatement(signer, statement);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const pct = (p: number) => Number((times[Math.min(times.length - 1, Math.floor(p * times.length))] ?? 0).toFixed(2));
  return { signer: name, signs: n, p50Ms: pct(0.5), p95Ms: pct(0.95), meanMs: Number((times.reduce((a, b) => a + b, 0) / n).toFixed(2)) };
}

const rows: Record<string, number | string>[] = [];
const dir = await mkdtemp(path.join(os.tmpdir(), 'provenant-bench-sign-'));
const aws = await startAwsKmsServer();
const gcp = await startGcpKmsServer();
const hsm = await startSoftHsm({ tokenLabel: 'bench' });
const mock = await startSigstoreMock();
const vault = await startVaultServer();
const tls = createTestTls();
const azure = await startAzureKeyVaultServer(tls);
try {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  await writeFile(path.join(dir, 'x509.pem'), privateKey.export({ format: 'pem', type: 'pkcs8' }));
  rows.push(await measure('secret key (x509.pem, P-256)', await createSecretKeySigner(dir, { logger })));
  rows.push(await measure('ephemeral P-256', createEphemeralSigner()));
  rows.push(
    await measure(
      'AWS KMS (local JSON 1.1 server)',
      await createAwsKmsSigner(`awskms:///${aws.keys.p256.alias}`, {
        logger,
        awsClientConfig: { endpoint: aws.url, region: 'us-east-1', maxAttempts: 1, credentials: { accessKeyId: 'AKIDBENCH', secretAccessKey: 'bench' } },
      }),
    ),
  );
  rows.push(
    await measure(
      'GCP KMS (local gRPC server)',
      await createGcpKmsSigner(`gcpkms://${gcp.versions.p256.name}`, {
        logger,
        gcpClientOptions: {
          apiEndpoint: '127.0.0.1',
          port: gcp.port,
          sslCreds: grpc.credentials.createInsecure(),
          universeDomain: 'googleapis.com',
          credentials: { client_email: 'bench@example.iam.gserviceaccount.com', private_key: 'unused' },
        },
      }),
    ),
  );
  vault.addKey('bench-p256', 'ecdsa-p256');
  rows.push(
    await measure(
      'Vault transit (local HTTP server, token)',
      await createHashivaultSigner('hashivault://bench-p256', {
        logger,
        env: {},
        kmsAuth: { address: vault.url, token: vault.issueToken(), tokenPath: undefined, oidc: { path: undefined, role: undefined, tokenPath: path.join(dir, 'none') }, spire: { sock: undefined, audience: undefined } },
      }),
    ),
  );
  azure.addKey('bench', 'P-256');
  azure.allowClientSecret('00000000-0000-4000-8000-0000000be0c1', 'bench-secret');
  rows.push(
    await measure(
      'Azure Key Vault (local HTTPS server, client secret)',
      await createAzureKmsSigner(`azurekms://${azure.host}/bench`, {
        logger,
        env: { AZURE_AUTHORITY_HOST: azure.url, AZURE_TENANT_ID: azure.tenantId, AZURE_CLIENT_ID: '00000000-0000-4000-8000-0000000be0c1', AZURE_CLIENT_SECRET: 'bench-secret' },
        azureClientOptions: { tlsOptions: { ca: tls.caPem }, disableChallengeResourceVerification: true, disableInstanceDiscovery: true, retryOptions: { maxRetries: 0 } },
      }),
    ),
  );
  hsm.generateEcKey({ label: 'signer', id: Buffer.from([1]) });
  const pinFile = await hsm.writePinFile();
  const pkcs11 = await createPkcs11Signer(`pkcs11:token=bench;object=signer?module-path=${hsm.modulePath}&pin-source=file:${pinFile}`, { logger });
  rows.push(await measure('PKCS#11 (SoftHSM2)', pkcs11));
  await pkcs11.close?.();
  const header = Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url');
  const claims = Buffer.from(
    JSON.stringify({ iss: 'https://kubernetes.default.svc', sub: 'system:serviceaccount:tekton-chains:provenant-controller', aud: 'sigstore', exp: Math.floor(Date.now() / 1000) + 3600, 'kubernetes.io': { namespace: 'tekton-chains', serviceaccount: { name: 'provenant-controller' } } }),
  ).toString('base64url');
  await writeFile(path.join(dir, 'token'), `${header}.${claims}.sig`);
  const fulcio = createFulcioSigner({ keyHolder: createEphemeralSigner(), fulcioUrl: mock.fulcioUrl, tokenFile: path.join(dir, 'token'), logger });
  rows.push({ ...(await measure('Fulcio keyless (mock Fulcio, certificate reused)', fulcio)), fulcioCertificates: mock.fulcioCertificateCount() });
} finally {
  await Promise.allSettled([aws.stop(), gcp.stop(), hsm.stop(), mock.stop(), vault.stop(), azure.stop()]);
  await rm(dir, { recursive: true, force: true });
}
const result = { bench: 'sign-latency', node: process.version, cpus: os.cpus().length, date: new Date().toISOString(), rows };
console.log(JSON.stringify(result));
const { mkdir } = await import('node:fs/promises');
await mkdir(path.join(import.meta.dirname, 'results'), { recursive: true });
await writeFile(path.join(import.meta.dirname, 'results', 'sign-latency.json'), JSON.stringify(result, null, 2) + '\n');
