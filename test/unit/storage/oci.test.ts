import { describe, it, expect } from 'vitest';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import type { SerializedBundle } from '@sigstore/bundle';
import { createSilentLogger } from '../../../src/observability/logger.js';
import { ProvenantError, isProvenantError } from '../../../src/errors.js';
import {
  createOciStorage,
  createRegistryClient,
  credentialsFromDockerConfig,
  mergeDockerCredentials,
  parseImageDigestRef,
  parseRepository,
  dsseEnvelopeBytes,
  imageSubjects,
  bundleFromLegacyAnnotations,
} from '../../../src/storage/oci/index.js';
import { parseChallenge, type FetchedManifest, type RegistryClient } from '../../../src/storage/oci/registry-client.js';
import { attestationLayer, mergeReferrersIndex, mergeSignatureManifest, signatureLayer, cosignRekorBundle } from '../../../src/storage/oci/layouts.js';
import { createTagWriter, settleMsFor } from '../../../src/storage/oci/tag-update.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

describe('image references', () => {
  it('parses registry, repository and Docker Hub names', () => {
    expect(parseRepository('127.0.0.1:5000/app/x:v1')).toEqual({ registry: '127.0.0.1:5000', repository: 'app/x' });
    expect(parseRepository('abc')).toEqual({ registry: 'index.docker.io', repository: 'library/abc' });
    expect(parseRepository('docker.io/org/abc')).toEqual({ registry: 'index.docker.io', repository: 'org/abc' });
    expect(parseRepository('https://example.com/file.tar')).toBeUndefined();
    expect(parseRepository('pkg:npm/foo@1.0')).toBeUndefined();
    expect(parseImageDigestRef(`gcr.io/p/i@sha256:${'a'.repeat(64)}`).digest).toBe(`sha256:${'a'.repeat(64)}`);
    expect(() => parseImageDigestRef('gcr.io/p/i:latest')).toThrow(expect.objectContaining({ code: 'OCI_REFERENCE_INVALID', kind: 'input' }));
  });

  it('imageSubjects keeps sha256 images only, deduplicated', () => {
    const hex = 'a'.repeat(64);
    const { images, skipped } = imageSubjects([
      { name: 'r.example/app', digest: { sha256: hex } },
      { name: 'r.example/app', digest: { sha256: hex } },
      { name: 'r.example/app', digest: { sha512: 'b'.repeat(128) } },
      { name: 'https://x/y', digest: { sha256: hex } },
    ]);
    expect(images).toEqual([{ registry: 'r.example', repository: 'app', digest: `sha256:${hex}` }]);
    expect(skipped).toHaveLength(2);
  });

  it('an invalid storage.oci.repository is a config error', () => {
    expect(() => createOciStorage({ config: { repository: 'Not A Repo', insecure: false, encoding: 'dsse' }, logger: createSilentLogger() })).toThrow(
      expect.objectContaining({ code: 'OCI_REPOSITORY_INVALID', kind: 'config' }),
    );
  });
});

describe('docker credentials', () => {
  it('reads auth, username/password, identitytoken and the legacy format; first source wins', () => {
    const a = credentialsFromDockerConfig(
      JSON.stringify({
        auths: {
          'https://index.docker.io/v1/': { auth: b64('hub:pw:with:colons') },
          'r.example:5000': { username: 'u', password: 'p' },
          'acr.example': { identitytoken: 'refresh' },
        },
      }),
    );
    expect(a.get('registry-1.docker.io')).toEqual({ username: 'hub', password: 'pw:with:colons' });
    expect(a.get('r.example:5000')).toEqual({ username: 'u', password: 'p' });
    expect(a.get('r.example')).toBeUndefined();
    expect(a.get('acr.example')).toEqual({ identityToken: 'refresh' });
    const legacy = credentialsFromDockerConfig({ 'r.example:5000': { auth: b64('other:x') } });
    expect(mergeDockerCredentials(a, legacy).get('r.example:5000')).toEqual({ username: 'u', password: 'p' });
    expect(mergeDockerCredentials(legacy, a).get('r.example:5000')).toEqual({ username: 'other', password: 'x' });
  });

  it('never shows secrets when logged or inspected', () => {
    const c = credentialsFromDockerConfig({ auths: { 'r.example': { username: 'u', password: 'hunter2' } } });
    expect(JSON.stringify(c)).not.toContain('hunter2');
    expect(inspect(c)).not.toContain('hunter2');
  });

  it('invalid config → config OCI_CREDENTIALS_INVALID without echoing values', () => {
    for (const bad of ['{not json', '[]', JSON.stringify({ auths: { 'r.example': { auth: b64('nocolon-secret') } } })]) {
      try {
        credentialsFromDockerConfig(bad);
        expect.unreachable();
      } catch (err) {
        expect(isProvenantError(err, 'OCI_CREDENTIALS_INVALID') && err.kind === 'config').toBe(true);
        expect(String((err as Error).message)).not.toContain('nocolon-secret');
      }
    }
  });
});

