/**
 * A local Cloud KMS gRPC server built from the protos shipped inside `@google-cloud/kms` and
 * `google-gax`, so `KeyManagementServiceClient` runs unmodified against it (insecure channel).
 * Implements GetPublicKey, AsymmetricSign and ListCryptoKeyVersions with real throwaway keys,
 * CRC-32C fields as Cloud KMS fills them, and injectable failures. Test-only.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { crc32c } from '../../src/signing/gcp-kms-signer.js';
import { createTestEcKey, type TestEcKey } from './kms-test-keys.js';

export const GCP_TEST_KEY_RING = 'projects/provenant-test/locations/global/keyRings/ring';

export interface GcpKmsTestVersion {
  readonly name: string;
  readonly algorithm: string;
  readonly state: 'ENABLED' | 'DISABLED';
  readonly pem: string;
  readonly ec?: TestEcKey;
}

export type GcpKmsFailure =
  | 'resource-exhausted'
  | 'permission-denied'
  | 'unauthenticated'
  | 'not-found'
  | 'unavailable'
  | 'failed-precondition'
  | 'internal'
  | 'bad-signature-crc'
  | 'unverified-digest-crc'
  | 'wrong-name'
  | 'bad-pem-crc';

export interface GcpKmsRecordedCall {
  readonly method: string;
  readonly request: Record<string, unknown>;
}

export interface GcpKmsTestServer {
  readonly port: number;
  readonly versions: {
    /** `cryptoKeys/p256`, version 1 */
    readonly p256: GcpKmsTestVersion;
    /** `cryptoKeys/p256`, version 2: the newest enabled one */
    readonly p256v2: GcpKmsTestVersion;
    readonly p384: GcpKmsTestVersion;
    /** RSA_SIGN_PSS_2048_SHA256: a real Cloud KMS algorithm provenant refuses. */
    readonly rsa: GcpKmsTestVersion;
  };
  readonly calls: GcpKmsRecordedCall[];
  /** Make the next `count` calls of `method` ('AsymmetricSign', 'GetPublicKey', 'ListCryptoKeyVersions' or '*') fail. */
  failNext(method: string, failure: GcpKmsFailure, count?: number): void;
  reset(): void;
  stop(): Promise<void>;
}

const statusOf: Partial<Record<GcpKmsFailure, grpc.status>> = {
  'resource-exhausted': grpc.status.RESOURCE_EXHAUSTED,
  'permission-denied': grpc.status.PERMISSION_DENIED,
  unauthenticated: grpc.status.UNAUTHENTICATED,
  'not-found': grpc.status.NOT_FOUND,
  unavailable: grpc.status.UNAVAILABLE,
  'failed-precondition': grpc.status.FAILED_PRECONDITION,
  internal: grpc.status.INTERNAL,
};

function protoRoots(): { kms: string; gax: string } {
  const require = createRequire(import.meta.url);
  // Both packages' main files live in build/src; their protos in build/protos.
  return {
    kms: path.resolve(path.dirname(require.resolve('@google-cloud/kms')), '..', 'protos'),
    gax: path.resolve(path.dirname(require.resolve('google-gax')), '..', 'protos'),
  };
}

type Callback = grpc.sendUnaryData<Record<string, unknown>>;
type Call = grpc.ServerUnaryCall<Record<string, unknown>, Record<string, unknown>>;

