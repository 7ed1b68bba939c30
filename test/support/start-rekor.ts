/** Starts the Rekor v1 stand-in alone on a free loopback port (for tests and `tsx` demos). */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, type KeyObject } from 'node:crypto';
import { createRekorStandIn, type RekorStandIn } from './rekor-stand-in.js';
import { createRekorV2StandIn, type RekorV2StandIn } from './rekor-v2-stand-in.js';

export interface RunningRekor {
  readonly url: string;
  readonly log: RekorStandIn;
  /** JSON trusted_root.json trusting only this log. */
  readonly trustedRoot: Record<string, unknown>;
  stop(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

interface Handler {
  readonly publicKey: KeyObject;
  handle(req: IncomingMessage, res: ServerResponse, body: string): Promise<boolean>;
}

export async function startRekor(): Promise<RunningRekor> {
  return serve((url) => createRekorStandIn({ url }));
}

export interface RunningRekorV2 extends Omit<RunningRekor, 'log'> {
  readonly log: RekorV2StandIn;
}

/** The Rekor v2 (rekor-tiles) stand-in alone; its trusted root names it with the checkpoint key ID as log ID. */
export async function startRekorV2(): Promise<RunningRekorV2> {
  return serve((url) => createRekorV2StandIn({ url }));
}

async function serve<L extends Handler>(create: (url: string) => L): Promise<{ url: string; log: L; trustedRoot: Record<string, unknown>; stop(): Promise<void> }> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const log = create(url);
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    readBody(req)
      .then(async (body) => {
        if (!(await log.handle(req, res, body))) {
          res.writeHead(404, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ code: 404, message: 'not found' }));
        }
      })
      .catch(() => {
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
  });
  const spki = log.publicKey.export({ format: 'der', type: 'spki' });
  const trustedRoot = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [
      {
        baseUrl: url,
        hashAlgorithm: 'SHA2_256',
        publicKey: { rawBytes: spki.toString('base64'), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start: new Date(Date.now() - 60_000).toISOString() } },
        logId: { keyId: createHash('sha256').update(spki).digest('base64') },
        checkpointKeyId: { keyId: createHash('sha256').update(spki).digest('base64') },
      },
    ],
    certificateAuthorities: [],
    ctlogs: [],
    timestampAuthorities: [],
  };
  return {
    url,
    log,
    trustedRoot,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
