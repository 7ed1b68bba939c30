// A registry that answers with oversized, nested, truncated, stalled, redirecting and mismatched
// content: `verify --image`, `trace` and the OCI storage's read-modify-write each end with a typed
// error, hang up on endless bodies, and never write a corrupted tag.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SerializedBundle } from '@sigstore/bundle';
import { isProvenantError, type ProvenantError } from '../../src/errors.js';
import { createSilentLogger } from '../../src/observability/logger.js';
import { createOciReader, createOciStorage, createRegistryClient, digestTag } from '../../src/storage/oci/index.js';
import { createManifestProbe, traceImage } from '../../src/verify/trace.js';
import { runCaptured } from '../support/cli.js';
import { startHostileRegistry, type HostileRegistry, type Misbehaviour } from '../support/hostile-registry.js';
import { createTestKey, pushTestImage, signProvenance, testStatement, type PushedImage, type TestKey } from '../support/oci-image.js';

let reg: HostileRegistry;
let key: TestKey;
let dir: string;
let keyFile: string;
let repoSeq = 0;

beforeAll(async () => {
  reg = await startHostileRegistry();
  key = createTestKey();
  dir = await mkdtemp(path.join(tmpdir(), 'provenant-hostile-'));
  keyFile = path.join(dir, 'cosign.pub');
  await writeFile(keyFile, key.publicKeyPem);
});

