import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync, sign as nodeSign } from 'node:crypto';
import { bundleToJSON, type SerializedBundle } from '@sigstore/bundle';
import { DSSEBundleBuilder, MessageSignatureBundleBuilder, type Signer } from '@sigstore/sign';
import { parseConfig } from '../../src/config/index.js';
import { isProvenantError } from '../../src/errors.js';
import { createCapturingLogger } from '../../src/observability/index.js';
import { createStorageBackends } from '../../src/storage/registry.js';
import { createGcsStorage, readGcs } from '../../src/storage/gcs-storage.js';
import { gitoidSha256, readArchivista } from '../../src/storage/archivista-storage.js';
import { annotationsForStorage } from '../../src/storage/tekton-storage.js';
import type { StoreRequest } from '../../src/storage/types.js';
import type { RunKey } from '../../src/tekton/run-key.js';
import { startArchivistaServer, type ArchivistaTestServer } from '../support/archivista-server.js';
import { startGcsServer, type GcsTestServer } from '../support/gcs-server.js';

const run: RunKey = { kind: 'TaskRun', namespace: 'build', name: 'image-build', uid: '3f2a9c1e-0b1d-4e5f-8a6b-7c8d9e0f1a2b' };
const statement = Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: [{ name: 'x', digest: { sha256: 'a'.repeat(64) } }] }));
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const signer: Signer = {
  sign: async (data: Buffer) => ({ signature: nodeSign('sha256', data, privateKey), key: { $case: 'publicKey', publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(), hint: 'k' } }),
};

let gcs: GcsTestServer;
let archivista: ArchivistaTestServer;
let provenance: StoreRequest;
let imageSig: StoreRequest;

beforeAll(async () => {
  [gcs, archivista] = await Promise.all([startGcsServer(), startArchivistaServer()]);
  gcs.createBucket('chains-attestations');
  const dsse: SerializedBundle = bundleToJSON(await new DSSEBundleBuilder({ signer, witnesses: [] }).create({ data: statement, type: 'application/vnd.in-toto+json' }));
  provenance = { run, artifact: { type: 'provenance', shortKey: `taskrun-${run.uid}`, subjects: [] }, payload: statement, bundle: dsse };
  const simple = Buffer.from('{"critical":{}}');
  const msg: SerializedBundle = bundleToJSON(await new MessageSignatureBundleBuilder({ signer, witnesses: [] }).create({ data: simple }));
  imageSig = { run, artifact: { type: 'image-signature', shortKey: 'abcdef012345', subjects: [] }, payload: simple, bundle: msg };
});
afterAll(async () => {
  await Promise.all([gcs.stop(), archivista.stop()]);
});

const gcsOptions = (): { apiEndpoint: string; projectId: string } => ({ apiEndpoint: gcs.url, projectId: 'provenant-test' });

describe('gcs storage with @google-cloud/storage against a JSON API stand-in', () => {
  it("writes Chains' object names with the tekton backend's bytes, and reads them back", async () => {
    const { logger } = createCapturingLogger();
    const backend = createGcsStorage({ bucket: 'chains-attestations', logger, gcsOptions: gcsOptions() });
    const result = await backend.store(provenance);
    await backend.store(provenance); // idempotent: same names, same bytes
    await backend.store(imageSig);
    const prefix = `taskrun-build-image-build/taskrun-${run.uid}`;
    expect(result.locations).toEqual([`gs://chains-attestations/${prefix}.signature`, `gs://chains-attestations/${prefix}.payload`]);
    expect([...gcs.objects('chains-attestations').keys()].sort()).toEqual(
      [`${prefix}.payload`, `${prefix}.signature`, 'taskrun-build-image-build/abcdef012345.payload', 'taskrun-build-image-build/abcdef012345.signature'].sort(),
    );
    const annotations = annotationsForStorage(provenance);
    const entry = await readGcs({ bucket: 'chains-attestations', logger, gcsOptions: gcsOptions() }, run, `taskrun-${run.uid}`);
    expect(entry?.payload.equals(statement)).toBe(true);
    expect(entry?.signature.toString('base64')).toBe(annotations[`chains.tekton.dev/signature-taskrun-${run.uid}`]);
    expect(JSON.parse(entry?.signature.toString('utf8') ?? '{}')).toMatchObject({ payloadType: 'application/vnd.in-toto+json' });
    expect(await readGcs({ bucket: 'chains-attestations', logger, gcsOptions: gcsOptions() }, run, 'nope')).toBeUndefined();
  });

  it('a missing bucket is a config error', async () => {
    const { logger } = createCapturingLogger();
    const backend = createGcsStorage({ bucket: 'no-such-bucket', logger, gcsOptions: gcsOptions() });
    await expect(backend.store(provenance)).rejects.toMatchObject({ kind: 'config', code: 'GCS_BUCKET_NOT_FOUND' });
  });
});

