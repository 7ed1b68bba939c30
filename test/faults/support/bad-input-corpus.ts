/**
 * Malformed runs for the bad-input scenario. Each case is a finished TaskRun or PipelineRun (built
 * from the harness's realistic run) with one thing wrong. Expected outcome per case:
 * - `signed`: signed, and `absentSubject` (if given) is not among the statement's subjects;
 * - `failed`: `signed=failed` with a reason code and a Warning Event;
 * - `either`: signed or failed (both are acceptable; which one is recorded);
 * - `not-done`: not finished, so left alone (no annotation) until it finishes, then signed.
 * - `waits-for-children`: a PipelineRun whose child TaskRun does not exist: left unsigned (deferred)
 *   until the child exists and is signed, then signed.
 */
import type { KubeObject } from '../../support/fake-kube-server.js';
import { taskRunObject } from '../../support/controller-harness.js';
import { fakeImage } from './fault-harness.js';

export type Expectation = 'signed' | 'failed' | 'either' | 'not-done' | 'waits-for-children';

export interface BadInputCase {
  readonly name: string;
  readonly expect: Expectation;
  /** A subject name that must not be signed (the bad one). */
  readonly absentSubject?: string;
  /** For `failed`: the reason code, when one is certain (input over a limit of src/limits.ts: never retried). */
  readonly reason?: string;
  readonly object: KubeObject;
}

type Mutable = Record<string, unknown> & {
  metadata: Record<string, unknown>;
  spec: Record<string, unknown>;
  status: Record<string, unknown> & { results: Record<string, unknown>[]; steps: Record<string, unknown>[] };
};

function base(name: string, seed = name): Mutable {
  return taskRunObject(name, { image: fakeImage(`bad-${seed}`) }) as unknown as Mutable;
}

function withResults(name: string, results: Record<string, unknown>[]): Mutable {
  const o = base(name);
  o.status.results = results;
  return o;
}

function nested(depth: number): unknown {
  let v: unknown = { leaf: 'x' };
  for (let i = 0; i < depth; i++) v = { n: v };
  return v;
}

const img = (seed: string): string => fakeImage(`bad-${seed}`).name;
const hex64 = 'c6166717f7fe0b7da44908c986137ecfeab21f31ec3992f6e128fff8a94be8a5';

