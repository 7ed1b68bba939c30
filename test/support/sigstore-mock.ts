/**
 * Mock Sigstore services (Fulcio, Rekor v1, TSA) for integration tests, built from `@sigstore/mock`'s
 * handlers and served from a real `node:http` server on a free loopback port (no nock), so the code
 * under test uses its ordinary HTTP clients.
 *
 * Beyond the plain handlers it:
 * - derives the Fulcio SAN from a Kubernetes service-account token the way a Fulcio configured with a
 *   `kubernetes` issuer does (`https://kubernetes.io/namespaces/<ns>/serviceaccounts/<sa>`); other tokens
 *   use their `sub` claim as the mock does. JWT signatures are NOT checked.
 * - converts a proposed `dsse` Rekor entry to Rekor's canonical form before logging it (otherwise
 *   `@sigstore/verify` fails with TLOG_BODY_ERROR), keys entries by their Merkle leaf hash (as Rekor's
 *   UUID), answers 409 + `Location` for an entry that already exists, and serves the lookups
 *   `GET /api/v1/log/entries?logIndex=N`, `GET /api/v1/log/entries/{uuid}`, `POST /api/v1/index/retrieve`.
 * - lets a test force the next N Rekor create requests to answer 409 (the entry is logged, so it is
 *   findable through the Location) or any other status (nothing is logged).
 * - builds a `trusted_root.json` object (JSON form of the TrustedRoot protobuf) from the mock's keys.
 */
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  fulcioHandler,
  initializeCA,
  initializeCTLog,
  initializeTLog,
  initializeTSA,
  rekorHandler,
  tsaHandler,
  type HandlerFn,
} from '@sigstore/mock';
import { HashAlgorithm, PublicKeyDetails, TrustedRoot } from '@sigstore/protobuf-specs';

export interface SigstoreMock {
  /** Base URL of the server; Fulcio, Rekor and the TSA all live under it. */
  readonly url: string;
  readonly fulcioUrl: string;
  readonly rekorUrl: string;
  readonly tsaUrl: string;
  /** JSON form of a TrustedRoot (what a `trusted_root.json` file holds) trusting this mock. */
  readonly trustedRoot: Record<string, unknown>;
  /** Number of distinct entries in the mock Rekor log. */
  rekorEntryCount(): number;
  /** Number of certificates Fulcio has issued. */
  fulcioCertificateCount(): number;
  /** Force the next `times` (default 1) Rekor create requests to answer `status` (409: entry is logged and findable). */
  failNextRekor(status: number, times?: number): void;
  /** The next `times` TSA timestamps are issued at 120 ms (genTime `….12Z`), which @sigstore/core cannot parse. */
  forceUnreadableTsaTimes(times: number): void;
  stop(): Promise<void>;
}

interface RekorEntry {
  readonly body: string;
  readonly integratedTime: number;
  readonly logID: string;
  readonly logIndex: number;
  readonly verification: unknown;
}

