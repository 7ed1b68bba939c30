/**
 * Fault: the OCI registry (behind a fault proxy) answering 503 to everything for a while (5 s in
 * `npm test`, the full 20 s under `npm run faults:long`), then closing connections in the middle of
 * blob uploads, then fine. Every image ends with its attestation and signature stored once, every
 * run signed, one Rekor entry per artifact.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { createOciReader } from '../../src/storage/index.js';
import { createSilentLogger } from '../../src/observability/index.js';
import { pushImages, verifyRegistry } from '../support/controller-harness.js';
import {
  annotationsOf,
  auditRuns,
  backlogTaskRuns,
  createBacklog,
  leakedSecrets,
  longRun,
  reconciledCount,
  recordRow,
  runNamespace,
  scenarioTimeoutMs,
  signedCount,
  sleep,
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
  proxy = await startFaultProxy({ host: '127.0.0.1', port: env.registry.port });
}, 60_000);

afterAll(async () => {
  await proxy?.stop();
  await env?.stop();
});

async function rekorEntries(payload: Uint8Array): Promise<number> {
  const hash = `sha256:${createHash('sha256').update(payload).digest('hex')}`;
  const res = await fetch(`${env.sigstore.rekorUrl}/api/v1/index/retrieve`, { method: 'POST', body: JSON.stringify({ hash }) });
  return ((await res.json()) as string[]).length;
}

/**
 * `attempts: 8`: a retry horizon (≥ 63 × base) longer than the outage, so every run is signed.
 * `attempts: 5` (the controller's default): the horizon (≥ 7.5 × base = 0.75 × the outage) is
 * shorter than the outage, so runs caught at its start end `signed=failed` with OCI_UNAVAILABLE
 * and a Warning Event; still nothing is lost or signed twice. Recorded to show the default's limit.
 */
const variants: readonly { attempts: number; allSigned: boolean }[] = [
  { attempts: 8, allSigned: true },
  // 40 s more; the measurement is in docs/faults.md, so `npm test` leaves it to faults:long.
  ...(longRun || process.env['FAULTS_DEFAULT_ATTEMPTS'] === '1' ? [{ attempts: 5, allSigned: false }] : []),
];

