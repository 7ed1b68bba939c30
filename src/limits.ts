/**
 * Limits on untrusted input (docs/limits.md lists each one, its default and where it is tunable).
 * Everything here runs before the code that would otherwise recurse or buffer: a size check before
 * a body is read, an iterative shape walk before any recursive transform of a parsed document.
 * Violations are `ProvenantError`s built by the caller's factory, so each boundary keeps its own
 * code (`RUN_MALFORMED`, `OCI_MANIFEST_INVALID`, `VERIFY_BUNDLE_INVALID`, …) and kind.
 *
 * No I/O and no clock: the helpers that read HTTP bodies take the `Response` they are given.
 */
import { createHash } from 'node:crypto';
import { ProvenantError, type ErrorCode, type ErrorKind } from './errors.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Shape limits of a parsed JSON (or YAML) document. */
export interface JsonShapeLimits {
  /** Nesting depth: the root container is depth 1. */
  readonly maxDepth: number;
  /** Keys of any one object. */
  readonly maxKeys: number;
  /** Items of any one array. */
  readonly maxItems: number;
  /** UTF-16 length of any one string (keys included). */
  readonly maxStringLength: number;
  /** Values in the whole document (containers and scalars). */
  readonly maxNodes: number;
  /** Approximate compact JSON size of the whole document, in bytes (strings counted as UTF-16 units). */
  readonly maxBytes: number;
}

/**
 * The defaults. A run is what the API server still accepts (etcd's 1.5 MiB object limit); the rest is
 * generous against what provenant and cosign write, and small against what a hostile registry can send.
 */
export const limits = {
  /**
   * TaskRun / PipelineRun objects (controller and CLI). etcd stores at most 1.5 MiB per object; the
   * byte count here is an estimate of the compact JSON, so it leaves some room above that.
   */
  run: { maxDepth: 64, maxKeys: 4096, maxItems: 10_000, maxStringLength: 1536 * KiB, maxNodes: 250_000, maxBytes: 2 * MiB },
  /** The `chains-config` ConfigMap data (Kubernetes caps a ConfigMap at 1 MiB). */
  configMap: { maxKeys: 512, maxValueLength: 64 * KiB, maxBytes: 1 * MiB },
  /** Documents the CLI reads from files or stdin (runs, configs, bundles, trusted roots, keys). */
  cliDocument: { maxBytes: 64 * MiB },
  /** OCI image manifests and indexes (Distribution refuses manifests over 4 MiB). */
  manifest: {
    maxBytes: 4 * MiB,
    maxDepth: 16,
    maxKeys: 1024,
    maxItems: 10_000,
    maxStringLength: 1 * MiB,
    maxNodes: 200_000,
    /** Layers of one manifest (cosign `.att`/`.sig`: one layer per signature). */
    maxLayers: 1000,
    /** Entries of one index (referrers, tag-schema fallback). */
    maxManifests: 1000,
  },
  /** Blobs read from a registry: attestation layers (bundles, DSSE envelopes, simple-signing payloads). */
  blob: { maxBytes: 32 * MiB },
  /** Sum of the blobs one read of an image's attestations may download. */
  attestationsRead: { maxBytes: 128 * MiB },
  /** Sigstore bundles (JSON) and DSSE envelopes inside them. */
  bundle: {
    maxDepth: 32,
    maxKeys: 256,
    maxItems: 1000,
    maxStringLength: 48 * MiB,
    maxNodes: 100_000,
    maxBytes: 48 * MiB,
    maxTlogEntries: 16,
    maxTimestamps: 16,
    maxSignatures: 16,
    /** Certificates in `x509CertificateChain` (leaf, intermediates, root). */
    maxCertificates: 10,
  },
  /** The signed in-toto statement (DSSE payload): what a 1.5 MiB run can produce, base64-decoded, with room. */
  statement: { maxDepth: 100, maxKeys: 10_000, maxItems: 20_000, maxStringLength: 16 * MiB, maxNodes: 500_000, maxBytes: 32 * MiB },
  /** One X.509 certificate (DER) and its ASN.1 nesting. */
  certificate: { maxBytes: 64 * KiB, maxAsn1Depth: 32 },
  /** Rekor v1 answers (`/api/v1/log/entries…`). */
  rekor: { maxDepth: 16, maxKeys: 256, maxItems: 1000, maxStringLength: 32 * MiB, maxNodes: 100_000, maxBytes: 32 * MiB },
  /** Registry HTTP: per-request deadline (headers and body) and token answers. */
  http: { timeoutMs: 60_000, tokenMaxBytes: 1 * MiB, errorBodyMaxBytes: 64 * KiB },
  /** `trace`: materials followed per verified statement, and nodes per graph (besides `--max-depth`). */
  trace: { maxFanOut: 256, maxNodes: 2000 },
} as const;

