/**
 * The pieces the Redis-restart scenario relies on: the BullMQ queue notices that Redis lost its
 * jobs (restarted empty or flushed) and says so once per loss; the run watcher relists on request.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSilentLogger } from '../../src/observability/index.js';
import { createBullQueue } from '../../src/queue/index.js';
import { loadKubeConfig, type RunKey } from '../../src/tekton/index.js';
import { createFakeKubeServer, type FakeKubeServer } from '../support/fake-kube-server.js';
import { createRunWatcher } from '../../src/watch/index.js';
import { startRedis, type RedisHandle } from '../support/services.js';
import { taskRunObject } from '../support/controller-harness.js';
import { applyControllerIdentity, type ControllerIdentity } from '../support/manifest-rbac.js';
import { sleep, waitUntil } from './support/fault-harness.js';

let redis: RedisHandle;
let kube: FakeKubeServer;
/** The watcher runs as the manifests' ServiceAccount, with exactly its RBAC. */
let identity: ControllerIdentity;

beforeAll(async () => {
  [redis, kube] = await Promise.all([startRedis(), createFakeKubeServer({ bookmarkIntervalMs: 0 })]);
  kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'builds' } });
  identity = await applyControllerIdentity(kube);
}, 30_000);

afterAll(async () => {
  await Promise.allSettled([redis?.stop(), kube?.stop()]);
});

describe('queue reset detection', () => {
  it('tells onReset listeners once per flush, never while Redis keeps its data', async () => {
    const queue = await createBullQueue({ logger: createSilentLogger(), redisUrl: redis.url, queueName: 'reset', resetCheckMs: 50 });
    const other = await createBullQueue({ logger: createSilentLogger(), redisUrl: redis.url, queueName: 'reset', resetCheckMs: 50 });
    const admin = new Redis(redis.url);
    let resets = 0;
    let otherResets = 0;
    queue.onReset?.(() => resets++);
    other.onReset?.(() => otherResets++);
    try {
      await sleep(400);
      expect(resets).toBe(0);
      expect(otherResets).toBe(0);
      await admin.flushall();
      // Every replica sharing the queue hears it (a race between them may add one more relist).
      await waitUntil(() => resets >= 1 && otherResets >= 1, 5000, 'both queues told of the reset');
      await sleep(400);
      expect(resets).toBeLessThanOrEqual(2);
      expect(otherResets).toBeLessThanOrEqual(2);
      const settled = resets;
      await sleep(300);
      expect(resets).toBe(settled);
    } finally {
      admin.disconnect();
      await Promise.all([queue.close({ graceful: false }), other.close({ graceful: false })]);
    }
  });
});

describe('watcher relist', () => {
  it('re-delivers every run key on relist()', async () => {
    for (let i = 0; i < 5; i++) kube.create(taskRunObject(`relist-${i}`));
    const keys: RunKey[] = [];
    const watcher = createRunWatcher({
      kubeConfig: loadKubeConfig({ kubeconfigYaml: identity.kubeconfigYaml }),
      onKey: (k) => void keys.push(k),
      logger: createSilentLogger(),
      backoff: { initialMs: 5, maxMs: 50 },
    });
    await watcher.start();
    try {
      await waitUntil(() => keys.length === 5, 5000, 'first list');
      watcher.relist();
      await waitUntil(() => keys.length === 10, 5000, 'relist');
      expect(new Set(keys.map((k) => k.name)).size).toBe(5);
      // Still watching after the relist.
      kube.create(taskRunObject('relist-after'));
      await waitUntil(() => keys.some((k) => k.name === 'relist-after'), 5000, 'watch resumed');
    } finally {
      await watcher.stop();
    }
  });
});
