/**
 * The Rekor witness for `dsse` entries (message signatures become `hashedrekord` entries) with
 * `fetchOnConflict`, so a 409 "entry already exists" returns the existing entry instead of failing:
 * Rekor v1 through the lean client in rekor-v1-client.ts (sigstore-js's RekorWitness behind a proxy
 * and for API version 2). Its errors are classified once here:
 *   network, timeout, 408, 429, 5xx, a failed fetch after a 409  → transient REKOR_UNAVAILABLE
 *   any other 4xx (the log refuses the entry)                     → permanent REKOR_REJECTED
 * Retries are left to the job queue (backoff with jitter), so the client itself does not retry by default.
 */
import { RekorWitness, type SignatureBundle, type VerificationMaterial, type Witness } from '@sigstore/sign';
import { ProvenantError, errorMessage } from '../errors.js';
import type { Logger } from '../observability/index.js';
import type { TransparencyEntryType } from '../config/index.js';
import { createRekorV1Client } from './rekor-v1-client.js';

export interface RekorWitnessDeps {
  /** `transparency.url`, e.g. `https://rekor.sigstore.dev`. */
  readonly url: string;
  readonly logger: Logger;
  /** Per-request timeout; default 30 s. */
  readonly timeoutMs?: number;
  /** In-call retries on 5xx/408/429/network; default 0 (the queue retries the job). */
  readonly retries?: number;
  /**
   * `transparency.entry-type`: the Rekor type for DSSE envelopes, `dsse` (default, what Chains and cosign
   * write) or `intoto` (0.0.2: Rekor keeps the envelope, so the statement can be fetched by digest).
   * Message signatures (image signatures) are always `hashedrekord`.
   */
  readonly entryType?: TransparencyEntryType;
  /** 1: Rekor v1 REST API (default); 2: Rekor v2 (rekor-tiles; dsse and hashedrekord only, no SET). */
  readonly majorApiVersion?: 1 | 2;
  /** For tests: the witness to wrap instead of a Rekor client for `url`. */
  readonly witness?: Witness;
  /**
   * Uploads go through an HTTP proxy: use sigstore-js's client (make-fetch-happen follows
   * HTTP(S)_PROXY; the lean v1 client does not). Default: whether the environment names a proxy.
   */
  readonly proxied?: boolean;
}

interface HttpLikeError {
  readonly statusCode?: unknown;
  readonly cause?: unknown;
  readonly code?: unknown;
}

/** The HTTP status in a sigstore-js error chain (InternalError → HTTPError), if any. */
function statusOf(err: unknown): number | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const e = current as HttpLikeError;
    if (typeof e.statusCode === 'number') return e.statusCode;
    current = e.cause;
  }
  return undefined;
}

/** Turn whatever the Rekor client threw into a classified ProvenantError (STYLE.md #8). */
export function classifyRekorError(err: unknown, url: string): ProvenantError {
  if (err instanceof ProvenantError) return err;
  const status = statusOf(err);
  // sigstore-js codes: TLOG_CREATE_ENTRY_ERROR, or TLOG_FETCH_ENTRY_ERROR when the 409 lookup failed.
  const phase = (err as HttpLikeError | undefined)?.code === 'TLOG_FETCH_ENTRY_ERROR' ? 'fetch-existing' : 'create';
  const context = { rekor: url, status, phase };
  const rejected = status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429 && phase === 'create';
  if (rejected) {
    return new ProvenantError('permanent', 'REKOR_REJECTED', `Rekor refused the entry (HTTP ${String(status)}): ${errorMessage(err)}`, {
      cause: err,
      context: { ...context, hint: 'the signed payload or key is not acceptable to this log; check transparency.url and the signer' },
    });
  }
  return new ProvenantError('transient', 'REKOR_UNAVAILABLE', `Rekor is unavailable: ${errorMessage(err)}`, {
    cause: err,
    context,
  });
}

/** True when the environment names an HTTP proxy, which only sigstore-js's client (make-fetch-happen) follows. */
function proxyConfigured(env: NodeJS.ProcessEnv): boolean {
  return ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'].some((k) => (env[k] ?? '') !== '');
}

export function createRekorWitness(deps: RekorWitnessDeps): Witness {
  const url = deps.url.replace(/\/+$/, '');
  const lean = (deps.majorApiVersion ?? 1) === 1 && !(deps.proxied ?? proxyConfigured(process.env));
  const inner =
    deps.witness ??
    (lean
      ? createRekorV1Client({ url, entryType: deps.entryType ?? 'dsse', timeoutMs: deps.timeoutMs ?? 30_000, retries: deps.retries ?? 0 })
      : undefined) ??
    new RekorWitness({
      rekorBaseURL: url,
      entryType: deps.entryType ?? 'dsse',
      majorApiVersion: deps.majorApiVersion ?? 1,
      fetchOnConflict: true,
      timeout: deps.timeoutMs ?? 30_000,
      retry: deps.retries ?? 0,
    });
  return {
    async testify(content: SignatureBundle, publicKey: string): Promise<VerificationMaterial> {
      try {
        const material = await inner.testify(content, publicKey);
        const entry = material.tlogEntries?.[0];
        // debug: one info line per run ('run signed') is what the controller's CPU affords (issue 10).
        deps.logger.debug({ rekor: url, logIndex: entry?.logIndex, kind: entry?.kindVersion?.kind }, 'logged in Rekor');
        return material;
      } catch (err) {
        const classified = classifyRekorError(err, url);
        deps.logger.warn({ rekor: url, code: classified.code, kind: classified.kind, status: classified.context['status'] }, 'Rekor upload failed');
        throw classified;
      }
    },
  };
}
