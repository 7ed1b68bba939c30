// The controller's witnesses: Rekor per resolveTransparency (transparency.enabled, manual + annotation),
// the TSA for every run when signers.x509.tsa.url is set.
import type { SignatureBundle, VerificationMaterial, Witness } from '@sigstore/sign';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { createCapturingLogger } from '../../../src/observability/index.js';
import { mergeCheckpoints, type Checkpoints, type RunJobData } from '../../../src/queue/index.js';
import { reconcileRun, type Wiring } from '../../../src/reconcile/index.js';
import { createEphemeralSigner } from '../../../src/signing/index.js';
import type { StoreRequest } from '../../../src/storage/index.js';
import type { RunKey } from '../../../src/tekton/index.js';

function recordingWitness(material: VerificationMaterial): Witness & { calls: number } {
  const w = {
    calls: 0,
    testify: async (_content: SignatureBundle, _key: string): Promise<VerificationMaterial> => {
      w.calls += 1;
      return material;
    },
  };
  return w;
}

async function reconcileOnce(data: Record<string, string>, annotations: Record<string, string>) {
  const uid = 'u-1';
  const run = {
    apiVersion: 'tekton.dev/v1',
    kind: 'TaskRun',
    metadata: { name: 'tr', namespace: 'ns', uid, annotations },
    spec: { taskRef: { name: 'build' } },
    status: { conditions: [{ type: 'Succeeded', status: 'True' }], startTime: '2026-01-01T00:00:00Z', completionTime: '2026-01-01T00:01:00Z' },
  };
  const key: RunKey = { kind: 'TaskRun', namespace: 'ns', name: 'tr', uid };
  const stored: StoreRequest[] = [];
  const rekor = recordingWitness({ tlogEntries: [] });
  const tsa = recordingWitness({ rfc3161Timestamps: [{ signedTimestamp: Buffer.from('token') }] });
  const signer = createEphemeralSigner();
  const config = parseConfig({ 'artifacts.taskrun.storage': 'local', ...data }).config;
  const wiring: Wiring = {
    config,
    rekor: config.transparency.mode === 'false' ? undefined : rekor,
    tsa: config.signers.x509.tsa.url === undefined ? undefined : tsa,
    signer: () => signer,
    storage: () => ({ name: 'local', store: async (r) => (stored.push(r), { backend: 'local', locations: [] }) }),
  };
  let job: RunJobData = { key, enqueuedAt: 0, checkpoints: {} };
  const ctx = {
    attempt: 1,
    get data() {
      return job;
    },
    checkpoint: async (patch: Checkpoints) => {
      job = { ...job, checkpoints: mergeCheckpoints(job.checkpoints, patch) };
    },
  };
  const runs = {
    get: async () => structuredClone(run),
    patchAnnotations: async () => undefined,
    emitEvent: async () => undefined,
  };
  const outcome = await reconcileRun(ctx, { runs, wiring: () => wiring, logger: createCapturingLogger().logger });
  return { outcome, rekor, tsa, stored };
}

describe('reconcileRun witnesses', () => {
  it('timestamps every signature when signers.x509.tsa.url is set, with logging off', async () => {
    const { outcome, rekor, tsa, stored } = await reconcileOnce({ 'signers.x509.tsa.url': 'http://tsa.local' }, {});
    expect(outcome.status).toBe('signed');
    expect(rekor.calls).toBe(0);
    expect(tsa.calls).toBe(1);
    expect(stored[0]?.bundle.verificationMaterial.timestampVerificationData?.rfc3161Timestamps).toHaveLength(1);
  });

  it('under manual: the TSA always, Rekor only for a run annotated transparency-upload', async () => {
    const data = { 'transparency.enabled': 'manual', 'signers.x509.tsa.url': 'http://tsa.local' };
    const plain = await reconcileOnce(data, {});
    expect([plain.rekor.calls, plain.tsa.calls]).toEqual([0, 1]);
    const annotated = await reconcileOnce(data, { 'chains.tekton.dev/transparency-upload': 'true' });
    expect([annotated.rekor.calls, annotated.tsa.calls]).toEqual([1, 1]);
  });

  it('no TSA configured: no timestamp', async () => {
    const { tsa, rekor } = await reconcileOnce({ 'transparency.enabled': 'true' }, {});
    expect([rekor.calls, tsa.calls]).toEqual([1, 0]);
  });
});
