/**
 * Fulcio's v1 signing API (`POST /api/v1/signingCert`, bearer token, PEM chain answer) in front of the
 * mock's v2 handler, for clients that still speak v1 (gitsign 0.13). A protocol adapter on a loopback
 * port: Rekor and everything else are forwarded to the mock unchanged.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FulcioV1Adapter {
  readonly url: string;
  stop(): Promise<void>;
}

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function toPem(content: string): string {
  if (content.includes('-----BEGIN')) return content;
  return `-----BEGIN PUBLIC KEY-----\n${content.match(/.{1,64}/g)?.join('\n') ?? ''}\n-----END PUBLIC KEY-----\n`;
}

export async function startFulcioV1Adapter(mockUrl: string): Promise<FulcioV1Adapter> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const bytes = await body(req);
      const url = new URL(req.url ?? '/', mockUrl);
      if (req.method === 'POST' && url.pathname === '/api/v1/signingCert') {
        const v1 = JSON.parse(bytes.toString('utf8')) as { publicKey?: { algorithm?: string; content?: string }; signedEmailAddress?: string };
        const token = (req.headers.authorization ?? '').replace(/^Bearer\s+/i, '');
        const v2 = {
          credentials: { oidcIdentityToken: token },
          publicKeyRequest: { publicKey: { algorithm: v1.publicKey?.algorithm ?? 'ECDSA', content: toPem(v1.publicKey?.content ?? '') }, proofOfPossession: v1.signedEmailAddress ?? '' },
        };
        const answer = await fetch(new URL('/api/v2/signingCert', mockUrl), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(v2) });
        const json = (await answer.json().catch(() => ({}))) as { signedCertificateEmbeddedSct?: { chain?: { certificates?: string[] } } };
        const chain = json.signedCertificateEmbeddedSct?.chain?.certificates;
        if (!answer.ok || chain === undefined) {
          res.writeHead(answer.status === 201 ? 500 : answer.status, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ code: answer.status, message: 'signing certificate request failed' }));
          return;
        }
        res.writeHead(201, { 'content-type': 'application/pem-certificate-chain' });
        res.end(chain.map((c) => (c.endsWith('\n') ? c : `${c}\n`)).join(''));
        return;
      }
      const forwarded = await fetch(url, {
        method: req.method ?? 'GET',
        headers: { 'content-type': req.headers['content-type'] ?? 'application/json', accept: req.headers.accept ?? '*/*' },
        ...(req.method === 'GET' || req.method === 'HEAD' ? {} : { body: bytes }),
      });
      const headers: Record<string, string> = { 'content-type': forwarded.headers.get('content-type') ?? 'application/json' };
      const location = forwarded.headers.get('location');
      if (location !== null) headers['location'] = location;
      res.writeHead(forwarded.status, headers);
      res.end(Buffer.from(await forwarded.arrayBuffer()));
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
