import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHash, verify as cryptoVerify } from 'node:crypto';
import { grpc, type ClientOptions } from 'google-gax';
import type { ProvenantError } from '../../src/errors.js';
import { createCapturingLogger } from '../../src/observability/index.js';
import { crc32c, createGcpKmsSigner, parseGcpKmsRef } from '../../src/signing/gcp-kms-signer.js';
import { GCP_TEST_KEY_RING, startGcpKmsServer, type GcpKmsTestServer } from '../support/gcp-kms-server.js';
import { freePort } from '../support/services.js';
import { signAndVerifyDsse } from '../support/kms-test-keys.js';
import { DSSEBundleBuilder } from '@sigstore/sign';
import { bundleToJSON } from '@sigstore/bundle';
import { verifyBundle } from '../../src/verify/index.js';
import { rejection } from '../support/rejection.js';

const payload = Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v0.1', subject: [], predicate: { y: 2 } }));
const pae = (type: string, body: Buffer): Buffer =>
  Buffer.concat([Buffer.from(`DSSEv1 ${Buffer.byteLength(type)} ${type} ${body.length} `), body]);

// A fake service-account key (not a real key): the tests check it never reaches an error or a log line.
const FAKE_PRIVATE_KEY = '-----BEGIN PRIVATE KEY-----\nprovenantFakeServiceAccountKeyDoNotLeak\n-----END PRIVATE KEY-----\n';

let server: GcpKmsTestServer;
const savedMetadataDetection = process.env['METADATA_SERVER_DETECTION'];

beforeAll(async () => {
  // Never probe the GCE metadata server: these tests run offline.
  process.env['METADATA_SERVER_DETECTION'] = 'none';
  server = await startGcpKmsServer();
});
afterAll(async () => {
  await server.stop();
  if (savedMetadataDetection === undefined) delete process.env['METADATA_SERVER_DETECTION'];
  else process.env['METADATA_SERVER_DETECTION'] = savedMetadataDetection;
});
afterEach(() => {
  server.reset();
});

function clientOptions(port = server.port): ClientOptions {
  return {
    apiEndpoint: '127.0.0.1',
    port,
    // Insecure channel credentials bypass Google auth entirely; a fixed universe skips ADC lookup.
    sslCreds: grpc.credentials.createInsecure(),
    universeDomain: 'googleapis.com',
    credentials: { client_email: 'provenant-test@provenant-test.iam.gserviceaccount.com', private_key: FAKE_PRIVATE_KEY },
  };
}

function assertNoSecrets(err: ProvenantError, lines: string[]): void {
  const texts = [...lines, String(err), err.message, JSON.stringify(err), JSON.stringify(err.context)];
  if (err.cause instanceof Error) texts.push(err.cause.message, String(err.cause.stack));
  for (const t of texts) expect(t).not.toContain('provenantFakeServiceAccountKeyDoNotLeak');
}

const ref = (name: string): string => `gcpkms://${name}`;

describe('crc32c', () => {
  it('matches the CRC-32C (Castagnoli) check value', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(0))).toBe(0);
    expect(crc32c(Buffer.alloc(32, 0))).toBe(0x8a9136aa);
  });
});

describe('parseGcpKmsRef', () => {
  const key = 'projects/p/locations/global/keyRings/r/cryptoKeys/k';
  it('accepts cryptoKeyVersions, cosign-style versions, and no version', () => {
    expect(parseGcpKmsRef(`gcpkms://${key}/cryptoKeyVersions/3`)).toEqual({ cryptoKey: key, version: '3' });
    expect(parseGcpKmsRef(`gcpkms://${key}/versions/3`)).toEqual({ cryptoKey: key, version: '3' });
    expect(parseGcpKmsRef(`gcpkms://${key}`)).toEqual({ cryptoKey: key });
  });
  it.each(['gcpkms://projects/p/locations/l', `gcpkms:///${key}`, `awskms:///${key}`, `gcpkms://${key}/cryptoKeyVersions/`, `gcpkms://${key}/x/1`])(
    'rejects %s as a config error',
    async (bad) => {
      const err = await rejection(createGcpKmsSigner(bad, { logger: createCapturingLogger().logger, gcpClientOptions: clientOptions() }));
      expect(err.kind).toBe('config');
      expect(err.code).toBe('KMS_REF_INVALID');
      expect(err.context['setting']).toBe('signers.kms.kmsref');
    },
  );
});

