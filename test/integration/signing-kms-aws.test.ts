import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHash, verify as cryptoVerify } from 'node:crypto';
import type { KMSClientConfig } from '@aws-sdk/client-kms';
import type { ProvenantError } from '../../src/errors.js';
import { createCapturingLogger } from '../../src/observability/index.js';
import { createAwsKmsSigner, parseAwsKmsRef } from '../../src/signing/aws-kms-signer.js';
import { AWS_TEST_REGION, startAwsKmsServer, type AwsKmsTestServer } from '../support/aws-kms-server.js';
import { freePort } from '../support/services.js';
import { signAndVerifyDsse } from '../support/kms-test-keys.js';
import { DSSEBundleBuilder } from '@sigstore/sign';
import { bundleToJSON } from '@sigstore/bundle';
import { verifyBundle } from '../../src/verify/index.js';
import { rejection } from '../support/rejection.js';

// Throwaway, obviously fake credentials: the tests check they never reach an error or a log line.
const ACCESS_KEY = 'AKIAPROVENANTTEST000';
const SECRET_KEY = 'provenantFakeSecretKey/DoNotLeak+0123456789';
const SESSION_TOKEN = 'provenantFakeSessionTokenDoNotLeak';

const payload = Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v0.1', subject: [], predicate: { x: 1 } }));
const pae = (type: string, body: Buffer): Buffer =>
  Buffer.concat([Buffer.from(`DSSEv1 ${Buffer.byteLength(type)} ${type} ${body.length} `), body]);

let server: AwsKmsTestServer;

beforeAll(async () => {
  server = await startAwsKmsServer();
});
afterAll(async () => {
  await server.stop();
});
afterEach(() => {
  server.reset();
});

function clientConfig(endpoint = server.url): KMSClientConfig {
  return {
    endpoint,
    region: AWS_TEST_REGION,
    maxAttempts: 1,
    credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY, sessionToken: SESSION_TOKEN },
  };
}

function assertNoSecrets(err: ProvenantError | undefined, lines: string[]): void {
  const texts = [...lines];
  if (err) {
    texts.push(String(err), err.message, JSON.stringify(err), JSON.stringify(err.context));
    if (err.cause instanceof Error) texts.push(err.cause.message, String(err.cause.stack));
  }
  for (const t of texts) {
    expect(t).not.toContain(SECRET_KEY);
    expect(t).not.toContain(SESSION_TOKEN);
  }
}

describe('parseAwsKmsRef', () => {
  it('accepts the reference forms cosign accepts', () => {
    const id = '1234abcd-12ab-34cd-56ef-1234567890ab';
    expect(parseAwsKmsRef(`awskms:///${id}`)).toEqual({ endpoint: '', keyId: id });
    expect(parseAwsKmsRef(`awskms://localhost:4566/${id}`)).toEqual({ endpoint: 'localhost:4566', keyId: id });
    expect(parseAwsKmsRef('awskms:///alias/foo')).toEqual({ endpoint: '', keyId: 'alias/foo' });
    expect(parseAwsKmsRef('awskms://kms.example:443/alias/foo')).toEqual({ endpoint: 'kms.example:443', keyId: 'alias/foo' });
    expect(parseAwsKmsRef(`awskms:///arn:aws:kms:us-east-2:111122223333:key/${id}`)).toEqual({
      endpoint: '',
      keyId: `arn:aws:kms:us-east-2:111122223333:key/${id}`,
      arnRegion: 'us-east-2',
    });
    expect(parseAwsKmsRef('awskms:///arn:aws-us-gov:kms:us-gov-west-1:111122223333:alias/foo').arnRegion).toBe('us-gov-west-1');
  });

  it.each(['awskms://alias/foo', 'awskms:///', 'awskms:///not-a-key', 'gcpkms://projects/p', 'awskms:///arn:aws:kms:us-east-1:12:key/x'])(
    'rejects %s as a config error',
    async (ref) => {
      expect(() => parseAwsKmsRef(ref)).toThrow();
      const err = await rejection(createAwsKmsSigner(ref, { logger: createCapturingLogger().logger }));
      expect(err.kind).toBe('config');
      expect(err.code).toBe('KMS_REF_INVALID');
      expect(err.context['setting']).toBe('signers.kms.kmsref');
    },
  );
});

