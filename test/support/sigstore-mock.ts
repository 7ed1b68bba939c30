/**
 * Mock Sigstore services (Fulcio, Rekor v1, TSA) for integration tests, built from `@sigstore/mock`'s
 * handlers and served from a real `node:http` server on a free loopback port (no nock), so the code
 * under test uses its ordinary HTTP clients.
 *
 * Beyond the plain handlers it:
 * - derives the Fulcio SAN from a Kubernetes service-account token the way a Fulcio configured with a
 *   `kubernetes` issuer does (`https://kubernetes.io/namespaces/<ns>/serviceaccounts/<sa>`); other tokens
 *   use their `sub` claim as the mock does. JWT signatures are NOT checked.
 * - serves Rekor v1 from the project's own stand-in (`rekor-stand-in.ts`: hashedrekord, dsse, intoto
 *   0.0.2, a real RFC 6962 tree, SETs, inclusion proofs with signed checkpoints, the index) instead of
 *   `@sigstore/mock`'s rekorHandler, which logs proposed entries as is and proves a one-leaf tree.
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
  initializeTSA,
  tsaHandler,
  type HandlerFn,
} from '@sigstore/mock';
import { HashAlgorithm, PublicKeyDetails, TrustedRoot } from '@sigstore/protobuf-specs';
import { createRekorStandIn, type RekorStandIn } from './rekor-stand-in.js';

export interface SigstoreMock {
  /** Base URL of the server; Fulcio, Rekor and the TSA all live under it. */
  readonly url: string;
  readonly fulcioUrl: string;
  readonly rekorUrl: string;
  readonly tsaUrl: string;
  /** JSON form of a TrustedRoot (what a `trusted_root.json` file holds) trusting this mock. */
  readonly trustedRoot: Record<string, unknown>;
  /** The Rekor v1 stand-in behind `rekorUrl` (tamper switches, log key). */
  readonly rekor: RekorStandIn;
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

function ecKeyPair(): { publicKey: KeyObject; privateKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
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
  // Entries start at virtual index 1000 (earlier shards frozen, as on rekor.sigstore.dev): proofs then
  // use leaf indexes that differ from the entries' log indexes, which verifiers must handle.
  // sha256Only off: test/integration/cosign-signers.test.ts logs P-384 (SHA-384) envelopes to pin what
  // cosign does with them; a real Rekor v1 refuses them (docs/oci-layout.md), as the stand-in does by default.
  const rekorLog = createRekorStandIn({ url, keyPair: tlogKeys, logIndexOffset: 1000, sha256Only: false });
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
  const timestamp = tsaHandler(tsa);

  let certificates = 0;

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
    if (req.method === 'POST' && p === timestamp.path) return serveHandler(timestamp.fn, body, res);
    if (await rekorLog.handle(req, res, body)) return;
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
    rekor: rekorLog,
    rekorEntryCount: () => rekorLog.entryCount(),
    fulcioCertificateCount: () => certificates,
    failNextRekor: (status, times = 1) => rekorLog.failNext(status, times),
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
