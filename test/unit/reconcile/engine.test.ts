import { describe, it, expect } from 'vitest';
import type { Signer, Witness } from '@sigstore/sign';
import { ProvenantError } from '../../../src/errors.js';
import { createSilentLogger } from '../../../src/observability/index.js';
import { createMemoryCheckpoints, processArtifacts, StepError, type PlannedArtifact } from '../../../src/reconcile/index.js';
import { createEphemeralSigner } from '../../../src/signing/index.js';
import type { StorageBackend, StoreRequest } from '../../../src/storage/index.js';

const run = { kind: 'TaskRun' as const, namespace: 'ns', name: 'r', uid: 'u' };

function artifact(checkpointKey: string, storage: PlannedArtifact['storage']): PlannedArtifact {
  return {
    type: checkpointKey === 'provenance' ? 'provenance' : 'image-signature',
    shortKey: checkpointKey,
    checkpointKey,
    section: checkpointKey === 'provenance' ? 'taskrun' : 'oci',
    signer: 'x509',
    storage,
    payload: new TextEncoder().encode(`{"_type":"https://in-toto.io/Statement/v0.1","subject":[],"id":"${checkpointKey}"}`),
    subjects: [],
  };
}

describe('per-artifact engine', () => {
  it('sign once, log once, store once across attempts sharing one checkpoint store', async () => {
    const inner = createEphemeralSigner();
    let signs = 0;
    const signer: Signer = { sign: (d) => ((signs += 1), inner.sign(d)) };
    let logged = 0;
    const witness: Witness = { testify: async () => ((logged += 1), { tlogEntries: [] }) };
    const stored: Record<string, StoreRequest[]> = { local: [], tekton: [] };
    let tektonFailures = 1;
    const backend = (name: string): StorageBackend => ({
      name,
      store: async (req) => {
        if (name === 'tekton' && tektonFailures-- > 0) throw new ProvenantError('transient', 'KUBE_UNAVAILABLE', 'down');
        stored[name]?.push(req);
        return { backend: name, locations: [] };
      },
    });
    const plan = [artifact('provenance', ['local', 'tekton']), artifact('image:a', ['local'])];
    const checkpoints = createMemoryCheckpoints();
    const deps = { run, signer: () => signer, witnesses: [witness], storage: (n: string) => backend(n), checkpoints, logger: createSilentLogger() };
    const err = await processArtifacts(plan, deps).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepError);
    expect((err as StepError).step).toBe('storage');
    expect((err as StepError).inner).toMatchObject({ code: 'KUBE_UNAVAILABLE' });
    const results = await processArtifacts(plan, deps);
    expect(signs).toBe(2);
    expect(logged).toBe(2);
    expect(stored['local']?.map((r) => r.artifact.shortKey).sort()).toEqual(['image:a', 'provenance']);
    expect(stored['tekton']?.map((r) => r.artifact.shortKey)).toEqual(['provenance']);
    expect(results.artifacts.map((r) => r.artifact.checkpointKey)).toEqual(['provenance', 'image:a']);
    expect(Object.keys(checkpoints.current().bundles ?? {}).sort()).toEqual(['image:a', 'provenance']);
    expect(checkpoints.current().stored).toEqual({ provenance: ['local', 'tekton'], 'image:a': ['local'] });
  });

  it('one checkpoint save per step for the whole run; concurrent stores only where the backend allows them', async () => {
    const signer = createEphemeralSigner();
    const witness: Witness = { testify: async () => ({ tlogEntries: [] }) };
    const saves: string[] = [];
    const inner = createMemoryCheckpoints();
    const checkpoints = {
      current: () => inner.current(),
      save: async (patch: Parameters<typeof inner.save>[0]) => {
        saves.push(Object.keys(patch).join(','));
        await inner.save(patch);
      },
    };
    const inFlight: Record<string, number> = {};
    const peak: Record<string, number> = {};
    const seen: Record<string, string[]> = {};
    const backend = (name: string): StorageBackend => ({
      name,
      concurrentArtifacts: name === 'oci',
      store: async (req) => {
        inFlight[name] = (inFlight[name] ?? 0) + 1;
        peak[name] = Math.max(peak[name] ?? 0, inFlight[name]);
        await new Promise((r) => setTimeout(r, 5));
        inFlight[name] -= 1;
        (seen[name] ??= []).push(req.artifact.shortKey);
        // `tekton` with deferPatch: annotations for the caller's patch; each store sees the earlier ones.
        if (name === 'tekton') return { backend: name, locations: [], annotations: { [`a/${req.artifact.shortKey}`]: String(Object.keys(req.runAnnotations ?? {}).length) } };
        return { backend: name, locations: [] };
      },
    });
    const plan = [artifact('provenance', ['tekton', 'oci']), artifact('image:a', ['tekton', 'oci']), artifact('image:b', ['tekton', 'oci']), artifact('image:c', ['tekton', 'oci'])];
    const result = await processArtifacts(plan, { run, signer: () => signer, witnesses: [witness], storage: (n: string) => backend(n), checkpoints, logger: createSilentLogger() });
    // signed (4 bundles), then logged (4 bundles) with stored (oci, 4 artifacts): two saves, not 4 + 4 + 4.
    expect(saves).toEqual(['bundles', 'bundles,stored']);
    expect(peak['oci']).toBe(4);
    expect(peak['tekton']).toBe(1);
    expect(seen['tekton']).toEqual(['provenance', 'image:a', 'image:b', 'image:c']);
    expect(result.annotations).toEqual({ 'a/provenance': '0', 'a/image:a': '1', 'a/image:b': '2', 'a/image:c': '3' });
    expect(inner.current().stored).toEqual({ provenance: ['oci'], 'image:a': ['oci'], 'image:b': ['oci'], 'image:c': ['oci'] });

    // `tekton` alone (annotations for the final patch, nothing to checkpoint): the signatures' save only.
    saves.length = 0;
    const tektonOnly = plan.map((a) => ({ ...a, checkpointKey: `t-${a.checkpointKey}`, storage: ['tekton'] as PlannedArtifact['storage'] }));
    await processArtifacts(tektonOnly, { run, signer: () => signer, witnesses: [witness], storage: (n: string) => backend(n), checkpoints, logger: createSilentLogger() });
    expect(saves).toEqual(['bundles']);
  });

  it('a failure of one artifact keeps the others\' signatures, log entries and stores checkpointed', async () => {
    const signer = createEphemeralSigner();
    let logged = 0;
    let failLog = true;
    const witness: Witness = {
      testify: async (content) => {
        if (failLog && content.$case === 'dsseEnvelope') {
          failLog = false;
          throw new ProvenantError('transient', 'REKOR_UNAVAILABLE', 'down');
        }
        logged += 1;
        return { tlogEntries: [] };
      },
    };
    const stores: string[] = [];
    let failStore = true;
    const backend = (name: string): StorageBackend => ({
      name,
      concurrentArtifacts: true,
      store: async (req) => {
        if (failStore && req.artifact.shortKey === 'image:b') {
          failStore = false;
          throw new ProvenantError('transient', 'OCI_UNAVAILABLE', 'down');
        }
        stores.push(req.artifact.shortKey);
        return { backend: name, locations: [] };
      },
    });
    const plan = [artifact('provenance', ['oci']), artifact('image:a', ['oci']), artifact('image:b', ['oci'])];
    const checkpoints = createMemoryCheckpoints();
    const deps = { run, signer: () => signer, witnesses: [witness], storage: (n: string) => backend(n), checkpoints, logger: createSilentLogger() };
    const first = await processArtifacts(plan, deps).catch((e: unknown) => e);
    expect((first as StepError).step).toBe('tlog');
    expect(logged).toBe(2);
    expect(Object.keys(checkpoints.current().bundles ?? {}).sort()).toEqual(['image:a', 'image:b', 'provenance']);
    const second = await processArtifacts(plan, deps).catch((e: unknown) => e);
    expect((second as StepError).step).toBe('storage');
    // Only the provenance was logged again (the images' entries were checkpointed).
    expect(logged).toBe(3);
    expect(checkpoints.current().stored).toEqual({ provenance: ['oci'], 'image:a': ['oci'] });
    await processArtifacts(plan, deps);
    expect(stores.sort()).toEqual(['image:a', 'image:b', 'provenance']);
  });
});