describe('AWS KMS signer against a local KMS (JSON 1.1 wire protocol)', () => {
  it('signs a DSSE bundle with a P-256 key by alias that @sigstore/verify accepts', async () => {
    const { logger, lines } = createCapturingLogger();
    const signer = await createAwsKmsSigner('awskms:///alias/provenant-p256', { logger, awsClientConfig: clientConfig() });
    expect(signer.algorithm).toBe('ecdsa-p256-sha256');
    expect(signer.publicKeyPem).toBe(server.keys.p256.ec?.publicKeyPem);

    const { bundleJson, verify } = await signAndVerifyDsse(signer, signer.publicKeyPem, payload);

    // A flipped payload byte must not verify.
    const tampered = structuredClone(bundleJson) as { dsseEnvelope: { payload: string } };
    const bytes = Buffer.from(tampered.dsseEnvelope.payload, 'base64');
    bytes[5] = (bytes[5] ?? 0) ^ 0x01;
    tampered.dsseEnvelope.payload = bytes.toString('base64');
    expect(() => verify(tampered)).toThrow();

    // The wire: one GetPublicKey at build, then Sign with a 32-byte SHA-256 digest of the PAE.
    const signs = server.requests.filter((r) => r.target === 'TrentService.Sign');
    expect(server.requests.filter((r) => r.target === 'TrentService.GetPublicKey')).toHaveLength(1);
    expect(signs).toHaveLength(1);
    const sign = signs[0]!;
    expect(sign.contentType).toBe('application/x-amz-json-1.1');
    expect(sign.signed).toBe(true);
    expect(sign.body['MessageType']).toBe('DIGEST');
    expect(sign.body['SigningAlgorithm']).toBe('ECDSA_SHA_256');
    expect(sign.body['KeyId']).toBe('alias/provenant-p256');
    const message = Buffer.from(String(sign.body['Message']), 'base64');
    expect(message).toHaveLength(32);
    expect(message.equals(createHash('sha256').update(pae('application/vnd.in-toto+json', payload)).digest())).toBe(true);

    // Signing again reuses the cached public key.
    await signer.sign(Buffer.from('again'));
    expect(server.requests.filter((r) => r.target === 'TrentService.GetPublicKey')).toHaveLength(1);
    await signer.close?.();
    assertNoSecrets(undefined, lines);
  });

  it('signs with a P-384 key by ARN using ECDSA_SHA_384 over a 48-byte digest', async () => {
    const { logger } = createCapturingLogger();
    const signer = await createAwsKmsSigner(`awskms:///${server.keys.p384.arn}`, { logger, awsClientConfig: clientConfig() });
    expect(signer.algorithm).toBe('ecdsa-p384-sha384');
    const data = pae('application/vnd.in-toto+json', payload);
    const sig = await signer.sign(data);
    expect(sig.key).toMatchObject({ $case: 'publicKey', publicKey: signer.publicKeyPem });
    expect(cryptoVerify('sha384', data, signer.publicKeyPem, sig.signature)).toBe(true);
    // A KMS P-384 key signs SHA-384 only; provenant verify accepts SHA-384 as well as SHA-256 for P-384 keys.
    const bundle = bundleToJSON(await new DSSEBundleBuilder({ signer, witnesses: [] }).create({ data: payload, type: 'application/vnd.in-toto+json' }));
    expect(verifyBundle(bundle, { key: signer.publicKeyPem }).payload.equals(payload)).toBe(true);
    const sign = server.requests.find((r) => r.target === 'TrentService.Sign')!;
    expect(sign.body['SigningAlgorithm']).toBe('ECDSA_SHA_384');
    expect(Buffer.from(String(sign.body['Message']), 'base64')).toHaveLength(48);
    await signer.close?.();
  });

  it('accepts a bare key id and an alias ARN', async () => {
    const { logger } = createCapturingLogger();
    const byId = await createAwsKmsSigner(`awskms:///${server.keys.p256.keyId}`, { logger, awsClientConfig: clientConfig() });
    const byAliasArn = await createAwsKmsSigner(`awskms:///arn:aws:kms:${AWS_TEST_REGION}:111122223333:alias/provenant-p256`, {
      logger,
      awsClientConfig: clientConfig(),
    });
    expect(byId.publicKeyPem).toBe(byAliasArn.publicKeyPem);
    await byId.close?.();
    await byAliasArn.close?.();
  });

  it.each([
    ['rsa', 'an RSA signing key'],
    ['encrypt', 'an ENCRYPT_DECRYPT key'],
  ] as const)('refuses %s (%s) at start with KMS_KEY_UNSUITABLE', async (which, _what) => {
    const err = await rejection(
      createAwsKmsSigner(`awskms:///${server.keys[which].alias}`, { logger: createCapturingLogger().logger, awsClientConfig: clientConfig() }),
    );
    expect(err.kind).toBe('config');
    expect(err.code).toBe('KMS_KEY_UNSUITABLE');
    expect(err.context['setting']).toBe('signers.kms.kmsref');
    expect(typeof err.context.hint).toBe('string');
  });

  it.each([
    ['access-denied', 'KMS_ACCESS_DENIED'],
    ['unrecognized-client', 'KMS_ACCESS_DENIED'],
    ['not-found', 'KMS_KEY_NOT_FOUND'],
    ['disabled', 'KMS_KEY_DISABLED'],
    ['throttling', 'KMS_THROTTLED'],
    ['internal-500', 'KMS_UNAVAILABLE'],
  ] as const)('reports %s at start as a config error %s', async (failure, code) => {
    const { logger, lines } = createCapturingLogger();
    server.failNext('GetPublicKey', failure);
    const err = await rejection(createAwsKmsSigner('awskms:///alias/provenant-p256', { logger, awsClientConfig: clientConfig() }));
    expect(err.kind).toBe('config');
    expect(err.code).toBe(code);
    expect(err.context['setting']).toBe('signers.kms.kmsref');
    assertNoSecrets(err, lines);
  });

  it('reports an unknown key at start as KMS_KEY_NOT_FOUND', async () => {
    const err = await rejection(
      createAwsKmsSigner('awskms:///alias/nope', { logger: createCapturingLogger().logger, awsClientConfig: clientConfig() }),
    );
    expect(err.kind).toBe('config');
    expect(err.code).toBe('KMS_KEY_NOT_FOUND');
  });

  it('reports an unreachable endpoint at start as a config error KMS_UNREACHABLE', async () => {
    const { logger, lines } = createCapturingLogger();
    const closedPort = await freePort();
    const err = await rejection(
      createAwsKmsSigner('awskms:///alias/provenant-p256', { logger, awsClientConfig: clientConfig(`http://127.0.0.1:${closedPort}`) }),
    );
    expect(err.kind).toBe('config');
    expect(err.code).toBe('KMS_UNREACHABLE');
    expect(err.context['retryable']).toBe(true);
    assertNoSecrets(err, lines);
  });

  it('reports a missing region as KMS_REGION_MISSING', async () => {
    const saved = { ...process.env };
    for (const k of ['AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_PROFILE']) delete process.env[k];
    process.env['AWS_CONFIG_FILE'] = '/nonexistent/provenant-aws-config';
    process.env['AWS_SHARED_CREDENTIALS_FILE'] = '/nonexistent/provenant-aws-credentials';
    try {
      const { region: _region, ...noRegion } = clientConfig();
      const err = await rejection(
        createAwsKmsSigner('awskms:///alias/provenant-p256', { logger: createCapturingLogger().logger, env: {}, awsClientConfig: noRegion }),
      );
      expect(err.kind).toBe('config');
      expect(err.code).toBe('KMS_REGION_MISSING');
      // A key ARN names its region, so the same setup works with an ARN.
      const signer = await createAwsKmsSigner(`awskms:///${server.keys.p256.arn}`, {
        logger: createCapturingLogger().logger,
        env: {},
        awsClientConfig: noRegion,
      });
      await signer.close?.();
    } finally {
      process.env = saved;
    }
  });

  it('reports missing credentials as KMS_CREDENTIALS_MISSING', async () => {
    const noCredentials = Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' });
    const err = await rejection(
      createAwsKmsSigner('awskms:///alias/provenant-p256', {
        logger: createCapturingLogger().logger,
        awsClientConfig: { ...clientConfig(), credentials: () => Promise.reject(noCredentials) },
      }),
    );
    expect(err.kind).toBe('config');
    expect(err.code).toBe('KMS_CREDENTIALS_MISSING');
  });

  it.each([
    ['throttling', 'transient', 'KMS_THROTTLED'],
    ['internal-500', 'transient', 'KMS_UNAVAILABLE'],
    ['garbage-500', 'transient', 'KMS_UNAVAILABLE'],
    ['access-denied', 'permanent', 'KMS_ACCESS_DENIED'],
    ['disabled', 'permanent', 'KMS_KEY_DISABLED'],
    ['not-found', 'permanent', 'KMS_KEY_NOT_FOUND'],
  ] as const)('classifies %s at sign time as %s %s', async (failure, kind, code) => {
    const { logger, lines } = createCapturingLogger();
    const signer = await createAwsKmsSigner('awskms:///alias/provenant-p256', { logger, awsClientConfig: clientConfig() });
    server.failNext('Sign', failure);
    const err = await rejection(signer.sign(Buffer.from('data')));
    expect(err.kind).toBe(kind);
    expect(err.code).toBe(code);
    assertNoSecrets(err, lines);
    // The next call succeeds: nothing is stuck after a failure.
    await expect(signer.sign(Buffer.from('data'))).resolves.toMatchObject({ key: { $case: 'publicKey' } });
    await signer.close?.();
  });

  it('reports a KMS that went away after start as transient KMS_UNREACHABLE', async () => {
    const other = await startAwsKmsServer();
    const signer = await createAwsKmsSigner(`awskms:///alias/provenant-p256`, {
      logger: createCapturingLogger().logger,
      awsClientConfig: clientConfig(other.url),
    });
    await other.stop();
    const err = await rejection(signer.sign(Buffer.from('data')));
    expect(err.kind).toBe('transient');
    expect(err.code).toBe('KMS_UNREACHABLE');
    await signer.close?.();
  });
});