describe('GCP KMS signer against a local Cloud KMS gRPC server', () => {
  it('signs a DSSE bundle with a P-256 key version that @sigstore/verify accepts, with CRC-32C both ways', async () => {
    const { logger } = createCapturingLogger();
    const signer = await createGcpKmsSigner(ref(server.versions.p256.name), { logger, gcpClientOptions: clientOptions() });
    expect(signer.algorithm).toBe('ecdsa-p256-sha256');
    expect(signer.publicKeyPem).toBe(server.versions.p256.pem);

    const { bundleJson, verify } = await signAndVerifyDsse(signer, signer.publicKeyPem, payload);
    const tampered = structuredClone(bundleJson) as { dsseEnvelope: { payload: string } };
    const bytes = Buffer.from(tampered.dsseEnvelope.payload, 'base64');
    bytes[3] = (bytes[3] ?? 0) ^ 0x01;
    tampered.dsseEnvelope.payload = bytes.toString('base64');
    expect(() => verify(tampered)).toThrow();

    const signs = server.calls.filter((c) => c.method === 'AsymmetricSign');
    expect(signs).toHaveLength(1);
    const req = signs[0]!.request as { name: string; digest: { sha256: Buffer }; digestCrc32c: { value: string } };
    const digest = createHash('sha256').update(pae('application/vnd.in-toto+json', payload)).digest();
    expect(req.name).toBe(server.versions.p256.name);
    expect(Buffer.from(req.digest.sha256).equals(digest)).toBe(true);
    expect(Number(req.digestCrc32c.value)).toBe(crc32c(digest));

    await signer.sign(Buffer.from('again'));
    expect(server.calls.filter((c) => c.method === 'GetPublicKey')).toHaveLength(1);
    await signer.close?.();
  });

  it('signs with a P-384 key version over a SHA-384 digest', async () => {
    const signer = await createGcpKmsSigner(ref(server.versions.p384.name), {
      logger: createCapturingLogger().logger,
      gcpClientOptions: clientOptions(),
    });
    expect(signer.algorithm).toBe('ecdsa-p384-sha384');
    const data = pae('application/vnd.in-toto+json', payload);
    const sig = await signer.sign(data);
    expect(cryptoVerify('sha384', data, signer.publicKeyPem, sig.signature)).toBe(true);
    // A KMS P-384 key signs SHA-384 only; provenant verify accepts SHA-384 as well as SHA-256 for P-384 keys.
    const bundle = bundleToJSON(await new DSSEBundleBuilder({ signer, witnesses: [] }).create({ data: payload, type: 'application/vnd.in-toto+json' }));
    expect(verifyBundle(bundle, { key: signer.publicKeyPem }).payload.equals(payload)).toBe(true);
    await signer.close?.();
  });

  it('uses the newest enabled version when the reference has none (and accepts /versions/N)', async () => {
    const { logger } = createCapturingLogger();
    const latest = await createGcpKmsSigner(`gcpkms://${GCP_TEST_KEY_RING}/cryptoKeys/p256`, { logger, gcpClientOptions: clientOptions() });
    expect(latest.publicKeyPem).toBe(server.versions.p256v2.pem);
    const data = Buffer.from('x');
    expect(cryptoVerify('sha256', data, latest.publicKeyPem, (await latest.sign(data)).signature)).toBe(true);
    const cosignStyle = await createGcpKmsSigner(`gcpkms://${GCP_TEST_KEY_RING}/cryptoKeys/p256/versions/1`, {
      logger,
      gcpClientOptions: clientOptions(),
    });
    expect(cosignStyle.publicKeyPem).toBe(server.versions.p256.pem);
    await latest.close?.();
    await cosignStyle.close?.();
  });

  it('refuses a key version with an unsupported algorithm at start with KMS_KEY_UNSUITABLE', async () => {
    const err = await rejection(
      createGcpKmsSigner(ref(server.versions.rsa.name), { logger: createCapturingLogger().logger, gcpClientOptions: clientOptions() }),
    );
    expect(err.kind).toBe('config');
    expect(err.code).toBe('KMS_KEY_UNSUITABLE');
    expect(err.context['setting']).toBe('signers.kms.kmsref');
  });

  it('reports a key with no enabled versions as KMS_KEY_NOT_FOUND', async () => {
    const err = await rejection(
      createGcpKmsSigner(`gcpkms://${GCP_TEST_KEY_RING}/cryptoKeys/missing`, {
        logger: createCapturingLogger().logger,
        gcpClientOptions: clientOptions(),
      }),
    );
    expect(err.kind).toBe('config');
    expect(err.code).toBe('KMS_KEY_NOT_FOUND');
  });

  it.each([
    ['permission-denied', 'KMS_ACCESS_DENIED'],
    ['unauthenticated', 'KMS_ACCESS_DENIED'],
    ['not-found', 'KMS_KEY_NOT_FOUND'],
    ['failed-precondition', 'KMS_KEY_DISABLED'],
    ['resource-exhausted', 'KMS_THROTTLED'],
    ['bad-pem-crc', 'KMS_INTEGRITY'],
  ] as const)('reports %s at start as a config error %s', async (failure, code) => {
    server.failNext('GetPublicKey', failure);
    const { logger, lines } = createCapturingLogger();
    const err = await rejection(createGcpKmsSigner(ref(server.versions.p256.name), { logger, gcpClientOptions: clientOptions() }));
    assertNoSecrets(err, lines);
    expect(err.kind).toBe('config');
    expect(err.code).toBe(code);
    expect(err.context['setting']).toBe('signers.kms.kmsref');
    expect(typeof err.context.hint).toBe('string');
  });

  it('reports an unreachable endpoint at start as a config error KMS_UNREACHABLE', async () => {
    const closedPort = await freePort();
    const started = Date.now();
    const err = await rejection(
      createGcpKmsSigner(ref(server.versions.p256.name), {
        logger: createCapturingLogger().logger,
        gcpClientOptions: clientOptions(closedPort),
        callTimeoutMs: 1000,
      }),
    );
    expect(err.kind).toBe('config');
    expect(err.code).toBe('KMS_UNREACHABLE');
    expect(err.context['retryable']).toBe(true);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it.each([
    ['resource-exhausted', 'transient', 'KMS_THROTTLED'],
    ['internal', 'transient', 'KMS_UNAVAILABLE'],
    ['bad-signature-crc', 'transient', 'KMS_INTEGRITY'],
    ['unverified-digest-crc', 'transient', 'KMS_INTEGRITY'],
    ['wrong-name', 'transient', 'KMS_INTEGRITY'],
    ['permission-denied', 'permanent', 'KMS_ACCESS_DENIED'],
    ['failed-precondition', 'permanent', 'KMS_KEY_DISABLED'],
  ] as const)('classifies %s at sign time as %s %s', async (failure, kind, code) => {
    const { logger, lines } = createCapturingLogger();
    const signer = await createGcpKmsSigner(ref(server.versions.p256.name), { logger, gcpClientOptions: clientOptions() });
    server.failNext('AsymmetricSign', failure);
    const err = await rejection(signer.sign(Buffer.from('data')));
    expect(err.kind).toBe(kind);
    expect(err.code).toBe(code);
    // Logs carry the code, never key material.
    expect(lines.some((l) => l.includes(code))).toBe(true);
    expect(lines.join('\n')).not.toContain('PRIVATE KEY');
    assertNoSecrets(err, lines);
    await expect(signer.sign(Buffer.from('data'))).resolves.toMatchObject({ key: { $case: 'publicKey' } });
    await signer.close?.();
  });

  it('reports a KMS that went away after start as transient KMS_UNREACHABLE', async () => {
    const other = await startGcpKmsServer();
    const name = other.versions.p256.name;
    const signer = await createGcpKmsSigner(ref(name), {
      logger: createCapturingLogger().logger,
      gcpClientOptions: clientOptions(other.port),
      callTimeoutMs: 1000,
    });
    await other.stop();
    const err = await rejection(signer.sign(Buffer.from('data')));
    expect(err.kind).toBe('transient');
    expect(err.code).toBe('KMS_UNREACHABLE');
    await signer.close?.();
  });
});
