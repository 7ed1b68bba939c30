import { describe, it, expect } from 'vitest';
import { hasCopiedSignature, isDone, signedUidAnnotation } from '../../../src/tekton/index.js';
import { shouldEnqueue, parentPipelineRunKey } from '../../../src/watch/filter.js';
import { watchBackoffDelay } from '../../../src/watch/run-watcher.js';

type Opts = {
  kind?: string;
  apiVersion?: string;
  ns?: string;
  name?: string;
  uid?: string;
  status?: string | undefined;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  deletionTimestamp?: string;
  ownerReferences?: unknown[];
};

function run(o: Opts = {}): Record<string, unknown> {
  const metadata: Record<string, unknown> = { namespace: o.ns ?? 'ns', name: o.name ?? 'r1', uid: o.uid ?? 'uid-1' };
  if (o.annotations) metadata['annotations'] = o.annotations;
  if (o.labels) metadata['labels'] = o.labels;
  if (o.deletionTimestamp) metadata['deletionTimestamp'] = o.deletionTimestamp;
  if (o.ownerReferences) metadata['ownerReferences'] = o.ownerReferences;
  const obj: Record<string, unknown> = { apiVersion: o.apiVersion ?? 'tekton.dev/v1', kind: o.kind ?? 'TaskRun', metadata };
  const status = 'status' in o ? o.status : 'True';
  if (status !== undefined) obj['status'] = { conditions: [{ type: 'Succeeded', status }] };
  return obj;
}

describe('isDone', () => {
  it.each([
    ['True', true],
    ['False', true],
    ['Unknown', false],
  ])('Succeeded=%s → %s', (status, done) => {
    expect(isDone(run({ status }))).toBe(done);
  });
  it('no status, no conditions, other conditions only → not done', () => {
    expect(isDone(run({ status: undefined }))).toBe(false);
    expect(isDone({ status: {} })).toBe(false);
    expect(isDone({ status: { conditions: [{ type: 'Ready', status: 'True' }] } })).toBe(false);
    expect(isDone(null)).toBe(false);
  });
});

describe('shouldEnqueue', () => {
  it('enqueues a done, unsigned TaskRun and PipelineRun with their key', () => {
    expect(shouldEnqueue(run())).toEqual({ enqueue: true, reason: 'unsigned', key: { kind: 'TaskRun', namespace: 'ns', name: 'r1', uid: 'uid-1' } });
    const pr = shouldEnqueue(run({ kind: 'PipelineRun', apiVersion: 'tekton.dev/v1beta1' }));
    expect(pr.enqueue && pr.key.kind).toBe('PipelineRun');
  });
  it('enqueues failed runs too (attested like Chains)', () => {
    expect(shouldEnqueue(run({ status: 'False' })).enqueue).toBe(true);
  });
  it('skips runs not done', () => {
    expect(shouldEnqueue(run({ status: 'Unknown' }))).toEqual({ enqueue: false, reason: 'not-done' });
    expect(shouldEnqueue(run({ status: undefined }))).toEqual({ enqueue: false, reason: 'not-done' });
  });
  it('skips signed=true and signed=failed', () => {
    expect(shouldEnqueue(run({ annotations: { 'chains.tekton.dev/signed': 'true' } }))).toEqual({ enqueue: false, reason: 'signed' });
    expect(shouldEnqueue(run({ annotations: { 'chains.tekton.dev/signed': 'failed' } }))).toEqual({ enqueue: false, reason: 'failed' });
    expect(shouldEnqueue(run({ annotations: { 'chains.tekton.dev/signed': 'true', [signedUidAnnotation]: 'uid-1' } }))).toEqual({
      enqueue: false,
      reason: 'signed',
    });
  });
  it('treats other signed values as unsigned', () => {
    expect(shouldEnqueue(run({ annotations: { 'chains.tekton.dev/signed': 'false' } })).enqueue).toBe(true);
  });
  it('enqueues a run whose signing annotations were copied from another run', () => {
    const d = shouldEnqueue(run({ annotations: { 'chains.tekton.dev/signed': 'true', [signedUidAnnotation]: 'other-uid' } }));
    expect(d).toMatchObject({ enqueue: true, reason: 'copied-annotations' });
    const chains = shouldEnqueue(
      run({ annotations: { 'chains.tekton.dev/signed': 'true', 'chains.tekton.dev/signature-taskrun-other-uid': 'c2ln' } }),
    );
    expect(chains).toMatchObject({ enqueue: true, reason: 'copied-annotations' });
    const failedCopy = shouldEnqueue(run({ annotations: { 'chains.tekton.dev/signed': 'failed', [signedUidAnnotation]: 'x' } }));
    expect(failedCopy).toMatchObject({ enqueue: true, reason: 'copied-annotations' });
  });
  it('skips deleting runs', () => {
    expect(shouldEnqueue(run({ deletionTimestamp: '2024-01-01T00:00:00Z' }))).toEqual({ enqueue: false, reason: 'deleting' });
  });
  it('honours the namespace scope', () => {
    expect(shouldEnqueue(run({ ns: 'b' }), { namespaces: ['a'] })).toEqual({ enqueue: false, reason: 'out-of-scope' });
    expect(shouldEnqueue(run({ ns: 'a' }), { namespaces: ['a', 'c'] }).enqueue).toBe(true);
    expect(shouldEnqueue(run({ ns: 'b' }), { namespaces: [] }).enqueue).toBe(true);
  });
  it('rejects non-runs and objects without name/namespace/uid', () => {
    expect(shouldEnqueue(null)).toEqual({ enqueue: false, reason: 'not-a-run' });
    expect(shouldEnqueue('x')).toEqual({ enqueue: false, reason: 'not-a-run' });
    expect(shouldEnqueue(run({ kind: 'Pod', apiVersion: 'v1' }))).toEqual({ enqueue: false, reason: 'not-a-run' });
    expect(shouldEnqueue(run({ apiVersion: 'other.dev/v1' }))).toEqual({ enqueue: false, reason: 'not-a-run' });
    expect(shouldEnqueue(run({ uid: '' }))).toEqual({ enqueue: false, reason: 'missing-metadata' });
    expect(shouldEnqueue({ ...run(), metadata: undefined })).toEqual({ enqueue: false, reason: 'missing-metadata' });
  });
  it('uses the kind hint when list items carry no kind', () => {
    const item = run();
    delete item['kind'];
    delete item['apiVersion'];
    expect(shouldEnqueue(item)).toEqual({ enqueue: false, reason: 'not-a-run' });
    expect(shouldEnqueue(item, { kind: 'PipelineRun' })).toMatchObject({ enqueue: true, key: { kind: 'PipelineRun' } });
  });
  it('is pure: same input, same output, input untouched', () => {
    const obj = run({ annotations: { a: 'b' } });
    const before = JSON.stringify(obj);
    expect(shouldEnqueue(obj, { now: new Date(0) })).toEqual(shouldEnqueue(obj, { now: new Date(1e12) }));
    expect(JSON.stringify(obj)).toBe(before);
  });
});

