/**
 * A registry stand-in on a loopback port (node:http, OCI Distribution paths) that serves what it is
 * given, and misbehaves on request: oversized, deeply nested, truncated, stalled, trickling,
 * redirecting and digest-mismatched answers. It records every request and every manifest PUT, so a
 * test can check that nothing corrupted was written. No referrers API (404), as Distribution.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { jsonText } from './fuzz.js';

export type Misbehaviour =
  /** A body that never ends (chunked, no length) until the client hangs up. */
  | { readonly kind: 'endless' }
  /** `Content-Length` of 10 GiB, then a trickle of bytes. */
  | { readonly kind: 'huge-declared' }
  /** A valid JSON document nested `depth` deep, within the byte limits. */
  | { readonly kind: 'nested'; readonly depth: number }
  /** `Content-Length` says more than is sent, then the connection is cut. */
  | { readonly kind: 'truncated' }
  /** Headers, then silence. */
  | { readonly kind: 'stall' }
  /** One byte every 20 ms, forever. */
  | { readonly kind: 'trickle' }
  /** 302 to itself. */
  | { readonly kind: 'redirect-loop' }
  /** 307 to another path on this server that serves `body`. */
  | { readonly kind: 'redirect'; readonly body: Uint8Array; readonly contentType?: string }
  /** 200 with other bytes than the digest asked for. */
  | { readonly kind: 'wrong-content'; readonly body: Uint8Array; readonly contentType?: string };

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
}

export interface HostileRegistry {
  /** `127.0.0.1:<port>` as image references spell it. */
  readonly host: string;
  readonly requests: RecordedRequest[];
  /** Manifest PUTs: path and body. */
  readonly puts: { readonly path: string; readonly body: Buffer }[];
  /** Serves a blob; returns its digest. */
  blob(repository: string, bytes: Uint8Array): string;
  /** Serves a manifest under a tag and under its digest; returns the digest. */
  manifest(repository: string, tag: string | undefined, doc: unknown, mediaType?: string): string;
  /** From now on, answers requests whose path ends with `pathSuffix` (and method, default GET) this way. */
  misbehave(pathSuffix: string, how: Misbehaviour, method?: string): void;
  /** Open responses still streaming (endless/trickle/stall) — 0 once clients have hung up. */
  openStreams(): number;
  close(): Promise<void>;
}

