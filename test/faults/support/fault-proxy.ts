/**
 * A small `node:http` proxy put in front of a real service (the registry, the mock Rekor) to inject
 * faults the way a network or an overloaded server does: answer a status without forwarding, cut
 * the connection in the middle of an upload, or do the work upstream and then lose the answer.
 * The request's Host header is passed through, so the registry builds upload Locations that point
 * back at the proxy.
 */
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type ProxyAction =
  /** Forward and relay the answer. */
  | { readonly kind: 'pass' }
  /** Answer `status` without forwarding (nothing happens upstream). */
  | { readonly kind: 'status'; readonly status: number }
  /** Read the first chunk of the request body, then destroy the socket (client sees a reset). */
  | { readonly kind: 'reset-mid-body' }
  /**
   * Forward (the upstream does the work), then answer `status` instead of the upstream's answer,
   * keeping its Location header. `onlyIf` limits it to upstream answers with that status.
   */
  | { readonly kind: 'forward-then-status'; readonly status: number; readonly onlyIf?: number };

export interface ProxyRequest {
  readonly method: string;
  readonly path: string;
  readonly hasBody: boolean;
}

export interface FaultProxy {
  readonly port: number;
  /** `127.0.0.1:<port>` */
  readonly host: string;
  readonly url: string;
  /** Decides per request; default pass. */
  setPolicy(policy: (req: ProxyRequest) => ProxyAction): void;
  /** How many requests got each action kind. */
  readonly counts: Record<ProxyAction['kind'], number>;
  stop(): Promise<void>;
}

export async function startFaultProxy(upstream: { host: string; port: number }): Promise<FaultProxy> {
  let policy: (req: ProxyRequest) => ProxyAction = () => ({ kind: 'pass' });
  const counts: Record<ProxyAction['kind'], number> = { pass: 0, status: 0, 'reset-mid-body': 0, 'forward-then-status': 0 };

  const forward = (req: IncomingMessage, body: Buffer): Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const headers = { ...req.headers };
      delete headers['content-length'];
      delete headers['transfer-encoding'];
      delete headers['connection'];
      const up = request(
        { host: upstream.host, port: upstream.port, method: req.method, path: req.url, headers: { ...headers, 'content-length': String(body.length) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      up.on('error', reject);
      up.end(body);
    });

  const relay = (res: ServerResponse, status: number, headers: IncomingMessage['headers'], body: Buffer): void => {
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(headers)) {
      if (v === undefined || ['connection', 'transfer-encoding', 'content-length', 'keep-alive'].includes(k)) continue;
      out[k] = v;
    }
    out['content-length'] = String(body.length);
    res.writeHead(status, out);
    res.end(body);
  };

  const readBody = async (req: IncomingMessage): Promise<Buffer> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  };

  const server = createServer((req, res) => {
    const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
    const action = policy({ method: req.method ?? 'GET', path: (req.url ?? '/').split('?')[0] ?? '/', hasBody });
    counts[action.kind] += 1;
    void (async () => {
      switch (action.kind) {
        case 'status': {
          await readBody(req);
          const body = Buffer.from(JSON.stringify({ errors: [{ code: 'UNAVAILABLE', message: 'injected fault' }], code: action.status, message: 'injected fault' }));
          relay(res, action.status, { 'content-type': 'application/json' }, body);
          return;
        }
        case 'reset-mid-body': {
          if (!hasBody) {
            req.socket.destroy();
            return;
          }
          req.once('data', () => req.socket.destroy());
          return;
        }
        case 'forward-then-status': {
          const up = await forward(req, await readBody(req));
          if (action.onlyIf !== undefined && up.status !== action.onlyIf) return relay(res, up.status, up.headers, up.body);
          const body = Buffer.from(JSON.stringify({ code: action.status, message: 'injected fault after the upstream answered' }));
          const headers: IncomingMessage['headers'] = { 'content-type': 'application/json' };
          if (up.headers.location !== undefined) headers.location = up.headers.location;
          relay(res, action.status, headers, body);
          return;
        }
        case 'pass': {
          const up = await forward(req, await readBody(req));
          relay(res, up.status, up.headers, up.body);
          return;
        }
      }
    })().catch(() => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    setPolicy: (p) => {
      policy = p;
    },
    counts,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
