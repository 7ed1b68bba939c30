import { describe, it, expect } from 'vitest';
import type { Signer } from '@sigstore/sign';
import { parseConfig, type StorageName } from '../../../src/config/index.js';
import { ProvenantError } from '../../../src/errors.js';
import { createCapturingLogger, createMetrics, createSilentLogger } from '../../../src/observability/index.js';
import { mergeCheckpoints, type Checkpoints, type JobContext, type RunJobData } from '../../../src/queue/index.js';
import {
  createRunJobHandler,
  handleFailure,
  reconcileRun,
  type RunAccess,
} from '../../../src/reconcile/index.js';
import type { StorageScope, Wiring } from '../../../src/wiring/index.js';
import { createEphemeralSigner } from '../../../src/signing/index.js';
import { createTektonStorage, type StorageBackend, type StoreRequest } from '../../../src/storage/index.js';
import type { RunKey } from '../../../src/tekton/index.js';
import { verifyBundle } from '../../../src/verify/index.js';
import { shouldEnqueue } from '../../../src/watch/index.js';

type Obj = Record<string, unknown> & { metadata: Record<string, unknown> };

const done = { conditions: [{ type: 'Succeeded', status: 'True', reason: 'Succeeded' }], startTime: '2026-01-01T00:00:00Z', completionTime: '2026-01-01T00:01:00Z' };

function taskRun(name: string, uid: string, extra: { annotations?: Record<string, string>; labels?: Record<string, string>; owner?: { name: string; uid: string }; spec?: Record<string, unknown>; status?: Record<string, unknown> } = {}): Obj {
  return {
    apiVersion: 'tekton.dev/v1',
    kind: 'TaskRun',
    metadata: {
      name,
      namespace: 'ns',
      uid,
      creationTimestamp: '2026-01-01T00:00:00Z',
      annotations: extra.annotations ?? {},
      labels: extra.labels ?? {},
      ...(extra.owner ? { ownerReferences: [{ apiVersion: 'tekton.dev/v1', kind: 'PipelineRun', name: extra.owner.name, uid: extra.owner.uid, controller: true }] } : {}),
    },
    spec: { taskRef: { name: 'build' }, ...extra.spec },
    status: {
      ...done,
      results: [
        { name: 'IMAGE_URL', type: 'string', value: 'registry.example/app' },
        { name: 'IMAGE_DIGEST', type: 'string', value: `sha256:${'a'.repeat(64)}` },
      ],
      ...extra.status,
    },
  };
}

function pipelineRun(name: string, uid: string, children: string[]): Obj {
  return {
    apiVersion: 'tekton.dev/v1',
    kind: 'PipelineRun',
    metadata: { name, namespace: 'ns', uid, creationTimestamp: '2026-01-01T00:00:00Z', annotations: {} },
    spec: { pipelineRef: { name: 'p' }, taskRunTemplate: { serviceAccountName: 'builder' } },
    status: { ...done, childReferences: children.map((c) => ({ apiVersion: 'tekton.dev/v1', kind: 'TaskRun', name: c, pipelineTaskName: c })) },
  };
}

const keyOf = (o: Obj): RunKey => ({ kind: o['kind'] as RunKey['kind'], namespace: 'ns', name: o.metadata['name'] as string, uid: o.metadata['uid'] as string });

function fakeRuns(objects: Obj[]): RunAccess & { objects: Map<string, Obj>; events: { key: RunKey; type: string; reason: string; message: string }[]; patches: number; failPatch: boolean } {
  const objectsMap = new Map(objects.map((o) => [`${o['kind'] as string}/${o.metadata['name'] as string}`, o]));
  const state = {
    objects: objectsMap,
    events: [] as { key: RunKey; type: string; reason: string; message: string }[],
    patches: 0,
    failPatch: false,
    get: (key: { kind: string; name: string }) => Promise.resolve(structuredClone(objectsMap.get(`${key.kind}/${key.name}`))),
    patchAnnotations: (key: RunKey, annotations: Record<string, string | null>) => {
      if (state.failPatch) return Promise.reject(new ProvenantError('transient', 'KUBE_UNAVAILABLE', 'down'));
      state.patches++;
      const o = objectsMap.get(`${key.kind}/${key.name}`);
      if (o === undefined) return Promise.reject(new ProvenantError('permanent', 'KUBE_NOT_FOUND', 'gone'));
      const a = { ...(o.metadata['annotations'] as Record<string, string>) };
      for (const [k, v] of Object.entries(annotations)) {
        if (v === null) delete a[k];
        else a[k] = v;
      }
      o.metadata['annotations'] = a;
      return Promise.resolve();
    },
    emitEvent: (key: RunKey, event: { type: string; reason: string; message: string }) => {
      state.events.push({ key, ...event });
      return Promise.resolve();
    },
  };
  return state;
}

