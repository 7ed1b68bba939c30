/**
 * One error type for the whole project (STYLE.md #8). Errors are classified once:
 * - `config`: fix the ConfigMap / flags; never retried per run.
 * - `transient`: retry with backoff (network, throttling, 5xx).
 * - `permanent`: the run cannot be attested as is; mark it `signed=failed` with the code.
 * - `input`: a bad file or argument given to the CLI (exit code 2).
 * Tests and code branch on `code`, never on message text. Messages never contain secrets.
 */
export type ErrorKind = 'config' | 'transient' | 'permanent' | 'input';

/**
 * Error codes, one checked list per room (as sigstore-js types its codes): a code that is not
 * listed here does not compile. Codes are stable API: tests, the `reason` annotation and Events
 * carry them.
 */
export const errorCodes = {
  config: ['CONFIG_INVALID', 'CONFIG_NOT_A_MAP'],
  cli: ['USAGE', 'INPUT_UNPARSABLE', 'INPUT_UNREADABLE', 'INPUT_TOO_LARGE', 'OUTPUT_UNWRITABLE', 'DEMO_UNAVAILABLE', 'VSA_KEY_INVALID'],
  tekton: [
    'KUBECONFIG_INVALID',
    'KUBE_CONFLICT',
    'KUBE_FORBIDDEN',
    'KUBE_GONE',
    'KUBE_NOT_FOUND',
    'KUBE_REJECTED',
    'KUBE_UNAUTHORIZED',
    'KUBE_UNAVAILABLE',
    'RUN_MALFORMED',
    'RUN_METADATA_MISSING',
    'RUN_NOT_DONE',
    'RUN_NOT_FOUND',
    'TEKTON_NOT_SERVED',
  ],
  watch: ['WATCH_STOPPED'],
  queue: [
    'QUEUE_ALREADY_PROCESSING',
    'QUEUE_AUTH_FAILED',
    'QUEUE_CLOSED',
    'QUEUE_INVALID_KEY',
    'QUEUE_OPTIONS_INVALID',
    'QUEUE_REDIS_URL_INVALID',
    'QUEUE_TLS_FAILED',
    'QUEUE_UNAVAILABLE',
    'LOCK_TIMEOUT',
  ],
  signing: [
    'FULCIO_CERTIFICATE_MISMATCH',
    'FULCIO_REJECTED',
    'FULCIO_RESPONSE_INVALID',
    'FULCIO_TOKEN_INVALID',
    'FULCIO_TOKEN_UNREADABLE',
    'FULCIO_UNAVAILABLE',
    'KMS_ACCESS_DENIED',
    'KMS_BAD_RESPONSE',
    'KMS_CLIENT_ERROR',
    'KMS_CREDENTIALS_MISSING',
    'KMS_INTEGRITY',
    'KMS_KEY_DISABLED',
    'KMS_KEY_NOT_FOUND',
    'KMS_KEY_UNSUITABLE',
    'KMS_REF_INVALID',
    'KMS_REGION_MISSING',
    'KMS_REQUEST_REJECTED',
    'KMS_THROTTLED',
    'KMS_UNAVAILABLE',
    'KMS_UNREACHABLE',
    'PKCS11_DEVICE_ERROR',
    'PKCS11_KEY_NOT_FOUND',
    'PKCS11_KEY_UNSUPPORTED',
    'PKCS11_MODULE_LOAD',
    'PKCS11_PIN_INCORRECT',
    'PKCS11_PIN_UNAVAILABLE',
    'PKCS11_SIGNER_CLOSED',
    'PKCS11_TOKEN_NOT_FOUND',
    'PKCS11_URI_INVALID',
    'SIGNATURE_MALFORMED',
    'SIGNER_CLOSED',
    'SIGNER_DISABLED',
    'SIGNER_NO_KEY_MATERIAL',
    'SIGNING_DISABLED',
    'SIGNING_KEY_MISSING',
    'SIGNING_KEY_PASSWORD_INVALID',
    'SIGNING_KEY_TLOG_UNSUPPORTED',
    'SIGNING_KEY_UNREADABLE',
    'SIGNING_KEY_UNSUPPORTED',
    'SIGNING_KMS_REF_MISSING',
    'SIGNING_KMS_SCHEME_UNSUPPORTED',
  
    'FULCIO_CERTIFICATE_UNTRUSTED',
    'IDENTITY_PROVIDER_UNCONFIGURED',
    'IDENTITY_TOKEN_UNAVAILABLE',
    'SPIFFE_NO_IDENTITY',
    'SPIFFE_NO_SVID',
    'SPIFFE_SOCKET_INVALID',
    'SPIFFE_UNAVAILABLE',
    'TUF_METADATA_EXPIRED',
    'TUF_METADATA_INVALID',
    'TUF_UNAVAILABLE',
    'VAULT_ADDRESS_MISSING',
    'VAULT_TOKEN_MISSING',
    'VAULT_TOKEN_UNREADABLE',
  ],
  transparency: [
    'REKOR_REJECTED',
    'REKOR_UNAVAILABLE',
    'TLOG_ATTESTATION_MISMATCH',
    'TLOG_CHECKPOINT_INVALID',
    'TLOG_DIGEST_INVALID',
    'TLOG_ENTRY_ID_INVALID',
    'TLOG_ENTRY_MISMATCH',
    'TLOG_ENTRY_NOT_FOUND',
    'TLOG_INCLUSION_PROOF_INVALID',
    'TLOG_INCLUSION_PROOF_MISSING',
    'TLOG_LOG_KEY_UNKNOWN',
    'TLOG_REQUEST_REJECTED',
    'TLOG_RESPONSE_INVALID',
    'TLOG_SEARCH_UNSUPPORTED',
    'TLOG_SET_INVALID',
    'TLOG_SET_MISSING',
    'TLOG_TRUSTED_ROOT_INVALID',
    'TLOG_UNAVAILABLE',
    'TSA_REJECTED',
    'TSA_TIMESTAMP_UNPARSEABLE',
    'TSA_UNAVAILABLE',
  
    'REKOR_ENTRY_INVALID',
  ],
  storage: [
    'LOCAL_CORRUPT',
    'LOCAL_INVALID_NAME',
    'LOCAL_WRITE_FAILED',
    'OCI_BLOB_NOT_FOUND',
    'OCI_BUNDLE_INVALID',
    'OCI_CONCURRENT_UPDATE',
    'OCI_CREDENTIALS_INVALID',
    'OCI_DIGEST_MISMATCH',
    'OCI_FORBIDDEN',
    'OCI_IMAGE_NOT_FOUND',
    'OCI_INDEX_TOO_LARGE',
    'OCI_MANIFEST_INVALID',
    'OCI_REFERENCE_INVALID',
    'OCI_REFERRERS_TAG_CONFLICT',
    'OCI_REPOSITORY_INVALID',
    'OCI_REQUEST_FAILED',
    'OCI_SUBJECT_INVALID',
    'OCI_UNAUTHORIZED',
    'OCI_UNAVAILABLE',
    'STORAGE_DEPENDENCY_MISSING',
    'STORAGE_NOT_WIRED',
    'STORAGE_UNSUPPORTED',
    'TEKTON_ANNOTATIONS_TOO_LARGE',
    'TEKTON_BUNDLE_INVALID',
  
    'ARCHIVISTA_BAD_RESPONSE',
    'ARCHIVISTA_GITOID_INVALID',
    'ARCHIVISTA_REJECTED',
    'ARCHIVISTA_UNAVAILABLE',
    'DOCDB_ACCESS_DENIED',
    'DOCDB_COLLECTION_NOT_FOUND',
    'DOCDB_CONNECTION_MISSING',
    'DOCDB_PAYLOAD_NOT_JSON',
    'DOCDB_REJECTED',
    'DOCDB_UNAVAILABLE',
    'GCS_ACCESS_DENIED',
    'GCS_BUCKET_NOT_FOUND',
    'GCS_REQUEST_REJECTED',
    'GCS_UNAVAILABLE',
    'GRAFEAS_ACCESS_DENIED',
    'GRAFEAS_NOT_FOUND',
    'GRAFEAS_PAYLOAD_INVALID',
    'GRAFEAS_REJECTED',
    'GRAFEAS_UNAVAILABLE',
    'OCI_BLOB_INVALID',
  ],
  verify: [
    'TRACE_DEPTH_INVALID',
    'TRACE_POLICY_REQUIRED',
    'VERIFY_ARTIFACT_REQUIRED',
    'VERIFY_BUNDLE_INVALID',
    'VERIFY_CERTIFICATE_INVALID',
    'VERIFY_CERTIFICATE_MISSING',
    'VERIFY_FAILED',
    'VERIFY_IDENTITY_MISMATCH',
    'VERIFY_KEY_INVALID',
    'VERIFY_KEY_MISMATCH',
    'VERIFY_PAYLOAD_INVALID',
    'VERIFY_PLATFORM_NOT_FOUND',
    'VERIFY_SIGNATURE_INVALID',
    'VERIFY_TIMESTAMP_INVALID',
    'VERIFY_TLOG_INVALID',
    'VERIFY_TLOG_MISMATCH',
    'VERIFY_TLOG_MISSING',
    'VERIFY_TRUSTED_ROOT_INVALID',
    'VERIFY_TRUSTED_ROOT_REQUIRED',
  
    'TRACE_LINK_LIMIT',
    'TRACE_POLICY_INVALID',
    'TRACE_SOURCE_INVALID',
    'TRACE_STORE_UNREADABLE',
    'WORKLOAD_NOT_FOUND',
  ],
  /** Anything thrown that is not a ProvenantError, classified at the worker boundary. */
  generic: ['UNEXPECTED'],
} as const;

