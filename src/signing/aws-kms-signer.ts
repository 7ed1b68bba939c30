/**
 * AWS KMS signer (`signers.kms.kmsref: awskms://[endpoint]/<key id | alias/name | arn>`).
 *
 * The key never leaves KMS: we hash the DSSE PAE locally and send only the digest
 * (`MessageType: DIGEST`), because KMS caps raw messages at 4096 bytes and provenance is bigger.
 * The public key is fetched once when the signer is built, so a bad reference, missing
 * permission or unsuitable key stops the controller at start instead of failing every run.
 */
import { createHash } from 'node:crypto';
import {
  GetPublicKeyCommand,
  KMSClient,
  SignCommand,
  type KMSClientConfig,
  type SigningAlgorithmSpec,
} from '@aws-sdk/client-kms';
import type { Signature } from '@sigstore/sign';
import { ProvenantError, type ErrorKind, type SigningErrorCode } from '../errors.js';
import { spkiDerToPem } from './der.js';
import type { KeyAlgorithm, KeySigner, SignerDeps } from './types.js';

export type { KMSClientConfig } from '@aws-sdk/client-kms';

const SETTING = 'signers.kms.kmsref';

/** The parts of an `awskms://` reference, as cosign (sigstore/sigstore `kms/aws`) parses them. */
export interface AwsKmsRef {
  /** `host[:port]` between `awskms://` and the key; empty means the SDK's default endpoint. */
  readonly endpoint: string;
  /** What goes into `KeyId`: a key id, key ARN, `alias/<name>` or alias ARN. */
  readonly keyId: string;
  /** The region named by an ARN, if the reference is one. */
  readonly arnRegion?: string;
}

// Same grammar as sigstore/sigstore pkg/signature/kms/aws (cosign), so the same refs are accepted.
const uuidRe = 'm?r?k?-?[A-Fa-f0-9]{8}-?[A-Fa-f0-9]{4}-?[A-Fa-f0-9]{4}-?[A-Fa-f0-9]{4}-?[A-Fa-f0-9]{12}';
const arnRe = 'arn:(?:aws|aws-us-gov|aws-cn):kms:([a-z0-9-]+):\\d{12}:';
const hostRe = '([^/]*)/';
const refPatterns: readonly RegExp[] = [
  new RegExp(`^awskms://${hostRe}(${uuidRe})$`),
  new RegExp(`^awskms://${hostRe}(${arnRe}key/${uuidRe})$`),
  new RegExp(`^awskms://${hostRe}(alias/.+)$`),
  new RegExp(`^awskms://${hostRe}(${arnRe}alias/.+)$`),
];

/** Parses an `awskms://` reference; throws `config`/`KMS_REF_INVALID` when it is not one cosign accepts. */
export function parseAwsKmsRef(ref: string): AwsKmsRef {
  for (const re of refPatterns) {
    const m = re.exec(ref);
    if (m) {
      const endpoint = m[1] ?? '';
      const keyId = m[2] ?? '';
      const arnRegion = m[3];
      return arnRegion === undefined ? { endpoint, keyId } : { endpoint, keyId, arnRegion };
    }
  }
  throw new ProvenantError('config', 'KMS_REF_INVALID', `${SETTING} is not a valid awskms:// reference`, {
    context: {
      setting: SETTING,
      hint: 'use awskms:///<key id>, awskms:///alias/<name>, awskms:///arn:aws:kms:<region>:<account>:key/<id>, or put host:port after awskms:// for a custom endpoint',
    },
  });
}

interface AwsKeyShape {
  readonly algorithm: KeyAlgorithm;
  readonly signingAlgorithm: SigningAlgorithmSpec;
  readonly hash: 'sha256' | 'sha384';
}

const keyShapes: Readonly<Record<string, AwsKeyShape>> = {
  ECC_NIST_P256: { algorithm: 'ecdsa-p256-sha256', signingAlgorithm: 'ECDSA_SHA_256', hash: 'sha256' },
  ECC_NIST_P384: { algorithm: 'ecdsa-p384-sha384', signingAlgorithm: 'ECDSA_SHA_384', hash: 'sha384' },
};

export interface AwsKmsSignerDeps extends SignerDeps {
  /** Merged into the `KMSClient` config (credentials, region, endpoint, maxAttempts, requestHandler …). */
  readonly awsClientConfig?: KMSClientConfig;
}

/**
 * Builds a signer for an AWS KMS asymmetric key (ECC_NIST_P256 or ECC_NIST_P384, SIGN_VERIFY).
 * Credentials come from the SDK's default chain (env, web identity / IRSA, profile, IMDS) unless
 * `awsClientConfig.credentials` is given. Rejects with `config` errors naming `signers.kms.kmsref`.
 */