describe.each(variants)('fault: registry 503 window, then connections cut mid-upload (attempts $attempts)', ({ attempts, allSigned }) => {
  it(allSigned ? 'stores every attestation and signature once and signs every run' : 'marks runs caught by the outage signed=failed with a reason and an Event, duplicates nothing', async () => {
    const windowMs = longRun ? 20_000 : 5_000;
    const prefix = `reg${attempts}`;
    // Images live behind the proxy, so every registry call of the controller goes through it.
    const images = await pushImages({ ...env.registry, host: proxy.host }, prefix, backlogTaskRuns);
    env.setConfig({
      ...env.faultConfig,
      'artifacts.taskrun.storage': 'tekton,local,oci',
      'artifacts.oci.signer': 'x509',
      'artifacts.oci.storage': 'oci',
    });
    const refs = createBacklog(env.kube, prefix, { images, pipelineRuns: false });
    const eventsBefore = env.kube.events().length;
    const rekorBefore = env.sigstore.rekorEntryCount();
    const started = Date.now();
    // The production retry horizon scaled to the outage: base 2 s for a 20 s outage (the default).
    const c = await startFaultController(env, { attempts, backoff: { baseMs: windowMs / 10, maxMs: 300_000 } });
    try {
      await waitUntil(() => signedCount(env.kube, refs) >= Math.floor(refs.length * 0.1), 60_000, '10 % signed', 10);
      proxy.setPolicy(() => ({ kind: 'status', status: 503 }));
      await sleep(windowMs);
      let uploads = 0;
      proxy.setPolicy((req) => {
        if (!req.hasBody || !req.path.includes('/blobs/uploads/')) return { kind: 'pass' };
        uploads += 1;
        return uploads % 3 === 0 ? { kind: 'reset-mid-body' } : { kind: 'pass' };
      });
      const resetsBefore = proxy.counts['reset-mid-body'];
      await waitUntil(() => proxy.counts['reset-mid-body'] - resetsBefore >= 30 || reconciledCount(env.kube, refs) === refs.length, 60_000, '30 uploads cut');
      proxy.setPolicy(() => ({ kind: 'pass' }));
      const resets = proxy.counts['reset-mid-body'] - resetsBefore;
      const faultEnd = Date.now();
      await waitUntil(() => reconciledCount(env.kube, refs) === refs.length, scenarioTimeoutMs, 'all runs reconciled');
      const recoverSeconds = (Date.now() - faultEnd) / 1000;
      expect(proxy.counts.status).toBeGreaterThan(0);
      expect(resets).toBeGreaterThan(0);

      const failedRuns = new Set(refs.filter((r) => annotationsOf(env.kube, r)['chains.tekton.dev/signed'] === 'failed').map((r) => r.name));
      const audit = await auditRuns(env, refs, { expectFailed: allSigned ? new Set() : failedRuns });
      expect(audit.problems).toEqual([]);
      if (allSigned) expect(audit.signed).toBe(refs.length);
      for (const name of failedRuns) {
        const a = annotationsOf(env.kube, { apiVersion: 'tekton.dev/v1', kind: 'TaskRun', namespace: runNamespace, name });
        expect(a['chains.tekton.dev/reason']).toBe('OCI_UNAVAILABLE');
        const events = env.kube.events().slice(eventsBefore).filter((e) => (e['involvedObject'] as { name?: string }).name === name);
        expect(events).toEqual([expect.objectContaining({ type: 'Warning', reason: 'SigningFailed' })]);
      }
      // Registry: per signed image one .att envelope, one .sig signature, two bundles; all verify with their Rekor entry.
      const signedImages = images.filter((_, i) => !failedRuns.has(`${prefix}-tr-${i}`));
      const stored = await verifyRegistry({ ...env, registry: { ...env.registry, host: proxy.host } }, signedImages);
      expect(stored).toEqual({ envelopes: signedImages.length, signatures: signedImages.length, bundles: 2 * signedImages.length });
      // One Rekor entry per image signature too (found by the simple-signing payload hash).
      const reader = createOciReader({ config: { repository: undefined, insecure: true }, logger: createSilentLogger() });
      let signatureDuplicates = 0;
      for (const image of signedImages) {
        const found = await reader.readAttestations(image.ref);
        for (const s of found.signatures) {
          const n = await rekorEntries(Buffer.from(s.payload));
          expect(n).toBe(1);
          signatureDuplicates += n - 1;
        }
      }
      expect(audit.duplicates + signatureDuplicates).toBe(0);
      // A failed run may have logged its signatures before storage gave up (they are checkpointed, not repeated).
      if (allSigned) expect(env.sigstore.rekorEntryCount() - rekorBefore).toBe(2 * refs.length);
      else expect(env.sigstore.rekorEntryCount() - rekorBefore).toBeLessThanOrEqual(2 * refs.length);
      expect(leakedSecrets(c.lines, env.secrets)).toEqual([]);
      await recordRow({
        scenario: `registry 503 for ${windowMs / 1000} s, then ${resets} uploads cut mid-body (attempts ${attempts})`,
        runs: refs.length,
        signed: audit.signed,
        failed: audit.failed,
        rekorEntries: audit.rekorEntries + signedImages.length,
        duplicates: audit.duplicates + signatureDuplicates,
        recoverSeconds,
        totalSeconds: (Date.now() - started) / 1000,
      });
    } finally {
      proxy.setPolicy(() => ({ kind: 'pass' }));
      await c.stop();
      env.setConfig(env.faultConfig);
    }
  }, scenarioTimeoutMs + 120_000);
});