function ecKeyPair(): { publicKey: KeyObject; privateKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function b64urlJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function decodeJwtPayload(token: string): Record<string, unknown> {
  const part = token.split('.')[1] ?? '';
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** Rewrites a Kubernetes SA token so the mock CA puts the Fulcio Kubernetes SAN in the certificate. */
function kubernetesAwareFulcioBody(body: string): string {
  const request = JSON.parse(body) as { credentials?: { oidcIdentityToken?: string } };
  const token = request.credentials?.oidcIdentityToken;
  if (token === undefined) return body;
  const claims = decodeJwtPayload(token);
  const k8s = claims['kubernetes.io'] as { namespace?: string; serviceaccount?: { name?: string } } | undefined;
  if (k8s?.namespace === undefined || k8s.serviceaccount?.name === undefined) return body;
  const san = `https://kubernetes.io/namespaces/${k8s.namespace}/serviceaccounts/${k8s.serviceaccount.name}`;
  const rewritten = `${b64urlJson({ alg: 'none' })}.${b64urlJson({ ...claims, sub: san })}.`;
  return JSON.stringify({ ...request, credentials: { ...request.credentials, oidcIdentityToken: rewritten } });
}

interface ProposedDsse {
  apiVersion: string;
  kind: 'dsse';
  spec: { proposedContent: { envelope: string; verifiers: string[] } };
}

function isProposedDsse(entry: unknown): entry is ProposedDsse {
  const e = entry as Partial<ProposedDsse> | null;
  return e?.kind === 'dsse' && typeof e.spec?.proposedContent?.envelope === 'string';
}

/** Rekor's canonical `dsse` 0.0.1 body for a proposed entry (what Rekor stores and verifiers compare). */
function canonicalDsse(entry: ProposedDsse): Record<string, unknown> {
  const envelopeText = entry.spec.proposedContent.envelope;
  const envelope = JSON.parse(envelopeText) as { payload: string; signatures: { sig: string }[] };
  const verifiers = entry.spec.proposedContent.verifiers;
  return {
    apiVersion: entry.apiVersion,
    kind: 'dsse',
    spec: {
      envelopeHash: { algorithm: 'sha256', value: sha256Hex(envelopeText) },
      payloadHash: { algorithm: 'sha256', value: sha256Hex(Buffer.from(envelope.payload, 'base64')) },
      signatures: envelope.signatures.map((s, i) => ({ signature: s.sig, verifier: verifiers[i] ?? verifiers[0] })),
    },
  };
}

/** Hashes `POST /api/v1/index/retrieve` can find an entry by. */
function searchableHashes(body: Record<string, unknown>): string[] {
  const spec = body['spec'] as Record<string, { value?: string; hash?: { value?: string } } | undefined> | undefined;
  const hashes = [spec?.['envelopeHash']?.value, spec?.['payloadHash']?.value, spec?.['data']?.hash?.value];
  return hashes.filter((h): h is string => typeof h === 'string').map((h) => `sha256:${h}`);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify(value));
}

export async function startSigstoreMock(): Promise<SigstoreMock> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;

  const caKeys = ecKeyPair();
  const ctKeys = ecKeyPair();
  const tlogKeys = ecKeyPair();
  const tsaKeys = ecKeyPair();
  const ctLog = await initializeCTLog(ctKeys);
  const ca = await initializeCA(caKeys, ctLog);
  // The checkpoint origin is the URL's host, which verifiers match against the trusted root's baseUrl.
  const tlog = await initializeTLog(url, tlogKeys);
  const tsa = await initializeTSA(tsaKeys);
  // pkijs writes GeneralizedTime fractions without trailing zeros (".12Z"), as DER requires, and
  // @sigstore/core only parses exactly three digits: a timestamp taken at a whole 10 ms fails
  // verification in sigstore-js (~10% of runs). provenant's TSA witness asks again in that case; tests
  // that call @sigstore/sign's TSAWitness directly would flake, so the mock's clock stays off multiples
  // of 10 ms unless a test forces such times (`forceUnreadableTsaTimes`).
  let unreadableTimes = 0;
  (tsa as unknown as { getCurrentTime: () => Date }).getCurrentTime = () => {
    const now = new Date();
    if (unreadableTimes > 0) {
      unreadableTimes -= 1;
      now.setUTCMilliseconds(120);
    } else if (now.getUTCMilliseconds() % 10 === 0) {
      now.setUTCMilliseconds(now.getUTCMilliseconds() + 1);
    }
    return now;
  };

  const fulcio = fulcioHandler(ca);
  const rekor = rekorHandler(tlog);
  const timestamp = tsaHandler(tsa);

  const entries = new Map<string, RekorEntry>();
  const byIndex = new Map<number, string>();
  const byHash = new Map<string, string[]>();
  let certificates = 0;
  let forced: { status: number; remaining: number } | undefined;

  async function logEntry(proposed: unknown): Promise<{ uuid: string; existed: boolean } | { error: string }> {
    const canonical = isProposedDsse(proposed) ? canonicalDsse(proposed) : proposed;
    const result = await rekor.fn(JSON.stringify(canonical));
    if (result.statusCode !== 201) return { error: String(result.response) };
    const created = JSON.parse(String(result.response)) as Record<string, RekorEntry>;
    const entry = Object.values(created)[0];
    if (entry === undefined) return { error: 'mock tlog returned no entry' };
    // Rekor's UUID is the Merkle leaf hash of the canonical body; an equal body is the same entry.
    const uuid = createHash('sha256').update(Buffer.from([0])).update(Buffer.from(entry.body, 'base64')).digest('hex');
    if (entries.has(uuid)) return { uuid, existed: true };
    entries.set(uuid, entry);
    byIndex.set(entry.logIndex, uuid);
    for (const h of searchableHashes(canonical as Record<string, unknown>)) byHash.set(h, [...(byHash.get(h) ?? []), uuid]);
    return { uuid, existed: false };
  }

  async function handleRekorCreate(body: string, res: ServerResponse): Promise<void> {
    let proposed: unknown;
    try {
      proposed = JSON.parse(body);
    } catch {
      return sendJson(res, 400, { code: 400, message: 'invalid JSON' });
    }
    const failure = forced;
    if (failure !== undefined) {
      failure.remaining -= 1;
      if (failure.remaining <= 0) forced = undefined;
      if (failure.status !== 409) return sendJson(res, failure.status, { code: failure.status, message: 'forced failure' });
    }
    const logged = await logEntry(proposed);
    if ('error' in logged) return sendJson(res, 400, { code: 400, message: logged.error });
    const location = `${url}/api/v1/log/entries/${logged.uuid}`;
    if (logged.existed || failure?.status === 409) {
      return sendJson(res, 409, { code: 409, message: 'an equivalent entry already exists in the transparency log' }, { Location: location });
    }
    sendJson(res, 201, { [logged.uuid]: entries.get(logged.uuid) }, { Location: location });
  }

  async function serveHandler(fn: HandlerFn, body: string, res: ServerResponse): Promise<void> {
    const out = await fn(body);
    res.writeHead(out.statusCode, { 'Content-Type': out.contentType ?? 'text/plain' });
    res.end(typeof out.response === 'string' ? out.response : Buffer.from(out.response.buffer, out.response.byteOffset, out.response.byteLength));
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const reqUrl = new URL(req.url ?? '/', url);
    const body = req.method === 'POST' ? await readBody(req) : '';
    const p = reqUrl.pathname;
    if (req.method === 'POST' && p === fulcio.path) {
      let rewritten: string;
      try {
        rewritten = kubernetesAwareFulcioBody(body);
      } catch {
        return sendJson(res, 400, { code: 400, message: 'invalid request' });
      }
      const out = await fulcio.fn(rewritten);
      if (out.statusCode === 201) certificates += 1;
      res.writeHead(out.statusCode, { 'Content-Type': out.contentType ?? 'text/plain' });
      res.end(out.response);
      return;
    }
    if (req.method === 'POST' && p === rekor.path) return handleRekorCreate(body, res);
    if (req.method === 'POST' && p === timestamp.path) return serveHandler(timestamp.fn, body, res);
    if (req.method === 'GET' && p === '/api/v1/log/entries') {
      const uuid = byIndex.get(Number(reqUrl.searchParams.get('logIndex')));
      const entry = uuid === undefined ? undefined : entries.get(uuid);
      return entry === undefined || uuid === undefined
        ? sendJson(res, 404, { code: 404, message: 'entry not found' })
        : sendJson(res, 200, { [uuid]: entry });
    }
    if (req.method === 'GET' && p.startsWith('/api/v1/log/entries/')) {
      const id = p.slice('/api/v1/log/entries/'.length);
      // Accept both the bare UUID and the 80-hex form with a tree ID prefix.
      const uuid = id.length > 64 ? id.slice(-64) : id;
      const entry = entries.get(uuid);
      return entry === undefined ? sendJson(res, 404, { code: 404, message: 'entry not found' }) : sendJson(res, 200, { [uuid]: entry });
    }
    if (req.method === 'POST' && p === '/api/v1/index/retrieve') {
      const hash = (JSON.parse(body || '{}') as { hash?: string }).hash ?? '';
      return sendJson(res, 200, byHash.get(hash.toLowerCase()) ?? []);
    }
    sendJson(res, 404, { code: 404, message: `no route for ${req.method ?? ''} ${p}` });
  }

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    route(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { code: 500, message: err instanceof Error ? err.message : String(err) });
      else res.end();
    });
  });

  // A minute of slack so second-granularity times (integratedTime, notBefore) fall inside validity.
  const start = new Date(Date.now() - 60_000);
  const spki = (k: KeyObject): Buffer => k.export({ format: 'der', type: 'spki' });
  const tlogSpki = spki(tlogKeys.publicKey);
  const trustedRootMessage: TrustedRoot = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    certificateAuthorities: [
      {
        subject: { organization: 'sigstore.mock', commonName: 'sigstore' },
        uri: url,
        certChain: { certificates: [{ rawBytes: Buffer.from(ca.rootCertificate.buffer, ca.rootCertificate.byteOffset, ca.rootCertificate.byteLength) }] },
        validFor: { start },
        operator: 'sigstore.mock',
      },
    ],
    tlogs: [
      {
        baseUrl: url,
        hashAlgorithm: HashAlgorithm.SHA2_256,
        publicKey: { rawBytes: tlogSpki, keyDetails: PublicKeyDetails.PKIX_ECDSA_P256_SHA_256, validFor: { start } },
        logId: { keyId: createHash('sha256').update(tlogSpki).digest() },
        checkpointKeyId: undefined,
        operator: 'sigstore.mock',
      },
    ],
    ctlogs: [
      {
        baseUrl: url,
        hashAlgorithm: HashAlgorithm.SHA2_256,
        publicKey: { rawBytes: Buffer.from(ctLog.publicKey), keyDetails: PublicKeyDetails.PKIX_ECDSA_P256_SHA_256, validFor: { start } },
        logId: { keyId: Buffer.from(ctLog.logID.buffer, ctLog.logID.byteOffset, ctLog.logID.byteLength) },
        checkpointKeyId: undefined,
        operator: 'sigstore.mock',
      },
    ],
    timestampAuthorities: [
      {
        subject: { organization: 'sigstore.mock', commonName: 'tsa' },
        uri: url,
        certChain: {
          certificates: [
            { rawBytes: Buffer.from(tsa.intCertificate.buffer, tsa.intCertificate.byteOffset, tsa.intCertificate.byteLength) },
            { rawBytes: Buffer.from(tsa.rootCertificate.buffer, tsa.rootCertificate.byteOffset, tsa.rootCertificate.byteLength) },
          ],
        },
        validFor: { start },
        operator: 'sigstore.mock',
      },
    ],
  };
  const trustedRoot = TrustedRoot.toJSON(trustedRootMessage) as Record<string, unknown>;

  return {
    url,
    fulcioUrl: url,
    rekorUrl: url,
    tsaUrl: url,
    trustedRoot,
    rekorEntryCount: () => entries.size,
    fulcioCertificateCount: () => certificates,
    failNextRekor: (status, times = 1) => {
      forced = { status, remaining: times };
    },
    forceUnreadableTsaTimes: (times) => {
      unreadableTimes = times;
    },
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
