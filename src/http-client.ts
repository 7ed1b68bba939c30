/**
 * A lean HTTP/1.1 client over `node:net`/`node:tls` with keep-alive connection pools, for the
 * controller's hot request paths (registry writes, Rekor uploads). Every answer is buffered whole
 * (within a byte cap), which is all those callers need.
 *
 * Why not `node:http`: on loopback against CNCF Distribution a `node:http` request costs ~0.25–0.3 ms
 * of CPU (ClientRequest and IncomingMessage objects, agent bookkeeping, per-header validation, a
 * parser per socket, streams), this ~0.1 ms; a run with `oci` storage sends ~40 registry requests
 * (issue 10, bench/README.md). What it does not do: proxies (nor does `node:http`), redirects (callers
 * follow them, keeping credentials on their origin), HTTP/2, request bodies as streams.
 *
 * Protocol handling: `Content-Length`, chunked and read-to-close bodies; 1xx answers skipped; no body
 * for HEAD, 204 and 304; a connection is reused only after a complete, well-framed answer without
 * `Connection: close`. A request that fails on a reused connection before any byte of the answer
 * arrived (the server closed it while idle) is sent once more on a new connection.
 */
import type net from 'node:net';
import type tls from 'node:tls';

// Loaded on first connection, through getBuiltinModule: an ESM import of `node:tls` costs ~14 ms of CPU
// at start-up (its ESM facade), which CLI commands that never open a TLS connection should not pay.
const netModule = (): typeof net => process.getBuiltinModule('node:net');
const tlsModule = (): typeof tls => process.getBuiltinModule('node:tls');

export interface Http1Request {
  readonly method: string;
  readonly url: URL;
  /** Header names and values; CR, LF and NUL are refused (TypeError), as `node:http` does. */
  readonly headers?: Readonly<Record<string, string>> | undefined;
  readonly body?: Uint8Array | string | undefined;
  /** Deadline for the whole exchange (waiting for a connection, headers and body). */
  readonly timeoutMs?: number | undefined;
  /** Most body bytes held; past it the connection is dropped with `tooLarge`'s error. */
  readonly maxBodyBytes?: number | undefined;
  readonly tooLarge?: ((actual: number, max: number) => Error) | undefined;
}

export interface Http1Response {
  readonly status: number;
  /** Lower-case names; repeated headers joined with `, `. */
  readonly headers: Readonly<Record<string, string>>;
  /** undefined for HEAD, 204 and 304 answers. */
  readonly body: Buffer | undefined;
}

/** Most bytes of a status line and headers (Node's default `maxHeaderSize` is 16 KiB). */
const maxHeaderBytes = 64 * 1024;
const maxSocketsPerOrigin = 32;
/** Idle keep-alive connections are closed after this long. */
const idleMs = 30_000;

const invalidHeaderChar = /[\r\n\0]/;

interface Exchange {
  onData(chunk: Buffer): void;
  onEnd(err: Error | undefined): void;
}

interface Conn {
  readonly socket: net.Socket;
  readonly pool: Pool;
  /** Answers completed on this connection (0: new, so a failure is not a stale keep-alive). */
  used: number;
  exchange: Exchange | undefined;
  closed: boolean;
}

interface Pool {
  readonly key: string;
  readonly url: URL;
  readonly idle: Conn[];
  open: number;
  readonly waiters: ((conn: Conn | undefined) => void)[];
  session: Buffer | undefined;
}

/** Keep-alive pools by origin; created on first use (like `node:http`'s global agents). */
const pools = new Map<string, Pool>();

function poolFor(url: URL): Pool {
  const key = `${url.protocol}//${url.host}`;
  let pool = pools.get(key);
  if (pool === undefined) {
    pool = { key, url, idle: [], open: 0, waiters: [], session: undefined };
    pools.set(key, pool);
  }
  return pool;
}

function defaultPort(url: URL): number {
  return url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
}

