/**
 * `intoto` 0.0.2 entries for the mock Rekor, as Rekor's pkg/types/intoto/v0.0.2 handles them: the
 * proposed entry (envelope with payload, double-base64 signatures and verifiers) is canonicalised
 * (payload dropped, payloadHash kept) and logged through the mock; the statement is kept and served
 * back as `attestation.data`; the entry is indexed by the statement's subject digests and payload
 * hash. Everything else goes to the mock unchanged. A protocol adapter in front of `sigstore-mock`.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RekorIntotoAdapter {
  readonly url: string;
  /** Corrupt the signed entry timestamp of entries served from now on. */
  tamperSets(on: boolean): void;
  stop(): Promise<void>;
}

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const b64d = (s: string): Buffer => Buffer.from(s, 'base64');

export async function startRekorIntotoAdapter(mockUrl: string): Promise<RekorIntotoAdapter> {
  const index = new Map<string, Set<string>>();
  const attestations = new Map<string, string>();
  let tamper = false;
  const add = (key: string, uuid: string): void => void index.set(key.toLowerCase(), (index.get(key.toLowerCase()) ?? new Set()).add(uuid));
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const bytes = await body(req);
      const url = new URL(req.url ?? '/', mockUrl);
      const send = (status: number, json: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(json));
      };
      const forward = async (b: Buffer | string | undefined): Promise<Response> =>
        fetch(url, { method: req.method ?? 'GET', headers: { 'content-type': 'application/json' }, ...(b === undefined ? {} : { body: b }) });
      if (req.method === 'POST' && url.pathname === '/api/v1/log/entries') {
        const proposed = JSON.parse(bytes.toString('utf8')) as { kind?: string; apiVersion?: string; spec?: { content?: { envelope?: { payloadType: string; payload: string; signatures: { sig: string; publicKey: string; keyid?: string }[] }; hash?: unknown } } };
        const env = proposed.spec?.content?.envelope;
        if (proposed.kind !== 'intoto' || env === undefined) return void res.end(Buffer.from(await (await forward(bytes)).arrayBuffer()));
        const payload = b64d(b64d(env.payload).toString('utf8'));
        const payloadHash = createHash('sha256').update(payload).digest('hex');
        const canonical = {
          apiVersion: '0.0.2',
          kind: 'intoto',
          spec: { content: { envelope: { payloadType: env.payloadType, signatures: env.signatures.map((s) => ({ ...(s.keyid ? { keyid: s.keyid } : {}), publicKey: s.publicKey, sig: s.sig })) }, hash: proposed.spec?.content?.hash, payloadHash: { algorithm: 'sha256', value: payloadHash } } },
        };
        const r = await forward(JSON.stringify(canonical));
        const created = (await r.json()) as Record<string, unknown>;
        const uuid = Object.keys(created)[0] ?? (r.headers.get('location') ?? '').split('/').pop() ?? '';
        attestations.set(uuid, payload.toString('base64'));
        add(`sha256:${payloadHash}`, uuid);
        try {
          const statement = JSON.parse(payload.toString('utf8')) as { subject?: { digest?: Record<string, string> }[] };
          for (const s of statement.subject ?? []) for (const [alg, d] of Object.entries(s.digest ?? {})) add(`${alg}:${d}`, uuid);
        } catch {
          // not a statement: only the payload hash is indexed
        }
        return send(r.status, created);
      }
      if (req.method === 'POST' && url.pathname === '/api/v1/index/retrieve') {
        const { hash } = JSON.parse(bytes.toString('utf8') || '{}') as { hash?: string };
        const fromMock = (await (await forward(bytes)).json()) as string[];
        return send(200, [...new Set([...fromMock, ...(index.get((hash ?? '').toLowerCase()) ?? [])])]);
      }
      if (req.method === 'GET' && url.pathname.startsWith('/api/v1/log/entries/')) {
        const r = await forward(undefined);
        if (!r.ok) return send(r.status, await r.json());
        const json = (await r.json()) as Record<string, { attestation?: unknown; verification?: { signedEntryTimestamp?: string } }>;
        for (const [uuid, entry] of Object.entries(json)) {
          const data = attestations.get(uuid);
          if (data !== undefined) entry.attestation = { data };
          if (tamper && entry.verification?.signedEntryTimestamp !== undefined) {
            const set = b64d(entry.verification.signedEntryTimestamp);
            set[set.length - 4] = set[set.length - 4]! ^ 0x55;
            entry.verification.signedEntryTimestamp = set.toString('base64');
          }
        }
        return send(200, json);
      }
      const r = await forward(req.method === 'GET' ? undefined : bytes);
      res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json' });
      res.end(Buffer.from(await r.arrayBuffer()));
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    tamperSets: (on) => {
      tamper = on;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