/** A limit was exceeded: what, where and by how much (for the error's context, never for branching). */
export interface LimitViolation {
  readonly limit: string;
  readonly max: number;
  readonly actual: number;
  /** JSONPath-like location (`$.status.provenance.featureFlags.x.x`), truncated. */
  readonly path: string;
}

export type ViolationError = (v: LimitViolation) => ProvenantError;

/** A factory for the common case: one kind and code per boundary. */
export function violationError(kind: ErrorKind, code: ErrorCode, what: string): ViolationError {
  return (v) =>
    new ProvenantError(kind, code, `${what}: ${v.limit} ${v.actual} exceeds the limit of ${v.max} at ${v.path}`, {
      context: { limit: v.limit, max: v.max, actual: v.actual, path: v.path, hint: 'see docs/limits.md' },
    });
}

const PATH_SEGMENTS = 12;

function pathOf(segments: readonly (string | number)[]): string {
  const shown = segments.length > PATH_SEGMENTS ? [...segments.slice(0, PATH_SEGMENTS / 2), '…', ...segments.slice(-PATH_SEGMENTS / 2)] : segments;
  return `$${shown.map((s) => (typeof s === 'number' ? `[${s}]` : s === '…' ? '…' : `.${s.length > 40 ? `${s.slice(0, 40)}…` : s}`)).join('')}`;
}

interface Frame {
  readonly value: unknown;
  readonly depth: number;
  /** Index into the trail of this value's own key (-1 at the root): the path is rebuilt only on failure. */
  readonly at: number;
}

/**
 * Walks a parsed document iteratively (no recursion, so any depth is safe) and throws `onViolation`'s
 * error at the first limit exceeded. Cost: one visit per value. Non-JSON values (functions, symbols,
 * class instances other than arrays/plain objects) are walked as their enumerable own keys.
 */
export function checkJsonShape(root: unknown, max: JsonShapeLimits, onViolation: ViolationError): void {
  // Path reconstruction: each pushed container remembers its key and its parent's trail index.
  const trailKey: (string | number)[] = [];
  const trailParent: number[] = [];
  const stack: Frame[] = [{ value: root, depth: 0, at: -1 }];
  let nodes = 0;
  let bytes = 0;
  const fail = (limit: string, maxValue: number, actual: number, from: number): never => {
    const segments: (string | number)[] = [];
    for (let i = from; i >= 0; i = trailParent[i] ?? -1) segments.unshift(trailKey[i] ?? '');
    throw onViolation({ limit, max: maxValue, actual, path: pathOf(segments) });
  };
  while (stack.length > 0) {
    const { value, depth, at } = stack.pop()!;
    nodes++;
    if (nodes > max.maxNodes) fail('values', max.maxNodes, nodes, at);
    if (typeof value === 'string') {
      if (value.length > max.maxStringLength) fail('string length', max.maxStringLength, value.length, at);
      bytes += value.length + 2;
    } else if (value === null || typeof value !== 'object') {
      bytes += typeof value === 'number' ? String(value).length : 5;
    } else {
      const d = depth + 1;
      if (d > max.maxDepth) fail('nesting depth', max.maxDepth, d, at);
      if (Array.isArray(value)) {
        if (value.length > max.maxItems) fail('array items', max.maxItems, value.length, at);
        bytes += 2 + value.length;
        for (let i = value.length - 1; i >= 0; i--) {
          trailKey.push(i);
          trailParent.push(at);
          stack.push({ value: value[i] as unknown, depth: d, at: trailKey.length - 1 });
        }
      } else {
        const keys = Object.keys(value);
        if (keys.length > max.maxKeys) fail('object keys', max.maxKeys, keys.length, at);
        bytes += 2 + keys.length * 4;
        for (let i = keys.length - 1; i >= 0; i--) {
          const k = keys[i]!;
          if (k.length > max.maxStringLength) fail('key length', max.maxStringLength, k.length, at);
          bytes += k.length;
          trailKey.push(k);
          trailParent.push(at);
          stack.push({ value: (value as Record<string, unknown>)[k], depth: d, at: trailKey.length - 1 });
        }
      }
    }
    if (bytes > max.maxBytes) fail('bytes', max.maxBytes, bytes, at);
  }
}