type Handler = (url: URL, init: RequestInit) => Response | Promise<Response>;
function fakeFetch(handler: Handler): { fetch: typeof fetch; calls: { url: string; method: string; auth: string | undefined }[] } {
  const calls: { url: string; method: string; auth: string | undefined }[] = [];
  const f = (async (input: URL | string | Request, init: RequestInit = {}) => {
    const url = new URL(String(input));
    const headers = (init.headers ?? {}) as Record<string, string>;
    calls.push({ url: url.toString(), method: init.method ?? 'GET', auth: headers['Authorization'] });
    return handler(url, init);
  }) as typeof fetch;
  return { fetch: f, calls };
}

describe('registry client auth', () => {
  it('parses challenges', () => {
    expect(parseChallenge('Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull,push"')).toEqual({
      scheme: 'bearer',
      params: { realm: 'https://auth.example/token', service: 'reg', scope: 'repository:a/b:pull,push' },
    });
  });

  it('follows the Bearer token flow: basic creds to the realm, then the token to the registry', async () => {
    const { fetch, calls } = fakeFetch((url, init) => {
      const auth = (init.headers as Record<string, string>)['Authorization'];
      if (url.host === 'auth.example') {
        expect(url.searchParams.get('scope')).toBe('repository:team/app:pull,push');
        expect(url.searchParams.get('service')).toBe('reg');
        return Response.json({ token: auth === `Basic ${b64('u:p')}` ? 'tok' : 'bad' });
      }
      if (auth !== 'Bearer tok') {
        return new Response(null, { status: 401, headers: { 'WWW-Authenticate': 'Bearer realm="https://auth.example/token",service="reg",scope="repository:team/app:pull"' } });
      }
      return new Response(null, { status: 404 });
    });
    const client = createRegistryClient({
      registry: 'reg.example',
      insecure: false,
      credentials: credentialsFromDockerConfig({ auths: { 'reg.example': { username: 'u', password: 'p' } } }),
      logger: createSilentLogger(),
      fetch,
    });
    expect(await client.getManifest('team/app', 'latest')).toBeUndefined();
    expect(calls.map((c) => [new URL(c.url).host, c.auth])).toEqual([
      ['reg.example', undefined],
      ['auth.example', `Basic ${b64('u:p')}`],
      ['reg.example', 'Bearer tok'],
    ]);
    expect(calls[0]!.url.startsWith('https://')).toBe(true);
    // the token is reused
    await client.getManifest('team/app', 'other');
    expect(calls.at(-1)!.auth).toBe('Bearer tok');
    expect(calls).toHaveLength(4);
  });

  it('exchanges an identitytoken as an OAuth2 refresh token', async () => {
    let form: URLSearchParams | undefined;
    const { fetch } = fakeFetch((url, init) => {
      if (url.host === 'auth.example') {
        form = new URLSearchParams(String(init.body));
        return Response.json({ access_token: 'acc' });
      }
      if ((init.headers as Record<string, string>)['Authorization'] !== 'Bearer acc') {
        return new Response(null, { status: 401, headers: { 'WWW-Authenticate': 'Bearer realm="https://auth.example/oauth2/token",service="reg"' } });
      }
      return new Response(null, { status: 404 });
    });
    const client = createRegistryClient({
      registry: 'reg.example',
      insecure: true,
      credentials: credentialsFromDockerConfig({ auths: { 'reg.example': { identitytoken: 'refresh-me' } } }),
      logger: createSilentLogger(),
      fetch,
    });
    expect(await client.headManifest('a', 'b')).toBeUndefined();
    expect(form?.get('grant_type')).toBe('refresh_token');
    expect(form?.get('refresh_token')).toBe('refresh-me');
  });

  it('403 → permanent OCI_FORBIDDEN naming registry and ServiceAccount; 401 at the token realm → OCI_UNAUTHORIZED', async () => {
    const forbidden = createRegistryClient({
      registry: 'reg.example',
      insecure: true,
      logger: createSilentLogger(),
      serviceAccount: 'ns/sa',
      fetch: fakeFetch(() => new Response(null, { status: 403 })).fetch,
    });
    const err = await forbidden.putManifest('a', 't', new Uint8Array([1]), 'x').catch((e: unknown) => e);
    expect(isProvenantError(err, 'OCI_FORBIDDEN') && err.kind === 'permanent').toBe(true);
    expect(isProvenantError(err) && err.context['serviceAccount']).toBe('ns/sa');
    expect(isProvenantError(err) && err.context['registry']).toBe('reg.example');

    const realmDenies = createRegistryClient({
      registry: 'reg.example',
      insecure: true,
      logger: createSilentLogger(),
      fetch: fakeFetch((url) =>
        url.host === 'auth.example'
          ? new Response(null, { status: 401 })
          : new Response(null, { status: 401, headers: { 'WWW-Authenticate': 'Bearer realm="https://auth.example/token"' } }),
      ).fetch,
    });
    expect(await realmDenies.getManifest('a', 'b').catch((e: unknown) => (e as { code: string }).code)).toBe('OCI_UNAUTHORIZED');
  });

  it('a network failure → transient OCI_UNAVAILABLE', async () => {
    const client = createRegistryClient({
      registry: 'reg.example',
      insecure: true,
      logger: createSilentLogger(),
      fetch: (() => Promise.reject(new TypeError('fetch failed'))) as typeof fetch,
    });
    const err = await client.getBlob('a', `sha256:${'0'.repeat(64)}`).catch((e: unknown) => e);
    expect(isProvenantError(err, 'OCI_UNAVAILABLE') && err.kind === 'transient').toBe(true);
  });
});

