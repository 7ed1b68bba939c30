import { describe, it, expect } from 'vitest';
import { isProvenantError } from '../../../src/errors.js';
import {
  assertRunDone,
  isRunDone,
  parseRun,
  runShortKey,
  imageShortKey,
  signedAnnotation,
  payloadAnnotation,
  type Run,
} from '../../../src/tekton/index.js';

const doneStatus = { conditions: [{ type: 'Succeeded', status: 'True' }] };

function codeOf(fn: () => unknown): { code: string; kind: string; field: unknown } {
  try {
    fn();
  } catch (err) {
    if (isProvenantError(err)) return { code: err.code, kind: err.kind, field: err.context['field'] };
    throw err;
  }
  throw new Error('expected a ProvenantError');
}

describe('parseRun', () => {
  it('reads a v1 TaskRun', () => {
    const run = parseRun({
      apiVersion: 'tekton.dev/v1',
      kind: 'TaskRun',
      metadata: { name: 'tr', namespace: 'ns', uid: 'u1', labels: { a: 'b' } },
      spec: { params: [{ name: 'p', value: ['x', 'y'] }], taskRef: { name: 't' }, serviceAccountName: 'sa' },
      status: { ...doneStatus, results: [{ name: 'r', type: 'object', value: { k: 'v' } }], steps: [{ name: 's', imageID: 'i@sha256:1' }] },
    });
    expect(run.kind).toBe('TaskRun');
    expect(run.name).toBe('tr');
    expect(run.uid).toBe('u1');
    expect(run.spec.params).toEqual([{ name: 'p', value: ['x', 'y'] }]);
    expect(run.spec.serviceAccountName).toBe('sa');
    expect(run.status.results).toEqual([{ name: 'r', type: 'object', value: { k: 'v' } }]);
    expect(run.status.steps[0]?.imageID).toBe('i@sha256:1');
    expect(run.annotations).toBeUndefined();
  });

  it('converts a v1beta1 PipelineRun to the v1 view', () => {
    const run = parseRun({
      apiVersion: 'tekton.dev/v1beta1',
      kind: 'PipelineRun',
      metadata: { name: 'pr' },
      spec: {
        pipelineRef: { name: 'p' },
        serviceAccountName: 'builder',
        timeout: '1h0m0s',
        params: [],
        taskRunSpecs: [{ pipelineTaskName: 'build', taskServiceAccountName: 'special' }],
      },
      status: {
        ...doneStatus,
        pipelineResults: [{ name: 'IMAGE_URL', value: 'x' }],
        taskRuns: { 'pr-build': { pipelineTaskName: 'build', status: {} } },
      },
    });
    expect(run.spec.serviceAccountName).toBe('builder');
    expect(run.spec.taskServiceAccountNames).toEqual({ build: 'special' });
    expect(run.status.results).toEqual([{ name: 'IMAGE_URL', value: 'x' }]);
    expect(run.status.childReferences).toEqual([{ name: 'pr-build', pipelineTaskName: 'build', kind: 'TaskRun' }]);
    expect(run.specJson).toEqual({
      pipelineRef: { name: 'p' },
      taskRunTemplate: { serviceAccountName: 'builder' },
      timeouts: { pipeline: '1h0m0s' },
      taskRunSpecs: [{ pipelineTaskName: 'build', serviceAccountName: 'special' }],
    });
  });

  it('converts v1beta1 TaskRun taskResults and stepOverrides', () => {
    const run = parseRun({
      apiVersion: 'tekton.dev/v1beta1',
      kind: 'TaskRun',
      metadata: { name: 'tr' },
      spec: { taskRef: { name: 't', bundle: 'reg/b@sha256:1' }, stepOverrides: [{ name: 's' }], resources: {} },
      status: { ...doneStatus, taskResults: [{ name: 'IMAGE_DIGEST', value: 'sha256:x' }] },
    });
    expect(run.status.results).toEqual([{ name: 'IMAGE_DIGEST', value: 'sha256:x' }]);
    expect(run.spec.ref?.resolver).toBe('bundles');
    expect(run.specJson).toEqual({ taskRef: { name: 't', bundle: 'reg/b@sha256:1' }, stepSpecs: [{ name: 's' }], serviceAccountName: '' });
  });

  it('shapes runSpec like Go encoding/json (serviceAccountName always, empty params omitted)', () => {
    const tr = parseRun({ kind: 'TaskRun', metadata: { name: 'a' }, spec: { params: [], taskRef: { name: 't' } }, status: doneStatus });
    expect(tr.specJson).toEqual({ taskRef: { name: 't' }, serviceAccountName: '' });
    const pr = parseRun({ kind: 'PipelineRun', metadata: { name: 'a' }, spec: { pipelineRef: { name: 'p' } }, status: doneStatus });
    expect(pr.specJson).toEqual({ pipelineRef: { name: 'p' }, taskRunTemplate: {} });
  });

  it('guesses the kind from the shape when kind is absent', () => {
    expect(parseRun({ metadata: { name: 'a' }, spec: { pipelineRef: { name: 'p' } }, status: doneStatus }).kind).toBe('PipelineRun');
    expect(parseRun({ metadata: { name: 'a' }, spec: { taskRef: { name: 't' } }, status: doneStatus }).kind).toBe('TaskRun');
  });

  it.each([
    ['not an object', 'x', '<root>'],
    ['missing status', { metadata: { name: 'a' }, spec: {} }, 'status'],
    ['missing metadata', { spec: {}, status: doneStatus }, 'metadata'],
    ['missing metadata.name', { metadata: {}, status: doneStatus }, 'metadata.name'],
    ['status not an object', { metadata: { name: 'a' }, status: [] }, 'status'],
    ['params not an array', { metadata: { name: 'a' }, spec: { params: {} }, status: doneStatus }, 'spec.params'],
    ['result without name', { metadata: { name: 'a' }, status: { results: [{ value: 'x' }] } }, 'status.results[0].name'],
    ['object result with non-string value', { metadata: { name: 'a' }, status: { results: [{ name: 'r', value: { k: 1 } }] } }, 'status.results[0].value.k'],
    ['bad time', { metadata: { name: 'a' }, status: { startTime: 'yesterday' } }, 'status.startTime'],
    ['bad apiVersion', { apiVersion: 'v1', metadata: { name: 'a' }, status: {} }, 'apiVersion'],
    ['labels not strings', { metadata: { name: 'a', labels: { x: 1 } }, status: {} }, 'metadata.labels.x'],
    ['kind mismatch', { kind: 'PipelineRun', metadata: { name: 'a' }, status: {} }, 'kind'],
  ])('rejects %s with RUN_MALFORMED naming the field', (_label, input, field) => {
    const r = codeOf(() => parseRun(input, input && typeof input === 'object' && 'kind' in input ? { kind: 'TaskRun' } : {}));
    expect(r).toEqual({ code: 'RUN_MALFORMED', kind: 'input', field });
  });

  it('accepts metadata-less fixtures only when asked', () => {
    const run = parseRun({ spec: {}, status: doneStatus }, { requireMetadata: false });
    expect(run.name).toBe('');
  });
});

