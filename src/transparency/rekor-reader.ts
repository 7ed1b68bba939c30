/**
 * Reads a Rekor v1 log: search by digest or key (`POST /api/v1/index/retrieve`), fetch entries
 * (`POST /api/v1/log/entries/retrieve`, `GET /api/v1/log/entries/{id}`, `?logIndex=N`), and returns each
 * entry decoded and verified against the trusted root (SET, inclusion proof, signed checkpoint, UUID).
 * Rekor v2 logs have no search index: discovery by digest needs a v1 log or the registry.
 */
import { ProvenantError, errorMessage } from '../errors.js';
import { checkJsonShape, limits, readBodyBounded, violationError } from '../limits.js';
import { bundleEntryFromRekorV1, checkTlogEntry, evidenceFromRekorV1, tlogKeysOf, type BundleTlogEntryJson, type TlogKey } from './tlog-trust.js';
import { decodeRekorBody, type DecodedRekorBody, type RekorEnvelope, type RekorVerifier } from './rekor-entry.js';

export type { RekorEnvelope, RekorVerifier };

/** A log entry: its decoded body (kind, envelope or signature, verifiers, digests) plus where and when it was logged. */
export interface RekorLogEntry extends DecodedRekorBody {
  /** 64-hex leaf hash. */
  readonly uuid: string;
  /** The ID the log returned (80 hex with the tree ID on sharded logs). */
  readonly entryId: string;
  readonly logIndex: number;
  readonly integratedTime: number;
  readonly logId: string;
  readonly verification: { readonly set: true; readonly inclusionProof: true; readonly checkpoint: true };
  /** The entry as a Sigstore bundle `tlogEntries[]` item (protobuf JSON), SET and inclusion proof included. */
  readonly bundleEntry: BundleTlogEntryJson;
}

export interface RekorReaderOptions {
  readonly baseUrl: string;
  /** JSON trusted_root.json (object). */
  readonly trustedRoot: unknown;
  readonly fetch?: typeof globalThis.fetch;
  readonly timeoutMs?: number;
}

export interface RekorReader {
  searchByDigest(digest: string): Promise<RekorLogEntry[]>;
  searchByPublicKey(pem: string): Promise<RekorLogEntry[]>;
  getEntry(ref: string | number): Promise<RekorLogEntry>;
  getEntries(ids: readonly string[]): Promise<RekorLogEntry[]>;
}

const digestPattern = /^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128}|sha1:[0-9a-f]{40})$/;

/** Accepts `sha256:<hex>` (and sha1/sha512); a bare 64-hex value is taken as sha256. */
export function normaliseDigest(digest: string): string {
  const d = digest.trim().toLowerCase();
  const prefixed = /^[0-9a-f]{64}$/.test(d) ? `sha256:${d}` : d;
  if (!digestPattern.test(prefixed)) {
    throw new ProvenantError('input', 'TLOG_DIGEST_INVALID', 'a digest is sha256:<64 hex> (or sha1:/sha512:)', { context: { digest } });
  }
  return prefixed;
}

function entryRef(ref: string): string {
  const id = ref.trim().toLowerCase();
  if (!/^([0-9a-f]{64}|[0-9a-f]{80})$/.test(id)) {
    throw new ProvenantError('input', 'TLOG_ENTRY_ID_INVALID', 'an entry UUID is 64 hex (or 80 hex with the tree ID)', { context: { ref } });
  }
  return id;
}