export async function startGcpKmsServer(): Promise<GcpKmsTestServer> {
  const roots = protoRoots();
  const definition = protoLoader.loadSync('google/cloud/kms/v1/service.proto', {
    includeDirs: [roots.kms, roots.gax],
    keepCase: false,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    google: { cloud: { kms: { v1: { KeyManagementService: { service: grpc.ServiceDefinition } } } } };
  };
  const service = loaded.google.cloud.kms.v1.KeyManagementService.service;

  const p256 = createTestEcKey('P-256');
  const p256b = createTestEcKey('P-256');
  const p384 = createTestEcKey('P-384');
  const rsaPem = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'pem', type: 'spki' }).toString();
  const version = (key: string, n: number, algorithm: string, pem: string, ec?: TestEcKey): GcpKmsTestVersion => ({
    name: `${GCP_TEST_KEY_RING}/cryptoKeys/${key}/cryptoKeyVersions/${n}`,
    algorithm,
    state: 'ENABLED',
    pem,
    ...(ec === undefined ? {} : { ec }),
  });
  const versions = {
    p256: version('p256', 1, 'EC_SIGN_P256_SHA256', p256.publicKeyPem, p256),
    p256v2: version('p256', 2, 'EC_SIGN_P256_SHA256', p256b.publicKeyPem, p256b),
    p384: version('p384', 1, 'EC_SIGN_P384_SHA384', p384.publicKeyPem, p384),
    rsa: version('rsa', 1, 'RSA_SIGN_PSS_2048_SHA256', rsaPem),
  };
  const all = Object.values(versions);
  const calls: GcpKmsRecordedCall[] = [];
  let pending: { method: string; failure: GcpKmsFailure; count: number }[] = [];

  const take = (method: string): GcpKmsFailure | undefined => {
    const p = pending.find((x) => x.method === method || x.method === '*');
    if (!p) return undefined;
    p.count -= 1;
    if (p.count <= 0) pending = pending.filter((x) => x !== p);
    return p.failure;
  };
  const reject = (cb: Callback, code: grpc.status, details: string): void => cb({ code, details, metadata: new grpc.Metadata() }, null);

  const handlers: grpc.UntypedServiceImplementation = {};
  for (const method of Object.keys(service)) {
    handlers[method] = (_call: Call, cb: Callback) => reject(cb, grpc.status.UNIMPLEMENTED, `${method} is not implemented by the test server`);
  }

  const record = (method: string, call: Call): GcpKmsFailure | undefined => {
    calls.push({ method, request: call.request });
    return take(method);
  };

  handlers['GetPublicKey'] = (call: Call, cb: Callback) => {
    const failure = record('GetPublicKey', call);
    const status = failure === undefined ? undefined : statusOf[failure];
    if (status !== undefined) return reject(cb, status, `injected ${failure}`);
    const v = all.find((x) => x.name === call.request['name']);
    if (!v) return reject(cb, grpc.status.NOT_FOUND, 'CryptoKeyVersion not found');
    const pemCrc = crc32c(Buffer.from(v.pem, 'utf8'));
    cb(null, {
      pem: v.pem,
      algorithm: v.algorithm,
      pemCrc32c: { value: String(failure === 'bad-pem-crc' ? (pemCrc + 1) >>> 0 : pemCrc) },
      name: v.name,
      protectionLevel: 'SOFTWARE',
    });
  };

  handlers['AsymmetricSign'] = (call: Call, cb: Callback) => {
    const failure = record('AsymmetricSign', call);
    const status = failure === undefined ? undefined : statusOf[failure];
    if (status !== undefined) return reject(cb, status, `injected ${failure}`);
    const req = call.request as { name?: string; digest?: { sha256?: Buffer; sha384?: Buffer; digest?: string }; digestCrc32c?: { value?: string } };
    const v = all.find((x) => x.name === req.name);
    if (!v) return reject(cb, grpc.status.NOT_FOUND, 'CryptoKeyVersion not found');
    if (!v.ec) return reject(cb, grpc.status.FAILED_PRECONDITION, 'key version cannot sign with this test server');
    const wanted = v.algorithm === 'EC_SIGN_P256_SHA256' ? 'sha256' : 'sha384';
    const digest = req.digest?.[wanted];
    if (req.digest?.digest !== wanted || !digest || digest.length !== (wanted === 'sha256' ? 32 : 48)) {
      return reject(cb, grpc.status.INVALID_ARGUMENT, `digest must be ${wanted}`);
    }
    const sentCrc = req.digestCrc32c?.value;
    const verified = sentCrc !== undefined && sentCrc !== null && Number(sentCrc) === crc32c(digest);
    if (sentCrc !== undefined && sentCrc !== null && !verified) {
      return reject(cb, grpc.status.INVALID_ARGUMENT, 'digest_crc32c does not match');
    }
    const signature = v.ec.signDigest(digest);
    const sigCrc = crc32c(signature);
    cb(null, {
      signature,
      signatureCrc32c: { value: String(failure === 'bad-signature-crc' ? (sigCrc ^ 1) >>> 0 : sigCrc) },
      verifiedDigestCrc32c: failure === 'unverified-digest-crc' ? false : verified,
      name: failure === 'wrong-name' ? versions.p384.name : v.name,
      protectionLevel: 'SOFTWARE',
    });
  };

  handlers['ListCryptoKeyVersions'] = (call: Call, cb: Callback) => {
    const failure = record('ListCryptoKeyVersions', call);
    const status = failure === undefined ? undefined : statusOf[failure];
    if (status !== undefined) return reject(cb, status, `injected ${failure}`);
    const parent = String(call.request['parent']);
    let list = all.filter((v) => v.name.startsWith(`${parent}/cryptoKeyVersions/`));
    if (call.request['filter'] === 'state=ENABLED') list = list.filter((v) => v.state === 'ENABLED');
    list.sort((a, b) => a.name.localeCompare(b.name));
    if (call.request['orderBy'] === 'name desc') list.reverse();
    const pageSize = Number(call.request['pageSize'] ?? 0);
    const page = pageSize > 0 ? list.slice(0, pageSize) : list;
    cb(null, {
      cryptoKeyVersions: page.map((v) => ({ name: v.name, state: v.state, algorithm: v.algorithm })),
      nextPageToken: '',
      totalSize: list.length,
    });
  };

  const server = new grpc.Server();
  server.addService(service, handlers);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );

  return {
    port,
    versions,
    calls,
    failNext(method, failure, count = 1) {
      pending.push({ method, failure, count });
    },
    reset() {
      pending = [];
      calls.length = 0;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 1000).unref();
      }),
  };
}
