/**
 * A Rekor v2 (rekor-tiles) stand-in for tests and demos, per rekor-tiles' API and C2SP tlog-tiles:
 * - `POST /api/v2/log/entries` with a `hashedRekordRequestV002` (the only type current rekor-tiles
 *   accepts; `dsseRequestV002` answers 400 "invalid type, must be hashedrekord" as it does): the entry
 *   is protojson + RFC 8785 canonicalised, appended, and answered 201 with a TransparencyLogEntry
 *   (log ID = checkpoint key ID = SHA-256 of the ECDSA SPKI, integrated time 0, inclusion proof and
 *   checkpoint, no SET). An equal entry answers 409 with `x-log-index`.
 * - `GET /api/v2/checkpoint` (signed note, origin = the URL without scheme), `GET /api/v2/tile/{L}/{N}[.p/{W}]`
 *   (32-byte hashes), `GET /api/v2/tile/entries/{N}[.p/{W}]` (uint16-length-prefixed entries).
 * Difference: signatures are not checked against the digest (Node has no prehashed ECDSA verify).
 */
import { createHash, createPublicKey, generateKeyPairSync, sign as nodeSign, X509Certificate, type KeyObject } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { canonicalJson } from '../../src/transparency/canonical-json.js';
import { hashLeaf } from '../../src/transparency/merkle.js';
import { signCheckpoint } from '../../src/transparency/checkpoint.js';
import { MerkleTree } from './rekor-stand-in.js';

export interface RekorV2StandIn {
  readonly publicKey: KeyObject;
  /** hex; also the checkpoint key ID. */
  readonly logId: string;
  readonly origin: string;
  handle(req: IncomingMessage, res: ServerResponse, body: string): Promise<boolean>;
  entryCount(): number;
  /** Drop the next `times` responses after logging (the client sees a 503, the entry is in the log). */
  loseNextResponses(times?: number): void;
}

const keyDetailsAllowed = ['PKIX_ECDSA_P256_SHA_256', 'PKIX_ECDSA_P384_SHA_384', 'PKIX_ECDSA_P521_SHA_512', 'PKIX_ED25519'];
const digestSizes: Record<string, [string, number]> = {
  PKIX_ECDSA_P256_SHA_256: ['SHA2_256', 32],
  PKIX_ECDSA_P384_SHA_384: ['SHA2_384', 48],
  PKIX_ECDSA_P521_SHA_512: ['SHA2_512', 64],
  PKIX_ED25519: ['SHA2_512', 64],
};

function grpcError(res: ServerResponse, http: number, code: number, message: string, headers: Record<string, string> = {}): void {
  res.writeHead(http, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify({ code, message, details: [] }));
}

function parseTileIndex(path: string): bigint | undefined {
  const parts = path.split('/');
  if (parts.length === 0 || !parts.every((p, i) => (i < parts.length - 1 ? /^x\d{3}$/.test(p) : /^\d{3}$/.test(p)))) return undefined;
  return BigInt(parts.map((p) => p.replace('x', '')).join(''));
}