interface FakeStorage extends StorageBackend {
  readonly requests: StoreRequest[];
  readonly scopes: StorageScope[];
  failures: number;
}

function fakeStorage(name: string): FakeStorage {
  const s: FakeStorage = {
    name,
    requests: [],
    scopes: [],
    failures: 0,
    store: (req) => {
      if (s.failures > 0) {
        s.failures--;
        return Promise.reject(new ProvenantError('transient', 'OCI_UNAVAILABLE', 'registry down'));
      }
      s.requests.push(req);
      return Promise.resolve({ backend: name, locations: [] });
    },
  };
  return s;
}

function countingSigner(): Signer & { calls: number; publicKeyPem: string } {
  const inner = createEphemeralSigner();
  const s = {
    calls: 0,
    publicKeyPem: inner.publicKeyPem,
    sign: (data: Buffer) => {
      s.calls++;
      return inner.sign(data);
    },
  };
  return s;
}

function wiring(data: Record<string, string> = {}, storageNames: StorageName[] = ['local']): Wiring & { signer_: ReturnType<typeof countingSigner>; backends: Map<string, FakeStorage> } {
  const config = parseConfig({ 'artifacts.taskrun.storage': storageNames.join(','), 'artifacts.pipelinerun.storage': storageNames.join(','), 'artifacts.oci.storage': storageNames.join(','), ...data }).config;
  const signer = countingSigner();
  const backends = new Map(storageNames.map((n) => [n, fakeStorage(n)]));
  return {
    config,
    rekor: undefined,
    signer: () => signer,
    signer_: signer,
    backends,
    storage: (name, scope) => {
      const b = backends.get(name);
      if (b === undefined) throw new ProvenantError('config', 'STORAGE_NOT_WIRED', name);
      b.scopes.push(scope);
      return b;
    },
  };
}

function jobContext(key: RunKey, attempt = 1): Pick<JobContext, 'data' | 'checkpoint' | 'attempt' | 'maxAttempts'> & { setAttempt(n: number): void } {
  let data: RunJobData = { key, enqueuedAt: 0, checkpoints: {} };
  let current = attempt;
  return {
    get attempt() {
      return current;
    },
    maxAttempts: 3,
    get data() {
      return data;
    },
    checkpoint: (patch: Checkpoints) => {
      data = { ...data, checkpoints: mergeCheckpoints(data.checkpoints, patch) };
      return Promise.resolve();
    },
    setAttempt: (n) => {
      current = n;
    },
  };
}

function setup(objects: Obj[], data: Record<string, string> = {}, storage: StorageName[] = ['local']) {
  const runs = fakeRuns(objects);
  const w = wiring(data, storage);
  const { logger, lines } = createCapturingLogger();
  const enqueued: RunKey[] = [];
  const metrics = createMetrics();
  const deps = {
    runs,
    wiring: () => w,
    logger,
    metrics,
    enqueue: (k: RunKey) => {
      enqueued.push(k);
      return Promise.resolve();
    },
  };
  return { runs, w, lines, enqueued, deps, metrics };
}

const annotationsOf = (o: Obj | undefined): Record<string, string> => (o?.metadata['annotations'] ?? {}) as Record<string, string>;