export async function createAwsKmsSigner(ref: string, deps: AwsKmsSignerDeps): Promise<KeySigner> {
  const parsed = parseAwsKmsRef(ref);
  const env = deps.env ?? process.env;
  const logger = deps.logger.child({ signer: 'awskms' });

  const config: KMSClientConfig = { ...deps.awsClientConfig };
  if (config.endpoint === undefined && parsed.endpoint !== '') {
    // cosign always talks TLS to an endpoint given in the reference.
    config.endpoint = `https://${parsed.endpoint}`;
  }
  if (config.region === undefined && env['AWS_REGION'] === undefined && env['AWS_DEFAULT_REGION'] === undefined) {
    // An ARN names its region; use it rather than failing when no region is configured.
    if (parsed.arnRegion !== undefined) config.region = parsed.arnRegion;
  }
  const client = new KMSClient(config);

  try {
    await client.config.region();
  } catch (err) {
    client.destroy();
    throw new ProvenantError('config', 'KMS_REGION_MISSING', `no AWS region for ${SETTING}`, {
      cause: err,
      context: { setting: SETTING, hint: 'set AWS_REGION (or use a key ARN, which names its region)' },
    });
  }

  let response;
  try {
    response = await client.send(new GetPublicKeyCommand({ KeyId: parsed.keyId }));
  } catch (err) {
    client.destroy();
    const c = classifyAwsError(err);
    throw new ProvenantError('config', c.code, `cannot read the public key of ${SETTING} (${c.what})`, {
      cause: err,
      context: { setting: SETTING, keyId: parsed.keyId, retryable: c.kind === 'transient', hint: startHint(c.code) },
    });
  }

  const shape = response.KeySpec === undefined ? undefined : keyShapes[response.KeySpec];
  const unsuitable =
    response.KeyUsage !== 'SIGN_VERIFY'
      ? `key usage is ${response.KeyUsage ?? 'unknown'}, not SIGN_VERIFY`
      : shape === undefined
        ? `key spec ${response.KeySpec ?? 'unknown'} is not ECC_NIST_P256 or ECC_NIST_P384`
        : response.SigningAlgorithms !== undefined && !response.SigningAlgorithms.includes(shape.signingAlgorithm)
          ? `key does not offer ${shape.signingAlgorithm}`
          : response.PublicKey === undefined
            ? 'KMS returned no public key'
            : undefined;
  if (unsuitable !== undefined || shape === undefined || response.PublicKey === undefined) {
    client.destroy();
    throw new ProvenantError('config', 'KMS_KEY_UNSUITABLE', `${SETTING} names a key provenant cannot sign with: ${unsuitable ?? 'unknown'}`, {
      context: {
        setting: SETTING,
        keyId: parsed.keyId,
        hint: 'create an asymmetric KMS key with key spec ECC_NIST_P256 (or ECC_NIST_P384) and key usage SIGN_VERIFY',
      },
    });
  }

  const spki = Buffer.from(response.PublicKey);
  const publicKeyPem = spkiDerToPem(spki);
  const hint = createHash('sha256').update(spki).digest('hex');
  const { algorithm, signingAlgorithm, hash } = shape;
  logger.info({ keyId: parsed.keyId, algorithm, keyHint: hint }, 'AWS KMS signer ready');

  let closed = false;
  return {
    publicKeyPem,
    algorithm,
    async sign(data: Buffer): Promise<Signature> {
      if (closed) throw new ProvenantError('permanent', 'SIGNER_CLOSED', 'the AWS KMS signer was closed');
      const digest = createHash(hash).update(data).digest();
      const started = Date.now();
      let out;
      try {
        out = await client.send(
          new SignCommand({ KeyId: parsed.keyId, Message: digest, MessageType: 'DIGEST', SigningAlgorithm: signingAlgorithm }),
        );
      } catch (err) {
        const c = classifyAwsError(err);
        logger.warn({ keyId: parsed.keyId, code: c.code }, 'AWS KMS Sign failed');
        throw new ProvenantError(c.kind, c.code, `AWS KMS Sign failed (${c.what})`, {
          cause: err,
          context: { setting: SETTING, keyId: parsed.keyId },
        });
      }
      if (out.Signature === undefined || out.Signature.length === 0) {
        throw new ProvenantError('transient', 'KMS_BAD_RESPONSE', 'AWS KMS Sign returned no signature', {
          context: { setting: SETTING, keyId: parsed.keyId },
        });
      }
      logger.debug({ keyId: parsed.keyId, ms: Date.now() - started }, 'signed with AWS KMS');
      return { signature: Buffer.from(out.Signature), key: { $case: 'publicKey', publicKey: publicKeyPem, hint } };
    },
    close(): Promise<void> {
      closed = true;
      client.destroy();
      return Promise.resolve();
    },
  };
}

interface Classified {
  /** Kind at sign time; at start every failure is `config`. */
  readonly kind: ErrorKind;
  readonly code: SigningErrorCode;
  /** A short, secret-free description (the SDK's error name or network code). */
  readonly what: string;
}

