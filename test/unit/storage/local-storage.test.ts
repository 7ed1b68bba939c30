import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { SerializedBundle } from '@sigstore/bundle';
import { createLocalStorage, localRunDirectory, readLocal } from '../../../src/storage/local-storage.js';
import type { StoreRequest } from '../../../src/storage/types.js';
import type { RunKey } from '../../../src/tekton/run-key.js';
import { createSilentLogger } from '../../../src/observability/logger.js';
import { isProvenantError } from '../../../src/errors.js';

const run: RunKey = { kind: 'TaskRun', namespace: 'build', name: 'image-build-x7k2p', uid: '3f2a9c1e-0b1d-4e5f-8a6b-7c8d9e0f1a2b' };

const bundle: SerializedBundle = {
  mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
  verificationMaterial: { publicKey: { hint: 'k1' }, certificate: undefined, x509CertificateChain: undefined, tlogEntries: [], timestampVerificationData: undefined },
  dsseEnvelope: {
    payload: Buffer.from('{"_type":"https://in-toto.io/Statement/v0.1"}').toString('base64'),
    payloadType: 'application/vnd.in-toto+json',
    signatures: [{ sig: 'MEUCIQ==', keyid: '' }],
  },
  messageSignature: undefined,
};

function request(overrides: Partial<StoreRequest> = {}): StoreRequest {
  return {
    run,
    artifact: { type: 'provenance', shortKey: `taskrun-${run.uid}`, subjects: [], predicateType: 'https://slsa.dev/provenance/v0.2' },
    payload: Buffer.from('{"_type":"https://in-toto.io/Statement/v0.1"}'),
    bundle,
    ...overrides,
  };
}

