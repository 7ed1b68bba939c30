/**
 * A local AWS KMS speaking the real wire protocol (awsJson1_1: `POST /`,
 * `X-Amz-Target: TrentService.<Op>`, `Content-Type: application/x-amz-json-1.1`, blobs base64),
 * so `@aws-sdk/client-kms` runs unmodified against it with an `endpoint` override.
 * Implements GetPublicKey and Sign with real throwaway keys; failures can be injected.
 * Test-only: it does not check SigV4 signatures, but records that one was sent.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createTestEcKey, type TestEcKey } from './kms-test-keys.js';

export const AWS_TEST_ACCOUNT = '111122223333';
export const AWS_TEST_REGION = 'us-east-1';

export interface AwsKmsTestKey {
  readonly keyId: string;
  readonly arn: string;
  readonly alias: string;
  readonly keySpec: string;
  readonly keyUsage: 'SIGN_VERIFY' | 'ENCRYPT_DECRYPT';
  readonly signingAlgorithms?: readonly string[];
  readonly spkiDer: Buffer;
  readonly ec?: TestEcKey;
}

export type AwsKmsFailure =
  | 'throttling'
  | 'access-denied'
  | 'not-found'
  | 'disabled'
  | 'internal-500'
  | 'unrecognized-client'
  | 'garbage-500';

export interface AwsKmsRecordedRequest {
  readonly target: string;
  readonly contentType: string | undefined;
  readonly signed: boolean;
  readonly body: Record<string, unknown>;
}

export interface AwsKmsTestServer {
  readonly port: number;
  readonly url: string;
  readonly keys: {
    readonly p256: AwsKmsTestKey;
    readonly p384: AwsKmsTestKey;
    /** RSA_2048 SIGN_VERIFY: a real KMS key type provenant refuses (RSA-PSS does not verify in sigstore-js). */
    readonly rsa: AwsKmsTestKey;
    /** RSA_2048 ENCRYPT_DECRYPT: has a public key but cannot sign. */
    readonly encrypt: AwsKmsTestKey;
  };
  readonly requests: AwsKmsRecordedRequest[];
  /** Make the next `count` calls of `op` ('Sign', 'GetPublicKey' or '*') fail with `failure`. */
  failNext(op: string, failure: AwsKmsFailure, count?: number): void;
  reset(): void;
  stop(): Promise<void>;
}

const failures: Readonly<Record<AwsKmsFailure, { status: number; type: string }>> = {
  throttling: { status: 400, type: 'ThrottlingException' },
  'access-denied': { status: 400, type: 'AccessDeniedException' },
  'not-found': { status: 400, type: 'NotFoundException' },
  disabled: { status: 400, type: 'DisabledException' },
  'internal-500': { status: 500, type: 'KMSInternalException' },
  'unrecognized-client': { status: 400, type: 'UnrecognizedClientException' },
  'garbage-500': { status: 500, type: '' },
};

function makeKey(alias: string, keySpec: string, keyUsage: AwsKmsTestKey['keyUsage'], spkiDer: Buffer, ec?: TestEcKey): AwsKmsTestKey {
  const keyId = randomUUID();
  const signingAlgorithms =
    keyUsage !== 'SIGN_VERIFY'
      ? undefined
      : keySpec === 'ECC_NIST_P256'
        ? ['ECDSA_SHA_256']
        : keySpec === 'ECC_NIST_P384'
          ? ['ECDSA_SHA_384']
          : ['RSASSA_PSS_SHA_256', 'RSASSA_PKCS1_V1_5_SHA_256'];
  return {
    keyId,
    arn: `arn:aws:kms:${AWS_TEST_REGION}:${AWS_TEST_ACCOUNT}:key/${keyId}`,
    alias: `alias/${alias}`,
    keySpec,
    keyUsage,
    ...(signingAlgorithms === undefined ? {} : { signingAlgorithms }),
    spkiDer,
    ...(ec === undefined ? {} : { ec }),
  };
}