describe('isRunDone / assertRunDone', () => {
  const withCondition = (status?: string): Run =>
    parseRun({ kind: 'TaskRun', metadata: { name: 'a' }, status: status === undefined ? {} : { conditions: [{ type: 'Succeeded', status }] } });

  it('is done for True and False (failed runs are attested too)', () => {
    expect(isRunDone(withCondition('True'))).toBe(true);
    expect(isRunDone(withCondition('False'))).toBe(true);
  });

  it('is not done while Unknown or without a Succeeded condition', () => {
    expect(isRunDone(withCondition('Unknown'))).toBe(false);
    expect(isRunDone(withCondition())).toBe(false);
    expect(codeOf(() => assertRunDone(withCondition('Unknown'))).code).toBe('RUN_NOT_DONE');
    expect(() => assertRunDone(withCondition('True'))).not.toThrow();
  });
});

describe('annotations', () => {
  it('builds Chains keys', () => {
    expect(signedAnnotation).toBe('chains.tekton.dev/signed');
    expect(payloadAnnotation(runShortKey('TaskRun', 'u1'))).toBe('chains.tekton.dev/payload-taskrun-u1');
    expect(runShortKey('PipelineRun', 'u2')).toBe('pipelinerun-u2');
    expect(imageShortKey('sha256:0123456789abcdef0123')).toBe('0123456789ab');
  });
});
