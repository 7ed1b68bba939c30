/**
 * Reading a Rekor v2 (rekor-tiles, C2SP tlog-tiles) log: the checkpoint and hash tiles, enough to
 * rebuild an RFC 6962 inclusion proof for any index. Rekor v2 has no lookup API: this is how an entry
 * that already exists (409, `x-log-index`) is turned back into a verifiable bundle entry.
 */
import { ProvenantError, errorMessage } from '../errors.js';
import { hashChildren } from './merkle.js';

/** tlog-tiles path element for a tile index: zero-padded 3-digit groups, all but the last prefixed `x`. */
export function tileIndexPath(n: bigint): string {
  let digits = n.toString();
  while (digits.length % 3 !== 0) digits = `0${digits}`;
  const groups = digits.match(/.{3}/g) ?? ['000'];
  return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join('/');
}

export interface TileReaderOptions {
  readonly baseUrl: string;
  readonly fetch?: typeof globalThis.fetch;
  readonly timeoutMs?: number;
}

export interface TileReader {
  /** The current signed checkpoint text (`GET /api/v2/checkpoint`). */
  checkpoint(): Promise<string>;
  /** RFC 6962 inclusion proof for leaf `index` in the tree of `treeSize`, from hash tiles. */
  inclusionProof(index: bigint, treeSize: bigint): Promise<Buffer[]>;
}

function largestPowerOfTwoBelow(n: bigint): bigint {
  let k = 1n;
  while (k * 2n < n) k *= 2n;
  return k;
}

function log2(n: bigint): number {
  return n.toString(2).length - 1;
}

export function createTileReader(options: TileReaderOptions): TileReader {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const doFetch = options.fetch ?? globalThis.fetch;
  const tiles = new Map<string, Buffer>();

  async function get(path: string): Promise<Buffer> {
    let res: Response;
    try {
      res = await doFetch(`${baseUrl}${path}`, { signal: AbortSignal.timeout(options.timeoutMs ?? 30_000) });
    } catch (cause) {
      throw new ProvenantError('transient', 'REKOR_UNAVAILABLE', `cannot read ${path}: ${errorMessage(cause)}`, { cause });
    }
    if (!res.ok) throw new ProvenantError('transient', 'REKOR_UNAVAILABLE', `Rekor v2 answered HTTP ${res.status} for ${path}`);
    return Buffer.from(await res.arrayBuffer());
  }

  /** Hashes of tile (level, n) as it is in a tree of `treeSize`. */
  async function tile(level: number, n: bigint, treeSize: bigint): Promise<Buffer> {
    const nodesAtLevel = treeSize >> BigInt(8 * level);
    const width = nodesAtLevel - n * 256n >= 256n ? 256n : nodesAtLevel - n * 256n;
    const path = `/api/v2/tile/${level}/${tileIndexPath(n)}${width < 256n ? `.p/${width}` : ''}`;
    const cached = tiles.get(path);
    if (cached !== undefined) return cached;
    const data = await get(path);
    if (BigInt(data.length) !== width * 32n) throw new ProvenantError('permanent', 'TLOG_RESPONSE_INVALID', `tile ${path} has ${data.length} bytes, expected ${width * 32n}`);
    tiles.set(path, data);
    return data;
  }

  /** Hash of the complete aligned subtree of 2^k leaves starting at leaf i·2^k. */
  async function node(k: number, i: bigint, treeSize: bigint): Promise<Buffer> {
    const tileLevel = Math.floor(k / 8);
    const r = k % 8;
    const first = i << BigInt(r);
    let hashes: Buffer[] = [];
    for (let j = first; j < first + (1n << BigInt(r)); j++) {
      const t = await tile(tileLevel, j >> 8n, treeSize);
      const offset = Number(j & 255n) * 32;
      hashes.push(t.subarray(offset, offset + 32));
    }
    while (hashes.length > 1) {
      const next: Buffer[] = [];
      for (let x = 0; x < hashes.length; x += 2) next.push(hashChildren(hashes[x] as Buffer, hashes[x + 1] as Buffer));
      hashes = next;
    }
    return hashes[0] as Buffer;
  }

  /** MTH of leaves [start, end). */
  async function root(start: bigint, end: bigint, treeSize: bigint): Promise<Buffer> {
    const n = end - start;
    if ((n & (n - 1n)) === 0n && start % n === 0n) return node(log2(n), start / n, treeSize);
    const k = largestPowerOfTwoBelow(n);
    return hashChildren(await root(start, start + k, treeSize), await root(start + k, end, treeSize));
  }

  async function path(m: bigint, start: bigint, end: bigint, treeSize: bigint): Promise<Buffer[]> {
    const n = end - start;
    if (n <= 1n) return [];
    const k = largestPowerOfTwoBelow(n);
    return m < k
      ? [...(await path(m, start, start + k, treeSize)), await root(start + k, end, treeSize)]
      : [...(await path(m - k, start + k, end, treeSize)), await root(start, start + k, treeSize)];
  }

  return {
    checkpoint: async () => (await get('/api/v2/checkpoint')).toString('utf8'),
    inclusionProof: (index, treeSize) => path(index, 0n, treeSize, treeSize),
  };
}