export function createRekorReader(options: RekorReaderOptions): RekorReader {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const doFetch = options.fetch ?? globalThis.fetch;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const logs: readonly TlogKey[] = tlogKeysOf(options.trustedRoot);

  async function call(path: string, init: { method: 'GET' | 'POST'; body?: unknown } = { method: 'GET' }): Promise<unknown> {
    let res: Response;
    try {
      res = await doFetch(`${baseUrl}${path}`, {
        method: init.method,
        headers: { Accept: 'application/json', ...(init.body === undefined ? {} : { 'Content-Type': 'application/json' }) },
        ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (cause) {
      throw new ProvenantError('transient', 'TLOG_UNAVAILABLE', `Rekor is unreachable: ${errorMessage(cause)}`, { cause, context: { rekor: baseUrl } });
    }
    // Bounded (docs/limits.md): a hostile or broken log cannot make the reader buffer without end.
    const { bytes } = await readBodyBounded(res, limits.rekor.maxBytes, {
      tooLarge: (actual) =>
        new ProvenantError('input', 'TLOG_RESPONSE_INVALID', `Rekor answered more than ${limits.rekor.maxBytes} bytes`, {
          context: { rekor: baseUrl, limit: 'bytes', max: limits.rekor.maxBytes, actual },
        }),
      failed: (cause) => new ProvenantError('transient', 'TLOG_UNAVAILABLE', `Rekor's answer could not be read: ${errorMessage(cause)}`, { cause, context: { rekor: baseUrl } }),
    });
    const text = Buffer.from(bytes).toString('utf8');
    if (res.status === 404) throw new ProvenantError('permanent', 'TLOG_ENTRY_NOT_FOUND', 'no such entry in the log', { context: { rekor: baseUrl, path } });
    if (res.status >= 500 || res.status === 429 || res.status === 408) {
      throw new ProvenantError('transient', 'TLOG_UNAVAILABLE', `Rekor answered HTTP ${res.status}`, { context: { rekor: baseUrl, status: res.status } });
    }
    if (res.status === 501) throw new ProvenantError('permanent', 'TLOG_SEARCH_UNSUPPORTED', 'this log has no search index');
    if (!res.ok) throw new ProvenantError('permanent', 'TLOG_REQUEST_REJECTED', `Rekor refused the request (HTTP ${res.status})`, { context: { rekor: baseUrl, status: res.status, path } });
    let parsed: unknown;
    try {
      parsed = JSON.parse(text) as unknown;
    } catch (cause) {
      throw new ProvenantError('permanent', 'TLOG_RESPONSE_INVALID', 'Rekor answered with something that is not JSON', { cause });
    }
    checkJsonShape(parsed, limits.rekor, violationError('input', 'TLOG_RESPONSE_INVALID', 'Rekor answer'));
    return parsed;
  }

  /** Verifies and decodes every `{<entryId>: LogEntry}` pair of a response. */
  function entriesOf(response: unknown, expected?: ReadonlySet<string>): RekorLogEntry[] {
    const maps = Array.isArray(response) ? response : [response];
    const out: RekorLogEntry[] = [];
    for (const map of maps) {
      if (typeof map !== 'object' || map === null) throw new ProvenantError('permanent', 'TLOG_RESPONSE_INVALID', 'not a Rekor LogEntry');
      for (const [entryId, anon] of Object.entries(map as Record<string, unknown>)) {
        const uuid = entryId.toLowerCase().slice(-64);
        if (expected !== undefined && !expected.has(uuid)) {
          throw new ProvenantError('permanent', 'TLOG_ENTRY_MISMATCH', 'Rekor returned an entry that was not asked for', { context: { entryId } });
        }
        const evidence = evidenceFromRekorV1(anon);
        checkTlogEntry(evidence, logs, { uuid });
        const attestationData = (anon as { attestation?: { data?: unknown } }).attestation?.data;
        const decoded = decodeRekorBody(evidence.body, typeof attestationData === 'string' ? Buffer.from(attestationData, 'base64') : undefined);
        out.push({
          uuid,
          entryId: entryId.toLowerCase(),
          logIndex: evidence.logIndex,
          integratedTime: evidence.integratedTime,
          logId: evidence.logId.toLowerCase(),
          ...decoded,
          verification: { set: true, inclusionProof: true, checkpoint: true },
          bundleEntry: bundleEntryFromRekorV1(evidence, decoded.kind, decoded.apiVersion),
        });
      }
    }
    return out;
  }

  async function getEntries(ids: readonly string[]): Promise<RekorLogEntry[]> {
    const refs = [...new Set(ids.map(entryRef))];
    const out: RekorLogEntry[] = [];
    // Rekor answers at most 10 queries per request.
    for (let i = 0; i < refs.length; i += 10) {
      const chunk = refs.slice(i, i + 10);
      const response = await call('/api/v1/log/entries/retrieve', { method: 'POST', body: { entryUUIDs: chunk } });
      out.push(...entriesOf(response, new Set(chunk.map((r) => r.slice(-64)))));
    }
    return out;
  }

  async function search(query: Record<string, unknown>): Promise<RekorLogEntry[]> {
    const ids = await call('/api/v1/index/retrieve', { method: 'POST', body: query });
    if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string')) throw new ProvenantError('permanent', 'TLOG_RESPONSE_INVALID', 'the index answer is not a list of entry IDs');
    const entries = await getEntries(ids as string[]);
    return entries.sort((a, b) => a.integratedTime - b.integratedTime || a.logIndex - b.logIndex);
  }

  return {
    searchByDigest: async (digest) => search({ hash: normaliseDigest(digest) }),
    searchByPublicKey: async (pem) => search({ publicKey: { format: 'x509', content: Buffer.from(pem, 'utf8').toString('base64') } }),
    getEntries,
    async getEntry(ref) {
      if (typeof ref === 'number') {
        if (!Number.isSafeInteger(ref) || ref < 0) throw new ProvenantError('input', 'TLOG_ENTRY_ID_INVALID', 'a log index is an integer ≥ 0');
        const [entry] = entriesOf(await call(`/api/v1/log/entries?logIndex=${ref}`));
        if (entry === undefined) throw new ProvenantError('permanent', 'TLOG_ENTRY_NOT_FOUND', 'no such entry in the log');
        if (entry.logIndex !== ref) throw new ProvenantError('permanent', 'TLOG_ENTRY_MISMATCH', 'Rekor returned another log index');
        return entry;
      }
      const id = entryRef(ref);
      const [entry] = entriesOf(await call(`/api/v1/log/entries/${id}`), new Set([id.slice(-64)]));
      if (entry === undefined) throw new ProvenantError('permanent', 'TLOG_ENTRY_NOT_FOUND', 'no such entry in the log');
      return entry;
    },
  };
}
