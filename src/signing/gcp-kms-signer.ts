/**
 * Google Cloud KMS signer (`signers.kms.kmsref: gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K[/cryptoKeyVersions/N]`).
 *
 * We hash the DSSE PAE locally and send the digest to `AsymmetricSign`, with CRC-32C checksums
 * both ways as Google's data-integrity guidelines ask: a checksum mismatch means the bytes were
 * damaged in transit, so it is a transient error and the job is retried.
 * The key version and its public key are resolved once when the signer is built.
 */
import { createHash, createPublicKey } from 'node:crypto';
import { KeyManagementServiceClient } from '@google-cloud/kms';
import type { CallOptions, ClientOptions } from 'google-gax';
import type { Signature } from '@sigstore/sign';
import { ProvenantError, type ErrorKind, type SigningErrorCode } from '../errors.js';
import type { KeyAlgorithm, KeySigner, SignerDeps } from './types.js';

export type { ClientOptions } from 'google-gax';

const SETTING = 'signers.kms.kmsref';

/** The parts of a `gcpkms://` reference. */
export interface GcpKmsRef {
  /** `projects/P/locations/L/keyRings/R/cryptoKeys/K` */
  readonly cryptoKey: string;
  /** The version id when the reference pins one; otherwise the newest enabled version is used. */
  readonly version?: string;
}

// cosign (sigstore/sigstore kms/gcp) spells the version `/versions/N`; Google's resource name and
// most Chains docs spell it `/cryptoKeyVersions/N`. Both are accepted, and so is no version.
const refPattern = /^gcpkms:\/\/(projects\/[^/]+\/locations\/[^/]+\/keyRings\/[^/]+\/cryptoKeys\/[^/]+)(?:\/(?:cryptoKeyVersions|versions)\/([^/]+))?$/;

/** Parses a `gcpkms://` reference; throws `config`/`KMS_REF_INVALID` otherwise. */
export function parseGcpKmsRef(ref: string): GcpKmsRef {
  const m = refPattern.exec(ref);
  if (!m || m[1] === undefined) {
    throw new ProvenantError('config', 'KMS_REF_INVALID', `${SETTING} is not a valid gcpkms:// reference`, {
      context: {
        setting: SETTING,
        hint: 'use gcpkms://projects/<project>/locations/<location>/keyRings/<ring>/cryptoKeys/<key>/cryptoKeyVersions/<n>',
      },
    });
  }
  return m[2] === undefined ? { cryptoKey: m[1] } : { cryptoKey: m[1], version: m[2] };
}

const crcTable: Uint32Array = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i += 1) {
    let c = i;
    // Reflected Castagnoli polynomial 0x1EDC6F41.
    for (let k = 0; k < 8; k += 1) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[i] = c >>> 0;
  }
  return table;
})();

/** CRC-32C (Castagnoli), the checksum Cloud KMS uses for integrity fields. */
export function crc32c(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) crc = (crcTable[(crc ^ byte) & 0xff] ?? 0) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

interface GcpKeyShape {
  readonly algorithm: KeyAlgorithm;
  readonly hash: 'sha256' | 'sha384';
}

const keyShapes: Readonly<Record<string, GcpKeyShape>> = {
  EC_SIGN_P256_SHA256: { algorithm: 'ecdsa-p256-sha256', hash: 'sha256' },
  EC_SIGN_P384_SHA384: { algorithm: 'ecdsa-p384-sha384', hash: 'sha384' },
};

export interface GcpKmsSignerDeps extends SignerDeps {
  /** Passed to `KeyManagementServiceClient` (apiEndpoint, port, sslCreds, credentials, keyFilename …). */
  readonly gcpClientOptions?: ClientOptions;
  /** Deadline for each KMS call including the client's own retries; default 30 s. */
  readonly callTimeoutMs?: number;
}

/**
 * Builds a signer for a Cloud KMS asymmetric signing key version (EC_SIGN_P256_SHA256 or
 * EC_SIGN_P384_SHA384). Credentials come from Application Default Credentials (Workload Identity,
 * GOOGLE_APPLICATION_CREDENTIALS, metadata server) unless given in `gcpClientOptions`.
 */