function connect(pool: Pool): Conn {
  const url = pool.url;
  // `URL` keeps IPv6 hosts bracketed; sockets want them bare.
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = defaultPort(url);
  let socket: net.Socket;
  if (url.protocol === 'https:') {
    const tlsSocket = tlsModule().connect({
      host,
      port,
      ALPNProtocols: ['http/1.1'],
      ...(netModule().isIP(host) === 0 ? { servername: host } : {}),
      ...(pool.session !== undefined ? { session: pool.session } : {}),
    });
    tlsSocket.on('session', (s: Buffer) => (pool.session = s));
    socket = tlsSocket;
  } else {
    socket = netModule().connect({ host, port });
  }
  socket.setNoDelay(true);
  pool.open++;
  const conn: Conn = { socket, pool, used: 0, exchange: undefined, closed: false };
  const closed = (err: Error | undefined): void => {
    if (conn.closed) return;
    conn.closed = true;
    pool.open--;
    const i = pool.idle.indexOf(conn);
    if (i >= 0) pool.idle.splice(i, 1);
    const ex = conn.exchange;
    conn.exchange = undefined;
    ex?.onEnd(err);
    socket.destroy();
    handOut(pool);
  };
  socket.on('data', (chunk: Buffer) => {
    if (conn.exchange !== undefined) conn.exchange.onData(chunk);
    // Bytes nobody asked for: the connection's framing is lost.
    else socket.destroy();
  });
  socket.on('end', () => closed(undefined));
  socket.on('close', () => closed(undefined));
  socket.on('error', (err) => closed(err));
  socket.on('timeout', () => socket.destroy());
  return conn;
}

/** Gives a free or new connection to the oldest waiter, if any. */
function handOut(pool: Pool): void {
  while (pool.waiters.length > 0) {
    const idle = pool.idle.pop();
    if (idle !== undefined) {
      pool.waiters.shift()?.(idle);
      continue;
    }
    if (pool.open >= maxSocketsPerOrigin) return;
    pool.waiters.shift()?.(connect(pool));
  }
}

/** An idle connection (unless `fresh`), a new one, or undefined when the pool is full (then wait). */
function acquire(pool: Pool, fresh: boolean): Conn | undefined {
  if (!fresh) {
    const idle = pool.idle.pop();
    if (idle !== undefined) return idle;
  }
  return pool.open < maxSocketsPerOrigin ? connect(pool) : undefined;
}

function release(conn: Conn): void {
  conn.exchange = undefined;
  if (conn.closed) return;
  const pool = conn.pool;
  const waiter = pool.waiters.shift();
  if (waiter !== undefined) {
    waiter(conn);
    return;
  }
  conn.socket.setTimeout(idleMs);
  conn.socket.unref();
  pool.idle.push(conn);
}

function requestHead(req: Http1Request, method: string, bodyLength: number | undefined): string {
  const target = `${req.url.pathname}${req.url.search}`;
  if (invalidHeaderChar.test(target) || /\s/.test(method)) throw new TypeError('invalid character in the request line');
  let head = `${method} ${target} HTTP/1.1\r\nHost: ${req.url.host}\r\n`;
  const headers = req.headers;
  if (headers !== undefined) {
    for (const name in headers) {
      const value = headers[name]!;
      if (invalidHeaderChar.test(name) || invalidHeaderChar.test(value) || name.includes(':')) throw new TypeError(`invalid character in header ${name}`);
      const lower = name.toLowerCase();
      if (lower === 'host' || lower === 'content-length' || lower === 'connection' || lower === 'transfer-encoding') continue;
      head += `${name}: ${value}\r\n`;
    }
  }
  if (bodyLength !== undefined) head += `Content-Length: ${bodyLength}\r\n`;
  return `${head}\r\n`;
}

class ProtocolError extends Error {}