describe('local storage', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'provenant-local-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('writes <ns>/<kind>-<name>-<uid>/<shortKey>.{bundle,payload}.json and a run.json', async () => {
    const storage = createLocalStorage({ root, logger: createSilentLogger() });
    const result = await storage.store(request());
    const dir = path.join(root, 'build', `taskrun-image-build-x7k2p-${run.uid}`);
    expect(result.backend).toBe('local');
    expect(result.locations).toEqual([
      path.join(dir, `taskrun-${run.uid}.bundle.json`),
      path.join(dir, `taskrun-${run.uid}.payload.json`),
    ]);
    expect((await readdir(dir)).sort()).toEqual(['run.json', `taskrun-${run.uid}.bundle.json`, `taskrun-${run.uid}.payload.json`]);
    expect(JSON.parse(await readFile(path.join(dir, `taskrun-${run.uid}.bundle.json`), 'utf8'))).toEqual(bundle);
    expect(await readFile(path.join(dir, `taskrun-${run.uid}.payload.json`), 'utf8')).toBe('{"_type":"https://in-toto.io/Statement/v0.1"}');
    expect(JSON.parse(await readFile(path.join(dir, 'run.json'), 'utf8'))).toEqual(run);
  });

  it('uses pipelinerun-<name>-<uid> for PipelineRuns', () => {
    expect(localRunDirectory({ ...run, kind: 'PipelineRun' })).toBe(path.join('build', `pipelinerun-image-build-x7k2p-${run.uid}`));
  });

  it('is idempotent: storing twice leaves the same files and no temporaries', async () => {
    const storage = createLocalStorage({ root, logger: createSilentLogger() });
    const first = await storage.store(request());
    const dir = path.dirname(first.locations[0]!);
    const before = await readFile(first.locations[0]!);
    const second = await storage.store(request());
    expect(second).toEqual(first);
    expect(await readFile(second.locations[0]!)).toEqual(before);
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(await readLocal(root)).toHaveLength(1);
  });

  it('writes atomically: a leftover temporary file is never read as an artifact', async () => {
    const storage = createLocalStorage({ root, logger: createSilentLogger() });
    const { locations } = await storage.store(request());
    const dir = path.dirname(locations[0]!);
    // What a crash between write and rename leaves behind.
    await writeFile(path.join(dir, `.taskrun-other.bundle.json.abc123.tmp`), '{"half":');
    const entries = await readLocal(root, run);
    expect(entries.map((e) => e.shortKey)).toEqual([`taskrun-${run.uid}`]);
  });

  it('replaces a file by rename, never truncating it in place', async () => {
    const storage = createLocalStorage({ root, logger: createSilentLogger() });
    const { locations } = await storage.store(request());
    const inodeBefore = (await stat(locations[0]!)).ino;
    await storage.store(request());
    // A new inode means the new content arrived whole via rename(2).
    expect((await stat(locations[0]!)).ino).not.toBe(inodeBefore);
  });

  it('stores and reads back unicode names', async () => {
    const storage = createLocalStorage({ root, logger: createSilentLogger() });
    const uni: RunKey = { kind: 'PipelineRun', namespace: 'équipe-ü', name: '構築-🚀', uid: 'uid-ß' };
    await storage.store(request({ run: uni, artifact: { type: 'provenance', shortKey: 'pipelinerun-uid-ß', subjects: [] } }));
    const entries = await readLocal(root, uni);
    expect(entries).toHaveLength(1);
    expect(entries[0]!.run).toEqual(uni);
    expect(Buffer.from(entries[0]!.payload).toString()).toBe('{"_type":"https://in-toto.io/Statement/v0.1"}');
    const all = await readLocal(root);
    expect(all.map((e) => e.run)).toEqual([uni]);
  });

  it('readLocal lists every run, or one run, and returns [] for a missing root', async () => {
    const storage = createLocalStorage({ root, logger: createSilentLogger() });
    const other: RunKey = { ...run, name: 'other', uid: 'u2' };
    await storage.store(request());
    await storage.store(request({ run: other, artifact: { type: 'image-signature', shortKey: '0123456789ab', subjects: [] } }));
    await storage.store(request({ run: other, artifact: { type: 'provenance', shortKey: 'taskrun-u2', subjects: [] } }));
    expect((await readLocal(root)).map((e) => `${e.run.name}/${e.shortKey}`).sort()).toEqual([
      'image-build-x7k2p/taskrun-3f2a9c1e-0b1d-4e5f-8a6b-7c8d9e0f1a2b',
      'other/0123456789ab',
      'other/taskrun-u2',
    ]);
    expect((await readLocal(root, other)).map((e) => e.shortKey)).toEqual(['0123456789ab', 'taskrun-u2']);
    expect(await readLocal(path.join(root, 'missing'))).toEqual([]);
    expect(await readLocal(root, { ...run, uid: 'nope' })).toEqual([]);
  });

  it('refuses names that would escape the root (LOCAL_INVALID_NAME)', async () => {
    const storage = createLocalStorage({ root, logger: createSilentLogger() });
    for (const bad of [
      request({ run: { ...run, namespace: '..' } }),
      request({ run: { ...run, name: 'a/b' } }),
      request({ artifact: { type: 'provenance', shortKey: '../x', subjects: [] } }),
      request({ artifact: { type: 'provenance', shortKey: '', subjects: [] } }),
    ]) {
      const err: unknown = await storage.store(bad).catch((e: unknown) => e);
      expect(isProvenantError(err, 'LOCAL_INVALID_NAME')).toBe(true);
    }
  });

  it('reports an unwritable root as LOCAL_WRITE_FAILED', async () => {
    // A root that is a file fails for every user, root included (permissions would not).
    const fileRoot = path.join(root, 'not-a-dir');
    await writeFile(fileRoot, '');
    const storage = createLocalStorage({ root: fileRoot, logger: createSilentLogger() });
    const err: unknown = await storage.store(request()).catch((e: unknown) => e);
    expect(isProvenantError(err, 'LOCAL_WRITE_FAILED')).toBe(true);
    expect((err as { kind: string }).kind).toBe('permanent');
  });

  it('reports a corrupt bundle file as LOCAL_CORRUPT', async () => {
    const storage = createLocalStorage({ root, logger: createSilentLogger() });
    const { locations } = await storage.store(request());
    await writeFile(locations[0]!, '{not json');
    const err: unknown = await readLocal(root, run).catch((e: unknown) => e);
    expect(isProvenantError(err, 'LOCAL_CORRUPT')).toBe(true);
  });
});
