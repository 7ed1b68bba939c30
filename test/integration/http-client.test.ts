/**
 * The lean HTTP/1.1 client (src/http-client.ts) against a raw TCP server that writes exact bytes:
 * framing (length, chunked, read-to-close, 1xx, HEAD), keep-alive reuse and its stale-connection
 * retry, byte caps, the deadline, and refusal of header injection.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import net from 'node:net';
import { http1Request } from '../../src/http-client.js';

type Handler = (request: string, socket: net.Socket) => void;
let server: net.Server;
let port: number;
let handler: Handler = () => undefined;
let connections = 0;

beforeAll(async () => {
  server = net.createServer((socket) => {
    connections++;
    let buf = '';
    socket.on('data', (d) => {
      buf += d.toString('latin1');
      // One request per call once its head and its Content-Length body are in.
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const length = Number(/content-length: (\d+)/i.exec(buf.slice(0, end))?.[1] ?? '0');
        if (buf.length < end + 4 + length) return;
        const request = buf.slice(0, end + 4 + length);
        buf = buf.slice(end + 4 + length);
        handler(request, socket);
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as net.AddressInfo).port;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
});

const url = (path = '/x'): URL => new URL(`http://127.0.0.1:${port}${path}`);

describe('lean HTTP/1.1 client', () => {
  it('reads Content-Length and chunked answers, skips 1xx, and reuses the connection', async () => {
    const seen: string[] = [];
    handler = (req, socket) => {
      seen.push(req);
      if (req.startsWith('GET /chunked')) socket.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: t\r\n\r\n');
      else socket.write('HTTP/1.1 201 Created\r\nContent-Length: 2\r\nLocation: /a\r\nX-Dup: 1\r\nX-Dup: 2\r\n\r\nok');
    };
    const before = connections;
    const a = await http1Request({ method: 'PUT', url: url('/put?digest=sha256:1'), headers: { 'Content-Type': 'application/json' }, body: '{"a":1}' });
    expect(a.status).toBe(201);
    expect(a.body?.toString()).toBe('ok');
    expect(a.headers['location']).toBe('/a');
    expect(a.headers['x-dup']).toBe('1, 2');
    const b = await http1Request({ method: 'GET', url: url('/chunked') });
    expect(b.status).toBe(200);
    expect(b.body?.toString()).toBe('abcde');
    const c = await http1Request({ method: 'POST', url: url('/post') });
    expect(c.status).toBe(201);
    expect(connections - before).toBe(1);
    expect(seen[0]).toContain('PUT /put?digest=sha256:1 HTTP/1.1\r\n');
    expect(seen[0]).toContain('Content-Length: 7\r\n');
    expect(seen[0]?.endsWith('{"a":1}')).toBe(true);
    // A POST without a body still says how long it is (Distribution's upload start).
    expect(seen[2]).toContain('Content-Length: 0\r\n');
  });

  it('HEAD, 204 and 304 have no body; a body read to the close; Connection: close is honoured', async () => {
    handler = (req, socket) => {
      if (req.startsWith('HEAD')) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nDocker-Content-Digest: sha256:x\r\n\r\n');
      else if (req.startsWith('GET /204')) socket.write('HTTP/1.1 204 No Content\r\n\r\n');
      else socket.end('HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end');
    };
    const head = await http1Request({ method: 'HEAD', url: url('/h') });
    expect([head.status, head.body, head.headers['content-length']]).toEqual([200, undefined, '1234']);
    expect((await http1Request({ method: 'GET', url: url('/204') })).body).toBeUndefined();
    const closed = await http1Request({ method: 'GET', url: url('/close') });
    expect(closed.body?.toString()).toBe('until the end');
    // The next request opens a new connection and still works.
    expect((await http1Request({ method: 'HEAD', url: url('/h') })).status).toBe(200);
  });

  it('a kept-alive connection the server closed while idle is retried once on a new one', async () => {
    handler = (_req, socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1');
    await http1Request({ method: 'GET', url: url('/warm') });
    // Close every idle server-side socket after its answer, without a Connection: close header.
    let first = true;
    handler = (_req, socket) => {
      if (first) {
        first = false;
        socket.destroy();
        return;
      }
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n2');
    };
    const res = await http1Request({ method: 'PUT', url: url('/again'), body: 'x' });
    expect(res.body?.toString()).toBe('2');
  });

  it('a body over the cap and a stalled answer fail; header injection is refused before sending', async () => {
    handler = (req, socket) => {
      if (req.startsWith('GET /big')) socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n${'x'.repeat(100)}`);
      else if (req.startsWith('GET /endless')) {
        socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
        const t = setInterval(() => (socket.destroyed ? clearInterval(t) : socket.write('4\r\nxxxx\r\n')), 1);
      }
      // /stall: never answers
    };
    const tooLarge = (actual: number, max: number): Error => Object.assign(new Error('too large'), { actual, max });
    await expect(http1Request({ method: 'GET', url: url('/big'), maxBodyBytes: 10, tooLarge })).rejects.toMatchObject({ max: 10, actual: 100 });
    await expect(http1Request({ method: 'GET', url: url('/endless'), maxBodyBytes: 1000, tooLarge })).rejects.toMatchObject({ max: 1000 });
    await expect(http1Request({ method: 'GET', url: url('/stall'), timeoutMs: 100 })).rejects.toThrow(/within 100 ms/);
    await expect(http1Request({ method: 'GET', url: url('/x'), headers: { Authorization: 'Bearer a\r\nX-Evil: 1' } })).rejects.toBeInstanceOf(TypeError);
  });
});