export async function createGcpKmsSigner(ref: string, deps: GcpKmsSignerDeps): Promise<KeySigner> {
  const parsed = parseGcpKmsRef(ref);
  const logger = deps.logger.child({ signer: 'gcpkms' });
  const callOptions: CallOptions = { timeout: deps.callTimeoutMs ?? 30_000 };
  const client = new KeyManagementServiceClient(deps.gcpClientOptions);

  const startFailure = (err: unknown, step: string): ProvenantError => {
    if (err instanceof ProvenantError) return err;
    const c = classifyGcpError(err);
    return new ProvenantError('config', c.code, `cannot ${step} for ${SETTING} (${c.what})`, {
      cause: err,
      context: { setting: SETTING, cryptoKey: parsed.cryptoKey, retryable: c.kind === 'transient', hint: startHint(c.code) },
    });
  };

  let versionName: string;
  let publicKeyPem: string;
  let shape: GcpKeyShape;
  try {
    versionName = parsed.version === undefined ? await newestEnabledVersion(client, parsed.cryptoKey, callOptions) : `${parsed.cryptoKey}/cryptoKeyVersions/${parsed.version}`;
    let key;
    try {
      [key] = await client.getPublicKey({ name: versionName }, callOptions);
    } catch (err) {
      throw startFailure(err, 'read the public key');
    }
    const algorithm = typeof key.algorithm === 'string' ? key.algorithm : String(key.algorithm ?? 'unknown');
    const found = keyShapes[algorithm];
    if (found === undefined) {
      throw new ProvenantError('config', 'KMS_KEY_UNSUITABLE', `${SETTING} names a key version with algorithm ${algorithm}, not EC_SIGN_P256_SHA256 or EC_SIGN_P384_SHA384`, {
        context: {
          setting: SETTING,
          cryptoKey: parsed.cryptoKey,
          hint: 'create an ASYMMETRIC_SIGN key with algorithm EC_SIGN_P256_SHA256 (or EC_SIGN_P384_SHA384)',
        },
      });
    }
    const pem = key.pem ?? '';
    const pemCrc = int64(key.pemCrc32c?.value);
    if (pem === '' || (pemCrc !== undefined && pemCrc !== crc32c(Buffer.from(pem, 'utf8')))) {
      throw new ProvenantError('config', 'KMS_INTEGRITY', 'the public key from Cloud KMS failed its CRC-32C check', {
        context: { setting: SETTING, cryptoKey: parsed.cryptoKey, retryable: true, hint: 'restart the controller; if it persists, check proxies between the controller and Cloud KMS' },
      });
    }
    shape = found;
    publicKeyPem = pem.endsWith('\n') ? pem : `${pem}\n`;
  } catch (err) {
    await client.close().catch(() => undefined);
    throw startFailure(err, 'resolve the key version');
  }

  const spki = createPublicKey(publicKeyPem).export({ format: 'der', type: 'spki' });
  const hint = createHash('sha256').update(spki).digest('hex');
  const { algorithm, hash } = shape;
  logger.info({ keyVersion: versionName, algorithm, keyHint: hint }, 'GCP KMS signer ready');

  let closed = false;
  return {
    publicKeyPem,
    algorithm,
    async sign(data: Buffer): Promise<Signature> {
      if (closed) throw new ProvenantError('permanent', 'SIGNER_CLOSED', 'the GCP KMS signer was closed');
      const digest = createHash(hash).update(data).digest();
      const digestCrc = crc32c(digest);
      const started = Date.now();
      let response;
      try {
        [response] = await client.asymmetricSign(
          { name: versionName, digest: hash === 'sha256' ? { sha256: digest } : { sha384: digest }, digestCrc32c: { value: digestCrc } },
          callOptions,
        );
      } catch (err) {
        const c = classifyGcpError(err);
        logger.warn({ keyVersion: versionName, code: c.code }, 'GCP KMS AsymmetricSign failed');
        throw new ProvenantError(c.kind, c.code, `GCP KMS AsymmetricSign failed (${c.what})`, {
          cause: err,
          context: { setting: SETTING, keyVersion: versionName },
        });
      }
      const integrity = (what: string): ProvenantError => {
        logger.warn({ keyVersion: versionName, code: 'KMS_INTEGRITY', check: what }, 'GCP KMS response failed an integrity check');
        return new ProvenantError('transient', 'KMS_INTEGRITY', `GCP KMS AsymmetricSign ${what}`, { context: { keyVersion: versionName } });
      };
      if (response.verifiedDigestCrc32c !== true) throw integrity('did not verify the digest checksum (request damaged in transit)');
      if (response.name !== versionName) throw integrity('answered for a different key version');
      const signature = response.signature ? Buffer.from(response.signature) : Buffer.alloc(0);
      if (signature.length === 0) throw integrity('returned no signature');
      if (int64(response.signatureCrc32c?.value) !== crc32c(signature)) throw integrity('signature checksum mismatch (response damaged in transit)');
      logger.debug({ keyVersion: versionName, ms: Date.now() - started }, 'signed with GCP KMS');
      return { signature, key: { $case: 'publicKey', publicKey: publicKeyPem, hint } };
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await client.close();
    },
  };
}

