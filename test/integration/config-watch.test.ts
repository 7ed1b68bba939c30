import { describe, it, expect, afterEach } from 'vitest';
import { createFakeKubeServer, type FakeKubeServer } from '../support/fake-kube.js';
import { createConfigWatcher, type ConfigData, type ConfigWatcher } from '../../src/watch/index.js';
import { loadKubeConfig } from '../../src/tekton/index.js';
import { createSilentLogger } from '../../src/observability/index.js';

const cm = (n: number) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { namespace: 'chains', name: 'chains-config' }, data: { edit: String(n) } });

describe('config watcher', () => {
  let server: FakeKubeServer | undefined;
  let watcher: ConfigWatcher | undefined;
  afterEach(async () => {
    await watcher?.stop();
    await server?.stop();
  });

  it('many rapid edits end on the last one, applied one at a time and never older after newer', async () => {
    server = await createFakeKubeServer();
    server.create(cm(0));
    const applied: number[] = [];
    let active = 0;
    let maxActive = 0;
    watcher = createConfigWatcher({
      kubeConfig: loadKubeConfig({ kubeconfigYaml: server.kubeconfigYaml }),
      namespace: 'chains',
      name: 'chains-config',
      initialData: { edit: '0' },
      logger: createSilentLogger(),
      backoff: { initialMs: 5, maxMs: 50 },
      apply: async (data: ConfigData) => {
        active += 1;
        maxActive = Math.max(maxActive, active);
        // A slow apply (building a wiring), so edits pile up behind it.
        await new Promise((resolve) => setImmediate(resolve));
        await new Promise((resolve) => setTimeout(resolve, 5));
        applied.push(Number(data['edit']));
        active -= 1;
      },
    });
    watcher.start();
    const last = 40;
    await expect.poll(() => server?.openWatches).toBeGreaterThan(0);
    for (let n = 1; n <= last; n++) server.update(cm(n));
    await expect.poll(() => applied.at(-1), { timeout: 10_000 }).toBe(last);
    await watcher.settled();
    expect(applied.at(-1)).toBe(last);
    expect(maxActive).toBe(1);
    // Strictly increasing: an older edit is never installed after a newer one.
    expect(applied).toEqual([...applied].sort((a, b) => a - b));
    expect(new Set(applied).size).toBe(applied.length);
    expect(watcher.uid).toBeDefined();
  });

  it('reconnects after the watch is dropped and picks up an edit made meanwhile', async () => {
    server = await createFakeKubeServer();
    server.create(cm(0));
    const applied: string[] = [];
    watcher = createConfigWatcher({
      kubeConfig: loadKubeConfig({ kubeconfigYaml: server.kubeconfigYaml }),
      namespace: 'chains',
      name: 'chains-config',
      initialData: { edit: '0' },
      logger: createSilentLogger(),
      backoff: { initialMs: 5, maxMs: 50 },
      apply: async (data) => void applied.push(data['edit'] ?? ''),
    });
    watcher.start();
    await expect.poll(() => server?.openWatches).toBeGreaterThan(0);
    server.injectFault({ pathIncludes: '/configmaps', watch: true, status: 500, times: 2 });
    server.dropWatches();
    server.update(cm(7));
    await expect.poll(() => applied, { timeout: 10_000 }).toEqual(['7']);
  });
});
