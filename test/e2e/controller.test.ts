/**
 * The whole controller against the fake API server, Redis (BullMQ), a registry and the mock Rekor:
 * 200 TaskRuns + 20 PipelineRuns (2 children each) signed by two replicas sharing Redis, every bundle
 * verified from the registry and from the run annotations, one Rekor entry per artifact; then a
 * replica SIGKILLed mid-work: nothing lost, nothing signed twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createPipelineRun,
  pushImages,
  refOf,
  signedState,
  spawnControllerProcess,
  startE2eEnvironment,
  startInstance,
  taskRunObject,
  verifyRegistry,
  verifyTektonAnnotations,
  waitFor,
  type E2eEnvironment,
  type RunRef,
} from '../support/controller-harness.js';

let env: E2eEnvironment;

beforeAll(async () => {
  env = await startE2eEnvironment();
}, 60_000);

afterAll(async () => {
  await env?.stop();
});

async function counter(instances: { metrics: { registry: { getSingleMetricAsString(name: string): Promise<string> } } }[], name: string): Promise<number> {
  let sum = 0;
  for (const i of instances) {
    const text = await i.metrics.registry.getSingleMetricAsString(name);
    const m = /\s(\d+)\s*$/.exec(text.trim());
    sum += m ? Number(m[1]) : 0;
  }
  return sum;
}

describe('controller end to end (Redis, registry, Rekor)', () => {
  it('signs 200 TaskRuns and 20 PipelineRuns with two replicas; every bundle verifies; one Rekor entry per artifact', async () => {
    const images = await pushImages(env.registry, 'scale', 220);
    const refs: RunRef[] = [];
    for (let i = 0; i < 200; i++) refs.push(refOf(env.kube.create(taskRunObject(`scale-tr-${i}`, { image: images[i] as (typeof images)[number] }))));
    for (let i = 0; i < 20; i++) {
      const { pipelineRun, children } = createPipelineRun(env.kube, `scale-pr-${i}`, images[200 + i] as (typeof images)[number]);
      refs.push(refOf(pipelineRun), ...children.map(refOf));
    }
    const before = env.sigstore.rekorEntryCount();
    const a = await startInstance(env, { queueName: 'scale' });
    const b = await startInstance(env, { queueName: 'scale' });
    try {
      await waitFor(() => signedState(env.kube, refs).signed === refs.length, 150_000, 'all runs signed');
      expect(signedState(env.kube, refs)).toEqual({ signed: 260, failed: 0, pending: 0 });
      // 200 TaskRuns × (provenance + image) + 20 × (clone provenance + build provenance + image + PipelineRun provenance).
      const artifacts = 200 * 2 + 20 * 4;
      expect(env.sigstore.rekorEntryCount() - before).toBe(artifacts);
      const signedTotal = (await counter([a, b], 'watcher_taskrun_sign_created_total')) + (await counter([a, b], 'watcher_pipelinerun_sign_created_total'));
      expect(signedTotal).toBe(artifacts);
      // Both replicas worked.
      expect(await counter([a], 'watcher_taskrun_marked_signed_total')).toBeGreaterThan(0);
      expect(await counter([b], 'watcher_taskrun_marked_signed_total')).toBeGreaterThan(0);

      // tekton storage holds provenance (artifacts.oci.storage is oci only): one per run.
      expect(verifyTektonAnnotations(env, refs)).toBe(260);
      const stored = await verifyRegistry(env, images);
      // encoding-format both: per statement about an image one Sigstore bundle (referrer, tag
      // fallback) and one .att layer; per image signature one bundle and one .sig layer.
      expect(stored.envelopes).toBe(200 + 20 * 2);
      expect(stored.bundles).toBe(200 + 20 * 2 + 220);
      expect(stored.signatures).toBe(220);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  }, 200_000);

  it('a replica killed mid-work (SIGKILL) loses nothing and signs nothing twice', async () => {
    const images = await pushImages(env.registry, 'kill', 60);
    const refs: RunRef[] = [];
    const before = env.sigstore.rekorEntryCount();
    const first = spawnControllerProcess(env, { queueName: 'kill' });
    await first.ready;
    for (let i = 0; i < 60; i++) refs.push(refOf(env.kube.create(taskRunObject(`kill-tr-${i}`, { image: images[i] as (typeof images)[number] }))));
    await waitFor(() => signedState(env.kube, refs).signed >= 5, 60_000, 'some runs signed');
    first.child.kill('SIGKILL');
    const killedAt = signedState(env.kube, refs).signed;
    expect(killedAt).toBeLessThan(60);
    const survivor = await startInstance(env, { queueName: 'kill' });
    try {
      await waitFor(() => signedState(env.kube, refs).signed === refs.length, 90_000, 'all runs signed after the kill');
      // Exactly one Rekor entry per artifact (provenance + image per run): a re-signed artifact would add one.
      expect(env.sigstore.rekorEntryCount() - before).toBe(60 * 2);
      expect(verifyTektonAnnotations(env, refs)).toBe(60);
      const stored = await verifyRegistry(env, images);
      expect(stored.envelopes).toBe(60);
      expect(stored.signatures).toBe(60);
    } finally {
      await survivor.stop();
      if (first.child.exitCode === null && first.child.signalCode === null) first.child.kill('SIGKILL');
    }
  }, 150_000);
});
