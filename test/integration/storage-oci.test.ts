import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash, verify as cryptoVerify } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RekorWitness } from '@sigstore/sign';
import type { SerializedBundle } from '@sigstore/bundle';
import { startRegistry, type RegistryHandle } from '../support/services.js';
import { startSigstoreMock, type SigstoreMock } from '../support/sigstore-mock.js';
import {
  createTestKey,
  pushTestImage,
  signMessage,
  signProvenance,
  simpleSigningPayload,
  testStatement,
  type PushedImage,
  type TestKey,
} from '../support/oci-image.js';
import { createCapturingLogger, createSilentLogger } from '../../src/observability/logger.js';
import { createOciReader, createOciStorage, credentialsFromDockerConfig, type OciStorageDeps } from '../../src/storage/oci/index.js';
import type { StoreRequest } from '../../src/storage/types.js';
import type { OciEncoding } from '../../src/config/types.js';
import { isProvenantError } from '../../src/errors.js';

const run = { kind: 'TaskRun', namespace: 'ns', name: 'build', uid: 'uid-1' } as const;
const SLSA = 'https://slsa.dev/provenance/v0.2';

let registry: RegistryHandle;
let key: TestKey;
let sigstore: SigstoreMock;

function storage(encoding: OciEncoding, extra: Partial<OciStorageDeps> = {}): ReturnType<typeof createOciStorage> {
  return createOciStorage({
    config: { repository: undefined, insecure: true, encoding },
    logger: createSilentLogger(),
    tagUpdate: { settleMs: 10 },
    ...extra,
  });
}

function provenanceRequest(image: PushedImage, bundle: SerializedBundle, statement: Uint8Array, extraSubjects: StoreRequest['artifact']['subjects'] = []): StoreRequest {
  return {
    run,
    artifact: {
      type: 'provenance',
      shortKey: `taskrun-${run.uid}`,
      subjects: [{ name: image.name, digest: { sha256: image.hex } }, ...extraSubjects],
      predicateType: SLSA,
    },
    payload: statement,
    bundle,
  };
}

function skopeoRaw(ref: string): Record<string, unknown> {
  const out = execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`], { encoding: 'utf8' });
  return JSON.parse(out) as Record<string, unknown>;
}

async function blob(repo: string, digest: string): Promise<Buffer> {
  const res = await fetch(`${registry.url}/v2/${repo}/blobs/${digest}`);
  expect(res.status).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}

async function manifestDigest(repo: string, tag: string): Promise<string | null> {
  const res = await fetch(`${registry.url}/v2/${repo}/manifests/${tag}`, {
    method: 'HEAD',
    headers: { Accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json' },
  });
  return res.status === 200 ? res.headers.get('docker-content-digest') : null;
}

function pae(type: string, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`DSSEv1 ${Buffer.byteLength(type)} ${type} ${payload.length} `), payload]);
}

type Layer = { mediaType: string; digest: string; size: number; annotations?: Record<string, string> };

async function startServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; url: string; host: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return { server, url: `http://127.0.0.1:${port}`, host: `127.0.0.1:${port}` };
}

/** A proxy in front of the real registry that can answer a fixed status or rewrite the digest header. */
async function startProxy(mode: { status?: number; wrongDigest?: boolean }): Promise<{ server: Server; host: string }> {
  const { server, host } = await startServer((req, res) => {
    void (async () => {
      if (mode.status !== undefined) {
        res.writeHead(mode.status, mode.status === 429 ? { 'Retry-After': '1' } : {});
        res.end();
        return;
      }
      const upstream = await fetch(`${registry.url}${req.url ?? '/'}`, { method: req.method ?? 'GET', headers: { accept: req.headers.accept ?? '*/*' } });
      const headers: Record<string, string> = {};
      upstream.headers.forEach((v, k) => (headers[k] = v));
      if (mode.wrongDigest === true && headers['docker-content-digest'] !== undefined) headers['docker-content-digest'] = `sha256:${'0'.repeat(64)}`;
      res.writeHead(upstream.status, headers);
      res.end(Buffer.from(await upstream.arrayBuffer()));
    })();
  });
  return { server, host };
}

const close = (s: Server): Promise<void> => new Promise((r) => s.close(() => r()));

beforeAll(async () => {
  [registry, sigstore] = await Promise.all([startRegistry(), startSigstoreMock()]);
  key = createTestKey();
});

afterAll(async () => {
  await Promise.all([registry?.stop(), sigstore?.stop()]);
});