export function createRekorV2StandIn(options: { url: string; keyPair?: { publicKey: KeyObject; privateKey: KeyObject } }): RekorV2StandIn {
  const keyPair = options.keyPair ?? generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = keyPair.publicKey.export({ format: 'der', type: 'spki' });
  const logIdBytes = createHash('sha256').update(spki).digest();
  const origin = new URL(options.url).host;
  const tree = new MerkleTree();
  const bodies: Buffer[] = [];
  const byLeaf = new Map<string, number>();
  let lose = 0;

  function checkpoint(): string {
    return signCheckpoint(
      { origin, treeSize: BigInt(bodies.length), rootHash: tree.root(), otherContent: [] },
      origin,
      (note) => nodeSign('sha256', note, keyPair.privateKey),
      logIdBytes.subarray(0, 4),
    );
  }

  function create(text: string, res: ServerResponse): void {
    let request: { hashedRekordRequestV002?: { digest?: string; signature?: { content?: string; verifier?: Record<string, unknown> } }; dsseRequestV002?: unknown };
    try {
      request = JSON.parse(text) as typeof request;
    } catch {
      return grpcError(res, 400, 3, 'invalid JSON');
    }
    const hr = request.hashedRekordRequestV002;
    if (hr === undefined) return grpcError(res, 400, 3, 'invalid type, must be hashedrekord');
    const sig = hr.signature;
    const verifier = sig?.verifier as { keyDetails?: string; publicKey?: { rawBytes?: string }; x509Certificate?: { rawBytes?: string } } | undefined;
    if (typeof hr.digest !== 'string' || typeof sig?.content !== 'string' || sig.content === '' || verifier === undefined) return grpcError(res, 400, 3, 'invalid hashedrekord request');
    const details = verifier.keyDetails ?? '';
    if (!keyDetailsAllowed.includes(details)) return grpcError(res, 400, 3, 'invalid hashedrekord request');
    try {
      const raw = Buffer.from(verifier.publicKey?.rawBytes ?? verifier.x509Certificate?.rawBytes ?? '', 'base64');
      if (verifier.publicKey !== undefined) createPublicKey({ key: raw, format: 'der', type: 'spki' });
      else if (verifier.x509Certificate !== undefined) void new X509Certificate(raw);
      else throw new Error('no verifier');
    } catch {
      return grpcError(res, 400, 3, 'invalid hashedrekord request');
    }
    const [algorithm, digestSize] = digestSizes[details] as [string, number];
    if (Buffer.from(hr.digest, 'base64').length !== digestSize) return grpcError(res, 400, 3, 'invalid hashedrekord request');
    const body = Buffer.from(canonicalJson({ apiVersion: '0.0.2', kind: 'hashedrekord', spec: { hashedRekordV002: { data: { algorithm, digest: hr.digest }, signature: sig } } }), 'utf8');
    const leaf = hashLeaf(body);
    const existing = byLeaf.get(leaf.toString('hex'));
    if (existing !== undefined) return grpcError(res, 409, 6, 'an equivalent entry already exists in the transparency log', { 'x-log-index': String(existing) });
    const index = bodies.length;
    bodies.push(body);
    tree.leaves.push(leaf);
    byLeaf.set(leaf.toString('hex'), index);
    if (lose > 0) {
      lose -= 1;
      return grpcError(res, 503, 14, 'response lost');
    }
    const size = bodies.length;
    res.writeHead(201, { 'Content-Type': 'application/json' });
    res.end(
      JSON.stringify({
        logIndex: String(index),
        logId: { keyId: logIdBytes.toString('base64') },
        kindVersion: { kind: 'hashedrekord', version: '0.0.2' },
        inclusionProof: {
          logIndex: String(index),
          rootHash: tree.root(0, size).toString('base64'),
          treeSize: String(size),
          hashes: tree.inclusion(index, 0, size).map((h) => h.toString('base64')),
          checkpoint: { envelope: checkpoint() },
        },
        canonicalizedBody: body.toString('base64'),
      }),
    );
  }

  /** Hashes at `level` (8·L) for tile N, width W. */
  function tile(level: number, n: bigint, width: number): Buffer | undefined {
    const span = 2 ** (8 * level);
    const available = Math.floor(bodies.length / span) - Number(n) * 256;
    if (width > available || width < 1) return undefined;
    const out: Buffer[] = [];
    for (let j = 0; j < width; j++) {
      const start = (Number(n) * 256 + j) * span;
      out.push(tree.root(start, start + span));
    }
    return Buffer.concat(out);
  }

  async function handle(req: IncomingMessage, res: ServerResponse, body: string): Promise<boolean> {
    const p = new URL(req.url ?? '/', options.url).pathname;
    if (!p.startsWith('/api/v2/')) return false;
    if (req.method === 'POST' && p === '/api/v2/log/entries') {
      create(body, res);
      return true;
    }
    if (req.method === 'GET' && p === '/api/v2/checkpoint') {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(checkpoint());
      return true;
    }
    const m = /^\/api\/v2\/tile\/(entries|\d+)\/((?:x\d{3}\/)*\d{3})(?:\.p\/(\d+))?$/.exec(p);
    const n = m === null ? undefined : parseTileIndex(m[2] as string);
    if (req.method === 'GET' && m !== null && n !== undefined) {
      const width = m[3] === undefined ? 256 : Number(m[3]);
      let data: Buffer | undefined;
      if (m[1] === 'entries') {
        const first = Number(n) * 256;
        if (width >= 1 && first + width <= bodies.length) {
          data = Buffer.concat(
            bodies.slice(first, first + width).flatMap((b) => {
              const len = Buffer.alloc(2);
              len.writeUInt16BE(b.length);
              return [len, b];
            }),
          );
        }
      } else {
        data = tile(Number(m[1]), n, width);
      }
      if (data === undefined) {
        res.writeHead(404, { 'Content-Type': 'text/plain' });
        res.end('not found');
      } else {
        res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
        res.end(data);
      }
      return true;
    }
    grpcError(res, 404, 5, `no route for ${req.method ?? ''} ${p}`);
    return true;
  }

  return {
    publicKey: keyPair.publicKey,
    logId: logIdBytes.toString('hex'),
    origin,
    handle,
    entryCount: () => bodies.length,
    loseNextResponses: (times = 1) => {
      lose = times;
    },
  };
}