export type ErrorRoom = keyof typeof errorCodes;
export type RoomErrorCode<R extends ErrorRoom> = (typeof errorCodes)[R][number];
export type ConfigErrorCode = RoomErrorCode<'config'>;
export type CliErrorCode = RoomErrorCode<'cli'>;
export type TektonErrorCode = RoomErrorCode<'tekton'>;
export type WatchErrorCode = RoomErrorCode<'watch'>;
export type QueueErrorCode = RoomErrorCode<'queue'>;
export type SigningErrorCode = RoomErrorCode<'signing'>;
export type TransparencyErrorCode = RoomErrorCode<'transparency'>;
export type StorageErrorCode = RoomErrorCode<'storage'>;
export type VerifyErrorCode = RoomErrorCode<'verify'>;
export type ErrorCode = RoomErrorCode<ErrorRoom>;

export interface ErrorContext {
  /** `<kind>/<namespace>/<name>` of the run, when the error concerns one. */
  readonly run?: string;
  /** What to do about it, for people reading logs or CLI output. */
  readonly hint?: string;
  readonly [key: string]: unknown;
}

export class ProvenantError extends Error {
  override readonly name = 'ProvenantError';
  readonly kind: ErrorKind;
  readonly code: ErrorCode;
  readonly context: ErrorContext;