describe('OCI storage on CNCF Distribution (no referrers API)', () => {
  it('writes the cosign .att layout and the bundle referrer with the tag fallback (encoding both)', async () => {
    const image = await pushTestImage({ host: registry.host, repository: 'app/both' });
    const statement = testStatement(image);
    const bundle = await signProvenance(key, statement);
    const result = await storage('both').store(provenanceRequest(image, bundle, statement));
    expect(result.backend).toBe('oci');
    expect(result.locations).toContain(`${image.name}:sha256-${image.hex}.att`);
    expect(result.locations).toContain(`${image.name}:sha256-${image.hex}`);

    // .att read by an independent client
    const att = skopeoRaw(`${image.name}:sha256-${image.hex}.att`) as { mediaType: string; config: Layer; layers: Layer[] };
    expect(att.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(att.config.mediaType).toBe('application/vnd.oci.image.config.v1+json');
    expect(att.layers).toHaveLength(1);
    const layer = att.layers[0]!;
    expect(layer.mediaType).toBe('application/vnd.dsse.envelope.v1+json');
    expect(layer.annotations).toEqual({ 'dev.cosignproject.cosign/signature': '', predicateType: SLSA });
    const layerBytes = await blob('app/both', layer.digest);
    expect(`sha256:${createHash('sha256').update(layerBytes).digest('hex')}`).toBe(layer.digest);
    expect(layerBytes.length).toBe(layer.size);
    // Unlogged: the envelope JSON a Rekor upload would hash (sigstore-js), so a later upload keeps the same layer.
    const env = JSON.parse(layerBytes.toString('utf8')) as Record<string, unknown>;
    expect(Object.keys(env)).toEqual(['payload', 'payloadType', 'signatures']);
    expect(env['payload']).toBe(Buffer.from(statement).toString('base64'));
    const sig0 = (env['signatures'] as Record<string, string>[])[0]!;
    expect(sig0['sig']).toBeDefined();
    expect(cryptoVerify('sha256', pae('application/vnd.in-toto+json', Buffer.from(statement)), key.publicKeyPem, Buffer.from(sig0['sig']!, 'base64'))).toBe(true);
    const config = JSON.parse((await blob('app/both', att.config.digest)).toString('utf8')) as { rootfs: { diff_ids: string[] } };
    expect(config.rootfs.diff_ids).toEqual([layer.digest]);

    // referrers tag-schema index
    const index = skopeoRaw(`${image.name}:sha256-${image.hex}`) as { mediaType: string; manifests: (Layer & { artifactType: string })[] };
    expect(index.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(index.manifests).toHaveLength(1);
    const entry = index.manifests[0]!;
    expect(entry.artifactType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json');
    expect(entry.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(entry.annotations?.['dev.sigstore.bundle.content']).toBe('dsse-envelope');
    expect(entry.annotations?.['dev.sigstore.bundle.predicateType']).toBe(SLSA);
    const referrer = skopeoRaw(`${image.name}@${entry.digest}`) as {
      artifactType: string;
      config: Layer;
      layers: Layer[];
      subject: Layer;
      annotations: Record<string, string>;
    };
    expect(referrer.artifactType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json');
    expect(referrer.config).toEqual({ mediaType: 'application/vnd.oci.empty.v1+json', digest: `sha256:${createHash('sha256').update('{}').digest('hex')}`, size: 2 });
    expect(await blob('app/both', referrer.config.digest)).toEqual(Buffer.from('{}'));
    expect(referrer.subject).toEqual({ mediaType: image.mediaType, digest: image.digest, size: image.size });
    expect(referrer.layers).toHaveLength(1);
    expect(referrer.layers[0]!.mediaType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json');
    expect(referrer.annotations['dev.sigstore.bundle.content']).toBe('dsse-envelope');
    expect(JSON.parse((await blob('app/both', referrer.layers[0]!.digest)).toString('utf8'))).toEqual(bundle);

    // and our reader finds both
    const read = await createOciReader({ config: { repository: undefined, insecure: true }, logger: createSilentLogger() }).readAttestations(image.ref);
    expect(read.bundles).toEqual([bundle]);
    expect(read.envelopes).toHaveLength(1);
    expect(read.envelopes[0]!.envelope.payload).toBe(bundle.dsseEnvelope!.payload);
    expect(read.envelopes[0]!.bundle).toBeUndefined(); // key-only, no tlog: raw envelope for key-based verification
    expect(read.signatures).toEqual([]);
  });

  it('is idempotent: storing the same request twice changes no manifest', async () => {
    const image = await pushTestImage({ host: registry.host, repository: 'app/idem' });
    const statement = testStatement(image);
    const request = provenanceRequest(image, await signProvenance(key, statement), statement);
    const s = storage('both');
    await s.store(request);
    const before = [await manifestDigest('app/idem', `sha256-${image.hex}.att`), await manifestDigest('app/idem', `sha256-${image.hex}`)];
    await s.store(request);
    await storage('both').store(request);
    const after = [await manifestDigest('app/idem', `sha256-${image.hex}.att`), await manifestDigest('app/idem', `sha256-${image.hex}`)];
    expect(before.every((d) => d !== null)).toBe(true);
    expect(after).toEqual(before);
  });

  it('dsse encoding writes only .att; sigstore-bundle only the referrer', async () => {
    const image = await pushTestImage({ host: registry.host, repository: 'app/enc' });
    const statement = testStatement(image);
    const request = provenanceRequest(image, await signProvenance(key, statement), statement);
    await storage('dsse').store(request);
    expect(await manifestDigest('app/enc', `sha256-${image.hex}.att`)).not.toBeNull();
    expect(await manifestDigest('app/enc', `sha256-${image.hex}`)).toBeNull();
    const image2 = await pushTestImage({ host: registry.host, repository: 'app/enc', seed: 'two' });
    const st2 = testStatement(image2);
    await storage('sigstore-bundle').store(provenanceRequest(image2, await signProvenance(key, st2), st2));
    expect(await manifestDigest('app/enc', `sha256-${image2.hex}.att`)).toBeNull();
    expect(await manifestDigest('app/enc', `sha256-${image2.hex}`)).not.toBeNull();
  });

  it('stores an image signature as a .sig layer and a message-signature referrer', async () => {
    const image = await pushTestImage({ host: registry.host, repository: 'app/sig' });
    const payload = simpleSigningPayload(image);
    const bundle = await signMessage(key, payload);
    await storage('both').store({
      run,
      artifact: { type: 'image-signature', shortKey: image.hex.slice(0, 12), subjects: [{ name: image.name, digest: { sha256: image.hex } }] },
      payload,
      bundle,
    });
    const sig = skopeoRaw(`${image.name}:sha256-${image.hex}.sig`) as { layers: Layer[] };
    expect(sig.layers).toHaveLength(1);
    expect(sig.layers[0]!.mediaType).toBe('application/vnd.dev.cosign.simplesigning.v1+json');
    expect(sig.layers[0]!.annotations).toEqual({ 'dev.cosignproject.cosign/signature': bundle.messageSignature!.signature });
    expect(await blob('app/sig', sig.layers[0]!.digest)).toEqual(Buffer.from(payload));
    expect(cryptoVerify('sha256', Buffer.from(payload), key.publicKeyPem, Buffer.from(bundle.messageSignature!.signature, 'base64'))).toBe(true);
    const index = skopeoRaw(`${image.name}:sha256-${image.hex}`) as { manifests: Layer[] };
    expect(index.manifests[0]!.annotations?.['dev.sigstore.bundle.content']).toBe('message-signature');

    const read = await createOciReader({ config: { repository: undefined, insecure: true }, logger: createSilentLogger() }).readAttestations(image.ref);
    expect(read.signatures).toHaveLength(1);
    expect(Buffer.from(read.signatures[0]!.payload)).toEqual(Buffer.from(payload));
    expect(read.signatures[0]!.signature).toBe(bundle.messageSignature!.signature);
    expect(read.bundles).toEqual([bundle]);
  });

  it('skips non-image subjects with a debug log and honours storage.oci.repository', async () => {
    const image = await pushTestImage({ host: registry.host, repository: 'app/own' });
    const statement = testStatement(image);
    const { logger, lines } = createCapturingLogger('debug');
    const s = createOciStorage({
      config: { repository: `${registry.host}/attestations/store`, insecure: true, encoding: 'both' },
      logger,
      tagUpdate: { settleMs: 10 },
    });
    const result = await s.store(
      provenanceRequest(image, await signProvenance(key, statement), statement, [{ name: 'https://example.com/file.tar.gz', digest: { sha256: 'a'.repeat(64) } }]),
    );
    expect(result.locations).toContain(`${registry.host}/attestations/store:sha256-${image.hex}.att`);
    expect(await manifestDigest('app/own', `sha256-${image.hex}.att`)).toBeNull();
    expect(await manifestDigest('attestations/store', `sha256-${image.hex}.att`)).not.toBeNull();
    expect(lines.some((l) => l.includes('https://example.com/file.tar.gz') && l.includes('"level":20'))).toBe(true);
    const read = await createOciReader({ config: { repository: `${registry.host}/attestations/store`, insecure: true }, logger: createSilentLogger() }).readAttestations(
      image.ref,
    );
    expect(read.envelopes).toHaveLength(1);
    expect(read.bundles).toHaveLength(1);
  });

  it('20 parallel stores for one image all end up in .att and in the referrers index', async () => {
    const image = await pushTestImage({ host: registry.host, repository: 'app/many' });
    const requests = await Promise.all(
      Array.from({ length: 20 }, async (_, n) => {
        const st = testStatement(image, n);
        return provenanceRequest(image, await signProvenance(key, st), st);
      }),
    );
    const s = storage('both');
    await Promise.all(requests.map((r) => s.store(r)));
    const att = skopeoRaw(`${image.name}:sha256-${image.hex}.att`) as { layers: Layer[] };
    expect(new Set(att.layers.map((l) => l.digest)).size).toBe(20);
    const index = skopeoRaw(`${image.name}:sha256-${image.hex}`) as { manifests: Layer[] };
    expect(new Set(index.manifests.map((l) => l.digest)).size).toBe(20);
  });

  it('separate writers (as separate workers would be) do not lose each other’s layers', async () => {
    const image = await pushTestImage({ host: registry.host, repository: 'app/workers' });
    const requests = await Promise.all(
      Array.from({ length: 6 }, async (_, n) => {
        const st = testStatement(image, n);
        return provenanceRequest(image, await signProvenance(key, st), st);
      }),
    );
    // One storage (hence one registry client and its own in-process coalescing) per writer, in
    // `process` mode: nothing locks them out of each other, only the settle-and-re-read does. An entry
    // can be lost only if another writer's whole read→PUT spans our PUT and the settle time, so the
    // settle time here is generous: on a loaded 2-core CI machine a 40 ms one was sometimes spanned.
    await Promise.all(requests.map((r) => storage('both', { tagUpdate: { settleMs: 250, maxAttempts: 20 } }).store(r)));
    const att = skopeoRaw(`${image.name}:sha256-${image.hex}.att`) as { layers: Layer[] };
    expect(new Set(att.layers.map((l) => l.digest)).size).toBe(6);
    const index = skopeoRaw(`${image.name}:sha256-${image.hex}`) as { manifests: Layer[] };
    expect(new Set(index.manifests.map((l) => l.digest)).size).toBe(6);
  });

  it('with a Rekor entry: layer bytes hash to the entry envelopeHash; bundle annotation; reader rebuilds a bundle', async () => {
    const image = await pushTestImage({ host: registry.host, repository: 'app/rekor' });
    const statement = testStatement(image);
    const witness = new RekorWitness({ rekorBaseURL: sigstore.rekorUrl, entryType: 'dsse' });
    const bundle = await signProvenance(key, statement, [witness]);
    const entry = bundle.verificationMaterial.tlogEntries[0]!;
    await storage('dsse').store(provenanceRequest(image, bundle, statement));
    const att = skopeoRaw(`${image.name}:sha256-${image.hex}.att`) as { layers: Layer[] };
    const layer = att.layers[0]!;
    const body = JSON.parse(Buffer.from(entry.canonicalizedBody, 'base64').toString('utf8')) as { spec: { envelopeHash: { value: string } } };
    expect(layer.digest).toBe(`sha256:${body.spec.envelopeHash.value}`);
    const ann = JSON.parse(layer.annotations!['dev.sigstore.cosign/bundle']!) as Record<string, unknown>;
    expect(ann).toEqual({
      SignedEntryTimestamp: entry.inclusionPromise!.signedEntryTimestamp,
      Payload: {
        body: entry.canonicalizedBody,
        integratedTime: Number(entry.integratedTime),
        logIndex: Number(entry.logIndex),
        logID: Buffer.from(entry.logId.keyId, 'base64').toString('hex'),
      },
    });
    const read = await createOciReader({ config: { repository: undefined, insecure: true }, logger: createSilentLogger() }).readAttestations(image.ref);
    const rebuilt = read.envelopes[0]!.bundle!;
    expect(rebuilt.verificationMaterial.tlogEntries[0]!.canonicalizedBody).toBe(entry.canonicalizedBody);
    expect(rebuilt.verificationMaterial.tlogEntries[0]!.logId).toEqual(entry.logId);
    expect(rebuilt.dsseEnvelope!.payload).toBe(bundle.dsseEnvelope!.payload);
  });
});

describe('OCI storage failures', () => {
  it('missing image manifest → permanent OCI_IMAGE_NOT_FOUND', async () => {
    const image = await pushTestImage({ host: registry.host, repository: 'app/missing' });
    const statement = testStatement(image);
    const ghost = { ...image, hex: 'b'.repeat(64), digest: `sha256:${'b'.repeat(64)}` };
    const err = await storage('both')
      .store(provenanceRequest(ghost, await signProvenance(key, statement), statement))
      .catch((e: unknown) => e);
    expect(isProvenantError(err, 'OCI_IMAGE_NOT_FOUND') && err.kind === 'permanent').toBe(true);
  });

  it('registry returns another digest → permanent OCI_DIGEST_MISMATCH', async () => {
    const image = await pushTestImage({ host: registry.host, repository: 'app/mismatch' });
    const proxy = await startProxy({ wrongDigest: true });
    try {
      const statement = testStatement(image);
      const viaProxy = { ...image, name: `${proxy.host}/app/mismatch` };
      const err = await storage('dsse')
        .store(provenanceRequest(viaProxy, await signProvenance(key, statement), statement))
        .catch((e: unknown) => e);
      expect(isProvenantError(err, 'OCI_DIGEST_MISMATCH') && err.kind === 'permanent').toBe(true);
    } finally {
      await close(proxy.server);
    }
  });

  it.each([503, 500, 429])('registry answering %i → transient OCI_UNAVAILABLE', async (status) => {
    const proxy = await startProxy({ status });
    try {
      const image = await pushTestImage({ host: registry.host, repository: 'app/down' });
      const statement = testStatement(image);
      const err = await storage('both')
        .store(provenanceRequest({ ...image, name: `${proxy.host}/app/down` }, await signProvenance(key, statement), statement))
        .catch((e: unknown) => e);
      expect(isProvenantError(err, 'OCI_UNAVAILABLE') && err.kind === 'transient').toBe(true);
    } finally {
      await close(proxy.server);
    }
  });

  it('unreachable registry → transient OCI_UNAVAILABLE', async () => {
    const { server, host } = await startServer((_req, res) => res.end());
    await close(server);
    const image = await pushTestImage({ host: registry.host, repository: 'app/gone' });
    const statement = testStatement(image);
    const err = await storage('dsse')
      .store(provenanceRequest({ ...image, name: `${host}/app/gone` }, await signProvenance(key, statement), statement))
      .catch((e: unknown) => e);
    expect(isProvenantError(err, 'OCI_UNAVAILABLE') && err.kind === 'transient').toBe(true);
  });

  it('never forwards credentials on a redirect to another host', async () => {
    const seenAtOther: (string | undefined)[] = [];
    const other = await startServer((req, res) => {
      seenAtOther.push(req.headers.authorization);
      res.writeHead(404);
      res.end();
    });
    const seenAtRegistry: (string | undefined)[] = [];
    const origin = await startServer((req, res) => {
      seenAtRegistry.push(req.headers.authorization);
      if (req.headers.authorization === undefined) {
        res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="test"' });
        res.end();
        return;
      }
      res.writeHead(307, { Location: `${other.url}${req.url ?? '/'}` });
      res.end();
    });
    try {
      const credentials = credentialsFromDockerConfig({ auths: { [origin.host]: { auth: Buffer.from('alice:s3cret').toString('base64') } } });
      const { logger, lines } = createCapturingLogger('debug');
      const err = await createOciStorage({ config: { repository: undefined, insecure: true, encoding: 'dsse' }, credentials, logger })
        .store(provenanceRequest({ name: `${origin.host}/app/x`, hex: 'c'.repeat(64) } as PushedImage, { mediaType: 'x' } as unknown as SerializedBundle, new Uint8Array()))
        .catch((e: unknown) => e);
      expect(isProvenantError(err, 'OCI_IMAGE_NOT_FOUND')).toBe(true);
      expect(seenAtRegistry).toContain(`Basic ${Buffer.from('alice:s3cret').toString('base64')}`);
      expect(seenAtOther.length).toBeGreaterThan(0);
      expect(seenAtOther.every((h) => h === undefined)).toBe(true);
      expect(lines.join('\n')).not.toContain('s3cret');
      expect(JSON.stringify(err)).not.toContain('s3cret');
    } finally {
      await Promise.all([close(origin.server), close(other.server)]);
    }
  });
});
