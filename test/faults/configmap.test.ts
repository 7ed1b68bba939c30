/**
 * Fault: a broken chains-config pushed mid-backlog, then fixed. The controller keeps signing with
 * the last good configuration (config_valid 0, a Warning Event on the ConfigMap), applies the fix,
 * and no run is lost or signed twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectCleanRecovery,
  configNamespace,
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

beforeAll(async () => {
  env = await startFaultEnvironment();
}, 60_000);

afterAll(async () => {
  await env?.stop();
});

async function configValid(metrics: { registry: { getSingleMetricAsString(n: string): Promise<string> } }): Promise<number> {
  const text = await metrics.registry.getSingleMetricAsString('provenant_config_valid');
  return Number(/\s(\d+)\s*$/.exec(text.trim())?.[1] ?? NaN);
}

describe('fault: broken ConfigMap pushed mid-run, then fixed', () => {
  it('keeps signing with the last good configuration and applies the fix', async () => {
    const refs = createBacklog(env.kube, 'cm');
    const rekorBefore = env.sigstore.rekorEntryCount();
    const started = Date.now();
    const c = await startFaultController(env, { concurrency: 4 });
    try {
      await waitUntil(() => signedCount(env.kube, refs) >= Math.floor(refs.length * 0.2), 60_000, '20 % signed', 10);
      env.setConfig({ ...env.faultConfig, 'artifacts.taskrun.format': 'not-a-format', 'transparency.enabled': 'sometimes' });
      await waitUntil(async () => (await configValid(c.metrics)) === 0, 10_000, 'config_valid 0');
      const signedWhenBroken = signedCount(env.kube, refs);
      await sleep(1000);
      // Still signing, with the last good configuration.
      expect(c.controller.config().artifacts.taskrun.format).toBe('in-toto');
      const warning = env.kube
        .events()
        .find((e) => (e['involvedObject'] as { kind?: string; namespace?: string }).kind === 'ConfigMap' && e['reason'] === 'InvalidConfiguration');
      expect(warning?.['type']).toBe('Warning');
      expect((warning?.['involvedObject'] as { namespace?: string }).namespace).toBe(configNamespace);

      env.setConfig({ ...env.faultConfig, 'artifacts.taskrun.format': 'slsa/v2alpha4' });
      const fixedAt = Date.now();
      await waitUntil(async () => (await configValid(c.metrics)) === 1, 10_000, 'config_valid 1');
      await waitUntil(() => c.controller.config().artifacts.taskrun.format === 'slsa/v2alpha4', 10_000, 'fixed config applied');
      await waitUntil(() => reconciledCount(env.kube, refs) === refs.length, scenarioTimeoutMs, 'all runs reconciled');
      const recoverSeconds = (Date.now() - fixedAt) / 1000;
      expect(signedWhenBroken).toBeLessThan(refs.length);

      await expectCleanRecovery(env, refs, { rekorBefore, lines: c.lines, scenario: 'broken chains-config pushed at 20 %, fixed (new format) 1 s later', recoverSeconds: recoverSeconds, started });
    } finally {
      await c.stop();
      env.setConfig(env.faultConfig);
    }
  }, scenarioTimeoutMs + 60_000);
});
