/**
 * A Rekor v1 stand-in faithful to Rekor's REST API (sigstore/rekor openapi.yaml, pkg/api/*, pkg/types/*),
 * for tests and demos only (never shipped). What it does like Rekor:
 *
 * - `POST /api/v1/log/entries` for `hashedrekord` 0.0.1, `dsse` 0.0.1 and `intoto` 0.0.2: validates the
 *   proposed entry, checks envelope signatures (dsse, intoto), canonicalises it exactly as the Go types
 *   do (JSON with the models' alphabetical field order, keys re-encoded as PEM), appends the canonical
 *   body as an RFC 6962 leaf, answers 201 with `{<entryID>: LogEntry}`, `Location` and `ETag`; an equal
 *   canonical body answers 409 with the existing entry's `Location`.
 * - entry IDs are 80 hex (16-hex tree ID + 64-hex UUID = leaf hash); lookups accept both forms.
 * - every LogEntry carries `verification.signedEntryTimestamp` (ECDSA over the RFC 8785 form of
 *   `{body, integratedTime, logID, logIndex}`) and an inclusion proof against the current tree with a
 *   signed checkpoint (`<host> - <treeID>` origin, signer name = host, key hint = sha256(SPKI)[:4]).
 * - `intoto` entries keep the attestation (the statement) and return it as `attestation.data`.
 * - `GET /api/v1/log/entries?logIndex=N`, `GET /api/v1/log/entries/{id}`, `POST /api/v1/log/entries/retrieve`
 *   (entryUUIDs, logIndexes, proposed entries; at most 10 queries → 422), `POST /api/v1/index/retrieve`
 *   (hash, publicKey, email, operator and|or) over each type's `IndexKeys`, `GET /api/v1/log` (log info
 *   with signed tree head), `GET /api/v1/log/proof` (RFC 6962 consistency proof), `GET /api/v1/log/publicKey`.
 *
 * Known differences: `hashedrekord` signatures are not checked against the digest (Node has no
 * prehashed ECDSA verification); only the key is parsed. One shard (no inactive trees). DSSE
 * signatures are checked with SHA-256 only, as Rekor does (`sha256Only`, default true).
 */
import { createHash, createPublicKey, generateKeyPairSync, sign as nodeSign, verify as nodeVerify, X509Certificate, type KeyObject } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { canonicalJson } from '../../src/transparency/canonical-json.js';
import { hashChildren, hashLeaf } from '../../src/transparency/merkle.js';
import { checkpointKeyHint, signCheckpoint } from '../../src/transparency/checkpoint.js';

/** Tree ID of the stand-in's only shard (decimal, as Rekor prints it). */
export const standInTreeId = 1193050959916656506n;
const treeIdHex = standInTreeId.toString(16).padStart(16, '0');

export interface RekorStandInOptions {
  /** Base URL the log is served at; its host names the checkpoint origin and signer. */
  readonly url: string;
  readonly keyPair?: { publicKey: KeyObject; privateKey: KeyObject };
  /** Clock, in ms; default Date.now. */
  readonly now?: () => number;
  /**
   * Virtual log index of the first leaf, as on a Rekor whose earlier shards are frozen (rekor.sigstore.dev):
   * entries carry `logIndex = offset + leaf index` while inclusion proofs use the leaf index. Default 0.
   */
  readonly logIndexOffset?: number;
  /**
   * Rekor verifies DSSE signatures with `signature.LoadVerifier(key, crypto.SHA256)`: an ECDSA signature
   * over SHA-384 (a P-384 key signing as cosign 3 / KMS do) is refused. Default true (as Rekor);
   * `sigstore-mock` turns it off so tests that pin what cosign does with such entries can still log them.
   */
  readonly sha256Only?: boolean;
}

export interface RekorStandIn {
  readonly publicKey: KeyObject;
  /** hex sha256 of the log key's SPKI DER: Rekor's logID. */
  readonly logId: string;
  /** Handles a request if it is a Rekor v1 route; false when the path is not Rekor's. */
  handle(req: IncomingMessage, res: ServerResponse, body: string): Promise<boolean>;
  entryCount(): number;
  /** Force the next `times` create requests to answer `status` (409: the entry is logged first). */
  failNext(status: number, times?: number): void;
  /** Replace a stored entry's proof hashes on the way out (tests of tampered proofs). */
  tamperInclusionProofs(on: boolean): void;
}

