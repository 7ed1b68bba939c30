/** An Archivista stand-in (test-only): `POST /upload` (DSSE envelope JSON → `{"gitoid"}`), `GET /download/{gitoid}`. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gitoidSha256 } from '../../src/storage/archivista-storage.js';

export interface ArchivistaTestServer {
  readonly url: string;
  readonly stored: Map<string, Buffer>;
  stop(): Promise<void>;
}

export async function startArchivistaServer(): Promise<ArchivistaTestServer> {
  const stored = new Map<string, Buffer>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (req.method === 'POST' && req.url === '/upload') {
        let env: { payload?: unknown; payloadType?: unknown; signatures?: unknown };
        try {
          env = JSON.parse(body.toString('utf8')) as typeof env;
        } catch {
          res.writeHead(400).end('not json');
          return;
        }
        if (typeof env.payload !== 'string' || typeof env.payloadType !== 'string' || !Array.isArray(env.signatures)) {
          res.writeHead(400).end('not a DSSE envelope');
          return;
        }
        const gitoid = gitoidSha256(body);
        stored.set(gitoid, body);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ gitoid }));
        return;
      }
      const m = /^\/download\/([0-9a-f]+)$/.exec(req.url ?? '');
      if (req.method === 'GET' && m) {
        const data = stored.get(m[1] ?? '');
        if (!data) {
          res.writeHead(404).end();
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end(data);
        return;
      }
      res.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stored,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