afterAll(async () => {
  await reg?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

const logger = createSilentLogger();
const storageFor = () => createOciStorage({ config: { repository: undefined, insecure: true, encoding: 'dsse' }, logger, tagUpdate: { settleMs: 0 } });

async function store(image: PushedImage, bundle: SerializedBundle, payload: Uint8Array): Promise<void> {
  await storageFor().store({
    run: { kind: 'TaskRun', namespace: 'ci', name: `build-${image.hex.slice(0, 8)}`, uid: image.hex.slice(0, 12) },
    artifact: { type: 'provenance', shortKey: image.hex.slice(0, 12), subjects: [{ name: image.name, digest: { sha256: image.hex } }], predicateType: 'https://slsa.dev/provenance/v0.2' },
    payload,
    bundle,
  });
}

/** A fresh repository holding an image and one signed `.att` attestation of it. */
async function attested(): Promise<{ image: PushedImage; attTag: string; layerDigest: string }> {
  const image = await pushTestImage({ host: reg.host, repository: `app${repoSeq++}` });
  const payload = testStatement(image);
  await store(image, await signProvenance(key, payload), payload);
  const attTag = digestTag(image.digest, 'att');
  const att = await createRegistryClient({ registry: reg.host, insecure: true, logger }).getManifest(image.repository, attTag);
  const layerDigest = ((att?.json['layers'] as { digest: string }[] | undefined) ?? [])[0]?.digest ?? '';
  expect(layerDigest).toMatch(/^sha256:/);
  return { image, attTag, layerDigest };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (!isProvenantError(err)) throw err;
    return (err as ProvenantError).code;
  }
}

const trace = (ref: string) =>
  traceImage(ref, {
    reader: createOciReader({ config: { repository: undefined, insecure: true }, logger }),
    manifestExists: createManifestProbe({ insecure: true, logger }),
    policies: [{ key: key.publicKeyPem }],
    logger,
  });

async function verifyImage(ref: string): Promise<{ code: number; err: string }> {
  const r = await runCaptured(['verify', '--image', ref, '--key', keyFile, '--insecure'], { env: { PROVENANT_LOG_LEVEL: 'silent' }, cwd: dir });
  return { code: r.code, err: r.err };
}

describe('hostile registry', () => {
  it('baseline: the stand-in serves a verifiable attestation', async () => {
    const { image } = await attested();
    const graph = await trace(image.ref);
    expect(graph.nodes[0]?.verdict).toBe('verified');
    expect((await verifyImage(image.ref)).code).toBe(0);
  });

  // exit: 2 for a limit exceeded (input), 1 for a rejection or an unavailable registry.
  const manifestCases: { name: string; how: Misbehaviour; code: string; exit: number }[] = [
    { name: 'an endless manifest', how: { kind: 'endless' }, code: 'OCI_MANIFEST_INVALID', exit: 2 },
    { name: 'a manifest declaring 10 GiB', how: { kind: 'huge-declared' }, code: 'OCI_MANIFEST_INVALID', exit: 2 },
    { name: 'a manifest nested 10,000 deep', how: { kind: 'nested', depth: 10_000 }, code: 'OCI_MANIFEST_INVALID', exit: 2 },
    { name: 'a truncated manifest', how: { kind: 'truncated' }, code: 'OCI_UNAVAILABLE', exit: 1 },
    { name: 'a redirect loop', how: { kind: 'redirect-loop' }, code: 'OCI_REQUEST_FAILED', exit: 1 },
    {
      name: 'a manifest whose layers are not descriptors',
      how: { kind: 'wrong-content', body: Buffer.from(JSON.stringify({ schemaVersion: 2, layers: [null, { digest: '../../etc' }] })) },
      code: 'OCI_MANIFEST_INVALID',
      exit: 1,
    },
  ];

  for (const c of manifestCases) {
    it(`.att tag answered with ${c.name}: trace, verify --image and the tag read-modify-write fail typed; no tag written`, async () => {
      const { image, attTag } = await attested();
      reg.misbehave(`/manifests/${attTag}`, c.how);
      expect(await codeOf(trace(image.ref))).toBe(c.code);
      const v = await verifyImage(image.ref);
      expect(v.code).toBe(c.exit);
      expect(v.err).toContain(c.code);
      // Read-modify-write of the same tag: a second attestation must not overwrite what it could not read.
      const putsBefore = reg.puts.length;
      const payload = testStatement(image, 1);
      expect(await codeOf(store(image, await signProvenance(key, payload), payload))).toBe(c.code);
      expect(reg.puts.slice(putsBefore).filter((p) => p.path.endsWith(attTag))).toEqual([]);
      await expect.poll(() => reg.openStreams()).toBe(0);
    });
  }

  const blobCases: { name: string; how: (good: Uint8Array) => Misbehaviour; code: string; exit: number }[] = [
    { name: 'an endless body', how: () => ({ kind: 'endless' }), code: 'OCI_BLOB_INVALID', exit: 2 },
    { name: '10 GiB declared', how: () => ({ kind: 'huge-declared' }), code: 'OCI_BLOB_INVALID', exit: 2 },
    { name: 'other content', how: () => ({ kind: 'wrong-content', body: Buffer.from('{"payload":"","payloadType":"x","signatures":[]}') }), code: 'OCI_DIGEST_MISMATCH', exit: 1 },
    { name: 'a redirect to other content', how: () => ({ kind: 'redirect', body: Buffer.from('not the blob') }), code: 'OCI_DIGEST_MISMATCH', exit: 1 },
    { name: 'a truncated body', how: () => ({ kind: 'truncated' }), code: 'OCI_UNAVAILABLE', exit: 1 },
  ];

  for (const c of blobCases) {
    it(`attestation layer answered with ${c.name}: trace and verify --image fail typed`, async () => {
      const { image, layerDigest } = await attested();
      reg.misbehave(`/blobs/${layerDigest}`, c.how(new Uint8Array()));
      expect(await codeOf(trace(image.ref))).toBe(c.code);
      const v = await verifyImage(image.ref);
      expect(v.code).toBe(c.exit);
      expect(v.err).toContain(c.code);
      await expect.poll(() => reg.openStreams()).toBe(0);
    });
  }

  it('trace: a material image on a hostile answer is an unreachable node with the typed reason, the root stays verified', async () => {
    const dep = await pushTestImage({ host: reg.host, repository: `dep${repoSeq++}` });
    const root = await pushTestImage({ host: reg.host, repository: `app${repoSeq++}` });
    const statement = new TextEncoder().encode(
      JSON.stringify({
        _type: 'https://in-toto.io/Statement/v0.1',
        predicateType: 'https://slsa.dev/provenance/v0.2',
        subject: [{ name: root.name, digest: { sha256: root.hex } }],
        predicate: { builder: { id: 'https://tekton.dev/chains/v2' }, materials: [{ uri: `oci://${dep.name}`, digest: { sha256: dep.hex } }] },
      }),
    );
    await store(root, await signProvenance(key, statement), statement);
    reg.misbehave(`/manifests/${digestTag(dep.digest, 'att')}`, { kind: 'nested', depth: 50_000 });
    const graph = await trace(root.ref);
    expect(graph.nodes.find((n) => n.ref === root.ref)?.verdict).toBe('verified');
    expect(graph.nodes.find((n) => n.ref === dep.ref)).toMatchObject({ verdict: 'unreachable', reason: 'OCI_MANIFEST_INVALID' });
  });

  it('a manifest fetched by digest must have that digest', async () => {
    const { image } = await attested();
    reg.misbehave(`/manifests/${image.digest}`, { kind: 'wrong-content', body: Buffer.from('{"schemaVersion":2}') });
    const client = createRegistryClient({ registry: reg.host, insecure: true, logger });
    expect(await codeOf(client.getManifest(image.repository, image.digest))).toBe('OCI_DIGEST_MISMATCH');
  });

  it('stalled and trickling answers end at the request deadline (OCI_UNAVAILABLE, retried as transient)', async () => {
    const { image, attTag, layerDigest } = await attested();
    reg.misbehave(`/manifests/${attTag}`, { kind: 'stall' });
    reg.misbehave(`/blobs/${layerDigest}`, { kind: 'trickle' });
    const client = createRegistryClient({ registry: reg.host, insecure: true, logger, timeoutMs: 300 });
    const stalled = await client.getManifest(image.repository, attTag).catch((e: unknown) => e);
    expect(stalled).toMatchObject({ code: 'OCI_UNAVAILABLE', kind: 'transient' });
    const trickled = await client.getBlob(image.repository, layerDigest).catch((e: unknown) => e);
    expect(trickled).toMatchObject({ code: 'OCI_UNAVAILABLE', kind: 'transient' });
    // The same through an injected fetch (AbortSignal deadline).
    const viaFetch = createRegistryClient({ registry: reg.host, insecure: true, logger, timeoutMs: 300, fetch });
    expect(await viaFetch.getManifest(image.repository, attTag).catch((e: unknown) => e)).toMatchObject({ code: 'OCI_UNAVAILABLE' });
    expect(await viaFetch.getBlob(image.repository, layerDigest).catch((e: unknown) => e)).toMatchObject({ code: 'OCI_UNAVAILABLE' });
    await expect.poll(() => reg.openStreams()).toBe(0);
  });

  it('an endless body through an injected fetch is cut at the limit too', async () => {
    const { image, attTag } = await attested();
    reg.misbehave(`/manifests/${attTag}`, { kind: 'endless' });
    const viaFetch = createRegistryClient({ registry: reg.host, insecure: true, logger, fetch });
    expect(await codeOf(viaFetch.getManifest(image.repository, attTag))).toBe('OCI_MANIFEST_INVALID');
    await expect.poll(() => reg.openStreams()).toBe(0);
  });
});
