/**
 * A MongoDB wire-protocol stand-in (test-only) for the official `mongodb` driver: a standalone server on a
 * loopback TCP port speaking the handshake (legacy `isMaster` over OP_QUERY → OP_REPLY) and OP_MSG with
 * BSON from the driver's own `bson` (kind-0 body and kind-1 document sequences). Commands: hello/isMaster,
 * ping, buildInfo, insert, update (replacement or `$set`, with upsert), find (equality on dotted paths
 * through arrays, `$in`, `$or`; limit; one batch), getMore/killCursors, endSessions; SCRAM-SHA-256 auth
 * (`saslStart`/`saslContinue`) when users are given. Unknown commands answer CommandNotFound (59).
 * Documents are kept as BSON values (`promoteValues: false`), so tests can check the stored types.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { BSON } from 'mongodb';

const OP_REPLY = 1;
const OP_QUERY = 2004;
const OP_MSG = 2013;

export interface MongoTestServer {
  readonly port: number;
  /** `mongodb://127.0.0.1:<port>/` (add `user:pass@` yourself when users are configured). */
  readonly url: string;
  /** `db.collection` → documents by `_id` (as BSON values). */
  collection(ns: string): Map<string, BSON.Document>;
  /** Commands received, in order (`{db, name, body}`), for request-count assertions. */
  readonly commands: Array<{ db: string; name: string; body: BSON.Document }>;
  /** Make data commands fail with this server error (the next `count` ones, default: until cleared). */
  failWith(error: { code: number; codeName: string; errmsg: string } | undefined, count?: number): void;
  stop(): Promise<void>;
}

type Doc = BSON.Document;

function unwrap(v: unknown): unknown {
  if (v !== null && typeof v === 'object' && '_bsontype' in v) {
    const t = (v as { _bsontype: string })._bsontype;
    if (t === 'Double' || t === 'Int32' || t === 'Long') return Number((v as { valueOf(): unknown }).valueOf());
  }
  return v;
}

function equal(a: unknown, b: unknown): boolean {
  const x = unwrap(a);
  const y = unwrap(b);
  if (typeof x !== 'object' || x === null || typeof y !== 'object' || y === null) return x === y;
  return Buffer.from(BSON.serialize({ v: x })).equals(Buffer.from(BSON.serialize({ v: y })));
}

/** Values at a dotted path, traversing arrays as MongoDB does. */
function valuesAt(doc: unknown, path: readonly string[]): unknown[] {
  if (path.length === 0) return Array.isArray(doc) ? [doc, ...doc] : [doc];
  if (Array.isArray(doc)) return doc.flatMap((d) => valuesAt(d, path));
  if (doc === null || typeof doc !== 'object') return [];
  const [head, ...rest] = path;
  const next = (doc as Record<string, unknown>)[head ?? ''];
  return next === undefined ? [] : valuesAt(next, rest);
}

function matches(doc: Doc, filter: Doc): boolean {
  for (const [k, cond] of Object.entries(filter)) {
    if (k === '$or') {
      if (!(cond as Doc[]).some((f) => matches(doc, f))) return false;
      continue;
    }
    if (k === '$and') {
      if (!(cond as Doc[]).every((f) => matches(doc, f))) return false;
      continue;
    }
    const values = valuesAt(doc, k.split('.'));
    if (cond !== null && typeof cond === 'object' && !('_bsontype' in cond) && Object.keys(cond).some((o) => o.startsWith('$'))) {
      const ops = cond as Doc;
      if ('$in' in ops && !(ops['$in'] as unknown[]).some((c) => values.some((v) => equal(v, c)))) return false;
      if ('$eq' in ops && !values.some((v) => equal(v, ops['$eq']))) return false;
      continue;
    }
    if (!values.some((v) => equal(v, cond))) return false;
  }
  return true;
}

function header(length: number, requestId: number, responseTo: number, opCode: number): Buffer {
  const h = Buffer.alloc(16);
  h.writeInt32LE(length, 0);
  h.writeInt32LE(requestId, 4);
  h.writeInt32LE(responseTo, 8);
  h.writeInt32LE(opCode, 12);
  return h;
}

function opReply(responseTo: number, doc: Doc): Buffer {
  const body = BSON.serialize(doc);
  const fixed = Buffer.alloc(20); // responseFlags, cursorID (int64), startingFrom, numberReturned
  fixed.writeInt32LE(1, 16);
  return Buffer.concat([header(16 + 20 + body.length, 0, responseTo, OP_REPLY), fixed, body]);
}

function opMsg(responseTo: number, doc: Doc): Buffer {
  const body = BSON.serialize(doc);
  const flags = Buffer.alloc(5); // flagBits (0) + section kind 0
  return Buffer.concat([header(16 + 5 + body.length, 0, responseTo, OP_MSG), flags, body]);
}

function cstring(buf: Buffer, at: number): [string, number] {
  const end = buf.indexOf(0, at);
  return [buf.toString('utf8', at, end), end + 1];
}