async function newestEnabledVersion(client: KeyManagementServiceClient, cryptoKey: string, callOptions: CallOptions): Promise<string> {
  // Same choice as cosign: the enabled version with the greatest name.
  const [versions] = await client.listCryptoKeyVersions(
    { parent: cryptoKey, filter: 'state=ENABLED', orderBy: 'name desc', pageSize: 1 },
    { ...callOptions, autoPaginate: false },
  );
  const name = versions[0]?.name;
  if (typeof name !== 'string' || name === '') {
    throw new ProvenantError('config', 'KMS_KEY_NOT_FOUND', `${SETTING} names a key with no enabled version`, {
      context: { setting: SETTING, cryptoKey, hint: 'enable a key version, or pin one with /cryptoKeyVersions/<n>' },
    });
  }
  return name;
}

/** Int64Value arrives as number, string (longs: String) or a Long-like object depending on the transport. */
function int64(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v);
  if (typeof v === 'object' && v !== null && 'toString' in v) {
    const s = String(v);
    return /^\d+$/.test(s) ? Number(s) : undefined;
  }
  return undefined;
}

interface Classified {
  readonly kind: ErrorKind;
  readonly code: SigningErrorCode;
  readonly what: string;
}

// google.rpc.Code numbers (stable wire values).
const grpcCodes: Readonly<Record<number, Classified>> = {
  2: { kind: 'transient', code: 'KMS_UNAVAILABLE', what: 'UNKNOWN' },
  3: { kind: 'permanent', code: 'KMS_REQUEST_REJECTED', what: 'INVALID_ARGUMENT' },
  4: { kind: 'transient', code: 'KMS_UNREACHABLE', what: 'DEADLINE_EXCEEDED' },
  5: { kind: 'permanent', code: 'KMS_KEY_NOT_FOUND', what: 'NOT_FOUND' },
  7: { kind: 'permanent', code: 'KMS_ACCESS_DENIED', what: 'PERMISSION_DENIED' },
  8: { kind: 'transient', code: 'KMS_THROTTLED', what: 'RESOURCE_EXHAUSTED' },
  9: { kind: 'permanent', code: 'KMS_KEY_DISABLED', what: 'FAILED_PRECONDITION' },
  10: { kind: 'transient', code: 'KMS_UNAVAILABLE', what: 'ABORTED' },
  13: { kind: 'transient', code: 'KMS_UNAVAILABLE', what: 'INTERNAL' },
  14: { kind: 'transient', code: 'KMS_UNREACHABLE', what: 'UNAVAILABLE' },
  16: { kind: 'permanent', code: 'KMS_ACCESS_DENIED', what: 'UNAUTHENTICATED' },
};

/** Classifies a gax/grpc error by its numeric status (never by message text). */
function classifyGcpError(err: unknown): Classified {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  if (typeof code === 'number') {
    return grpcCodes[code] ?? { kind: 'permanent', code: 'KMS_REQUEST_REJECTED', what: `gRPC status ${code}` };
  }
  // No gRPC status: the call never got an answer (credentials could not be loaded, client setup).
  return { kind: 'transient', code: 'KMS_CLIENT_ERROR', what: err instanceof Error ? err.name : 'error' };
}

function startHint(code: SigningErrorCode): string {
  switch (code) {
    case 'KMS_ACCESS_DENIED':
      return 'grant the controller identity cloudkms.cryptoKeyVersions.viewPublicKey and cloudkms.cryptoKeyVersions.useToSign (roles/cloudkms.signerVerifier) on the key';
    case 'KMS_KEY_NOT_FOUND':
      return 'check project, location, key ring, key and version in signers.kms.kmsref';
    case 'KMS_KEY_DISABLED':
      return 'enable the key version (or pick an enabled one) in Cloud KMS';
    case 'KMS_UNREACHABLE':
      return 'check network access to cloudkms.googleapis.com:443 (egress, proxy, DNS)';
    case 'KMS_CLIENT_ERROR':
      return 'check Application Default Credentials: Workload Identity, or GOOGLE_APPLICATION_CREDENTIALS pointing at a service account key file';
    default:
      return 'check signers.kms.kmsref and that Cloud KMS is reachable; the controller retries when restarted';
  }
}