describe('archivista storage against an upload API stand-in', () => {
  it('uploads the DSSE envelope, records the gitoid on the run, reads it back; image signatures are skipped', async () => {
    const { logger } = createCapturingLogger();
    const patches: Array<Record<string, string>> = [];
    const { config } = parseConfig({ 'artifacts.taskrun.storage': 'archivista', 'storage.archivista.url': archivista.url });
    const [backend] = createStorageBackends(config.artifacts.taskrun.storage, { config, logger, patchAnnotations: async (_run, a) => void patches.push(a) });
    const result = await backend!.store(provenance);
    const envelope = Buffer.from(annotationsForStorage(provenance)[`chains.tekton.dev/signature-taskrun-${run.uid}`] ?? '', 'base64');
    const gitoid = gitoidSha256(envelope);
    expect(result.locations).toEqual([`${archivista.url}/download/${gitoid}`]);
    expect(patches).toEqual([{ [`chains.tekton.dev/archivista-gitoid-taskrun-${run.uid}`]: gitoid }]);
    expect((await readArchivista({ url: archivista.url }, gitoid))?.equals(envelope)).toBe(true);
    expect(await readArchivista({ url: archivista.url }, '0'.repeat(64))).toBeUndefined();
    expect((await backend!.store(imageSig)).locations).toEqual([]);
    expect(archivista.stored.size).toBe(1);
  });

  it('an unreachable Archivista is transient', async () => {
    const { logger } = createCapturingLogger();
    const { config } = parseConfig({ 'artifacts.taskrun.storage': 'archivista', 'storage.archivista.url': 'http://127.0.0.1:9' });
    const [backend] = createStorageBackends(['archivista'], { config, logger });
    const err = await backend!.store(provenance).catch((e: unknown) => e);
    expect(isProvenantError(err) ? [err.kind, err.code] : err).toEqual(['transient', 'ARCHIVISTA_UNAVAILABLE']);
  });
});

describe('config', () => {
  it('gcs needs storage.gcs.bucket and archivista storage.archivista.url, reported together', () => {
    let problems: Array<{ key: string }> = [];
    try {
      parseConfig({ 'artifacts.taskrun.storage': 'gcs', 'artifacts.pipelinerun.storage': 'archivista' });
    } catch (err) {
      if (isProvenantError(err, 'CONFIG_INVALID')) problems = err.context['problems'] as typeof problems;
    }
    expect(problems.map((p) => p.key).sort()).toEqual(['storage.archivista.url', 'storage.gcs.bucket']);
  });
});

describe('inspect readers (--gcs-bucket, --archivista-url)', () => {
  it('decode what gcs and archivista stored for the run', async () => {
    const { remoteStoreAttestations } = await import('../../src/cli/commands/inspect-remote.js');
    const { logger } = createCapturingLogger();
    await createGcsStorage({ bucket: 'chains-attestations', logger, gcsOptions: gcsOptions() }).store(provenance);
    const envelope = Buffer.from(annotationsForStorage(provenance)[`chains.tekton.dev/signature-taskrun-${run.uid}`] ?? '', 'base64');
    const gitoid = gitoidSha256(envelope);
    const notes: string[] = [];
    const found = await remoteStoreAttestations(
      { ...run, annotations: { [`chains.tekton.dev/archivista-gitoid-taskrun-${run.uid}`]: gitoid } },
      { gcsBucket: 'chains-attestations', archivistaUrl: archivista.url, gcsOptions: gcsOptions() },
      notes,
    );
    expect(notes).toEqual([]);
    expect(found.map((f) => [f.source, f.type, f.shortKey])).toEqual([
      ['gcs', 'provenance', `taskrun-${run.uid}`],
      ['archivista', 'provenance', `taskrun-${run.uid}`],
    ]);
    expect(found[0]?.subjects).toEqual([{ name: 'x', digest: { sha256: 'a'.repeat(64) } }]);
  });
});
