/**
 * Fault: the controller SIGKILLed at random points of a backlog, several times, and restarted
 * (child processes sharing Redis). Nothing is lost, nothing is signed twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectCleanRecovery,
  createBacklog,
  reconciledCount,
  scale,
  scenarioTimeoutMs,
  signedCount,
  sleep,
  spawnChildController,
  startFaultEnvironment,
  waitUntil,
  type ChildController,
  type FaultEnvironment,
} from './support/fault-harness.js';
import { seededRandom } from './support/random.js';

let env: FaultEnvironment;

beforeAll(async () => {
  env = await startFaultEnvironment({ redis: true });
}, 60_000);

afterAll(async () => {
  await env?.stop();
});

describe('fault: controller SIGKILLed and restarted', () => {
  it('signs the whole backlog exactly once across repeated SIGKILLs', async () => {
    const { random, seed } = seededRandom();
    const kills = Math.max(3, Math.round(3 * scale));
    const refs = createBacklog(env.kube, 'kill');
    const rekorBefore = env.sigstore.rekorEntryCount();
    const lines: string[] = [];
    const started = Date.now();
    const children: ChildController[] = [];
    let lastKillAt = started;
    let killed = 0;
    try {
      for (let k = 0; k < kills; k++) {
        const c = spawnChildController(env, 'faults-kill', lines);
        children.push(c);
        // A random point once this process is signing (its worker takes jobs while the first list
        // is still running): 0–800 ms after its first signed run, so jobs are in flight.
        const before = signedCount(env.kube, refs);
        await waitUntil(() => signedCount(env.kube, refs) > before || reconciledCount(env.kube, refs) === refs.length, 60_000, `progress before kill ${k + 1}`, 10);
        await sleep(800 * random());
        if (reconciledCount(env.kube, refs) === refs.length) break;
        c.child.kill('SIGKILL');
        await c.exited;
        killed++;
        lastKillAt = Date.now();
      }
      expect(killed).toBeGreaterThanOrEqual(Math.min(3, kills));
      const last = spawnChildController(env, 'faults-kill', lines);
      children.push(last);
      await last.ready;
      await waitUntil(() => reconciledCount(env.kube, refs) === refs.length, scenarioTimeoutMs, `all runs reconciled (seed ${seed})`);
      const recoverSeconds = (Date.now() - lastKillAt) / 1000;
      // At least one kill landed mid-job: a later worker found the job's lock expired and resumed it.
      const stalled = lines.filter((l) => l.includes('job stalled')).length;
      expect(stalled).toBeGreaterThan(0);
      expect(lines.length).toBeGreaterThan(refs.length);
      await expectCleanRecovery(env, refs, {
        rekorBefore,
        lines,
        scenario: `controller SIGKILLed ${killed}× at random points (${stalled} jobs resumed after their worker died), restarted`,
        recoverSeconds,
        started,
      });
    } finally {
      for (const c of children) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
      await Promise.all(children.map((c) => c.exited));
    }
  }, scenarioTimeoutMs + 60_000);
});
