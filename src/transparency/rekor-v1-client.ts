/**
 * Rekor v1 uploads (`POST /api/v1/log/entries`, and on 409 the existing entry by its UUID) through
 * the project's lean HTTP/1.1 client, as a `Witness` with the behaviour of `@sigstore/sign`'s
 * RekorWitness with `fetchOnConflict` (whose entry builder it uses, so the proposed entries are
 * byte-identical). Why: sigstore-js sends through make-fetch-happen (minipass streams, an agent per
 * call, promise-retry), which cost ~1.2 ms of controller CPU per entry on loopback, a run logs one
 * entry per artifact, and issue 10 asks for ≤ 5 ms per run with `tekton` storage and Rekor.
 *
 * Failures are thrown in sigstore-js's shape (`code` TLOG_CREATE_ENTRY_ERROR / TLOG_FETCH_ENTRY_ERROR,
 * `cause.statusCode`), so `classifyRekorError` classifies both clients alike. Proxies: make-fetch-happen
 * honours HTTP(S)_PROXY and this client does not, so `createRekorWitness` keeps sigstore-js's client
 * when a proxy is configured.
 */
import type { TransparencyLogEntry } from '@sigstore/bundle';
import type { SignatureBundle, VerificationMaterial, Witness } from '@sigstore/sign';
import { toProposedEntry } from '@sigstore/sign/dist/witness/tlog/entry.js';
import { backoffDelayMs } from '../backoff.js';
import { http1Request, type Http1Response } from '../http-client.js';
import { limits } from '../limits.js';

export interface RekorV1ClientOptions {
  /** Base URL without a trailing slash. */
  readonly url: string;
  readonly entryType: 'dsse' | 'intoto';
  readonly timeoutMs: number;
  /** In-call retries on 5xx/408/429/network errors (the queue retries jobs; default 0). */
  readonly retries: number;
}

/** An HTTP failure, shaped as sigstore-js's HTTPError. */
class RekorHttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly location?: string,
  ) {
    super(message);
  }
}

/** A failed step, shaped as sigstore-js's InternalError (`code`, `cause`). */
class RekorClientError extends Error {
  constructor(
    readonly code: 'TLOG_CREATE_ENTRY_ERROR' | 'TLOG_FETCH_ENTRY_ERROR',
    message: string,
    options: { cause: unknown },
  ) {
    super(message, options);
  }
}

interface RekorEntry {
  readonly body: string;
  readonly integratedTime: number;
  readonly logID: string;
  readonly logIndex: number;
  readonly verification?: {
    readonly signedEntryTimestamp?: string;
    readonly inclusionProof?: {
      readonly logIndex: number;
      readonly treeSize: number;
      readonly rootHash: string;
      readonly hashes: readonly string[];
      readonly checkpoint: string;
    };
  };
}

const retryable = (status: number): boolean => status === 408 || status === 429 || status >= 500;

function messageOf(res: Http1Response): string {
  if (res.body !== undefined && (res.headers['content-type'] ?? '').includes('application/json')) {
    try {
      const parsed = JSON.parse(res.body.subarray(0, limits.http.errorBodyMaxBytes).toString('utf8')) as { message?: unknown };
      if (typeof parsed.message === 'string') return parsed.message;
    } catch {
      // not JSON after all: the status says enough
    }
  }
  return `HTTP ${res.status}`;
}

/** The one entry of a `{uuid: entry}` answer. */
function entryOf(res: Http1Response): RekorEntry {
  const data = JSON.parse((res.body ?? Buffer.alloc(0)).toString('utf8')) as Record<string, RekorEntry>;
  const entries = Object.values(data);
  if (entries.length !== 1 || typeof entries[0] !== 'object' || entries[0] === null) throw new Error('expected one entry in the Rekor answer');
  return entries[0];
}

/** As sigstore-js's `toTransparencyLogEntry`. */
function toTransparencyLogEntry(entry: RekorEntry): TransparencyLogEntry {
  const body = Buffer.from(entry.body, 'base64');
  const parsed = JSON.parse(body.toString('utf8')) as { kind?: string; apiVersion?: string };
  const sets = entry.verification?.signedEntryTimestamp;
  const proof = entry.verification?.inclusionProof;
  return {
    logIndex: entry.logIndex.toString(),
    logId: { keyId: Buffer.from(entry.logID, 'hex') },
    integratedTime: entry.integratedTime.toString(),
    kindVersion: { kind: parsed.kind ?? '', version: parsed.apiVersion ?? '' },
    inclusionPromise: sets !== undefined ? { signedEntryTimestamp: Buffer.from(sets, 'base64') } : undefined,
    inclusionProof:
      proof !== undefined
        ? {
            logIndex: proof.logIndex.toString(),
            treeSize: proof.treeSize.toString(),
            rootHash: Buffer.from(proof.rootHash, 'hex'),
            hashes: proof.hashes.map((h) => Buffer.from(h, 'hex')),
            checkpoint: { envelope: proof.checkpoint },
          }
        : undefined,
    canonicalizedBody: body,
  } as TransparencyLogEntry;
}

export function createRekorV1Client(options: RekorV1ClientOptions): Witness {
  const headers = { 'Content-Type': 'application/json', Accept: 'application/json', 'User-Agent': 'provenant' };

  /** 1 s, 2 s, 4 s, … without jitter, as sigstore-js's client (promise-retry's defaults) waits. */
  const pauseBeforeRetry = (attempt: number): Promise<void> =>
    new Promise((r) => setTimeout(r, backoffDelayMs(attempt + 1, { baseMs: 1000, maxMs: Number.POSITIVE_INFINITY }, () => 1)));

  async function send(method: 'GET' | 'POST', path: string, body?: string): Promise<Http1Response> {
    for (let attempt = 0; ; attempt++) {
      let res: Http1Response;
      try {
        res = await http1Request({
          method,
          url: new URL(`${options.url}${path}`),
          headers: method === 'POST' ? headers : { Accept: headers.Accept, 'User-Agent': headers['User-Agent'] },
          body,
          timeoutMs: options.timeoutMs,
          maxBodyBytes: limits.rekor.maxBytes,
        });
      } catch (err) {
        if (attempt < options.retries) {
          await pauseBeforeRetry(attempt);
          continue;
        }
        throw err;
      }
      if (res.status >= 200 && res.status < 300) return res;
      if (retryable(res.status) && attempt < options.retries) {
        await pauseBeforeRetry(attempt);
        continue;
      }
      throw new RekorHttpError(res.status, messageOf(res), res.headers['location']);
    }
  }

  return {
    async testify(content: SignatureBundle, publicKey: string): Promise<VerificationMaterial> {
      const proposed = JSON.stringify(toProposedEntry(content, publicKey, options.entryType));
      let entry: RekorEntry;
      try {
        entry = entryOf(await send('POST', '/api/v1/log/entries', proposed));
      } catch (err) {
        // Already logged (a retry of a lost answer): fetch that entry by the UUID in Location.
        if (!(err instanceof RekorHttpError && err.statusCode === 409 && err.location !== undefined)) {
          throw new RekorClientError('TLOG_CREATE_ENTRY_ERROR', 'error creating tlog entry', { cause: err });
        }
        const uuid = err.location.split('/').pop() ?? '';
        try {
          entry = entryOf(await send('GET', `/api/v1/log/entries/${encodeURIComponent(uuid)}`));
        } catch (fetchErr) {
          throw new RekorClientError('TLOG_FETCH_ENTRY_ERROR', 'error fetching tlog entry', { cause: fetchErr });
        }
      }
      return { tlogEntries: [toTransparencyLogEntry(entry)] };
    },
  };
}