const transientNames: Readonly<Record<string, SigningErrorCode>> = {
  ThrottlingException: 'KMS_THROTTLED',
  LimitExceededException: 'KMS_THROTTLED',
  TooManyRequestsException: 'KMS_THROTTLED',
  RequestLimitExceeded: 'KMS_THROTTLED',
  KMSInternalException: 'KMS_UNAVAILABLE',
  DependencyTimeoutException: 'KMS_UNAVAILABLE',
  KeyUnavailableException: 'KMS_UNAVAILABLE',
  ServiceUnavailableException: 'KMS_UNAVAILABLE',
  InternalFailure: 'KMS_UNAVAILABLE',
  TimeoutError: 'KMS_UNREACHABLE',
  RequestTimeout: 'KMS_UNREACHABLE',
};

const permanentNames: Readonly<Record<string, SigningErrorCode>> = {
  AccessDeniedException: 'KMS_ACCESS_DENIED',
  UnrecognizedClientException: 'KMS_ACCESS_DENIED',
  InvalidSignatureException: 'KMS_ACCESS_DENIED',
  IncompleteSignature: 'KMS_ACCESS_DENIED',
  ExpiredTokenException: 'KMS_ACCESS_DENIED',
  InvalidClientTokenId: 'KMS_ACCESS_DENIED',
  CredentialsProviderError: 'KMS_CREDENTIALS_MISSING',
  NotFoundException: 'KMS_KEY_NOT_FOUND',
  InvalidArnException: 'KMS_KEY_NOT_FOUND',
  DisabledException: 'KMS_KEY_DISABLED',
  KMSInvalidStateException: 'KMS_KEY_DISABLED',
  InvalidKeyUsageException: 'KMS_KEY_UNSUITABLE',
  UnsupportedOperationException: 'KMS_KEY_UNSUITABLE',
  ValidationException: 'KMS_KEY_UNSUITABLE',
};

const networkCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);

/** Classifies an SDK error by its name, HTTP status and network code (never by message text). */
function classifyAwsError(err: unknown): Classified {
  const e = (typeof err === 'object' && err !== null ? err : {}) as {
    name?: unknown;
    code?: unknown;
    $fault?: unknown;
    $metadata?: { httpStatusCode?: number };
  };
  const name = typeof e.name === 'string' ? e.name : 'Error';
  const transientCode = transientNames[name];
  if (transientCode !== undefined) return { kind: 'transient', code: transientCode, what: name };
  const permanentCode = permanentNames[name];
  if (permanentCode !== undefined) return { kind: 'permanent', code: permanentCode, what: name };
  const status = e.$metadata?.httpStatusCode;
  if (status === 429) return { kind: 'transient', code: 'KMS_THROTTLED', what: `HTTP ${status}` };
  if (status !== undefined && status >= 500) return { kind: 'transient', code: 'KMS_UNAVAILABLE', what: `HTTP ${status}` };
  if (status === 401 || status === 403) return { kind: 'permanent', code: 'KMS_ACCESS_DENIED', what: `HTTP ${status}` };
  const netCode = typeof e.code === 'string' ? e.code : undefined;
  if (netCode !== undefined && networkCodes.has(netCode)) return { kind: 'transient', code: 'KMS_UNREACHABLE', what: netCode };
  if (status === undefined && e.$fault === undefined) {
    // No HTTP response at all: the request never reached KMS (DNS, TLS, socket, region resolution).
    return { kind: 'transient', code: 'KMS_UNREACHABLE', what: name };
  }
  if (e.$fault === 'server') return { kind: 'transient', code: 'KMS_UNAVAILABLE', what: name };
  return { kind: 'permanent', code: 'KMS_REQUEST_REJECTED', what: name };
}

function startHint(code: SigningErrorCode): string {
  switch (code) {
    case 'KMS_ACCESS_DENIED':
      return 'grant the controller identity kms:GetPublicKey and kms:Sign on the key (check the key policy and IAM role / IRSA)';
    case 'KMS_CREDENTIALS_MISSING':
      return 'provide AWS credentials through the default chain: IRSA / web identity, AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY, a profile, or instance metadata';
    case 'KMS_KEY_NOT_FOUND':
      return 'check the key id, alias or ARN in signers.kms.kmsref and the region (AWS_REGION)';
    case 'KMS_KEY_DISABLED':
      return 'enable the key (or cancel its pending deletion) in AWS KMS';
    case 'KMS_KEY_UNSUITABLE':
      return 'use an asymmetric ECC_NIST_P256 or ECC_NIST_P384 key with key usage SIGN_VERIFY';
    case 'KMS_UNREACHABLE':
      return 'check the endpoint in signers.kms.kmsref, AWS_REGION, DNS and network policy towards AWS KMS';
    default:
      return 'check signers.kms.kmsref and that AWS KMS is reachable; the controller retries when restarted';
  }
}