/** Parses one answer from the bytes of a connection; `done` gets the answer and whether the connection may be reused. */
function createParser(
  method: string,
  maxBody: number,
  tooLarge: (actual: number, max: number) => Error,
  done: (res: Http1Response, reusable: boolean) => void,
  fail: (err: Error) => void,
): Exchange & { readonly started: () => boolean } {
  let buf: Buffer = Buffer.alloc(0);
  let started = false;
  let status = 0;
  let headers: Record<string, string> = {};
  let mode: 'head' | 'length' | 'chunked' | 'close' | 'finished' = 'head';
  let remaining = 0;
  const chunks: Buffer[] = [];
  let received = 0;
  let chunkState: 'size' | 'data' | 'data-crlf' | 'trailer' = 'size';

  const finish = (reusable: boolean): void => {
    mode = 'finished';
    const body = method === 'HEAD' || status === 204 || status === 304 ? undefined : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    done({ status, headers, body }, reusable);
  };

  const take = (bytes: Buffer): boolean => {
    received += bytes.length;
    if (received > maxBody) {
      mode = 'finished';
      fail(tooLarge(received, maxBody));
      return false;
    }
    chunks.push(bytes);
    return true;
  };

  const parseHead = (): boolean => {
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) {
      if (buf.length > maxHeaderBytes) throw new ProtocolError('answer headers too large');
      return false;
    }
    if (end > maxHeaderBytes) throw new ProtocolError('answer headers too large');
    const lines = buf.toString('latin1', 0, end).split('\r\n');
    buf = buf.subarray(end + 4);
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
    if (m === null) throw new ProtocolError('not an HTTP/1.1 answer');
    status = Number(m[1]);
    headers = {};
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      if (colon <= 0) throw new ProtocolError('malformed answer header');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    // 1xx: an interim answer, the real one follows (101 would switch protocols: not asked for).
    if (status >= 100 && status < 200) {
      if (status === 101) throw new ProtocolError('unexpected protocol switch');
      return true;
    }
    const te = headers['transfer-encoding'];
    if (method === 'HEAD' || status === 204 || status === 304) {
      mode = 'length';
      remaining = 0;
    } else if (te !== undefined) {
      if (!/(^|,)\s*chunked\s*$/i.test(te)) throw new ProtocolError('unsupported transfer encoding');
      mode = 'chunked';
    } else if (headers['content-length'] !== undefined) {
      const n = headers['content-length'];
      if (!/^\d+$/.test(n)) throw new ProtocolError('malformed content-length');
      remaining = Number(n);
      if (remaining > maxBody) {
        mode = 'finished';
        fail(tooLarge(remaining, maxBody));
        return false;
      }
      mode = 'length';
    } else {
      mode = 'close';
    }
    return true;
  };

  const parseChunked = (): boolean => {
    for (;;) {
      if (chunkState === 'size' || chunkState === 'trailer') {
        const eol = buf.indexOf('\r\n');
        if (eol < 0) {
          if (buf.length > 4096) throw new ProtocolError('chunk line too long');
          return false;
        }
        const line = buf.toString('latin1', 0, eol);
        buf = buf.subarray(eol + 2);
        if (chunkState === 'trailer') {
          if (line === '') {
            finish(buf.length === 0 && !closes());
            return false;
          }
          continue;
        }
        const size = /^([0-9a-fA-F]{1,12})(;.*)?$/.exec(line.trim());
        if (size === null) throw new ProtocolError('malformed chunk size');
        remaining = parseInt(size[1]!, 16);
        chunkState = remaining === 0 ? 'trailer' : 'data';
        continue;
      }
      if (chunkState === 'data') {
        if (buf.length === 0) return false;
        const part = buf.subarray(0, Math.min(remaining, buf.length));
        buf = buf.subarray(part.length);
        remaining -= part.length;
        if (!take(part)) return false;
        if (remaining === 0) chunkState = 'data-crlf';
        continue;
      }
      // data-crlf
      if (buf.length < 2) return false;
      if (buf[0] !== 0x0d || buf[1] !== 0x0a) throw new ProtocolError('malformed chunk end');
      buf = buf.subarray(2);
      chunkState = 'size';
    }
  };

  const closes = (): boolean => /(^|,)\s*close\s*(,|$)/i.test(headers['connection'] ?? '');

  const step = (): void => {
    for (;;) {
      if (mode === 'finished') return;
      if (mode === 'head') {
        if (!parseHead()) return;
        continue;
      }
      if (mode === 'length') {
        if (remaining > 0) {
          if (buf.length === 0) return;
          const part = buf.subarray(0, Math.min(remaining, buf.length));
          buf = buf.subarray(part.length);
          remaining -= part.length;
          if (!take(part)) return;
        }
        if (remaining === 0) finish(buf.length === 0 && !closes());
        return;
      }
      if (mode === 'chunked') {
        parseChunked();
        return;
      }
      // close: everything until the server closes the connection.
      if (buf.length > 0) {
        const part = buf;
        buf = Buffer.alloc(0);
        if (!take(part)) return;
      }
      return;
    }
  };

  return {
    started: () => started,
    onData(chunk) {
      started = true;
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      try {
        step();
      } catch (err) {
        mode = 'finished';
        fail(err as Error);
      }
    },
    onEnd(err) {
      if (mode === 'finished') return;
      if (mode === 'close' && err === undefined) {
        finish(false);
        return;
      }
      mode = 'finished';
      fail(err ?? new Error('connection closed before the answer was complete'));
    },
  };
}