class RekorInputError extends Error {}

interface Leaf {
  readonly body: Buffer;
  readonly leafHash: Buffer;
  readonly integratedTime: number;
  readonly attestation?: Buffer;
}

function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** RFC 6962 Merkle tree over leaf hashes, with subtree hashes cached. */
export class MerkleTree {
  readonly leaves: Buffer[] = [];
  private readonly cache = new Map<string, Buffer>();

  root(start = 0, end = this.leaves.length): Buffer {
    const n = end - start;
    if (n === 0) return createHash('sha256').digest();
    if (n === 1) return this.leaves[start] as Buffer;
    const key = `${start}:${end}`;
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached;
    const k = largestPowerOfTwoBelow(n);
    const hash = hashChildren(this.root(start, start + k), this.root(start + k, end));
    this.cache.set(key, hash);
    return hash;
  }

  /** RFC 6962 PATH(m, D[start:end]). */
  inclusion(m: number, start = 0, end = this.leaves.length): Buffer[] {
    const n = end - start;
    if (n <= 1) return [];
    const k = largestPowerOfTwoBelow(n);
    return m < k
      ? [...this.inclusion(m, start, start + k), this.root(start + k, end)]
      : [...this.inclusion(m - k, start + k, end), this.root(start, start + k)];
  }

  /** RFC 6962 PROOF(m, D[0:n]). */
  consistency(m: number, n: number): Buffer[] {
    const sub = (mm: number, start: number, end: number, complete: boolean): Buffer[] => {
      const size = end - start;
      if (mm === size) return complete ? [] : [this.root(start, end)];
      const k = largestPowerOfTwoBelow(size);
      return mm <= k
        ? [...sub(mm, start, start + k, complete), this.root(start + k, end)]
        : [...sub(mm - k, start + k, end, false), this.root(start, start + k)];
    };
    return m === 0 || m === n ? [] : sub(m, 0, n, true);
  }
}

function b64(data: Uint8Array | string): string {
  return Buffer.from(data).toString('base64');
}

/** Go's strict base64 decode: reject anything that does not round-trip. */
function fromB64(value: unknown, field: string): Buffer {
  if (typeof value !== 'string' || value === '') throw new RekorInputError(`${field} is required`);
  const bytes = Buffer.from(value, 'base64');
  if (bytes.toString('base64').replace(/=+$/, '') !== value.replace(/=+$/, '')) throw new RekorInputError(`${field} is not base64`);
  return bytes;
}

interface ParsedKey {
  readonly key: KeyObject;
  /** Rekor's `CanonicalValue()`: the PEM of the certificate or of the PKIX public key. */
  readonly canonical: Buffer;
  /** Certificate subjects Rekor indexes (emails, URIs). */
  readonly subjects: readonly string[];
}

