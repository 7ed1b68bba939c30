/**
 * A small `fetch` over `node:http`/`node:https` with keep-alive agents, for registry traffic.
 * Global `fetch` (undici) costs ~0.9 ms of CPU per request here against ~0.3 ms for `node:http`
 * (measured on loopback against Distribution), and an attestation takes about twenty registry
 * requests, so this halves the controller's CPU per run with `oci` storage. It never follows
 * redirects (the registry client follows them itself, keeping credentials on their origin).
 */
import http from 'node:http';
import type https from 'node:https';

/**
 * Keep-alive agents, made on first use: `node:https` loads `node:tls`, a few ms of a CLI call that only
 * talks to a plain-HTTP registry (`verify --image` against a loopback registry, measured in bench/cli.ts).
 */
let httpAgent: http.Agent | undefined;
let httpsLib: { readonly lib: typeof https; readonly agent: https.Agent } | undefined;

function transportFor(protocol: string): { readonly lib: typeof http | typeof https; readonly agent: http.Agent } {
  if (protocol !== 'https:') return { lib: http, agent: (httpAgent ??= new http.Agent({ keepAlive: true, maxSockets: 32 })) };
  if (httpsLib === undefined) {
    const lib = process.getBuiltinModule('node:https');
    httpsLib = { lib, agent: new lib.Agent({ keepAlive: true, maxSockets: 32 }) };
  }
  return httpsLib;
}

/**
 * The part of a WHATWG `Response` the registry client reads. Building a real `Response` (undici's
 * headers, body stream) costs ~0.15 ms of CPU per request here, a third of the request's total; this
 * plain object holds the buffered body instead. A real `Response` (from an injected `fetch`) fits too.
 */
export interface TransportResponse {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  readonly body: { cancel(): Promise<void> } | null;
  arrayBuffer(): Promise<ArrayBuffer>;
  text(): Promise<string>;
  json(): Promise<unknown>;
}

export interface TransportInit {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: Uint8Array | string;
  /** Deadline for the whole exchange, headers and body (limits.ts: `http.timeoutMs`). */
  readonly timeoutMs?: number;
  /** Most body bytes held; past it the exchange is dropped with `tooLarge`'s error. */
  readonly maxBodyBytes?: number;
  readonly tooLarge?: (actual: number, max: number) => Error;
}

const noBody = { cancel: async (): Promise<void> => undefined };

function bufferedResponse(status: number, raw: http.IncomingHttpHeaders, body: Buffer | undefined): TransportResponse {
  const bytes = body ?? Buffer.alloc(0);
  return {
    status,
    headers: {
      get(name) {
        const v = raw[name.toLowerCase()];
        return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
      },
    },
    body: body === undefined ? null : noBody,
    arrayBuffer: async () => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
    text: async () => bytes.toString('utf8'),
    json: async () => JSON.parse(bytes.toString('utf8')) as unknown,
  };
}

export function httpTransport(input: URL | string, init: TransportInit = {}): Promise<TransportResponse> {
  const url = typeof input === 'string' ? new URL(input) : input;
  const { lib, agent } = transportFor(url.protocol);
  const method = (init.method ?? 'GET').toUpperCase();
  return new Promise<TransportResponse>((resolve, reject) => {
    const maxBody = init.maxBodyBytes ?? Infinity;
    const timer =
      init.timeoutMs === undefined ? undefined : setTimeout(() => req.destroy(new Error(`no complete answer within ${init.timeoutMs} ms`)), init.timeoutMs);
    const settle = <T>(fn: (v: T) => void) => (v: T) => {
      if (timer !== undefined) clearTimeout(timer);
      fn(v);
    };
    resolve = settle(resolve);
    reject = settle(reject);
    const req = lib.request(url, { method, headers: init.headers, agent }, (res) => {
      const declared = Number(res.headers['content-length'] ?? NaN);
      if (method !== 'HEAD' && declared > maxBody) {
        req.destroy();
        reject(init.tooLarge?.(declared, maxBody) ?? new Error(`answer over ${maxBody} bytes`));
        return;
      }
      const chunks: Buffer[] = [];
      let received = 0;
      res.on('data', (c: Buffer) => {
        received += c.length;
        if (received > maxBody) {
          req.destroy();
          reject(init.tooLarge?.(received, maxBody) ?? new Error(`answer over ${maxBody} bytes`));
          return;
        }
        chunks.push(c);
      });
      res.on('error', reject);
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        const body = method === 'HEAD' || status === 204 || status === 304 ? undefined : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
        resolve(bufferedResponse(status, res.headers, body));
      });
    });
    req.on('error', reject);
    if (init.body !== undefined) req.end(init.body);
    else req.end();
  });
}