const sha256 = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export async function startHostileRegistry(): Promise<HostileRegistry> {
  const blobs = new Map<string, Uint8Array>();
  const manifests = new Map<string, { bytes: Buffer; mediaType: string }>();
  const rules: { suffix: string; method: string; how: Misbehaviour }[] = [];
  const requests: RecordedRequest[] = [];
  const puts: { path: string; body: Buffer }[] = [];
  const open = new Set<http.ServerResponse>();
  const timers = new Set<NodeJS.Timeout>();
  const uploads = new Map<string, Buffer[]>();
  let uploadSeq = 0;

  function stream(res: http.ServerResponse, chunk: Buffer, everyMs: number): void {
    open.add(res);
    const t = setInterval(() => {
      if (res.destroyed || res.writableEnded) {
        clearInterval(t);
        timers.delete(t);
        open.delete(res);
        return;
      }
      res.write(chunk);
    }, everyMs);
    timers.add(t);
    res.on('close', () => {
      clearInterval(t);
      timers.delete(t);
      open.delete(res);
    });
  }

  function misbehave(req: http.IncomingMessage, res: http.ServerResponse, how: Misbehaviour): void {
    switch (how.kind) {
      case 'endless':
        res.writeHead(200, { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' });
        res.write('{"layers":["');
        stream(res, Buffer.alloc(256 * 1024, 'a'), 1);
        return;
      case 'huge-declared':
        res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(10 * 1024 ** 3) });
        stream(res, Buffer.alloc(1024, 'a'), 5);
        return;
      case 'nested': {
        const body = `${'{"a":'.repeat(how.depth)}1${'}'.repeat(how.depth)}`;
        res.writeHead(200, { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json', 'Content-Length': String(Buffer.byteLength(body)) });
        res.end(body);
        return;
      }
      case 'truncated':
        res.writeHead(200, { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json', 'Content-Length': '100000' });
        res.write('{"schemaVersion":2,"layers":[');
        setTimeout(() => res.socket?.destroy(), 10);
        return;
      case 'stall':
        res.writeHead(200, { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' });
        res.flushHeaders();
        open.add(res);
        res.on('close', () => open.delete(res));
        return;
      case 'trickle':
        res.writeHead(200, { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' });
        res.write('{');
        stream(res, Buffer.from(' '), 20);
        return;
      case 'redirect-loop':
        res.writeHead(302, { Location: req.url ?? '/' });
        res.end();
        return;
      case 'redirect': {
        const target = `/redirected/${uploadSeq++}`;
        rules.push({ suffix: target, method: req.method ?? 'GET', how: { kind: 'wrong-content', body: how.body, ...(how.contentType ? { contentType: how.contentType } : {}) } });
        res.writeHead(307, { Location: target });
        res.end();
        return;
      }
      case 'wrong-content':
        res.writeHead(200, { 'Content-Type': how.contentType ?? 'application/octet-stream', 'Content-Length': String(how.body.byteLength) });
        res.end(req.method === 'HEAD' ? undefined : Buffer.from(how.body));
        return;
    }
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    requests.push({ method, path });
    const rule = [...rules].reverse().find((r) => path.endsWith(r.suffix) && (r.method === method || (r.method === 'GET' && method === 'HEAD')));
    if (rule !== undefined) {
      misbehave(req, res, rule.how);
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (path === '/v2/' || path === '/v2') {
        res.writeHead(200).end('{}');
        return;
      }
      const m = /^\/v2\/(.+?)\/(blobs\/uploads|manifests|blobs|referrers)\/(.*)$/.exec(path);
      if (m === null) {
        res.writeHead(404).end();
        return;
      }
      const [, repo, what, ref] = m as unknown as [string, string, string, string];
      if (what === 'referrers') {
        res.writeHead(404).end();
        return;
      }
      if (what === 'manifests') {
        const key = `${repo}:${ref}`;
        if (method === 'PUT') {
          puts.push({ path, body });
          const digest = sha256(body);
          const entry = { bytes: body, mediaType: req.headers['content-type'] ?? 'application/vnd.oci.image.manifest.v1+json' };
          manifests.set(key, entry);
          manifests.set(`${repo}:${digest}`, entry);
          res.writeHead(201, { 'Docker-Content-Digest': digest, Location: `/v2/${repo}/manifests/${digest}` }).end();
          return;
        }
        const entry = manifests.get(key);
        if (entry === undefined) {
          res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}');
          return;
        }
        res.writeHead(200, { 'Content-Type': entry.mediaType, 'Content-Length': String(entry.bytes.length), 'Docker-Content-Digest': sha256(entry.bytes) });
        res.end(method === 'HEAD' ? undefined : entry.bytes);
        return;
      }
      if (what === 'blobs/uploads') {
        if (method === 'POST') {
          const id = String(uploadSeq++);
          uploads.set(id, []);
          res.writeHead(202, { Location: `/v2/${repo}/blobs/uploads/${id}` }).end();
          return;
        }
        if (method === 'PUT' || method === 'PATCH') {
          const parts = uploads.get(ref) ?? [];
          parts.push(body);
          if (method === 'PATCH') {
            res.writeHead(202, { Location: `/v2/${repo}/blobs/uploads/${ref}` }).end();
            return;
          }
          const bytes = Buffer.concat(parts);
          const digest = url.searchParams.get('digest') ?? '';
          if (sha256(bytes) !== digest) {
            res.writeHead(400).end('{"errors":[{"code":"DIGEST_INVALID"}]}');
            return;
          }
          blobs.set(`${repo}@${digest}`, bytes);
          res.writeHead(201, { 'Docker-Content-Digest': digest }).end();
          return;
        }
      }
      if (what === 'blobs') {
        const bytes = blobs.get(`${repo}@${ref}`);
        if (bytes === undefined) {
          res.writeHead(404).end();
          return;
        }
        res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(bytes.byteLength), 'Docker-Content-Digest': ref });
        res.end(method === 'HEAD' ? undefined : Buffer.from(bytes));
        return;
      }
      res.writeHead(405).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    host: `127.0.0.1:${port}`,
    requests,
    puts,
    blob(repository, bytes) {
      const digest = sha256(bytes);
      blobs.set(`${repository}@${digest}`, bytes);
      return digest;
    },
    manifest(repository, tag, doc, mediaType = 'application/vnd.oci.image.manifest.v1+json') {
      const bytes = Buffer.from(typeof doc === 'string' ? doc : jsonText(doc));
      const digest = sha256(bytes);
      manifests.set(`${repository}:${digest}`, { bytes, mediaType });
      if (tag !== undefined) manifests.set(`${repository}:${tag}`, { bytes, mediaType });
      return digest;
    },
    misbehave(suffix, how, method = 'GET') {
      rules.push({ suffix, method, how });
    },
    openStreams: () => open.size,
    async close() {
      for (const t of timers) clearInterval(t);
      for (const r of open) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