describe('reconcileRun: skips', () => {
  it('skips a run that no longer exists', async () => {
    const { deps, w } = setup([]);
    const out = await reconcileRun(jobContext({ kind: 'TaskRun', namespace: 'ns', name: 'gone', uid: 'u1' }), deps);
    expect(out.status).toBe('skipped');
    expect(w.signer_.calls).toBe(0);
  });

  it('skips when another object (different uid) now has the name', async () => {
    const tr = taskRun('tr', 'new-uid');
    const { deps, w } = setup([tr]);
    const out = await reconcileRun(jobContext({ ...keyOf(tr), uid: 'old-uid' }), deps);
    expect(out.status).toBe('skipped');
    expect(w.signer_.calls).toBe(0);
  });

  it('skips a run already signed (true or failed) by this uid, or by Chains (no signed-uid)', async () => {
    for (const annotations of [
      { 'chains.tekton.dev/signed': 'true', 'chains.tekton.dev/signed-uid': 'u1' },
      { 'chains.tekton.dev/signed': 'failed', 'chains.tekton.dev/signed-uid': 'u1' },
      { 'chains.tekton.dev/signed': 'true' },
    ]) {
      const tr = taskRun('tr', 'u1', { annotations });
      const { deps, w, runs } = setup([tr]);
      const out = await reconcileRun(jobContext(keyOf(tr)), deps);
      expect(out.status).toBe('skipped');
      expect(w.signer_.calls).toBe(0);
      expect(runs.patches).toBe(0);
    }
  });

  it('signs a run whose signing annotations were copied from another run (Chains #1004)', async () => {
    const tr = taskRun('tr', 'u2', { annotations: { 'chains.tekton.dev/signed': 'true', 'chains.tekton.dev/signed-uid': 'u1' } });
    const { deps, runs } = setup([tr]);
    const out = await reconcileRun(jobContext(keyOf(tr)), deps);
    expect(out.status).toBe('signed');
    expect(annotationsOf(runs.objects.get('TaskRun/tr'))['chains.tekton.dev/signed-uid']).toBe('u2');
  });

  it('signs a run carrying Chains tekton-storage annotations of another uid without signed-uid (filter and reconcile agree)', async () => {
    // Before the run rules were shared, the filter enqueued this run as copied on every list and
    // reconcile skipped it as "signed by Chains" every time: it was never signed.
    const tr = taskRun('tr', 'u2', {
      annotations: { 'chains.tekton.dev/signed': 'true', 'chains.tekton.dev/signature-taskrun-u1': 'c2ln', 'chains.tekton.dev/payload-taskrun-u1': 'cA==' },
    });
    expect(shouldEnqueue(tr)).toMatchObject({ enqueue: true, reason: 'copied-annotations' });
    const { deps, runs, w } = setup([tr]);
    const out = await reconcileRun(jobContext(keyOf(tr)), deps);
    expect(out.status).toBe('signed');
    expect(w.signer_.calls).toBeGreaterThan(0);
    const after = runs.objects.get('TaskRun/tr');
    expect(annotationsOf(after)['chains.tekton.dev/signed-uid']).toBe('u2');
    expect(shouldEnqueue(after)).toEqual({ enqueue: false, reason: 'signed' });
  });

  it('skips a run that is not done', async () => {
    const tr = taskRun('tr', 'u1', { status: { conditions: [{ type: 'Succeeded', status: 'Unknown' }], completionTime: undefined } });
    const { deps } = setup([tr]);
    expect((await reconcileRun(jobContext(keyOf(tr)), deps)).status).toBe('skipped');
  });

  it('skips runs managed by another controller unless filter.managed-by lists it', async () => {
    const tr = taskRun('tr', 'u1', { spec: { managedBy: 'kueue.x-k8s.io/multikueue' } });
    const a = setup([structuredClone(tr)]);
    expect((await reconcileRun(jobContext(keyOf(tr)), a.deps)).status).toBe('skipped');
    const b = setup([structuredClone(tr)], { 'filter.managed-by': 'kueue.x-k8s.io/multikueue' });
    expect((await reconcileRun(jobContext(keyOf(tr)), b.deps)).status).toBe('signed');
    const c = setup([taskRun('tr', 'u1', { spec: { managedBy: 'tekton.dev/pipeline' } })]);
    expect((await reconcileRun(jobContext(keyOf(tr)), c.deps)).status).toBe('signed');
  });
});