/** `JSON.parse` of at most `maxBytes` bytes, then `checkJsonShape`. Not-JSON is `onInvalid`'s error. */
export function parseJsonBounded(
  bytes: Uint8Array | string,
  max: JsonShapeLimits,
  onViolation: ViolationError,
  onInvalid: (cause: unknown) => ProvenantError,
): unknown {
  const size = typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.byteLength;
  if (size > max.maxBytes) throw onViolation({ limit: 'bytes', max: max.maxBytes, actual: size, path: '$' });
  let value: unknown;
  try {
    value = JSON.parse(typeof bytes === 'string' ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (cause) {
    throw onInvalid(cause);
  }
  checkJsonShape(value, max, onViolation);
  return value;
}

export interface BoundedBody {
  readonly bytes: Uint8Array;
  /** `sha256:<hex>` of `bytes`, computed while streaming. */
  readonly digest: string;
}

export interface BodyErrors {
  /** The body is (or declares to be) larger than allowed; `actual` is the size known so far. */
  readonly tooLarge: (actual: number) => ProvenantError;
  /** The body could not be read (connection reset, truncated, timed out). */
  readonly failed: (cause: unknown) => ProvenantError;
}

/**
 * What `readBodyBounded` reads: a WHATWG `Response` (streamed), or an answer a transport already
 * buffered within its own byte cap (storage/oci/http-transport.ts), which has no stream to read.
 */
export interface BoundedSource {
  readonly headers: { get(name: string): string | null };
  readonly body: { cancel(): Promise<void>; getReader?: () => ReadableStreamDefaultReader<Uint8Array> } | null;
  arrayBuffer(): Promise<ArrayBuffer>;
}

/**
 * Reads a `Response` body, never holding more than `maxBytes`: a larger `Content-Length` is refused
 * before reading, and a body that grows past the cap is cancelled. The SHA-256 is computed as the
 * bytes arrive. Every failure is one of `errors`' typed errors.
 */
export async function readBodyBounded(res: BoundedSource, maxBytes: number, errors: BodyErrors): Promise<BoundedBody> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw errors.tooLarge(declared);
  }
  const hash = createHash('sha256');
  if (res.body === null) return { bytes: new Uint8Array(0), digest: `sha256:${hash.digest('hex')}` };
  if (res.body.getReader === undefined) {
    // Already buffered by the transport (which refused more than its own cap): check ours too.
    let buffered: Uint8Array;
    try {
      buffered = new Uint8Array(await res.arrayBuffer());
    } catch (cause) {
      throw cause instanceof ProvenantError ? cause : errors.failed(cause);
    }
    if (buffered.byteLength > maxBytes) throw errors.tooLarge(buffered.byteLength);
    return { bytes: buffered, digest: `sha256:${hash.update(buffered).digest('hex')}` };
  }
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    let chunk: Awaited<ReturnType<typeof reader.read>>;
    try {
      chunk = await reader.read();
    } catch (cause) {
      throw cause instanceof ProvenantError ? cause : errors.failed(cause);
    }
    if (chunk.done) break;
    total += chunk.value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw errors.tooLarge(total);
    }
    hash.update(chunk.value);
    chunks.push(chunk.value);
  }
  const bytes = chunks.length === 1 ? chunks[0]! : new Uint8Array(Buffer.concat(chunks));
  return { bytes, digest: `sha256:${hash.digest('hex')}` };
}

/**
 * Depth of the ASN.1 DER structure in `der`, walked iteratively; stops at `maxDepth + 1`. Malformed
 * lengths count as depth `Infinity` so the caller rejects them before a recursive parser sees them.
 */
export function asn1Depth(der: Uint8Array, maxDepth: number): number {
  const ends: number[] = [der.length];
  let deepest = 0;
  let i = 0;
  while (i < der.length) {
    while (ends.length > 1 && i >= ends[ends.length - 1]!) ends.pop();
    const tag = der[i++]!;
    if ((tag & 0x1f) === 0x1f) {
      // High tag number form: skip the tag's continuation bytes.
      while (i < der.length && (der[i]! & 0x80) !== 0) i++;
      i++;
    }
    if (i >= der.length) return Infinity;
    let len = der[i++]!;
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n === 0 || n > 4 || i + n > der.length) return Infinity;
      len = 0;
      for (let k = 0; k < n; k++) len = len * 256 + der[i++]!;
    }
    const end = i + len;
    if (end > ends[ends.length - 1]!) return Infinity;
    if ((tag & 0x20) !== 0) {
      ends.push(end);
      deepest = Math.max(deepest, ends.length - 1);
      if (deepest > maxDepth) return deepest;
    } else {
      i = end;
    }
  }
  return deepest;
}