const envelope = { payload: b64('{"_type":"x"}'), payloadType: 'application/vnd.in-toto+json', signatures: [{ sig: b64('sig'), keyid: '' }] };

function bundleWithTlog(envelopeHash: string | undefined, extra: Partial<SerializedBundle['verificationMaterial']> = {}): SerializedBundle {
  const body = { apiVersion: '0.0.1', kind: 'dsse', spec: { envelopeHash: { algorithm: 'sha256', value: envelopeHash } } };
  return {
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    verificationMaterial: {
      publicKey: { hint: '' },
      tlogEntries:
        envelopeHash === undefined
          ? []
          : [
              {
                logIndex: '7',
                logId: { keyId: Buffer.from('abcd', 'hex').toString('base64') },
                kindVersion: { kind: 'dsse', version: '0.0.1' },
                integratedTime: '1700000000',
                inclusionPromise: { signedEntryTimestamp: b64('set') },
                inclusionProof: undefined,
                canonicalizedBody: b64(JSON.stringify(body)),
              },
            ],
      timestampVerificationData: undefined,
      ...extra,
    },
    dsseEnvelope: envelope,
  } as SerializedBundle;
}

describe('cosign layouts', () => {
  it('uses the bytes a Rekor upload would hash without a tlog entry, and the bytes Rekor hashed when there is one', () => {
    const plain = dsseEnvelopeBytes(bundleWithTlog(undefined));
    const sigstoreJs = JSON.stringify({ payload: envelope.payload, payloadType: envelope.payloadType, signatures: [{ sig: envelope.signatures[0]!.sig }] });
    expect(Buffer.from(plain.bytes).toString()).toBe(sigstoreJs);
    const hash = createHash('sha256').update(sigstoreJs).digest('hex');
    const matched = dsseEnvelopeBytes(bundleWithTlog(hash));
    expect(matched.matchesTlog).toBe(true);
    expect(Buffer.from(matched.bytes).toString()).toBe(sigstoreJs);
    expect(dsseEnvelopeBytes(bundleWithTlog('ff'.repeat(32))).matchesTlog).toBe(false);
  });

  it('builds the cosign bundle annotation and certificate/chain annotations', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'oci-cert-'));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=test-only', '-days', '1', '-keyout', path.join(dir, 'k.pem'), '-out', path.join(dir, 'c.pem')], { stdio: 'ignore' });
      const certPem = readFileSync(path.join(dir, 'c.pem'), 'utf8');
      const der = certPem.replace(/-----[^-]+-----|\s/g, '');
      const bundle = { ...bundleWithTlog('ff'.repeat(32), { certificate: { rawBytes: der } }), verificationMaterial: { ...bundleWithTlog('ff'.repeat(32)).verificationMaterial, publicKey: undefined, certificate: { rawBytes: der } } } as unknown as SerializedBundle;
      const layer = attestationLayer(bundle, 'https://slsa.dev/provenance/v1');
      const ann = layer.descriptor.annotations;
      expect(ann['dev.cosignproject.cosign/signature']).toBe('');
      expect(ann['predicateType']).toBe('https://slsa.dev/provenance/v1');
      expect(ann['dev.sigstore.cosign/certificate']?.replace(/\s/g, '')).toBe(certPem.replace(/\s/g, ''));
      expect(ann['dev.sigstore.cosign/chain']).toBe('');
      expect(JSON.parse(ann['dev.sigstore.cosign/bundle']!)).toEqual({
        SignedEntryTimestamp: b64('set'),
        Payload: { body: bundle.verificationMaterial.tlogEntries[0]!.canonicalizedBody, integratedTime: 1700000000, logIndex: 7, logID: 'abcd' },
      });
      // and the reader rebuilds a (v0.1, promise-only) bundle with the certificate
      const rebuilt = bundleFromLegacyAnnotations(ann, { dsseEnvelope: envelope })!;
      expect(rebuilt.verificationMaterial.x509CertificateChain?.certificates[0]?.rawBytes).toBe(der);
      expect(rebuilt.verificationMaterial.tlogEntries[0]?.logIndex).toBe('7');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(cosignRekorBundle(bundleWithTlog(undefined))).toBeUndefined();
  });

  it('signature layer carries the message signature; missing parts are permanent OCI_BUNDLE_INVALID', () => {
    const msg = { mediaType: 'x', verificationMaterial: { publicKey: { hint: '' }, tlogEntries: [] }, messageSignature: { signature: b64('s'), messageDigest: undefined } } as unknown as SerializedBundle;
    expect(signatureLayer(msg, new Uint8Array([1, 2])).descriptor.annotations).toEqual({ 'dev.cosignproject.cosign/signature': b64('s') });
    expect(() => signatureLayer(bundleWithTlog(undefined), new Uint8Array())).toThrow(expect.objectContaining({ code: 'OCI_BUNDLE_INVALID' }));
    expect(() => attestationLayer(msg, undefined)).toThrow(expect.objectContaining({ code: 'OCI_BUNDLE_INVALID' }));
  });

  it('merges layers and index entries by digest', () => {
    const d = (n: string) => ({ mediaType: 'm', digest: `sha256:${n.repeat(64)}`, size: 1 });
    const first = mergeSignatureManifest(undefined, [d('a')]);
    expect(first.changed).toBe(true);
    const doc = first.manifest({ mediaType: 'c', digest: 'x', size: 1 }) as unknown as Record<string, unknown>;
    expect(mergeSignatureManifest(doc, [d('a')]).changed).toBe(false);
    expect(mergeSignatureManifest(doc, [d('b')]).layers).toHaveLength(2);
    const idx = mergeReferrersIndex(undefined, d('a')).index as unknown as Record<string, unknown>;
    expect(mergeReferrersIndex(idx, d('a')).changed).toBe(false);
    expect(mergeReferrersIndex(idx, d('b')).index.manifests).toHaveLength(2);
  });
});