/** At least 30 cases; `prefix` keeps names unique per scenario run. */
export function badInputCorpus(prefix: string): BadInputCase[] {
  const n = (s: string): string => `${prefix}-${s}`;
  const cases: BadInputCase[] = [];
  const add = (name: string, expect: Expectation, object: Mutable | KubeObject, absentSubject?: string): void => {
    cases.push({ name, expect, object: object as KubeObject, ...(absentSubject ? { absentSubject } : {}) });
  };
  const overLimit = (name: string, object: Mutable): void => {
    cases.push({ name, expect: 'failed', object: object as unknown as KubeObject, reason: 'RUN_MALFORMED' });
  };

  // ---- status ----
  {
    const o = base(n('no-status'));
    delete (o as Record<string, unknown>)['status'];
    add(o.metadata['name'] as string, 'not-done', o);
  }
  {
    const o = base(n('empty-status'));
    o.status = { results: [], steps: [] };
    add(o.metadata['name'] as string, 'not-done', o);
  }
  {
    const o = base(n('condition-unknown'));
    o.status['conditions'] = [{ type: 'Succeeded', status: 'Unknown', reason: 'Running' }];
    delete o.status['completionTime'];
    add(o.metadata['name'] as string, 'not-done', o);
  }
  {
    const o = base(n('conditions-not-array'));
    // Not a list: no readable Succeeded condition, so not done (as Tekton's own reader sees it).
    o.status['conditions'] = { type: 'Succeeded', status: 'True' };
    add(o.metadata['name'] as string, 'not-done', o);
  }
  {
    const o = base(n('completion-not-a-date'));
    o.status['completionTime'] = 'yesterday-ish';
    o.status['startTime'] = 42;
    add(o.metadata['name'] as string, 'either', o);
  }
  {
    const o = base(n('steps-not-array'));
    o.status.steps = 'build' as unknown as Record<string, unknown>[];
    add(o.metadata['name'] as string, 'either', o);
  }
  {
    const o = base(n('no-spec'));
    delete (o as Record<string, unknown>)['spec'];
    add(o.metadata['name'] as string, 'either', o);
  }
  {
    const o = base(n('failed-run'));
    o.status['conditions'] = [{ type: 'Succeeded', status: 'False', reason: 'Failed', message: 'step exited 1' }];
    add(o.metadata['name'] as string, 'signed', o);
  }

  // ---- digests ----
  const badDigests: [string, string][] = [
    ['digest-not-hex', 'sha256:not-a-digest'],
    ['digest-short', `sha256:${hex64.slice(0, 20)}`],
    ['digest-uppercase', `sha256:${hex64.toUpperCase()}`],
    ['digest-md5', 'md5:d41d8cd98f00b204e9800998ecf8427e'],
    ['digest-empty', ''],
    ['digest-no-algorithm', hex64],
    ['digest-two-colons', `sha256:sha256:${hex64}`],
  ];
  for (const [s, digest] of badDigests) {
    const name = n(s);
    const o = withResults(name, [
      { name: 'IMAGE_URL', type: 'string', value: img(name) },
      { name: 'IMAGE_DIGEST', type: 'string', value: digest },
    ]);
    add(name, 'signed', o, img(name));
  }
  {
    const name = n('digest-array-typed');
    add(name, 'signed', withResults(name, [
      { name: 'IMAGE_URL', type: 'string', value: img(name) },
      { name: 'IMAGE_DIGEST', type: 'array', value: [`sha256:${hex64}`] },
    ]), img(name));
  }
  {
    const name = n('images-garbage');
    add(name, 'signed', withResults(name, [{ name: 'IMAGES', type: 'string', value: `not an image,,@@,${img(name)}@sha256:zz\n\n@sha256:${hex64}` }]), img(name));
  }
  {
    const name = n('artifact-outputs-partial');
    add(name, 'signed', withResults(name, [
      { name: 'build_ARTIFACT_OUTPUTS', type: 'object', value: { uri: 'pkg:npm/left-pad@1.0.0' } },
      { name: 'other_ARTIFACT_OUTPUTS', type: 'object', value: { digest: 'sha256:zz' } },
      { name: 'x_ARTIFACT_URI', type: 'string', value: 'gs://bucket/file' },
      { name: 'x_ARTIFACT_DIGEST', type: 'string', value: 'sha999:abc' },
    ]), 'gs://bucket/file');
  }
  {
    const name = n('image-url-not-a-reference');
    add(name, 'signed', withResults(name, [
      { name: 'IMAGE_URL', type: 'string', value: 'HTTP://Not A Reference!!/x' },
      { name: 'IMAGE_DIGEST', type: 'string', value: `sha256:${hex64}` },
    ]), 'HTTP://Not A Reference!!/x');
  }

  // ---- imageID ----
  {
    const o = base(n('imageid-without-at'));
    o.status.steps = [{ name: 'build', container: 'step-build', imageID: 'docker-pullable://gcr.io/kaniko-project/executor:v1.9.0', terminated: { exitCode: 0 } }];
    add(o.metadata['name'] as string, 'either', o);
  }
  {
    const o = base(n('imageid-empty'));
    o.status.steps = [{ name: 'build', container: 'step-build', imageID: '', terminated: { exitCode: 0 } }];
    o.status['sidecars'] = [{ name: 'sc', container: 'sidecar-sc', imageID: '@@@' }];
    add(o.metadata['name'] as string, 'either', o);
  }

  // ---- size and shape ----
  {
    const name = n('ten-mb-results');
    add(name, 'either', withResults(name, [{ name: 'blob', type: 'string', value: 'x'.repeat(10 * 1024 * 1024) }]));
  }
  {
    const name = n('many-results');
    add(name, 'either', withResults(name, Array.from({ length: 5000 }, (_, i) => ({ name: `r${i}`, type: 'string', value: `v${i}` }))));
  }
  {
    const name = n('nested-200');
    overLimit(name, withResults(name, [{ name: 'deep', type: 'object', value: nested(200) }]));
  }
  {
    const name = n('nested-1000');
    overLimit(name, withResults(name, [{ name: 'deep', type: 'object', value: nested(1000) }]));
  }
  // ---- over the limits of src/limits.ts (issue 17) ----
  {
    const name = n('feature-flags-nested-1000');
    const o = base(name);
    o.status['provenance'] = { featureFlags: { enableAPIFields: 'beta', deep: nested(1000) } };
    overLimit(name, o);
  }
  {
    const name = n('feature-flags-5000-keys');
    const o = base(name);
    o.status['provenance'] = { featureFlags: Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`flag${i}`, 'true'])) };
    overLimit(name, o);
  }
  {
    const name = n('results-20000');
    overLimit(name, withResults(name, Array.from({ length: 20_000 }, (_, i) => ({ name: `r${i}`, type: 'string', value: 'v' }))));
  }
  {
    const name = n('result-value-null');
    add(name, 'either', withResults(name, [{ name: 'IMAGE_URL', value: null }, { name: '', value: 7 }, { value: 'no name' }]));
  }
  {
    const name = n('results-not-array');
    const o = base(name);
    (o.status as Record<string, unknown>)['results'] = { IMAGE_URL: 'x' };
    add(name, 'either', o);
  }

  // ---- text ----
  {
    const name = n('lone-surrogates');
    const o = withResults(name, [
      { name: 'commit', type: 'string', value: 'abc\ud800def\udfff' },
      { name: 'IMAGE_URL', type: 'string', value: `${img(name)}\ud800` },
      { name: 'IMAGE_DIGEST', type: 'string', value: `sha256:${hex64}` },
    ]);
    o.metadata['labels'] = { note: 'x\udc00y' };
    o.spec['params'] = [{ name: 'p\ud83d', value: '\udead' }];
    add(name, 'either', o);
  }
  {
    const name = n('control-and-replacement-chars');
    add(name, 'either', withResults(name, [{ name: 'commit', type: 'string', value: '\u0000\u0007\ufffd\u202e\u2028 évil "quotes" \\ back' }]));
  }

  // ---- names ----
  {
    // 253 characters: the longest a Kubernetes object name may be.
    const long = `${n('long')}-${'a'.repeat(253)}`.slice(0, 253);
    add(long, 'signed', base(long, 'long'));
  }
  {
    const long = `${n('long-label')}`;
    const o = base(long);
    o.metadata['labels'] = { [`example.com/${'k'.repeat(63)}`]: 'v'.repeat(63), 'tekton.dev/pipelineRun': 'p'.repeat(63) };
    o.metadata['annotations'] = { 'chains.tekton.dev/signed': 'maybe', 'chains.tekton.dev/retries': 'lots' };
    add(long, 'either', o);
  }

  // ---- versions ----
  {
    // v1beta1 shapes: taskResults, taskSpec params, resourcesResult.
    const name = n('v1beta1-shape');
    const o = base(name);
    o['apiVersion'] = 'tekton.dev/v1beta1';
    const results = o.status.results;
    delete (o.status as Record<string, unknown>)['results'];
    o.status['taskResults'] = results;
    o.status['resourcesResult'] = [{ key: 'digest', value: `sha256:${hex64}`, resourceName: 'img' }];
    o.spec['resources'] = { inputs: [{ name: 'src', resourceRef: { name: 'git' } }] };
    add(name, 'signed', o);
  }
  {
    const name = n('v1beta1-mixed-fields');
    const o = base(name);
    o['apiVersion'] = 'tekton.dev/v1beta1';
    o.status['taskResults'] = [{ name: 'IMAGE_URL', value: 'x' }];
    add(name, 'signed', o);
  }
  {
    // A PipelineRun in v1beta1 shape (status.taskRuns map instead of childReferences) whose child
    // does not exist (pruned): it waits for it, like Chains; the scenario then creates the child.
    const name = n('pipelinerun-v1beta1-taskruns-map');
    add(name, 'waits-for-children', {
      apiVersion: 'tekton.dev/v1beta1',
      kind: 'PipelineRun',
      metadata: { name, namespace: 'builds', annotations: {} },
      spec: { pipelineRef: { name: 'release' } },
      status: {
        conditions: [{ type: 'Succeeded', status: 'True', reason: 'Succeeded' }],
        startTime: new Date(Date.now() - 60_000).toISOString(),
        completionTime: new Date().toISOString(),
        taskRuns: { [`${name}-x`]: { pipelineTaskName: 'x', status: {} } },
        pipelineResults: [{ name: 'IMAGE_DIGEST', value: 'garbage' }],
      },
    });
  }
  {
    const name = n('pipelinerun-children-not-array');
    add(name, 'either', {
      apiVersion: 'tekton.dev/v1',
      kind: 'PipelineRun',
      metadata: { name, namespace: 'builds', annotations: {} },
      spec: { pipelineRef: { name: 'release' } },
      status: {
        conditions: [{ type: 'Succeeded', status: 'False', reason: 'Failed' }],
        completionTime: new Date().toISOString(),
        childReferences: 'none',
        results: 12,
      },
    });
  }
  return cases;
}
