/**
 * Fault: Redis killed (SIGKILL) mid-backlog and restarted empty on the same port. The queue is only
 * a buffer: every finished, unsigned run must still be signed, once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForPort } from '../support/services.js';
import {
  expectCleanRecovery,
  createBacklog,
  reconciledCount,
  scenarioTimeoutMs,
  signedCount,
  sleep,
  startFaultController,
  startFaultEnvironment,
  waitUntil,
  type FaultEnvironment,
} from './support/fault-harness.js';

let env: FaultEnvironment;
let restarted: ChildProcess | undefined;

beforeAll(async () => {
  env = await startFaultEnvironment({ redis: true });
}, 60_000);

afterAll(async () => {
  if (restarted && restarted.exitCode === null) {
    const exited = new Promise((r) => restarted?.once('exit', r));
    restarted.kill('SIGKILL');
    await exited;
  }
  await env?.stop();
});

async function killRedis(process: ChildProcess): Promise<void> {
  if (process.exitCode !== null || process.signalCode !== null) return;
  const exited = new Promise((r) => process.once('exit', r));
  process.kill('SIGKILL');
  await exited;
}

function startRedisOn(port: number): ChildProcess {
  return spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
}

describe('fault: Redis killed and restarted empty mid-backlog', () => {
  it('signs every run exactly once after the queue lost its jobs', async () => {
    const redis = env.redis;
    if (redis === undefined) throw new Error('no redis');
    const refs = createBacklog(env.kube, 'redis');
    const rekorBefore = env.sigstore.rekorEntryCount();
    const started = Date.now();
    const c = await startFaultController(env, { queueName: 'faults-redis' });
    let recoverSeconds: number;
    try {
      await waitUntil(() => signedCount(env.kube, refs) >= Math.floor(refs.length * 0.25), 60_000, 'a quarter of the backlog signed', 10);
      await killRedis(redis.process);
      const signedAtKill = signedCount(env.kube, refs);
      await sleep(2000);
      restarted = startRedisOn(redis.port);
      await waitForPort(redis.port);
      const back = Date.now();
      await waitUntil(() => reconciledCount(env.kube, refs) === refs.length, scenarioTimeoutMs, 'all runs reconciled after the Redis restart');
      recoverSeconds = (Date.now() - back) / 1000;
      expect(signedAtKill).toBeLessThan(refs.length);
      await expectCleanRecovery(env, refs, { rekorBefore, lines: c.lines, scenario: 'Redis SIGKILLed at 25 %, restarted empty 2 s later', recoverSeconds: recoverSeconds, started });
    } finally {
      await c.stop();
    }
  }, scenarioTimeoutMs + 60_000);
});
