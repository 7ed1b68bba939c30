/**
 * Fault: Rekor (behind a fault proxy) answering 500 without logging, then logging the entry but
 * answering 500 (the answer is lost), then answering 409 for entries it already has. Every run ends
 * with exactly one Rekor entry: a retry re-uses the checkpointed signature, so it proposes the same
 * entry and gets the existing one back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectCleanRecovery,
  createBacklog,
  reconciledCount,
  scale,
  scenarioTimeoutMs,
  startFaultController,
  startFaultEnvironment,
  waitUntil,
  type FaultEnvironment,
} from './support/fault-harness.js';
import { startFaultProxy, type FaultProxy } from './support/fault-proxy.js';

let env: FaultEnvironment;
let proxy: FaultProxy;

beforeAll(async () => {
  env = await startFaultEnvironment();
  const rekor = new URL(env.sigstore.rekorUrl);
  proxy = await startFaultProxy({ host: rekor.hostname, port: Number(rekor.port) });
}, 60_000);

afterAll(async () => {
  await proxy?.stop();
  await env?.stop();
});

describe('fault: Rekor answering 500, then 409 for entries it already has', () => {
  it('logs every run exactly once', async () => {
    const phase = Math.round(16 * scale);
    let creates = 0;
    let lastFaultAt = Date.now();
    proxy.setPolicy((req) => {
      if (req.method !== 'POST' || req.path !== '/api/v1/log/entries') return { kind: 'pass' };
      const n = creates++;
      if (n < 3 * phase) lastFaultAt = Date.now();
      if (n < phase) return { kind: 'status', status: 500 };
      // Logged upstream, but the client sees a 500: its retry must propose the very same entry.
      if (n < 2 * phase) return { kind: 'forward-then-status', status: 500, onlyIf: 201 };
      // Logged upstream, answered "already exists" with the Location: the witness fetches it.
      if (n < 3 * phase) return { kind: 'forward-then-status', status: 409, onlyIf: 201 };
      return { kind: 'pass' };
    });
    env.setConfig({ ...env.faultConfig, 'transparency.url': proxy.url });
    const refs = createBacklog(env.kube, 'rekor');
    const rekorBefore = env.sigstore.rekorEntryCount();
    const started = Date.now();
    const c = await startFaultController(env);
    try {
      await waitUntil(() => reconciledCount(env.kube, refs) === refs.length, scenarioTimeoutMs, 'all runs reconciled');
      const recoverSeconds = (Date.now() - lastFaultAt) / 1000;
      expect(proxy.counts.status).toBe(phase);
      expect(proxy.counts['forward-then-status']).toBeGreaterThanOrEqual(2 * phase);
      await expectCleanRecovery(env, refs, { rekorBefore, lines: c.lines, scenario: `Rekor: ${phase}× 500, ${phase}× logged-then-500, ${phase}× logged-then-409`, recoverSeconds: recoverSeconds, started });
    } finally {
      await c.stop();
      env.setConfig(env.faultConfig);
    }
  }, scenarioTimeoutMs + 60_000);
});
