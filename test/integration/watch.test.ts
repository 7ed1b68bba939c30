import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { createFakeKubeServer, type FakeKubeServer, type KubeObject } from '../support/fake-kube.js';
import { createRunWatcher, type RunWatcher, type RunWatcherOptions } from '../../src/watch/index.js';
import { loadKubeConfig } from '../../src/tekton/kube-client.js';
import { createSilentLogger } from '../../src/observability/logger.js';
import type { RunKey } from '../../src/tekton/run-key.js';

type Phase = 'True' | 'False' | 'Unknown';

function runObj(kind: 'TaskRun' | 'PipelineRun', name: string, ns: string, phase: Phase | undefined, metadata: Record<string, unknown> = {}, version = 'v1'): KubeObject {
  const obj: KubeObject = { apiVersion: `tekton.dev/${version}`, kind, metadata: { name, namespace: ns, ...metadata }, spec: {} };
  if (phase !== undefined) obj['status'] = { conditions: [{ type: 'Succeeded', status: phase }] };
  return obj;
}

const fast = { initialMs: 5, maxMs: 50, jitter: 0 };

describe('run watcher', () => {
  let server: FakeKubeServer;
  let watcher: RunWatcher | undefined;
  let keys: RunKey[];

  const names = (): string[] => keys.map((k) => `${k.kind}/${k.namespace}/${k.name}`);
  const start = async (opts: Partial<RunWatcherOptions> = {}, s: FakeKubeServer = server): Promise<RunWatcher> => {
    watcher = createRunWatcher({
      kubeConfig: loadKubeConfig({ kubeconfigYaml: s.kubeconfigYaml }),
      onKey: (k) => void keys.push(k),
      logger: createSilentLogger(),
      backoff: fast,
      pageSize: 2,
      ...opts,
    });
    await watcher.start();
    return watcher;
  };
  const tr = (ref: { name: string; ns: string }) => ({ apiVersion: 'tekton.dev/v1', kind: 'TaskRun', namespace: ref.ns, name: ref.name });

  beforeEach(async () => {
    server = await createFakeKubeServer({ bookmarkIntervalMs: 50 });
    keys = [];
  });
  afterEach(async () => {
    await watcher?.stop();
    watcher = undefined;
    await server.stop();
  });

  it('initial paginated list enqueues done+unsigned runs only', async () => {
    server.create(runObj('TaskRun', 'done-1', 'a', 'True'));
    server.create(runObj('TaskRun', 'done-2', 'b', 'False'));
    server.create(runObj('TaskRun', 'done-3', 'b', 'True'));
    server.create(runObj('TaskRun', 'running', 'a', 'Unknown'));
    server.create(runObj('TaskRun', 'signed', 'a', 'True', { annotations: { 'chains.tekton.dev/signed': 'true' } }));
    server.create(runObj('TaskRun', 'gave-up', 'a', 'True', { annotations: { 'chains.tekton.dev/signed': 'failed' } }));
    server.create(runObj('TaskRun', 'deleting', 'a', 'True', { finalizers: ['x/y'] }));
    server.delete({ apiVersion: 'tekton.dev/v1', kind: 'TaskRun', namespace: 'a', name: 'deleting' });
    server.create(runObj('PipelineRun', 'pr-done', 'a', 'True'));
    const w = await start();
    expect(w.ready).toBe(true);
    expect(names().sort()).toEqual(['PipelineRun/a/pr-done', 'TaskRun/a/done-1', 'TaskRun/b/done-2', 'TaskRun/b/done-3']);
    expect(keys.every((k) => typeof k.uid === 'string' && k.uid.length > 0)).toBe(true);
    const lists = server.requestLog.filter((r) => r.path === '/apis/tekton.dev/v1/taskruns' && r.query['watch'] === undefined);
    expect(lists.length).toBe(4); // 7 TaskRuns (one deleting, kept by its finalizer) in pages of 2
    expect(lists.every((r) => r.query['limit'] === '2')).toBe(true);
    const watches = server.requestLog.filter((r) => r.query['watch'] === 'true');
    expect(watches.every((r) => r.query['allowWatchBookmarks'] === 'true')).toBe(true);
  });

  it('a run completed while the list still streams is seen through the watch before the list ends', async () => {
    for (let i = 0; i < 6; i += 1) server.create(runObj('TaskRun', `old-${i}`, 'a', 'True'));
    // The list's consumer blocks on its third item until the fresh run's key arrives: the watch
    // must already be running from the first page's resourceVersion, or this never finishes.
    let freshSeen!: () => void;
    const fresh = new Promise<void>((resolve) => (freshSeen = resolve));
    let listed = 0;
    let createdFresh = false;
    const onKey = async (k: RunKey): Promise<void> => {
      keys.push(k);
      if (k.name === 'fresh') return freshSeen();
      listed += 1;
      if (listed === 3) {
        if (!createdFresh) {
          createdFresh = true;
          server.create(runObj('TaskRun', 'fresh', 'a', 'True'));
        }
        await fresh;
      }
    };
    const w = await start({ onKey, namespaces: ['a'] });
    expect(w.ready).toBe(true);
    const order = names();
    expect(order.indexOf('TaskRun/a/fresh')).toBeGreaterThanOrEqual(0);
    expect(order.indexOf('TaskRun/a/fresh')).toBeLessThan(order.indexOf('TaskRun/a/old-5'));
    expect(new Set(order).size).toBe(7);
  });

  it('new events enqueue: completion, copied annotations; not running or signed', async () => {
    await start();
    const running = server.create(runObj('TaskRun', 'r1', 'a', 'Unknown'));
    server.create(runObj('TaskRun', 'signed', 'a', 'True', { annotations: { 'chains.tekton.dev/signed': 'true' } }));
    server.patch(tr({ name: 'r1', ns: 'a' }), { status: { conditions: [{ type: 'Succeeded', status: 'True' }] } });
    server.create(runObj('TaskRun', 'rerun', 'a', 'True', { annotations: { 'chains.tekton.dev/signed': 'true', 'chains.tekton.dev/signed-uid': 'someone-else' } }));
    // A barrier instead of a sleep: events of one stream arrive in order, so once the sentinel is
    // seen every earlier event (the running and the signed run) has been judged.
    server.create(runObj('TaskRun', 'sentinel', 'a', 'True'));
    await expect.poll(() => names(), { timeout: 10_000 }).toContain('TaskRun/a/sentinel');
    expect(names()).toEqual(['TaskRun/a/r1', 'TaskRun/a/rerun', 'TaskRun/a/sentinel']);
    expect(keys[0]?.uid).toBe((running.metadata as { uid: string }).uid);
  });

  it('watch dropped → resumes from the last resourceVersion without missing or relisting', async () => {
    await start();
    server.create(runObj('TaskRun', 'before-drop', 'a', 'True'));
    await waitFor(() => names().includes('TaskRun/a/before-drop'));
    const listsBefore = server.requestLog.filter((r) => r.query['watch'] === undefined && r.path.includes('/taskruns')).length;
    server.dropWatches();
    server.create(runObj('TaskRun', 'during-drop', 'a', 'True'));
    await waitFor(() => names().includes('TaskRun/a/during-drop'));
    const listsAfter = server.requestLog.filter((r) => r.query['watch'] === undefined && r.path.includes('/taskruns')).length;
    expect(listsAfter).toBe(listsBefore);
    const resumed = server.requestLog.filter((r) => r.query['watch'] === 'true' && r.path.endsWith('/taskruns')).at(-1);
    expect(Number(resumed?.query['resourceVersion'])).toBeGreaterThan(1);
    expect(names().filter((n) => n === 'TaskRun/a/before-drop')).toHaveLength(1);
  });

  it('forced 410 → relists and misses nothing', async () => {
    await start();
    server.dropWatches();
    // While no watch is open, runs finish and history is compacted: resuming must fail with 410.
    server.create(runObj('TaskRun', 'missed-1', 'a', 'True'));
    server.create(runObj('PipelineRun', 'missed-2', 'b', 'True'));
    server.compact();
    await waitFor(() => names().includes('TaskRun/a/missed-1') && names().includes('PipelineRun/b/missed-2'));
    const relists = server.requestLog.filter((r) => r.query['watch'] === undefined && r.path === '/apis/tekton.dev/v1/taskruns');
    expect(relists.length).toBeGreaterThanOrEqual(2);
  });

  it('watch errors (5xx) are retried with backoff; a 403 at start rejects with KUBE_FORBIDDEN', async () => {
    server.injectFault({ pathIncludes: '/taskruns', watch: false, status: 503, times: 2 });
    await start();
    server.injectFault({ pathIncludes: '/taskruns', watch: true, status: 500, times: 2 });
    server.dropWatches();
    server.create(runObj('TaskRun', 'after-errors', 'a', 'True'));
    await waitFor(() => names().includes('TaskRun/a/after-errors'));
    await watcher?.stop();
    server.injectFault({ pathIncludes: '/pipelineruns', watch: false, status: 403, times: 100 });
    const w2 = createRunWatcher({ kubeConfig: loadKubeConfig({ kubeconfigYaml: server.kubeconfigYaml }), onKey: () => undefined, logger: createSilentLogger(), backoff: fast });
    await expect(w2.start()).rejects.toMatchObject({ code: 'KUBE_FORBIDDEN', kind: 'config' });
    expect(w2.ready).toBe(false);
  });

  it('child TaskRun completion enqueues its parent PipelineRun', async () => {
    const pr = server.create(runObj('PipelineRun', 'pipe', 'a', 'Unknown'));
    const prUid = (pr.metadata as { uid: string }).uid;
    await start();
    server.create(
      runObj('TaskRun', 'pipe-build', 'a', 'Unknown', {
        labels: { 'tekton.dev/pipelineRun': 'pipe' },
        ownerReferences: [{ apiVersion: 'tekton.dev/v1', kind: 'PipelineRun', name: 'pipe', uid: prUid, controller: true }],
      }),
    );
    server.patch(tr({ name: 'pipe-build', ns: 'a' }), { status: { conditions: [{ type: 'Succeeded', status: 'True' }] } });
    await waitFor(() => keys.some((k) => k.kind === 'PipelineRun'));
    expect(keys).toContainEqual({ kind: 'PipelineRun', namespace: 'a', name: 'pipe', uid: prUid });
    expect(names()).toContain('TaskRun/a/pipe-build');
  });

  it('namespace scope: one stream per namespace, others ignored', async () => {
    server.create(runObj('TaskRun', 'in', 'a', 'True'));
    server.create(runObj('TaskRun', 'out', 'z', 'True'));
    await start({ namespaces: ['a', 'b'] });
    server.create(runObj('TaskRun', 'in-b', 'b', 'True'));
    server.create(runObj('TaskRun', 'out-2', 'z', 'True'));
    // Barrier: the sentinel arrives after every earlier event of b's stream; z has no stream at all.
    server.create(runObj('TaskRun', 'sentinel', 'b', 'True'));
    await expect.poll(() => names(), { timeout: 10_000 }).toContain('TaskRun/b/sentinel');
    expect(names().sort()).toEqual(['TaskRun/a/in', 'TaskRun/b/in-b', 'TaskRun/b/sentinel']);
    expect(server.requestLog.some((r) => r.path === '/apis/tekton.dev/v1/taskruns')).toBe(false);
    expect(server.requestLog.some((r) => r.path === '/apis/tekton.dev/v1/namespaces/b/pipelineruns')).toBe(true);
  });

  it('falls back to v1beta1 when v1 is not served', async () => {
    const old = await createFakeKubeServer({ tektonVersions: ['v1beta1'], bookmarkIntervalMs: 50 });
    try {
      old.create(runObj('TaskRun', 'legacy', 'a', 'True', {}, 'v1beta1'));
      await start({}, old);
      old.create(runObj('PipelineRun', 'legacy-pr', 'a', 'False', {}, 'v1beta1'));
      await waitFor(() => names().includes('PipelineRun/a/legacy-pr'));
      expect(names()).toContain('TaskRun/a/legacy');
      expect(old.requestLog.some((r) => r.path.startsWith('/apis/tekton.dev/v1beta1/'))).toBe(true);
    } finally {
      await watcher?.stop();
      watcher = undefined;
      await old.stop();
    }
  });

  it('a failing onKey during a watch forces a relist, so the key comes back', async () => {
    let fail = true;
    await start({
      onKey: (k) => {
        if (fail && k.name === 'flaky') {
          fail = false;
          return Promise.reject(new Error('queue down'));
        }
        keys.push(k);
        return undefined;
      },
    });
    server.create(runObj('TaskRun', 'flaky', 'a', 'True'));
    await expect.poll(() => names(), { timeout: 10_000 }).toContain('TaskRun/a/flaky');
    expect(fail).toBe(false);
  });

  it('stop() closes every watch', async () => {
    const w = await start();
    await waitFor(() => server.openWatches === 2);
    await w.stop();
    await waitFor(() => server.openWatches === 0);
    expect(w.ready).toBe(false);
  });
});

async function waitFor(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