/** The OP_MSG body with kind-1 document sequences folded in (`updates: [...]`). */
function parseOpMsg(body: Buffer): Doc {
  let at = 4; // flagBits
  let command: Doc = {};
  const sequences: Record<string, Doc[]> = {};
  while (at < body.length) {
    const kind = body[at];
    at += 1;
    if (kind === 0) {
      const size = body.readInt32LE(at);
      command = BSON.deserialize(body.subarray(at, at + size), { promoteValues: false });
      at += size;
    } else {
      const size = body.readInt32LE(at);
      const end = at + size;
      const [id, next] = cstring(body, at + 4);
      let p = next;
      const docs: Doc[] = [];
      while (p < end) {
        const n = body.readInt32LE(p);
        docs.push(BSON.deserialize(body.subarray(p, p + n), { promoteValues: false }));
        p += n;
      }
      sequences[id] = docs;
      at = end;
    }
  }
  return { ...command, ...sequences };
}

interface ScramState {
  readonly user: string;
  readonly clientFirstBare: string;
  readonly serverFirst: string;
  readonly nonce: string;
}

function saltedPassword(password: string, salt: Buffer, iterations: number): Buffer {
  return pbkdf2Sync(password, salt, iterations, 32, 'sha256');
}

export async function startMongoServer(options: { users?: Record<string, string> } = {}): Promise<MongoTestServer> {
  const collections = new Map<string, Map<string, Doc>>();
  const commands: MongoTestServer['commands'] = [];
  const sockets = new Set<Socket>();
  let failure: { code: number; codeName: string; errmsg: string } | undefined;
  let failures = Number.POSITIVE_INFINITY;
  let connectionId = 0;
  const salt = randomBytes(16);
  const iterations = 4096;
  const coll = (ns: string): Map<string, Doc> => {
    let c = collections.get(ns);
    if (c === undefined) {
      c = new Map();
      collections.set(ns, c);
    }
    return c;
  };
  const key = (id: unknown): string => Buffer.from(BSON.serialize({ id: unwrap(id) })).toString('hex');

  const hello = (id: number): Doc => ({
    ismaster: true,
    isWritablePrimary: true,
    helloOk: true,
    maxBsonObjectSize: 16 * 1024 * 1024,
    maxMessageSizeBytes: 48_000_000,
    maxWriteBatchSize: 100_000,
    localTime: new Date(),
    logicalSessionTimeoutMinutes: 30,
    connectionId: id,
    minWireVersion: 0,
    maxWireVersion: 21,
    readOnly: false,
    ...(options.users === undefined ? {} : { saslSupportedMechs: ['SCRAM-SHA-256'] }),
    ok: 1,
  });

  const handle = (cmd: Doc, conn: { id: number; authed: boolean; scram?: ScramState }): Doc => {
    const name = Object.keys(cmd)[0] ?? '';
    const db = String(cmd['$db'] ?? 'admin');
    commands.push({ db, name, body: cmd });
    const lower = name.toLowerCase();
    if (lower === 'ismaster' || lower === 'hello') return hello(conn.id);
    if (lower === 'ping' || lower === 'endsessions' || lower === 'killcursors') return { ok: 1 };
    if (lower === 'buildinfo') return { version: '7.0.0', versionArray: [7, 0, 0, 0], ok: 1 };
    if (name === 'saslStart' || name === 'saslContinue') return scram(cmd, conn);
    if (options.users !== undefined && !conn.authed) return { ok: 0, code: 13, codeName: 'Unauthorized', errmsg: `command ${name} requires authentication` };
    if (failure !== undefined && failures > 0) {
      failures--;
      return { ok: 0, ...failure };
    }
    if (name === 'insert') {
      const c = coll(`${db}.${String(cmd['insert'])}`);
      for (const d of (cmd['documents'] as Doc[]) ?? []) {
        const doc = d['_id'] === undefined ? { _id: new BSON.ObjectId(), ...d } : d;
        if (c.has(key(doc['_id']))) return { n: 0, writeErrors: [{ index: 0, code: 11000, errmsg: 'E11000 duplicate key error' }], ok: 1 };
        c.set(key(doc['_id']), doc);
      }
      return { n: ((cmd['documents'] as Doc[]) ?? []).length, ok: 1 };
    }
    if (name === 'update') {
      const c = coll(`${db}.${String(cmd['update'])}`);
      let n = 0;
      let nModified = 0;
      const upserted: Doc[] = [];
      ((cmd['updates'] as Doc[]) ?? []).forEach((u, index) => {
        const q = (u['q'] as Doc) ?? {};
        const update = (u['u'] as Doc) ?? {};
        const existing = [...c.values()].find((d) => matches(d, q));
        const isOperator = Object.keys(update).some((k) => k.startsWith('$'));
        const apply = (base: Doc): Doc => (isOperator ? { ...base, ...((update['$set'] as Doc) ?? {}) } : { _id: base['_id'], ...update });
        if (existing !== undefined) {
          const next = apply(existing);
          n++;
          if (!Buffer.from(BSON.serialize(next)).equals(Buffer.from(BSON.serialize(existing)))) nModified++;
          c.set(key(existing['_id']), next);
        } else if (u['upsert'] === true) {
          const id = update['_id'] ?? q['_id'] ?? new BSON.ObjectId();
          const doc = apply({ _id: id });
          c.set(key(id), doc);
          n++;
          upserted.push({ index, _id: id });
        }
      });
      return { n, nModified, ...(upserted.length > 0 ? { upserted } : {}), ok: 1 };
    }
    if (name === 'find') {
      const ns = `${db}.${String(cmd['find'])}`;
      const filter = (cmd['filter'] as Doc) ?? {};
      const limit = Number(unwrap(cmd['limit']) ?? 0);
      let found = [...coll(ns).values()].filter((d) => matches(d, filter));
      if (limit > 0) found = found.slice(0, limit);
      return { cursor: { firstBatch: found, id: BSON.Long.fromNumber(0), ns }, ok: 1 };
    }
    if (name === 'getMore') return { cursor: { nextBatch: [], id: BSON.Long.fromNumber(0), ns: `${db}.${String(cmd['collection'])}` }, ok: 1 };
    return { ok: 0, code: 59, codeName: 'CommandNotFound', errmsg: `no such command: '${name}'` };
  };

  // RFC 7677 SCRAM-SHA-256 as MongoDB runs it (payloads are BinData).
  const scram = (cmd: Doc, conn: { id: number; authed: boolean; scram?: ScramState }): Doc => {
    const users = options.users ?? {};
    const payload = Buffer.from((cmd['payload'] as { buffer: Uint8Array }).buffer).toString('utf8');
    const fail = { ok: 0, code: 18, codeName: 'AuthenticationFailed', errmsg: 'Authentication failed.' };
    if ('saslStart' in cmd) {
      const bare = payload.replace(/^n,,/, '');
      const attrs = Object.fromEntries(bare.split(',').map((p) => [p.slice(0, 1), p.slice(2)]));
      const user = attrs['n'] ?? '';
      if (users[user] === undefined) return fail;
      const nonce = `${attrs['r'] ?? ''}${randomBytes(18).toString('base64')}`;
      const serverFirst = `r=${nonce},s=${salt.toString('base64')},i=${iterations}`;
      conn.scram = { user, clientFirstBare: bare, serverFirst, nonce };
      return { conversationId: 1, done: false, payload: new BSON.Binary(Buffer.from(serverFirst)), ok: 1 };
    }
    const state = conn.scram;
    if (state === undefined) return fail;
    if (payload === '') {
      conn.authed = true;
      return { conversationId: 1, done: true, payload: new BSON.Binary(Buffer.alloc(0)), ok: 1 };
    }
    const withoutProof = payload.replace(/,p=[^,]*$/, '');
    const proof = Buffer.from(/,p=([^,]*)$/.exec(payload)?.[1] ?? '', 'base64');
    const salted = saltedPassword(users[state.user] ?? '', salt, iterations);
    const clientKey = createHmac('sha256', salted).update('Client Key').digest();
    const storedKey = createHash('sha256').update(clientKey).digest();
    const authMessage = `${state.clientFirstBare},${state.serverFirst},${withoutProof}`;
    const signature = createHmac('sha256', storedKey).update(authMessage).digest();
    const expected = Buffer.from(clientKey.map((b, i) => b ^ (signature[i] ?? 0)));
    if (proof.length !== expected.length || !timingSafeEqual(proof, expected) || !withoutProof.includes(`r=${state.nonce}`)) return fail;
    const serverKey = createHmac('sha256', salted).update('Server Key').digest();
    const serverSignature = createHmac('sha256', serverKey).update(authMessage).digest('base64');
    conn.authed = true;
    return { conversationId: 1, done: true, payload: new BSON.Binary(Buffer.from(`v=${serverSignature}`)), ok: 1 };
  };

  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const conn: { id: number; authed: boolean; scram?: ScramState } = { id: ++connectionId, authed: options.users === undefined };
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4 && pending.length >= pending.readInt32LE(0)) {
        const length = pending.readInt32LE(0);
        const message = pending.subarray(0, length);
        pending = pending.subarray(length);
        const requestId = message.readInt32LE(4);
        const opCode = message.readInt32LE(12);
        const body = message.subarray(16);
        if (opCode === OP_QUERY) {
          const [ns, at] = cstring(body, 4);
          const querySize = body.readInt32LE(at + 8);
          const query = BSON.deserialize(body.subarray(at + 8, at + 8 + querySize), { promoteValues: false });
          const reply = handle({ ...query, $db: ns.split('.')[0] ?? 'admin' }, conn);
          // Speculative authentication is not offered: the driver then runs saslStart itself.
          socket.write(opReply(requestId, reply));
        } else if (opCode === OP_MSG) {
          socket.write(opMsg(requestId, handle(parseOpMsg(body), conn)));
        } else {
          socket.destroy();
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `mongodb://127.0.0.1:${port}/`,
    collection: (ns) => {
      const out = new Map<string, Doc>();
      for (const d of coll(ns).values()) out.set(String(unwrap(d['_id'])), d);
      return out;
    },
    commands,
    failWith: (e, count = Number.POSITIVE_INFINITY) => {
      failure = e;
      failures = count;
    },
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
