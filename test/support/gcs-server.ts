/**
 * A Cloud Storage JSON API stand-in (test-only): multipart uploads
 * (`POST /upload/storage/v1/b/{bucket}/o?uploadType=multipart`), object metadata
 * (`GET /storage/v1/b/{bucket}/o/{object}`), listing (`GET /storage/v1/b/{bucket}/o`, prefix and
 * page tokens) and media downloads (`?alt=media`, with `x-goog-hash`), as
 * `@google-cloud/storage` uses them with `resumable: false`. Buckets must be created by the test.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { crc32c } from '../../src/signing/gcp-kms-signer.js';

export interface GcsTestServer {
  readonly url: string;
  createBucket(name: string): void;
  objects(bucket: string): Map<string, Buffer>;
  stop(): Promise<void>;
}

function hashes(data: Buffer): { crc32c: string; md5Hash: string } {
  const c = Buffer.alloc(4);
  c.writeUInt32BE(crc32c(data));
  return { crc32c: c.toString('base64'), md5Hash: createHash('md5').update(data).digest('base64') };
}

export async function startGcsServer(): Promise<GcsTestServer> {
  const buckets = new Map<string, Map<string, Buffer>>();
  let base = '';
  const resource = (bucket: string, name: string, data: Buffer): Record<string, unknown> => ({
    kind: 'storage#object',
    id: `${bucket}/${name}/1`,
    name,
    bucket,
    generation: '1',
    metageneration: '1',
    size: String(data.length),
    contentType: 'application/octet-stream',
    ...hashes(data),
  });
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url ?? '/', base);
      const json = (status: number, value: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
      };
      const upload = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname);
      if (upload && req.method === 'POST') {
        const objects = buckets.get(decodeURIComponent(upload[1] ?? ''));
        if (!objects) return json(404, { error: { code: 404, message: 'The specified bucket does not exist.' } });
        const boundary = /boundary="?([^";]+)"?/.exec(req.headers['content-type'] ?? '')?.[1];
        if (url.searchParams.get('uploadType') !== 'multipart' || boundary === undefined) return json(400, { error: { code: 400, message: 'multipart only' } });
        // multipart/related: [JSON metadata part, media part]
        const parts = body.toString('latin1').split(`--${boundary}`).slice(1, -1);
        const part = (p: string): Buffer => Buffer.from(p.slice(p.indexOf('\r\n\r\n') + 4, p.endsWith('\r\n') ? -2 : undefined), 'latin1');
        const meta = JSON.parse(part(parts[0] ?? '').toString('utf8')) as { name?: string };
        const name = meta.name ?? url.searchParams.get('name') ?? '';
        const data = part(parts[1] ?? '');
        objects.set(name, data);
        return json(200, resource(upload[1] ?? '', name, data));
      }
      const get = /^\/(?:download\/)?storage\/v1\/b\/([^/]+)\/o\/(.+)$/.exec(url.pathname);
      if (get && req.method === 'GET') {
        const bucket = decodeURIComponent(get[1] ?? '');
        const name = decodeURIComponent(get[2] ?? '');
        const data = buckets.get(bucket)?.get(name);
        if (data === undefined) return json(404, { error: { code: 404, message: 'No such object' } });
        if (url.searchParams.get('alt') === 'media') {
          const h = hashes(data);
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-goog-hash': `crc32c=${h.crc32c},md5=${h.md5Hash}`, 'x-goog-stored-content-encoding': 'identity' }).end(data);
          return;
        }
        return json(200, resource(bucket, name, data));
      }
      const list = /^\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname);
      if (list && req.method === 'GET') {
        const bucket = decodeURIComponent(list[1] ?? '');
        const objects = buckets.get(bucket);
        if (!objects) return json(404, { error: { code: 404, message: 'The specified bucket does not exist.' } });
        const prefix = url.searchParams.get('prefix') ?? '';
        const names = [...objects.keys()].filter((n) => n.startsWith(prefix)).sort();
        const start = Number(url.searchParams.get('pageToken') ?? '0');
        const max = Number(url.searchParams.get('maxResults') ?? '1000');
        const page = names.slice(start, start + max);
        return json(200, {
          kind: 'storage#objects',
          items: page.map((n) => resource(bucket, n, objects.get(n) ?? Buffer.alloc(0))),
          ...(start + max < names.length ? { nextPageToken: String(start + max) } : {}),
        });
      }
      return json(404, { error: { code: 404, message: `no route ${req.method} ${url.pathname}` } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    createBucket: (name) => void buckets.set(name, new Map()),
    objects: (bucket) => buckets.get(bucket) ?? new Map(),
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
