import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSilentLogger } from '../../../src/observability/index.js';
import { createLocalStorage, localRunDirectory, readLocal } from '../../../src/storage/index.js';
import type { RunKey } from '../../../src/tekton/index.js';

const uid = '9fceb5cf-6edb-4766-aa89-6a16dbcc81a8';

describe('local storage: names at the Kubernetes length limit', () => {
  it('keeps directory names within 255 bytes, distinct per name, and stable', () => {
    const a: RunKey = { kind: 'PipelineRun', namespace: 'n'.repeat(63), name: `${'a'.repeat(252)}1`, uid };
    const b: RunKey = { ...a, name: `${'a'.repeat(252)}2` };
    const dirA = path.basename(localRunDirectory(a));
    expect(Buffer.byteLength(dirA)).toBeLessThanOrEqual(255);
    expect(dirA).not.toBe(path.basename(localRunDirectory(b)));
    expect(localRunDirectory(a)).toBe(localRunDirectory(a));
    // Short names keep the readable layout.
    expect(localRunDirectory({ ...a, name: 'build' })).toBe(path.join(a.namespace, `pipelinerun-build-${uid}`));
  });

  it('stores and reads back a run with a 253-character name', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'provenant-local-long-'));
    try {
      const run: RunKey = { kind: 'TaskRun', namespace: 'builds', name: 'x'.repeat(253), uid };
      const storage = createLocalStorage({ root, logger: createSilentLogger() });
      const bundle = { mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json', verificationMaterial: {}, dsseEnvelope: { payload: '', payloadType: 'x', signatures: [] } };
      await storage.store({
        run,
        artifact: { type: 'provenance', shortKey: `taskrun-${uid}`, subjects: [] },
        payload: new TextEncoder().encode('{}'),
        bundle: bundle as never,
      });
      const [entry, ...rest] = await readLocal(root);
      expect(rest).toEqual([]);
      expect(entry?.run).toEqual(run);
      expect((await readLocal(root, run)).map((e) => e.run)).toEqual([run]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
