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
});