describe('reconcileRun: signing', () => {
  it('signs provenance and the image, stores each, marks the run last, with verifiable bundles', async () => {
    const tr = taskRun('tr', 'u1');
    const { deps, runs, w, metrics } = setup([tr]);
    const out = await reconcileRun(jobContext(keyOf(tr)), deps);
    expect(out.status).toBe('signed');
    const a = annotationsOf(runs.objects.get('TaskRun/tr'));
    expect(a['chains.tekton.dev/signed']).toBe('true');
    expect(a['chains.tekton.dev/signed-uid']).toBe('u1');
    const reqs = w.backends.get('local')?.requests ?? [];
    expect(reqs.map((r) => r.artifact.type).sort()).toEqual(['image-signature', 'provenance']);
    for (const r of reqs) {
      const v = verifyBundle(r.bundle, { key: w.signer_.publicKeyPem }, r.bundle.messageSignature ? { artifact: Buffer.from(r.payload) } : {});
      if (r.artifact.type === 'provenance') expect(v.subjects.map((x) => x.name)).toContain('registry.example/app');
    }
    expect(w.signer_.calls).toBe(2);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/watcher_taskrun_sign_created_total 2/);
    expect(text).toMatch(/watcher_taskrun_marked_signed_total 1/);
  });

  it('passes the run namespace and ServiceAccount (default "default") as storage scope', async () => {
    const tr = taskRun('tr', 'u1', { spec: { serviceAccountName: 'builder' } });
    const tr2 = taskRun('tr2', 'u2');
    const { deps, w } = setup([tr, tr2]);
    await reconcileRun(jobContext(keyOf(tr)), deps);
    await reconcileRun(jobContext(keyOf(tr2)), deps);
    const scopes = w.backends.get('local')?.scopes ?? [];
    expect(scopes).toContainEqual({ namespace: 'ns', serviceAccountName: 'builder' });
    expect(scopes).toContainEqual({ namespace: 'ns', serviceAccountName: 'default' });
  });

  it('a retry after a storage failure reuses the checkpointed signature (signer called once per artifact)', async () => {
    const tr = taskRun('tr', 'u1');
    const { deps, w, runs } = setup([tr], {}, ['local', 'tekton']);
    const tekton = w.backends.get('tekton');
    if (tekton === undefined) throw new Error('no backend');
    tekton.failures = 1;
    const ctx = jobContext(keyOf(tr));
    await expect(reconcileRun(ctx, deps)).rejects.toMatchObject({ code: 'OCI_UNAVAILABLE' });
    expect(annotationsOf(runs.objects.get('TaskRun/tr'))['chains.tekton.dev/signed']).toBeUndefined();
    // Two artifacts, both signed (concurrently) before any is stored.
    expect(w.signer_.calls).toBe(2);
    expect(Object.keys(ctx.data.checkpoints.bundles ?? {})).toHaveLength(2);
    ctx.setAttempt(2);
    expect((await reconcileRun(ctx, deps)).status).toBe('signed');
    // The retry reuses both checkpointed signatures: never signed twice.
    expect(w.signer_.calls).toBe(2);
    // The backend that already stored provenance is not asked again for it.
    const local = w.backends.get('local')?.requests ?? [];
    expect(local.filter((r) => r.artifact.type === 'provenance')).toHaveLength(1);
    // Same bundle stored in both backends.
    const prov = tekton.requests.find((r) => r.artifact.type === 'provenance');
    expect(prov?.bundle).toEqual(local.find((r) => r.artifact.type === 'provenance')?.bundle);
  });

  it('one PATCH per run: the tekton annotations of every artifact and signed together (a retry writes them again)', async () => {
    const tr = taskRun('tr', 'u1');
    const { deps, w, runs } = setup([tr], {}, ['local', 'tekton']);
    const tekton = createTektonStorage({ logger: createSilentLogger() });
    let tektonStores = 0;
    const wiringWithTekton: Wiring = {
      ...w,
      storage: (name, scope) => (name === 'tekton' ? { name, store: (req) => ((tektonStores += 1), tekton.store(req)) } : w.storage(name, scope)),
    };
    const ctx = jobContext(keyOf(tr));
    runs.failPatch = true;
    await expect(reconcileRun(ctx, { ...deps, wiring: () => wiringWithTekton })).rejects.toMatchObject({ code: 'KUBE_UNAVAILABLE' });
    // The tekton store is not checkpointed: its annotations were never written.
    expect(ctx.data.checkpoints.stored?.['provenance']).toEqual(['local']);
    runs.failPatch = false;
    ctx.setAttempt(2);
    expect((await reconcileRun(ctx, { ...deps, wiring: () => wiringWithTekton })).status).toBe('signed');
    expect(runs.patches).toBe(1);
    const a = annotationsOf(runs.objects.get('TaskRun/tr'));
    expect(a['chains.tekton.dev/signed']).toBe('true');
    expect(a['chains.tekton.dev/signature-taskrun-u1']).toBeDefined();
    expect(a[`chains.tekton.dev/signature-${'a'.repeat(12)}`]).toBeDefined();
    // Two artifacts per attempt, and the retry re-used both signatures.
    expect(tektonStores).toBe(4);
    expect(w.signer_.calls).toBe(2);
  });

  it('a PipelineRun is deferred until its child TaskRuns are signed; a signed child enqueues its parent', async () => {
    const pr = pipelineRun('pr', 'p1', ['c1', 'c2']);
    const c1 = taskRun('c1', 't1', { owner: { name: 'pr', uid: 'p1' }, labels: { 'tekton.dev/pipelineRun': 'pr' } });
    const c2 = taskRun('c2', 't2', { owner: { name: 'pr', uid: 'p1' }, labels: { 'tekton.dev/pipelineRun': 'pr' } });
    const { deps, enqueued, runs, w } = setup([pr, c1]);
    expect((await reconcileRun(jobContext(keyOf(pr)), deps)).status).toBe('deferred'); // c2 does not exist
    runs.objects.set('TaskRun/c2', c2);
    expect((await reconcileRun(jobContext(keyOf(pr)), deps)).status).toBe('deferred'); // not signed yet
    expect(w.signer_.calls).toBe(0);
    await reconcileRun(jobContext(keyOf(c1)), deps);
    await reconcileRun(jobContext(keyOf(c2)), deps);
    expect(enqueued).toEqual([keyOf(pr), keyOf(pr)]);
    expect((await reconcileRun(jobContext(keyOf(pr)), deps)).status).toBe('signed');
    expect(w.backends.get('local')?.scopes.at(-1)).toEqual({ namespace: 'ns', serviceAccountName: 'builder' });
  });

  it('a deferred PipelineRun asks to be requeued later, the delay growing with the time waited', async () => {
    const pr = pipelineRun('pr', 'p1', ['c1']);
    const { deps } = setup([pr]);
    const completed = Date.parse('2026-01-01T00:01:00Z');
    const at = (ms: number) => ({ ...deps, now: () => completed + ms, random: () => 1, deferredRecheck: { baseMs: 1_000, maxMs: 8_000 } });
    const first = await reconcileRun(jobContext(keyOf(pr)), at(0));
    expect(first).toMatchObject({ status: 'deferred', requeueAfterMs: 1_000 });
    expect(await reconcileRun(jobContext(keyOf(pr)), at(2_000))).toMatchObject({ requeueAfterMs: 2_000 });
    expect(await reconcileRun(jobContext(keyOf(pr)), at(5_000))).toMatchObject({ requeueAfterMs: 4_000 });
    expect(await reconcileRun(jobContext(keyOf(pr)), at(3_600_000))).toMatchObject({ requeueAfterMs: 8_000 });
    // The queue handler turns it into a delayed re-add (no timers in the controller).
    expect(await createRunJobHandler(at(0))({ ...jobContext(keyOf(pr)), signal: new AbortController().signal } as JobContext)).toEqual({ requeueAfterMs: 1_000 });
  });

  it('a child marked signed=failed does not block its parent', async () => {
    const pr = pipelineRun('pr', 'p1', ['c1']);
    const c1 = taskRun('c1', 't1', { annotations: { 'chains.tekton.dev/signed': 'failed' } });
    const { deps } = setup([pr, c1]);
    expect((await reconcileRun(jobContext(keyOf(pr)), deps)).status).toBe('signed');
  });
});

