import { describe, expect, it } from 'vitest';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fulcioHandler, initializeCA } from '@sigstore/mock';
import { createFulcioSigner } from '../../../src/signing/fulcio-signer.js';
import { createEphemeralSigner } from '../../../src/signing/ephemeral-signer.js';
import { createCapturingLogger, createSilentLogger } from '../../../src/observability/index.js';
import { jwt, secretDir } from './helpers.js';

/** A fetch that answers Fulcio requests with @sigstore/mock's CA in-process (no sockets). */
async function fakeFulcio(status?: number): Promise<{ fetch: typeof fetch; requests: () => number; bodies: string[] }> {
  const ca = await initializeCA(generateKeyPairSync('ec', { namedCurve: 'P-256' }));
  const handler = fulcioHandler(ca);
  const bodies: string[] = [];
  const fakeFetch = (async (_url: string | URL | Request, init?: RequestInit) => {
    bodies.push(String(init?.body));
    if (status !== undefined) return new Response(`{"message":"bad token ${String(init?.body)}"}`, { status });
    const out = await handler.fn(String(init?.body));
    return new Response(out.response as string, { status: out.statusCode, headers: { 'Content-Type': out.contentType ?? 'text/plain' } });
  }) as typeof fetch;
  return { fetch: fakeFetch, requests: () => bodies.length, bodies };
}

async function tokenFile(sub: string): Promise<string> {
  const dir = await secretDir({ token: jwt({ iss: 'https://kubernetes.default.svc', sub, aud: 'sigstore' }) });
  return path.join(dir, 'token');
}

function sanOf(pem: string | undefined): string | undefined {
  return pem === undefined ? undefined : new X509Certificate(pem).subjectAltName;
}

describe('Fulcio signer', () => {
  it('reuses one certificate for many signatures and refreshes it within 60 s of expiry', async () => {
    const fulcio = await fakeFulcio();
    let clock = Date.now();
    const signer = createFulcioSigner({
      keyHolder: createEphemeralSigner(),
      fulcioUrl: 'http://fulcio.invalid',
      tokenFile: await tokenFile('https://kubernetes.io/namespaces/ns/serviceaccounts/sa'),
      logger: createSilentLogger(),
      fetch: fulcio.fetch,
      now: () => new Date(clock),
    });
    const first = await signer.sign(Buffer.from('a'));
    await signer.sign(Buffer.from('b'));
    await Promise.all([signer.sign(Buffer.from('c')), signer.sign(Buffer.from('d'))]);
    expect(fulcio.requests()).toBe(1);
    expect(first.key.$case).toBe('x509Certificate');
    const notAfter = new Date(new X509Certificate(signer.currentCertificate() ?? '').validTo).getTime();
    clock = notAfter - 61_000;
    await signer.sign(Buffer.from('e'));
    expect(fulcio.requests()).toBe(1);
    clock = notAfter - 59_000;
    await signer.sign(Buffer.from('f'));
    expect(fulcio.requests()).toBe(2);
  });

  it('reads the token file anew for each certificate (rotation)', async () => {
    const fulcio = await fakeFulcio();
    let clock = Date.now();
    const file = await tokenFile('https://kubernetes.io/namespaces/ns/serviceaccounts/first');
    const signer = createFulcioSigner({
      keyHolder: createEphemeralSigner(),
      fulcioUrl: 'http://fulcio.invalid',
      tokenFile: file,
      logger: createSilentLogger(),
      fetch: fulcio.fetch,
      now: () => new Date(clock),
    });
    await signer.sign(Buffer.from('a'));
    expect(sanOf(signer.currentCertificate())).toContain('serviceaccounts/first');
    await writeFile(file, jwt({ iss: 'https://kubernetes.default.svc', sub: 'https://kubernetes.io/namespaces/ns/serviceaccounts/second' }));
    clock += 3_600_000;
    await signer.sign(Buffer.from('b'));
    expect(sanOf(signer.currentCertificate())).toContain('serviceaccounts/second');
  });

  it('never puts the token in errors or logs', async () => {
    const sentinel = 'https://kubernetes.io/namespaces/secret-ns/serviceaccounts/SENTINEL';
    const file = await tokenFile(sentinel);
    const { logger, lines } = createCapturingLogger();
    for (const [status, code, kind] of [
      [401, 'FULCIO_REJECTED', 'config'],
      [503, 'FULCIO_UNAVAILABLE', 'transient'],
    ] as const) {
      const fulcio = await fakeFulcio(status);
      const signer = createFulcioSigner({ keyHolder: createEphemeralSigner(), fulcioUrl: 'http://f.invalid', tokenFile: file, logger, fetch: fulcio.fetch });
      const err = await signer.sign(Buffer.from('x')).catch((e: unknown) => e);
      expect(err).toMatchObject({ code, kind });
      expect(`${String(err)} ${JSON.stringify(err)} ${lines.join('')}`).not.toContain('SENTINEL');
      expect(fulcio.bodies[0]).toContain('oidcIdentityToken');
    }
  });

  it('network failure → transient FULCIO_UNAVAILABLE', async () => {
    const signer = createFulcioSigner({
      keyHolder: createEphemeralSigner(),
      fulcioUrl: 'http://f.invalid',
      tokenFile: await tokenFile('x'),
      logger: createSilentLogger(),
      fetch: (async () => {
        throw new TypeError('fetch failed');
      }) as typeof fetch,
    });
    await expect(signer.sign(Buffer.from('x'))).rejects.toMatchObject({ kind: 'transient', code: 'FULCIO_UNAVAILABLE' });
  });

  it('missing or garbled token → config errors', async () => {
    const fulcio = await fakeFulcio();
    const base = { keyHolder: createEphemeralSigner(), fulcioUrl: 'http://f.invalid', logger: createSilentLogger(), fetch: fulcio.fetch };
    await expect(createFulcioSigner({ ...base, tokenFile: '/nonexistent/token' }).sign(Buffer.from('x'))).rejects.toMatchObject({
      kind: 'config',
      code: 'FULCIO_TOKEN_UNREADABLE',
    });
    const dir = await secretDir({ token: 'not-a-jwt' });
    await expect(createFulcioSigner({ ...base, tokenFile: path.join(dir, 'token') }).sign(Buffer.from('x'))).rejects.toMatchObject({
      kind: 'config',
      code: 'FULCIO_TOKEN_INVALID',
    });
    expect(fulcio.requests()).toBe(0);
  });
});
