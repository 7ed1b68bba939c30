/**
 * One error type for the whole project (STYLE.md #8). Errors are classified once:
 * - `config`: fix the ConfigMap / flags; never retried per run.
 * - `transient`: retry with backoff (network, throttling, 5xx).
 * - `permanent`: the run cannot be attested as is; mark it `signed=failed` with the code.
 * - `input`: a bad file or argument given to the CLI (exit code 2).
 * Tests and code branch on `code`, never on message text. Messages never contain secrets.
 */
export type ErrorKind = 'config' | 'transient' | 'permanent' | 'input';

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
  readonly code: string;
  readonly context: ErrorContext;

  constructor(kind: ErrorKind, code: string, message: string, options: { cause?: unknown; context?: ErrorContext } = {}) {
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

export function isProvenantError(err: unknown, code?: string): err is ProvenantError {
  return err instanceof ProvenantError && (code === undefined || err.code === code);
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
] as const;
export type LimitErrorCode = (typeof limitErrorCodes)[number];