function pemOf(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Rekor's x509.NewPublicKey: a PEM certificate or PEM public key. */
function parseVerifier(pemBytes: Buffer): ParsedKey {
  const text = pemBytes.toString('utf8');
  try {
    if (text.includes('BEGIN CERTIFICATE')) {
      const cert = new X509Certificate(text);
      const subjects = (cert.subjectAltName ?? '')
        .split(', ')
        .map((s) => /^(?:email|URI):(.*)$/.exec(s)?.[1])
        .filter((s): s is string => s !== undefined);
      return { key: cert.publicKey, canonical: Buffer.from(pemOf('CERTIFICATE', Buffer.from(cert.raw))), subjects };
    }
    const key = createPublicKey(text);
    return { key, canonical: Buffer.from(pemOf('PUBLIC KEY', key.export({ format: 'der', type: 'spki' }))), subjects: [] };
  } catch {
    throw new RekorInputError('could not parse public key as x509');
  }
}

function pae(payloadType: string, payload: Buffer): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${payload.length} `), payload]);
}

function verifiesDsse(key: KeyObject, payloadType: string, payload: Buffer, sig: Buffer, sha256Only: boolean): boolean {
  const data = pae(payloadType, payload);
  const hashes = key.asymmetricKeyType === 'ed25519' ? [null] : sha256Only ? ['sha256'] : ['sha256', 'sha384', 'sha512'];
  return hashes.some((h) => {
    try {
      return nodeVerify(h, data, key, sig);
    } catch {
      return false;
    }
  });
}

/** Subject and SLSA v0.2 material digests of an in-toto statement, as Rekor indexes them. */
function statementIndexKeys(payloadType: string, payload: Buffer): string[] {
  if (payloadType !== 'application/vnd.in-toto+json') return [];
  let statement: { subject?: { digest?: Record<string, string> }[]; predicate?: { materials?: { digest?: Record<string, string> }[] } };
  try {
    statement = JSON.parse(payload.toString('utf8')) as typeof statement;
  } catch {
    throw new RekorInputError('could not parse in-toto statement');
  }
  const digests = (items: { digest?: Record<string, string> }[] | undefined): string[] =>
    (Array.isArray(items) ? items : []).flatMap((s) => Object.entries(s.digest ?? {}).map(([alg, d]) => `${alg}:${d}`));
  return [...digests(statement.subject), ...digests(statement.predicate?.materials)];
}

interface Canonicalized {
  readonly body: Record<string, unknown>;
  readonly indexKeys: readonly string[];
  readonly attestation?: Buffer;
}

type Spec = Record<string, unknown>;

function obj(value: unknown, field: string): Spec {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new RekorInputError(`${field} must be an object`);
  return value as Spec;
}

function hashObj(value: unknown, field: string, algorithms: readonly string[]): { algorithm: string; value: string } {
  const h = obj(value, field);
  const algorithm = h['algorithm'];
  const hex = h['value'];
  if (typeof algorithm !== 'string' || !algorithms.includes(algorithm)) throw new RekorInputError(`${field}.algorithm must be one of ${algorithms.join(', ')}`);
  const lengths: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };
  if (typeof hex !== 'string' || !new RegExp(`^[0-9a-fA-F]{${lengths[algorithm] ?? 64}}$`).test(hex)) throw new RekorInputError(`${field}.value is not a ${algorithm} hex digest`);
  return { algorithm, value: hex };
}

/** pkg/types/hashedrekord/v0.0.1: Canonicalize + IndexKeys. */
function canonicalHashedRekord(spec: Spec): Canonicalized {
  const data = obj(spec['data'], 'data');
  const hash = hashObj(data['hash'], 'data.hash', ['sha256', 'sha384', 'sha512']);
  const signature = obj(spec['signature'], 'signature');
  const content = fromB64(signature['content'], 'signature.content');
  const key = parseVerifier(fromB64(obj(signature['publicKey'], 'signature.publicKey')['content'], 'signature.publicKey.content'));
  return {
    body: {
      apiVersion: '0.0.1',
      kind: 'hashedrekord',
      spec: { data: { hash }, signature: { content: b64(content), publicKey: { content: b64(key.canonical) } } },
    },
    indexKeys: [sha256Hex(key.canonical), ...key.subjects, `${hash.algorithm}:${hash.value}`.toLowerCase()],
  };
}

/** pkg/types/dsse/v0.0.1: Unmarshal (proposedContent) + Canonicalize + IndexKeys. */
function canonicalDsse(spec: Spec, sha256Only: boolean): Canonicalized {
  const proposed = obj(spec['proposedContent'], 'proposedContent');
  const sigsGiven = Array.isArray(spec['signatures']) && (spec['signatures'] as unknown[]).length > 0;
  if (spec['envelopeHash'] != null || spec['payloadHash'] != null || sigsGiven) {
    throw new RekorInputError('either proposedContent or envelopeHash, payloadHash, and signatures must be present but not both');
  }
  const envelopeText = proposed['envelope'];
  if (typeof envelopeText !== 'string') throw new RekorInputError('proposedContent.envelope is required');
  let envelope: { payloadType?: unknown; payload?: unknown; signatures?: unknown };
  try {
    envelope = JSON.parse(envelopeText) as typeof envelope;
  } catch {
    throw new RekorInputError('envelope is not JSON');
  }
  const sigs = Array.isArray(envelope.signatures) ? (envelope.signatures as { sig?: unknown }[]) : [];
  if (sigs.length === 0) throw new RekorInputError('DSSE envelope must contain 1 or more signatures');
  if (typeof envelope.payloadType !== 'string') throw new RekorInputError('envelope payloadType is required');
  const payload = fromB64(envelope.payload, 'envelope.payload');
  const verifiers = Array.isArray(proposed['verifiers']) ? (proposed['verifiers'] as unknown[]) : [];
  if (verifiers.length === 0) throw new RekorInputError('proposedContent.verifiers is required');
  const keys = verifiers.map((v, i) => parseVerifier(fromB64(v, `verifiers[${i}]`)));
  const signatures: { signature: string; verifier: string }[] = [];
  const keyHashes: string[] = [];
  for (const s of sigs) {
    const sig = fromB64(s.sig, 'signature');
    const key = keys.find((k) => verifiesDsse(k.key, envelope.payloadType as string, payload, sig, sha256Only));
    if (key === undefined) throw new RekorInputError('could not verify envelope: no verifier for a signature');
    signatures.push({ signature: s.sig as string, verifier: b64(key.canonical) });
    keyHashes.push(`sha256:${sha256Hex(key.canonical)}`, ...key.subjects);
  }
  signatures.sort((a, b) => (a.signature < b.signature ? -1 : a.signature > b.signature ? 1 : 0));
  const payloadHash = sha256Hex(payload);
  const envelopeHash = sha256Hex(envelopeText);
  return {
    body: {
      apiVersion: '0.0.1',
      kind: 'dsse',
      spec: { envelopeHash: { algorithm: 'sha256', value: envelopeHash }, payloadHash: { algorithm: 'sha256', value: payloadHash }, signatures },
    },
    indexKeys: [...keyHashes, `sha256:${payloadHash}`, `sha256:${envelopeHash}`, ...statementIndexKeys(envelope.payloadType, payload)],
  };
}

/** pkg/types/intoto/v0.0.2: Unmarshal + Canonicalize + IndexKeys + AttestationKeyValue. */
function canonicalIntoto(spec: Spec, sha256Only: boolean): Canonicalized {
  const content = obj(spec['content'], 'content');
  const envelope = obj(content['envelope'], 'content.envelope');
  const payloadType = envelope['payloadType'];
  if (typeof payloadType !== 'string') throw new RekorInputError('missing payload type in intoto v0.0.2 entry');
  // payload and sig are base64 of the envelope's (already base64) strings: Rekor's double encoding.
  const payloadB64 = fromB64(envelope['payload'], 'content.envelope.payload').toString('utf8');
  const payload = fromB64(payloadB64, 'content.envelope.payload (inner)');
  const hash = hashObj(content['hash'], 'content.hash', ['sha256']);
  const sigs = Array.isArray(envelope['signatures']) ? (envelope['signatures'] as Spec[]) : [];
  if (sigs.length === 0) throw new RekorInputError('missing signatures');
  const signatures: Record<string, string>[] = [];
  const keyHashes: string[] = [];
  for (const s of sigs) {
    const sigB64 = fromB64(s['sig'], 'signature.sig').toString('utf8');
    const key = parseVerifier(fromB64(s['publicKey'], 'signature.publicKey'));
    if (!verifiesDsse(key.key, payloadType, payload, fromB64(sigB64, 'signature.sig (inner)'), sha256Only)) {
      throw new RekorInputError('could not verify envelope');
    }
    const keyid = s['keyid'];
    signatures.push({
      ...(typeof keyid === 'string' && keyid !== '' ? { keyid } : {}),
      publicKey: s['publicKey'] as string,
      sig: s['sig'] as string,
    });
    keyHashes.push(`sha256:${sha256Hex(key.canonical)}`, ...key.subjects);
  }
  const payloadHash = sha256Hex(payload);
  return {
    body: {
      apiVersion: '0.0.2',
      kind: 'intoto',
      spec: { content: { envelope: { payloadType, signatures }, hash, payloadHash: { algorithm: 'sha256', value: payloadHash } } },
    },
    indexKeys: [...keyHashes, `sha256:${payloadHash}`, ...statementIndexKeys(payloadType, payload)],
    attestation: payload,
  };
}

/** types.CreateVersionedEntry + CanonicalizeEntry for the kinds this stand-in serves. */
export function canonicalizeProposedEntry(proposed: unknown, sha256Only = true): Canonicalized {
  const entry = obj(proposed, 'proposedEntry');
  const kind = entry['kind'];
  const apiVersion = entry['apiVersion'];
  const spec = obj(entry['spec'], 'spec');
  if (kind === 'hashedrekord' && apiVersion === '0.0.1') return canonicalHashedRekord(spec);
  if (kind === 'dsse' && apiVersion === '0.0.1') return canonicalDsse(spec, sha256Only);
  if (kind === 'intoto' && apiVersion === '0.0.2') return canonicalIntoto(spec, sha256Only);
  throw new RekorInputError(`${String(kind)} ${String(apiVersion)} is not supported by this log`);
}

function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(`${JSON.stringify(value)}\n`);
}

function apiError(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { code: status, message }, headers);
}

/** A 64-hex UUID from a 64- or 80-hex entry ID; undefined when malformed or for another tree. */
function uuidOf(id: string): string | undefined {
  const lower = id.toLowerCase();
  if (/^[0-9a-f]{64}$/.test(lower)) return lower;
  if (/^[0-9a-f]{80}$/.test(lower) && lower.slice(0, 16) === treeIdHex) return lower.slice(16);
  return undefined;
}

export function createRekorStandIn(options: RekorStandInOptions): RekorStandIn {
  const keyPair = options.keyPair ?? generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = keyPair.publicKey.export({ format: 'der', type: 'spki' });
  const logId = sha256Hex(spki);
  const host = new URL(options.url).host;
  const now = options.now ?? Date.now;
  const hint = checkpointKeyHint(keyPair.publicKey);
  const offset = options.logIndexOffset ?? 0;
  const sha256Only = options.sha256Only ?? true;
  const tree = new MerkleTree();
  const leaves: Leaf[] = [];
  const byUuid = new Map<string, number>();
  const index = new Map<string, Set<string>>();
  let forced: { status: number; remaining: number } | undefined;
  let tamper = false;

  const entryId = (uuid: string): string => `${treeIdHex}${uuid}`;
  const sign = (data: Buffer): Buffer => nodeSign('sha256', data, keyPair.privateKey);

  function checkpoint(size: number): string {
    return signCheckpoint({ origin: `${host} - ${standInTreeId.toString()}`, treeSize: BigInt(size), rootHash: tree.root(0, size), otherContent: [] }, host, sign, hint);
  }

  /** models.LogEntry for leaf i, proven against the current tree (as logEntryFromLeaf does). */
  function logEntry(i: number): Record<string, unknown> {
    const leaf = leaves[i] as Leaf;
    const size = leaves.length;
    const anon = { body: b64(leaf.body), integratedTime: leaf.integratedTime, logID: logId, logIndex: offset + i };
    const set = sign(Buffer.from(canonicalJson(anon), 'utf8'));
    let hashes = tree.inclusion(i, 0, size).map((h) => h.toString('hex'));
    if (tamper) hashes = hashes.length === 0 ? ['00'.repeat(32)] : hashes.map((h, n) => (n === 0 ? createHash('sha256').update(h).digest('hex') : h));
    return {
      [entryId(leaf.leafHash.toString('hex'))]: {
        ...(leaf.attestation === undefined ? {} : { attestation: { data: b64(leaf.attestation) } }),
        ...anon,
        verification: {
          inclusionProof: { checkpoint: checkpoint(size), hashes, logIndex: i, rootHash: tree.root(0, size).toString('hex'), treeSize: size },
          signedEntryTimestamp: b64(set),
        },
      },
    };
  }

  function append(canonical: Canonicalized): { uuid: string; existed: boolean } {
    const body = Buffer.from(canonicalJson(canonical.body), 'utf8');
    const leafHash = hashLeaf(body);
    const uuid = leafHash.toString('hex');
    if (byUuid.has(uuid)) return { uuid, existed: true };
    const leaf: Leaf = { body, leafHash, integratedTime: Math.floor(now() / 1000), ...(canonical.attestation === undefined ? {} : { attestation: canonical.attestation }) };
    byUuid.set(uuid, leaves.length);
    leaves.push(leaf);
    tree.leaves.push(leafHash);
    for (const key of canonical.indexKeys) {
      const k = key.toLowerCase();
      index.set(k, (index.get(k) ?? new Set()).add(entryId(uuid)));
    }
    return { uuid, existed: false };
  }

  function create(body: string, res: ServerResponse): void {
    let canonical: Canonicalized;
    try {
      canonical = canonicalizeProposedEntry(JSON.parse(body), sha256Only);
    } catch (err) {
      return apiError(res, 400, `error processing entry: ${err instanceof Error ? err.message : String(err)}`);
    }
    const failure = forced;
    if (failure !== undefined) {
      failure.remaining -= 1;
      if (failure.remaining <= 0) forced = undefined;
      if (failure.status !== 409) return apiError(res, failure.status, 'forced failure');
    }
    const { uuid, existed } = append(canonical);
    const location = `/api/v1/log/entries/${entryId(uuid)}`;
    if (existed || failure?.status === 409) {
      return apiError(res, 409, `an equivalent entry already exists in the transparency log with UUID ${entryId(uuid)}`, { Location: location });
    }
    sendJson(res, 201, logEntry(byUuid.get(uuid) as number), { Location: location, ETag: entryId(uuid) });
  }

  function searchIndex(body: string, res: ServerResponse): void {
    const query = JSON.parse(body || '{}') as { hash?: string; publicKey?: { format?: string; content?: string; url?: string }; email?: string; operator?: string };
    const sets: Set<string>[] = [];
    if (query.hash !== undefined && query.hash !== '') {
      if (!/^(sha512:)?[0-9a-fA-F]{128}$|^(sha256:)?[0-9a-fA-F]{64}$|^(sha1:)?[0-9a-fA-F]{40}$/.test(query.hash)) return apiError(res, 400, 'invalid hash');
      // util.PrefixSHA: an unprefixed value gets the algorithm its length implies.
      const h = query.hash.includes(':') ? query.hash : `${({ 40: 'sha1', 64: 'sha256', 128: 'sha512' } as Record<number, string>)[query.hash.length] ?? 'sha256'}:${query.hash}`;
      sets.push(index.get(h.toLowerCase()) ?? new Set());
    }
    if (query.publicKey !== undefined) {
      if (query.publicKey.format !== 'x509') return apiError(res, 400, 'unsupported pki format (this stand-in knows x509)');
      if (query.publicKey.content === undefined) return apiError(res, 400, 'publicKey.content is required (no URL fetches)');
      let key: ParsedKey;
      try {
        key = parseVerifier(Buffer.from(query.publicKey.content, 'base64'));
      } catch {
        return apiError(res, 400, 'malformed public key');
      }
      // index.go looks the key up by its bare hex hash (what hashedrekord indexes).
      sets.push(index.get(sha256Hex(key.canonical)) ?? new Set());
    }
    if (query.email !== undefined && query.email !== '') sets.push(index.get(query.email.toLowerCase()) ?? new Set());
    let result: Set<string> = sets[0] ?? new Set<string>();
    for (const s of sets.slice(1)) result = query.operator === 'or' ? new Set([...result, ...s]) : new Set([...result].filter((x) => s.has(x)));
    sendJson(res, 200, [...result]);
  }

  function retrieve(body: string, res: ServerResponse): void {
    const query = JSON.parse(body || '{}') as { entryUUIDs?: string[]; logIndexes?: number[]; entries?: unknown[] };
    const total = (query.entryUUIDs?.length ?? 0) + (query.logIndexes?.length ?? 0) + (query.entries?.length ?? 0);
    if (total > 10) return apiError(res, 422, 'maximum number of search queries (10) exceeded');
    const out: Record<string, unknown>[] = [];
    for (const id of query.entryUUIDs ?? []) {
      const uuid = uuidOf(id);
      if (uuid === undefined) return apiError(res, 400, `invalid entryID ${id}`);
      const i = byUuid.get(uuid);
      if (i !== undefined) out.push(logEntry(i));
    }
    for (const proposed of query.entries ?? []) {
      let canonical: Canonicalized;
      try {
        canonical = canonicalizeProposedEntry(proposed, sha256Only);
      } catch (err) {
        return apiError(res, 400, err instanceof Error ? err.message : String(err));
      }
      const i = byUuid.get(hashLeaf(Buffer.from(canonicalJson(canonical.body), 'utf8')).toString('hex'));
      if (i !== undefined) out.push(logEntry(i));
    }
    for (const n of query.logIndexes ?? []) if (Number.isInteger(n) && n >= offset && n - offset < leaves.length) out.push(logEntry(n - offset));
    sendJson(res, 200, out);
  }

  async function handle(req: IncomingMessage, res: ServerResponse, body: string): Promise<boolean> {
    const url = new URL(req.url ?? '/', options.url);
    const p = url.pathname;
    const method = req.method ?? 'GET';
    if (!p.startsWith('/api/v1/log') && p !== '/api/v1/index/retrieve') return false;
    try {
      if (method === 'POST' && p === '/api/v1/log/entries') create(body, res);
      else if (method === 'GET' && p === '/api/v1/log/entries') {
        const n = Number(url.searchParams.get('logIndex'));
        if (!Number.isInteger(n) || n < 0) apiError(res, 400, 'logIndex must be an integer ≥ 0');
        else if (n < offset || n - offset >= leaves.length) apiError(res, 404, 'entry not found');
        else sendJson(res, 200, logEntry(n - offset));
      } else if (method === 'POST' && p === '/api/v1/log/entries/retrieve') retrieve(body, res);
      else if (method === 'GET' && p.startsWith('/api/v1/log/entries/')) {
        const id = p.slice('/api/v1/log/entries/'.length);
        if (!/^([0-9a-fA-F]{64}|[0-9a-fA-F]{80})$/.test(id)) apiError(res, 400, 'invalid entry UUID');
        else {
          const uuid = uuidOf(id);
          const i = uuid === undefined ? undefined : byUuid.get(uuid);
          if (i === undefined) apiError(res, 404, 'entry not found');
          else sendJson(res, 200, logEntry(i));
        }
      } else if (method === 'POST' && p === '/api/v1/index/retrieve') searchIndex(body, res);
      else if (method === 'GET' && p === '/api/v1/log') {
        sendJson(res, 200, {
          inactiveShards: [],
          rootHash: tree.root().toString('hex'),
          signedTreeHead: checkpoint(leaves.length),
          treeID: standInTreeId.toString(),
          treeSize: leaves.length,
        });
      } else if (method === 'GET' && p === '/api/v1/log/proof') {
        const first = Number(url.searchParams.get('firstSize') ?? '1');
        const last = Number(url.searchParams.get('lastSize'));
        if (!Number.isInteger(first) || !Number.isInteger(last) || first < 1 || last < 1) apiError(res, 400, 'firstSize and lastSize must be integers ≥ 1');
        else if (first > last) apiError(res, 400, `firstSize(${first}) must be less than or equal to lastSize(${last})`);
        else if (last > leaves.length) apiError(res, 400, `lastSize(${last}) is greater than the known tree size(${leaves.length})`);
        else sendJson(res, 200, { hashes: tree.consistency(first, last).map((h) => h.toString('hex')), rootHash: tree.root(0, last).toString('hex') });
      } else if (method === 'GET' && p === '/api/v1/log/publicKey') {
        res.writeHead(200, { 'Content-Type': 'application/x-pem-file' });
        res.end(keyPair.publicKey.export({ format: 'pem', type: 'spki' }).toString());
      } else apiError(res, 404, `no route for ${method} ${p}`);
    } catch (err) {
      if (err instanceof SyntaxError) apiError(res, 400, 'invalid JSON');
      else throw err;
    }
    return true;
  }

  return {
    publicKey: keyPair.publicKey,
    logId,
    handle,
    entryCount: () => leaves.length,
    failNext: (status, times = 1) => {
      forced = { status, remaining: times };
    },
    tamperInclusionProofs: (on) => {
      tamper = on;
    },
  };
}