export async function startAwsKmsServer(): Promise<AwsKmsTestServer> {
  const p256 = createTestEcKey('P-256');
  const p384 = createTestEcKey('P-384');
  const rsaDer = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'der', type: 'spki' });
  const keys = {
    p256: makeKey('provenant-p256', 'ECC_NIST_P256', 'SIGN_VERIFY', p256.spkiDer, p256),
    p384: makeKey('provenant-p384', 'ECC_NIST_P384', 'SIGN_VERIFY', p384.spkiDer, p384),
    rsa: makeKey('provenant-rsa', 'RSA_2048', 'SIGN_VERIFY', rsaDer),
    encrypt: makeKey('provenant-encrypt', 'RSA_2048', 'ENCRYPT_DECRYPT', rsaDer),
  };
  const all = Object.values(keys);
  const requests: AwsKmsRecordedRequest[] = [];
  let pending: { op: string; failure: AwsKmsFailure; count: number }[] = [];

  const lookup = (id: unknown): AwsKmsTestKey | undefined => {
    if (typeof id !== 'string') return undefined;
    const aliasArnPrefix = `arn:aws:kms:${AWS_TEST_REGION}:${AWS_TEST_ACCOUNT}:`;
    const bare = id.startsWith(`${aliasArnPrefix}alias/`) ? id.slice(aliasArnPrefix.length) : id;
    return all.find((k) => k.keyId === bare || k.arn === bare || k.alias === bare);
  };

  const send = (res: ServerResponse, status: number, body: unknown): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': randomUUID() });
    res.end(text);
  };
  const fail = (res: ServerResponse, status: number, type: string, message: string): void => {
    if (type === '') {
      res.writeHead(status, { 'content-type': 'text/html' });
      res.end('<html>upstream broke</html>');
      return;
    }
    send(res, status, { __type: type, message });
  };

  const handle = (req: IncomingMessage, res: ServerResponse, raw: string): void => {
    const targetHeader = req.headers['x-amz-target'];
    const target = typeof targetHeader === 'string' ? targetHeader : '';
    let body: Record<string, unknown>;
    try {
      body = raw === '' ? {} : (JSON.parse(raw) as Record<string, unknown>);
    } catch {
      return fail(res, 400, 'SerializationException', 'bad json');
    }
    requests.push({
      target,
      contentType: req.headers['content-type'],
      signed: typeof req.headers.authorization === 'string' && req.headers.authorization.startsWith('AWS4-HMAC-SHA256'),
      body,
    });
    if (req.method !== 'POST' || req.url !== '/') return fail(res, 404, 'UnknownOperationException', 'not found');
    const op = target.replace(/^TrentService\./, '');

    const injected = pending.find((p) => p.op === op || p.op === '*');
    if (injected) {
      injected.count -= 1;
      if (injected.count <= 0) pending = pending.filter((p) => p !== injected);
      const f = failures[injected.failure];
      return fail(res, f.status, f.type, `injected ${injected.failure}`);
    }

    const key = lookup(body['KeyId']);
    if (op === 'GetPublicKey' || op === 'Sign') {
      if (!key) return fail(res, 400, 'NotFoundException', `Key '${String(body['KeyId'])}' does not exist`);
    }
    switch (op) {
      case 'GetPublicKey':
        return send(res, 200, {
          KeyId: key!.arn,
          PublicKey: key!.spkiDer.toString('base64'),
          KeySpec: key!.keySpec,
          CustomerMasterKeySpec: key!.keySpec,
          KeyUsage: key!.keyUsage,
          ...(key!.signingAlgorithms ? { SigningAlgorithms: key!.signingAlgorithms } : {}),
          ...(key!.keyUsage === 'ENCRYPT_DECRYPT' ? { EncryptionAlgorithms: ['RSAES_OAEP_SHA_256'] } : {}),
        });
      case 'Sign': {
        const k = key!;
        const algorithm = body['SigningAlgorithm'];
        if (k.keyUsage !== 'SIGN_VERIFY' || !k.ec) return fail(res, 400, 'InvalidKeyUsageException', 'key cannot sign');
        if (typeof algorithm !== 'string' || !k.signingAlgorithms?.includes(algorithm)) {
          return fail(res, 400, 'InvalidKeyUsageException', 'algorithm not supported by key');
        }
        if (typeof body['Message'] !== 'string') return fail(res, 400, 'ValidationException', 'Message required');
        const message = Buffer.from(body['Message'], 'base64');
        if (message.length > 4096) return fail(res, 400, 'ValidationException', 'Message too long');
        if (body['MessageType'] !== 'DIGEST') {
          // Raw messages would need hashing here; provenant always sends digests, so refuse loudly.
          return fail(res, 400, 'ValidationException', 'test server only supports MessageType DIGEST');
        }
        const expected = algorithm === 'ECDSA_SHA_256' ? 32 : 48;
        if (message.length !== expected) return fail(res, 400, 'ValidationException', 'digest length does not match algorithm');
        return send(res, 200, { KeyId: k.arn, Signature: k.ec.signDigest(message).toString('base64'), SigningAlgorithm: algorithm });
      }
      default:
        return fail(res, 400, 'UnknownOperationException', `unsupported ${target}`);
    }
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    port,
    url: `http://127.0.0.1:${port}`,
    keys,
    requests,
    failNext(op, failure, count = 1) {
      pending.push({ op, failure, count });
    },
    reset() {
      pending = [];
      requests.length = 0;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