describe('hasCopiedSignature', () => {
  it('prefers the signed-uid annotation', () => {
    expect(hasCopiedSignature({ [signedUidAnnotation]: 'u' }, 'TaskRun', 'u')).toBe(false);
    expect(hasCopiedSignature({ [signedUidAnnotation]: 'u', 'chains.tekton.dev/payload-taskrun-v': 'x' }, 'TaskRun', 'u')).toBe(false);
  });
  it('falls back to Chains tekton-storage keys', () => {
    expect(hasCopiedSignature({ 'chains.tekton.dev/payload-taskrun-u': 'x' }, 'TaskRun', 'u')).toBe(false);
    expect(hasCopiedSignature({ 'chains.tekton.dev/payload-taskrun-v': 'x' }, 'TaskRun', 'u')).toBe(true);
    expect(hasCopiedSignature({ 'chains.tekton.dev/cert-pipelinerun-v': 'x' }, 'PipelineRun', 'u')).toBe(true);
    expect(hasCopiedSignature({ 'chains.tekton.dev/signature-0123456789ab': 'img' }, 'TaskRun', 'u')).toBe(false);
    expect(hasCopiedSignature({}, 'TaskRun', 'u')).toBe(false);
  });
});

describe('parentPipelineRunKey', () => {
  const child = (o: Opts = {}): Record<string, unknown> =>
    run({
      labels: { 'tekton.dev/pipelineRun': 'p1' },
      ownerReferences: [{ apiVersion: 'tekton.dev/v1', kind: 'PipelineRun', name: 'p1', uid: 'p-uid' }],
      ...o,
    });
  it('derives the parent key from label and owner reference', () => {
    expect(parentPipelineRunKey(child())).toEqual({ kind: 'PipelineRun', namespace: 'ns', name: 'p1', uid: 'p-uid' });
  });
  it('also for signed children (their signing unblocks the parent)', () => {
    expect(parentPipelineRunKey(child({ annotations: { 'chains.tekton.dev/signed': 'true' } }))).toBeDefined();
  });
  it('none when not done, deleting, out of scope, unlabelled, not a TaskRun or no owner uid', () => {
    expect(parentPipelineRunKey(child({ status: 'Unknown' }))).toBeUndefined();
    expect(parentPipelineRunKey(child({ deletionTimestamp: 'x' }))).toBeUndefined();
    expect(parentPipelineRunKey(child(), { namespaces: ['other'] })).toBeUndefined();
    expect(parentPipelineRunKey(run())).toBeUndefined();
    expect(parentPipelineRunKey(child({ kind: 'PipelineRun' }))).toBeUndefined();
    expect(parentPipelineRunKey(child({ ownerReferences: [] }))).toBeUndefined();
    expect(parentPipelineRunKey(child({ ownerReferences: [{ kind: 'PipelineRun', name: 'other', uid: 'x' }] }))).toBeUndefined();
  });
});

describe('watchBackoffDelay (the one backoff formula)', () => {
  it('grows exponentially and is capped', () => {
    const o = { initialMs: 100, maxMs: 1000 };
    expect([1, 2, 3, 4, 5, 10].map((a) => watchBackoffDelay(a, o, () => 1))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });
  it('jitter only shortens, never below half', () => {
    const o = { initialMs: 1000, maxMs: 1000 };
    expect(watchBackoffDelay(1, o, () => 0)).toBe(500);
    expect(watchBackoffDelay(1, o, () => 0.5)).toBe(750);
  });
});
