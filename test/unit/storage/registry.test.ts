import { describe, it, expect } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createStorageBackends, isImplementedStorageName, storageBackends } from '../../../src/storage/index.js';
import { defaultConfig, implementedStorageNames } from '../../../src/config/index.js';
import { createSilentLogger } from '../../../src/observability/index.js';
import { ProvenantError } from '../../../src/errors.js';

const deps = {
  config: defaultConfig(),
  logger: createSilentLogger(),
  patchAnnotations: async () => undefined,
};

function thrown(fn: () => unknown): ProvenantError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ProvenantError) return err;
    throw err;
  }
  throw new Error('did not throw');
}

describe('storage registry', () => {
  it('has exactly one factory per implemented name', () => {
    expect(Object.keys(storageBackends).sort()).toEqual([...implementedStorageNames].sort());
  });

  it('creates the configured backends in order, without duplicates', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'provenant-reg-'));
    try {
      const config = { ...defaultConfig(), storage: { ...defaultConfig().storage, local: { path: root } } };
      const backends = createStorageBackends(['local', 'tekton', 'oci', 'local', ' tekton '], { ...deps, config });
      expect(backends.map((b) => b.name)).toEqual(['local', 'tekton', 'oci']);
      expect(createStorageBackends([], deps)).toEqual([]);
      expect(createStorageBackends([''], deps)).toEqual([]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it.each(['kafka'])('%s (Chains has it, provenant does not) → config STORAGE_UNSUPPORTED', (name) => {
    const err = thrown(() => createStorageBackends(['oci', name], deps));
    expect([err.kind, err.code]).toEqual(['config', 'STORAGE_UNSUPPORTED']);
    expect(err.context['unsupported']).toEqual([name]);
  });

  it('names every unsupported or unknown backend in one error', () => {
    const err = thrown(() => createStorageBackends(['kafka', 'tekton', 'nope'], deps));
    expect(err.code).toBe('STORAGE_UNSUPPORTED');
    expect(err.context['unsupported']).toEqual(['kafka', 'nope']);
  });

  it('tekton without Kubernetes access is a config error', () => {
    const err = thrown(() => createStorageBackends(['tekton'], { config: defaultConfig(), logger: createSilentLogger() }));
    expect([err.kind, err.code]).toEqual(['config', 'STORAGE_DEPENDENCY_MISSING']);
  });

  it('isImplementedStorageName', () => {
    expect(isImplementedStorageName('oci')).toBe(true);
    expect(isImplementedStorageName('gcs')).toBe(true);
    expect(isImplementedStorageName('grafeas')).toBe(true);
    expect(isImplementedStorageName('kafka')).toBe(false);
  });
});