/** Sends one request and buffers the whole answer. */
export async function http1Request(req: Http1Request): Promise<Http1Response> {
  if (req.url.protocol !== 'http:' && req.url.protocol !== 'https:') throw new TypeError(`unsupported protocol ${req.url.protocol}`);
  const method = req.method.toUpperCase();
  const body = req.body === undefined ? undefined : typeof req.body === 'string' ? Buffer.from(req.body) : req.body;
  const sendsLength = body !== undefined || method === 'POST' || method === 'PUT' || method === 'PATCH';
  const head = requestHead(req, method, sendsLength ? (body?.length ?? 0) : undefined);
  // One buffer, one write: the head (latin1, as HTTP/1.1 heads are) and the body after it.
  const bodyBytes = body?.length ?? 0;
  const payload = Buffer.allocUnsafe(head.length + bodyBytes);
  payload.write(head, 0, 'latin1');
  if (body !== undefined && bodyBytes > 0) payload.set(body, head.length);
  const pool = poolFor(req.url);
  const deadline = req.timeoutMs === undefined ? undefined : Date.now() + req.timeoutMs;
  const maxBody = req.maxBodyBytes ?? Infinity;
  const tooLarge = req.tooLarge ?? ((actual: number, max: number) => new Error(`answer over ${max} bytes (${actual})`));

  for (let attempt = 0; ; attempt++) {
    const outcome = await exchangeOnce(pool, payload, method, attempt > 0, deadline, req.timeoutMs ?? 0, maxBody, tooLarge);
    if (outcome.ok) return outcome.res;
    // A reused connection the server had closed while idle: nothing was answered, send again once.
    if (outcome.stale && attempt === 0) continue;
    throw outcome.err;
  }
}

type Outcome = { readonly ok: true; readonly res: Http1Response } | { readonly ok: false; readonly err: Error; readonly stale: boolean };

function exchangeOnce(
  pool: Pool,
  payload: Buffer,
  method: string,
  fresh: boolean,
  deadline: number | undefined,
  timeoutMs: number,
  maxBody: number,
  tooLarge: (actual: number, max: number) => Error,
): Promise<Outcome> {
  return new Promise<Outcome>((resolve) => {
    let settled = false;
    let conn: Conn | undefined;
    let waiting: ((c: Conn | undefined) => void) | undefined;
    const settle = (outcome: Outcome): void => {
      if (settled) return;
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      resolve(outcome);
    };
    const timer =
      deadline === undefined
        ? undefined
        : setTimeout(
            () => {
              if (waiting !== undefined) {
                const i = pool.waiters.indexOf(waiting);
                if (i >= 0) pool.waiters.splice(i, 1);
              }
              conn?.socket.destroy();
              settle({ ok: false, err: new Error(`no complete answer within ${timeoutMs} ms`), stale: false });
            },
            Math.max(0, deadline - Date.now()),
          );
    const start = (c: Conn | undefined): void => {
      waiting = undefined;
      if (c === undefined) return;
      if (settled) {
        release(c);
        return;
      }
      conn = c;
      const reused = c.used > 0;
      c.socket.setTimeout(0);
      c.socket.ref();
      const parser = createParser(
        method,
        maxBody,
        tooLarge,
        (res, reusable) => {
          c.used++;
          if (reusable) release(c);
          else {
            c.exchange = undefined;
            c.socket.destroy();
          }
          settle({ ok: true, res });
        },
        (err) => {
          c.exchange = undefined;
          c.socket.destroy();
          settle({ ok: false, err, stale: reused && !parser.started() });
        },
      );
      c.exchange = parser;
      c.socket.write(payload);
    };
    const got = acquire(pool, fresh);
    if (got !== undefined) start(got);
    else {
      waiting = start;
      pool.waiters.push(start);
    }
  });
}