describe('handleFailure', () => {
  const tr = (): Obj => taskRun('tr', 'u1');

  it('a non-final failure counts chains.tekton.dev/retries and does not mark the run', async () => {
    const { deps, runs } = setup([tr()]);
    const ctx = jobContext(keyOf(tr()), 2);
    await handleFailure(ctx, new ProvenantError('transient', 'OCI_UNAVAILABLE', 'x'), false, deps);
    const a = annotationsOf(runs.objects.get('TaskRun/tr'));
    expect(a['chains.tekton.dev/retries']).toBe('2');
    expect(a['chains.tekton.dev/signed']).toBeUndefined();
    expect(runs.events).toHaveLength(0);
  });

  it('the final failure marks signed=failed with the reason code and emits a Warning Event', async () => {
    const { deps, runs, lines } = setup([tr()]);
    await handleFailure(jobContext(keyOf(tr()), 3), new ProvenantError('transient', 'OCI_UNAVAILABLE', 'x'), true, deps);
    const a = annotationsOf(runs.objects.get('TaskRun/tr'));
    expect(a['chains.tekton.dev/signed']).toBe('failed');
    expect(a['chains.tekton.dev/reason']).toBe('OCI_UNAVAILABLE');
    expect(a['chains.tekton.dev/signed-uid']).toBe('u1');
    expect(a['chains.tekton.dev/retries']).toBe('3');
    expect(runs.events).toEqual([expect.objectContaining({ type: 'Warning', reason: 'SigningFailed' })]);
    const logged = lines.map((l) => JSON.parse(l) as { level: number; err?: { code?: string } });
    expect(logged.some((l) => l.level === 50 && l.err?.code === 'OCI_UNAVAILABLE')).toBe(true);
  });

  it('a permanent error is final at once, an unknown error is classified UNEXPECTED', async () => {
    const a = setup([tr()]);
    await handleFailure(jobContext(keyOf(tr())), new ProvenantError('permanent', 'RUN_MALFORMED', 'x'), true, a.deps);
    expect(annotationsOf(a.runs.objects.get('TaskRun/tr'))['chains.tekton.dev/reason']).toBe('RUN_MALFORMED');
    const b = setup([tr()]);
    await handleFailure(jobContext(keyOf(tr())), new Error('boom'), true, b.deps);
    expect(annotationsOf(b.runs.objects.get('TaskRun/tr'))['chains.tekton.dev/reason']).toBe('UNEXPECTED');
  });

  it('a config error never marks the run (fixing the ConfigMap re-lists it) but emits a Warning Event', async () => {
    const { deps, runs } = setup([tr()]);
    await handleFailure(jobContext(keyOf(tr())), new ProvenantError('config', 'SIGNING_KEY_MISSING', 'x'), true, deps);
    expect(annotationsOf(runs.objects.get('TaskRun/tr'))['chains.tekton.dev/signed']).toBeUndefined();
    expect(runs.patches).toBe(0);
    expect(runs.events).toEqual([expect.objectContaining({ type: 'Warning', reason: 'ProvenantConfigError' })]);
  });

  it('does not throw when the failure cannot be recorded (run gone, API down)', async () => {
    const gone = setup([]);
    await expect(handleFailure(jobContext(keyOf(tr())), new Error('x'), true, gone.deps)).resolves.toBeUndefined();
    const down = setup([tr()]);
    down.runs.failPatch = true;
    await expect(handleFailure(jobContext(keyOf(tr())), new Error('x'), false, down.deps)).resolves.toBeUndefined();
  });
});
