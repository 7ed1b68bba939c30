/**
 * An Archivista stand-in (test-only): `POST /upload` (DSSE envelope JSON → `{"gitoid"}`), `GET /download/{gitoid}`,
 * and `POST /query`: the GraphQL search archivistactl sends (`dsses(where: {hasStatementWith: {hasSubjectsWith:
 * {hasSubjectDigestsWith: {valueIn: $subjectDigests}}}})` → `{data: {dsses: {edges: [{node: {gitoidSha256}}]}}}`),
 * answered from the in-toto statements' subject digests; any other query is a GraphQL error.
 */
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
      if (req.method === 'POST' && req.url === '/query') {
        let q: { query?: unknown; variables?: { subjectDigests?: unknown } };
        try {
          q = JSON.parse(body.toString('utf8')) as typeof q;
        } catch {
          res.writeHead(400).end('not json');
          return;
        }
        const wanted = Array.isArray(q.variables?.subjectDigests) ? (q.variables.subjectDigests as unknown[]).map(String) : undefined;
        if (typeof q.query !== 'string' || !/hasSubjectDigestsWith:\s*\{\s*valueIn:\s*\$subjectDigests/.test(q.query) || wanted === undefined) {
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ message: 'unsupported query' }] }));
          return;
        }
        const edges: Array<{ node: { gitoidSha256: string } }> = [];
        for (const [gitoid, data] of stored) {
          try {
            const env = JSON.parse(data.toString('utf8')) as { payload: string };
            const statement = JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')) as { subject?: Array<{ digest?: Record<string, string> }> };
            if ((statement.subject ?? []).some((s) => Object.values(s.digest ?? {}).some((v) => wanted.includes(v)))) edges.push({ node: { gitoidSha256: gitoid } });
          } catch {
            // not an in-toto statement: not indexed, as Archivista
          }
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: { dsses: { edges } } }));
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