  constructor(kind: ErrorKind, code: ErrorCode, message: string, options: { cause?: unknown; context?: ErrorContext } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.code = code;
    this.context = options.context ?? {};
  }

  /** A JSON-safe view for structured logs. */
  toJSON(): Record<string, unknown> {
    return { name: this.name, kind: this.kind, code: this.code, message: this.message, ...this.context };
  }
}

export function isProvenantError(err: unknown, code?: ErrorCode): err is ProvenantError {
  return err instanceof ProvenantError && (code === undefined || err.code === code);
}

/**
 * The one classification of a failure (ARCHITECTURE.md: errors are classified once, at the worker
 * boundary): a ProvenantError as is; anything else is an `UNEXPECTED` transient error.
 */
export function classifyError(err: unknown, context: ErrorContext = {}): ProvenantError {
  return isProvenantError(err) ? err : new ProvenantError('transient', 'UNEXPECTED', errorMessage(err), { cause: err, context });
}

/** Only `transient` failures are retried per run; `config`, `permanent` and `input` are not. */
export function isRetryable(err: unknown): boolean {
  return classifyError(err).kind === 'transient';
}

/** Message of any thrown value, without its stack. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Codes for untrusted input over a limit of src/limits.ts (docs/limits.md lists which boundary raises
 * which). Most reuse the boundary's "invalid" code, so callers need no new branch.
 */
export const limitErrorCodes = [
  'RUN_MALFORMED',
  'CONFIG_INVALID',
  'INPUT_TOO_LARGE',
  'OCI_MANIFEST_INVALID',
  'OCI_BLOB_INVALID',
  'OCI_DIGEST_MISMATCH',
  'VERIFY_BUNDLE_INVALID',
  'VERIFY_PAYLOAD_INVALID',
  'VERIFY_CERTIFICATE_INVALID',
  'REKOR_ENTRY_INVALID',
  'TLOG_RESPONSE_INVALID',
  'TRACE_LINK_LIMIT',
] as const satisfies readonly ErrorCode[];
export type LimitErrorCode = (typeof limitErrorCodes)[number];
