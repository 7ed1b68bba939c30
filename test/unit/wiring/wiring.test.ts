import { describe, it, expect } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { createSilentLogger } from '../../../src/observability/index.js';
import { createEphemeralSigner } from '../../../src/signing/index.js';
import { createLiveWiring, createWiring, type ClosableWiring, type WiringFactory } from '../../../src/wiring/index.js';

const runStore = { get: async () => undefined, patchAnnotations: async () => undefined };
const scope = { namespace: 'ns', serviceAccountName: 'default' };

describe('createWiring', () => {
  it('matches storage backends by their name, whatever the order and duplicates of the config lists', async () => {
    const config = parseConfig({
      'artifacts.taskrun.storage': 'local,tekton,local',
      'artifacts.pipelinerun.storage': 'tekton',
      'artifacts.oci.storage': 'local',
      'transparency.enabled': 'false',
    }).config;
    const w = await createWiring(config, { logger: createSilentLogger(), runStore, signerOverride: createEphemeralSigner(), tagWrites: { mode: 'process' } });
    expect((await w.storage('tekton', scope)).name).toBe('tekton');
    expect((await w.storage('local', scope)).name).toBe('local');
    expect(() => w.storage('oci', scope)).toThrow(expect.objectContaining({ code: 'STORAGE_NOT_WIRED' }));
    expect(w.rekor).toBeUndefined();
    await w.close();
  });
});

describe('createLiveWiring', () => {
  it('keeps the last good wiring when an update fails to build, swaps and closes the old one otherwise', async () => {
    const closed: string[] = [];
    const build: WiringFactory = async (config) => {
      if (config.storage.local.path === '/bad') throw Object.assign(new Error('bad'), {});
      return { config, rekor: undefined, signer: () => createEphemeralSigner(), storage: () => { throw new Error('unused'); }, close: async () => void closed.push(config.storage.local.path) } satisfies ClosableWiring;
    };
    const validity: boolean[] = [];
    const rejected: string[] = [];
    let applied = 0;
    const live = await createLiveWiring(
      { 'storage.local.path': '/one' },
      { build, logger: createSilentLogger(), onValidity: (v) => void validity.push(v), onRejected: async (s) => void rejected.push(s.code), onApplied: async () => void applied++ },
    );
    await live.apply({ 'storage.local.path': '/bad' });
    expect(live.current().config.storage.local.path).toBe('/one');
    expect(rejected).toEqual(['CONFIG_INVALID']);
    await live.apply({ 'storage.local.path': '/two' });
    expect(live.current().config.storage.local.path).toBe('/two');
    expect(closed).toEqual(['/one']);
    expect(validity).toEqual([true, false, true]);
    expect(applied).toBe(1);
  });
});