describe('tag read-modify-write', () => {
  function memoryClient(overwriteOnce: () => Record<string, unknown> | undefined): RegistryClient & { puts: number } {
    let stored: Record<string, unknown> | undefined;
    let overwritten = false;
    const client = {
      registry: 'mem',
      puts: 0,
      getManifest: async () => (stored === undefined ? undefined : ({ json: stored } as unknown as FetchedManifest)),
      putManifest: async (_r: string, _t: string, bytes: Uint8Array) => {
        client.puts++;
        stored = JSON.parse(Buffer.from(bytes).toString()) as Record<string, unknown>;
        if (!overwritten) {
          overwritten = true;
          stored = overwriteOnce(); // another worker's PUT from an older read
        }
        return { mediaType: 'm', digest: 'd', size: 1 };
      },
    } as unknown as RegistryClient & { puts: number };
    return client;
  }
  const kind = { mediaType: 'm', serialise: async (doc: Record<string, unknown>) => new TextEncoder().encode(JSON.stringify(doc)) };
  const add = (item: string) => ({
    apply: (doc: Record<string, unknown> | undefined) => {
      const items = (doc?.['items'] as string[] | undefined) ?? [];
      return items.includes(item) ? undefined : { items: [...items, item] };
    },
    contains: (doc: Record<string, unknown> | undefined) => ((doc?.['items'] as string[] | undefined) ?? []).includes(item),
  });
  const fast = { settleMs: 0, maxAttempts: 3, sleep: async () => undefined };

  it('re-merges and re-writes when a concurrent writer overwrote the tag', async () => {
    const client = memoryClient(() => ({ items: ['theirs'] }));
    expect(await createTagWriter({ mode: 'process' }, fast).update(client, 'r', 't', kind, add('mine'))).toBe(true);
    expect(client.puts).toBe(2);
    expect((await client.getManifest('r', 't'))?.json).toEqual({ items: ['theirs', 'mine'] });
  });

  it('gives up with transient OCI_CONCURRENT_UPDATE when the tag never settles', async () => {
    let n = 0;
    const client = {
      registry: 'mem',
      getManifest: async () => ({ json: { items: [`other-${n++}`] } }) as unknown as FetchedManifest,
      putManifest: async () => ({ mediaType: 'm', digest: 'd', size: 1 }),
    } as unknown as RegistryClient;
    const err = await createTagWriter({ mode: 'process' }, fast).update(client, 'r', 't2', kind, add('mine')).catch((e: unknown) => e);
    expect(isProvenantError(err, 'OCI_CONCURRENT_UPDATE') && err.kind === 'transient').toBe(true);
  });

  it('asks again after a transient tag read (Distribution answers 500 while another writer replaces the tag); a permanent one fails at once', async () => {
    const inner = memoryClient(() => ({ items: ['mine'] })); // the first PUT stands
    let failures = 2;
    let reads = 0;
    const flaky = {
      ...inner,
      getManifest: async (r: string, t: string) => {
        reads++;
        if (failures-- > 0) throw new ProvenantError('transient', 'OCI_UNAVAILABLE', 'registry answered 500 to manifest GET');
        return inner.getManifest(r, t);
      },
    } as unknown as RegistryClient;
    expect(await createTagWriter({ mode: 'shared', lock: (_k, fn) => fn() }, fast).update(flaky, 'r', 't5', kind, add('mine'))).toBe(true);
    expect(reads).toBe(3);
    expect((await inner.getManifest('r', 't5'))?.json).toEqual({ items: ['mine'] });

    let permanentReads = 0;
    const denied = {
      ...inner,
      getManifest: async () => {
        permanentReads++;
        throw new ProvenantError('permanent', 'OCI_FORBIDDEN', 'registry answered 403');
      },
    } as unknown as RegistryClient;
    const err = await createTagWriter({ mode: 'shared', lock: (_k, fn) => fn() }, fast).update(denied, 'r', 't6', kind, add('mine')).catch((e: unknown) => e);
    expect(isProvenantError(err, 'OCI_FORBIDDEN')).toBe(true);
    expect(permanentReads).toBe(1);
  });

  it('the coordination value decides the settle wait and the lock taken', async () => {
    expect(settleMsFor({ mode: 'process' })).toBeGreaterThan(0);
    const keys: string[] = [];
    const lock = <T>(key: string, fn: () => Promise<T>): Promise<T> => {
      keys.push(key);
      return fn();
    };
    expect(settleMsFor({ mode: 'shared', lock })).toBe(0);
    const slept: number[] = [];
    await createTagWriter({ mode: 'shared', lock }, { sleep: async (ms) => void slept.push(ms) }).update(memoryClient(() => undefined), 'r', 't3', kind, add('mine'));
    expect(keys).toEqual(['mem/r:t3']);
    expect(slept).toEqual([]);
    await createTagWriter({ mode: 'process' }, { sleep: async (ms) => void slept.push(ms) }).update(memoryClient(() => undefined), 'r', 't4', kind, add('mine'));
    expect(slept.length).toBeGreaterThan(0);
    expect(slept[0]).toBeGreaterThanOrEqual(settleMsFor({ mode: 'process' }));
  });
});
