/**
 * Faults on the Kubernetes API side: the run watch dropped every second while runs keep arriving,
 * with a forced 410 Gone (compaction) in the middle; and annotation patches answered 409 (conflict)
 * and 429 (throttling).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectCleanRecovery,
  backlogTaskRuns,
  createBacklog,
  reconciledCount,
  scenarioTimeoutMs,
  signedCount,
  sleep,
  startFaultController,
  startFaultEnvironment,
  waitUntil,
  type FaultEnvironment,
  type RunRef,
} from './support/fault-harness.js';

let env: FaultEnvironment;

beforeAll(async () => {
  env = await startFaultEnvironment();
}, 60_000);

afterAll(async () => {
  await env?.stop();
});

describe('fault: Kubernetes API', () => {
  it('misses no run when the watch drops every second and a 410 Gone forces a relist', async () => {
    const refs: RunRef[] = createBacklog(env.kube, 'watch-a', { taskRuns: Math.round(backlogTaskRuns / 2) });
    const rekorBefore = env.sigstore.rekorEntryCount();
    const started = Date.now();
    const c = await startFaultController(env);
    let drops = 0;
    let gone = 0;
    let lastFaultAt = Date.now();
    try {
      // The other half arrives in batches while the watch keeps being cut.
      const batches = 10;
      const perBatch = Math.ceil(backlogTaskRuns / 2 / batches);
      for (let b = 0; b < batches; b++) {
        refs.push(...createBacklog(env.kube, `watch-b${b}`, { taskRuns: perBatch }));
        await sleep(250);
        if (b % 4 === 1) {
          env.kube.dropWatches();
          drops++;
        }
        if (b === batches / 2) {
          // Forget history and cut the stream: resuming from the last resourceVersion answers 410.
          env.kube.compact();
          env.kube.dropWatches();
          gone++;
        }
        lastFaultAt = Date.now();
      }
      await waitUntil(() => reconciledCount(env.kube, refs) === refs.length, scenarioTimeoutMs, 'all runs reconciled');
      const recoverSeconds = (Date.now() - lastFaultAt) / 1000;
      // The 410 made the watcher list again (a plain drop resumes from its resourceVersion instead).
      const lists = env.kube.requestLog.filter((r) => r.method === 'GET' && r.path.endsWith('/taskruns') && r.query['watch'] === undefined);
      expect(lists.length).toBeGreaterThanOrEqual(2);
      await expectCleanRecovery(env, refs, { rekorBefore, lines: c.lines, scenario: `watch dropped ${drops + gone}× while runs arrive, one 410 Gone`, recoverSeconds: recoverSeconds, started });
    } finally {
      await c.stop();
    }
  }, scenarioTimeoutMs + 60_000);

  it('signs every run once when annotation patches answer 409 (conflict) and 429 (throttling)', async () => {
    const refs = createBacklog(env.kube, 'patch');
    const rekorBefore = env.sigstore.rekorEntryCount();
    const started = Date.now();
    const c = await startFaultController(env);
    const faults = Math.round(refs.length / 4);
    try {
      await waitUntil(() => signedCount(env.kube, refs) >= 10, 60_000, 'first runs signed', 10);
      env.kube.injectFault({ method: 'PATCH', pathIncludes: 'runs/', status: 409, times: faults });
      env.kube.injectFault({ method: 'PATCH', pathIncludes: 'runs/', status: 429, times: faults });
      const injectedAt = Date.now();
      await waitUntil(() => reconciledCount(env.kube, refs) === refs.length, scenarioTimeoutMs, 'all runs reconciled');
      const faulted = env.kube.requestLog.filter((r) => r.method === 'PATCH' && (r.status === 409 || r.status === 429));
      expect(faulted.filter((r) => r.status === 409)).toHaveLength(faults);
      expect(faulted.filter((r) => r.status === 429)).toHaveLength(faults);
      await expectCleanRecovery(env, refs, { rekorBefore, lines: c.lines, scenario: `annotation patches: ${faults}× 409 conflict, then ${faults}× 429 throttled`, recoverSeconds: (Date.now() - injectedAt) / 1000, started });
    } finally {
      await c.stop();
    }
  }, scenarioTimeoutMs + 60_000);
});
