import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonicalQuantity, formatGoDuration, goMarshal, parseGoDuration } from '../../../src/provenance/go-marshal.js';
import { tektonGoTypes } from '../../../src/provenance/tekton-go-types.js';
import { composeStatement, formatFor, optionsFromConfig } from '../../../src/provenance/index.js';
import { parseConfig } from '../../../src/config/index.js';
import { parseRun } from '../../../src/tekton/index.js';

const conformance = path.resolve(__dirname, '../../../../shared/conformance');
const input = (rel: string): Record<string, unknown> =>
  JSON.parse(readFileSync(path.join(conformance, 'inputs/pkg/chains/formats/slsa/testdata', rel), 'utf8')) as Record<string, unknown>;

/** Keys of an object in the order they appear in JSON text (JSON.parse keeps insertion order). */
const keys = (json: string, ...at: string[]): string[] => {
  let v: unknown = JSON.parse(json);
  for (const k of at) v = (v as Record<string, unknown>)[k];
  return Object.keys(v as object);
};

describe('goMarshal: Go encoding/json of Tekton v1 types', () => {
  it('hand-checked TaskRun: Go field order, omitempty, sorted maps, unknown fields dropped, custom marshalers', () => {
    const scrambled = {
      status: {
        podName: 'build-pod',
        conditions: [{ message: 'done', reason: 'Succeeded', status: 'True', type: 'Succeeded', lastTransitionTime: '2024-01-01T00:01:00.123Z' }],
        completionTime: '2024-01-01T00:01:00Z',
        startTime: '2024-01-01T01:00:00+01:00',
        results: [
          { value: 'sha256:abc', name: 'IMAGE_DIGEST', type: 'string' },
          { name: 'ARR', value: ['b', 'a'] },
          { name: 'OBJ', type: 'object', value: { z: '1', a: '<&>' } },
        ],
        steps: [
          {
            imageID: 'docker.io/x@sha256:1',
            name: 'build',
            container: 'step-build',
            terminated: { exitCode: 0, reason: 'Completed', startedAt: '2024-01-01T00:00:01Z', finishedAt: '2024-01-01T00:00:59Z', containerID: 'containerd://1' },
          },
        ],
        unknownField: 'dropped',
      },
      spec: { timeout: '1h', taskRef: { name: 'build', kind: 'Task' }, params: [{ value: 'v', name: 'p' }], workspaces: [] },
      metadata: { labels: { b: '2', a: '1' }, uid: 'u-1', namespace: 'ns', name: 'tr', creationTimestamp: null, generation: 1, annotations: {}, resourceVersion: '42' },
      kind: 'TaskRun',
      apiVersion: 'tekton.dev/v1',
    };
    // Written by hand from the Go declarations (tektoncd/pipeline v1.15.0, k8s v0.36.3, knative.dev/pkg):
    // creationTimestamp is omitempty+omitzero, annotations {} and workspaces [] are empty (omitempty),
    // serviceAccountName, podName and exitCode have no omitempty, Time drops fractions and converts to UTC,
    // Duration "1h" is written as Go's time.Duration prints it.
    const expected =
      '{"kind":"TaskRun","apiVersion":"tekton.dev/v1",' +
      '"metadata":{"name":"tr","namespace":"ns","uid":"u-1","resourceVersion":"42","generation":1,"labels":{"a":"1","b":"2"}},' +
      '"spec":{"params":[{"name":"p","value":"v"}],"serviceAccountName":"","taskRef":{"name":"build","kind":"Task"},"timeout":"1h0m0s"},' +
      '"status":{"conditions":[{"type":"Succeeded","status":"True","lastTransitionTime":"2024-01-01T00:01:00Z","reason":"Succeeded","message":"done"}],' +
      '"podName":"build-pod","startTime":"2024-01-01T00:00:00Z","completionTime":"2024-01-01T00:01:00Z",' +
      '"steps":[{"terminated":{"exitCode":0,"reason":"Completed","startedAt":"2024-01-01T00:00:01Z","finishedAt":"2024-01-01T00:00:59Z","containerID":"containerd://1"},' +
      '"name":"build","container":"step-build","imageID":"docker.io/x@sha256:1"}],' +
      '"results":[{"name":"IMAGE_DIGEST","type":"string","value":"sha256:abc"},{"name":"ARR","value":["b","a"]},' +
      '{"name":"OBJ","type":"object","value":{"a":"\\u003c\\u0026\\u003e","z":"1"}}]}}';
    expect(goMarshal('v1.TaskRun', scrambled)).toBe(expected);
  });

  it('zero values: an empty object still writes the fields without omitempty; nil slices are null', () => {
    expect(goMarshal('v1.TaskRun', {})).toBe('{"metadata":{},"spec":{"serviceAccountName":""},"status":{"podName":""}}');
    expect(goMarshal('v1.Param', { name: 'x', value: 7 })).toBe('{"name":"x","value":"7"}');
    // Go's decoder matches keys case-insensitively: Chains' fixtures spell feature flags with Go field names.
    expect(goMarshal('v1.Provenance', { featureFlags: { EnableAPIFields: 'beta', enableStepActions: true, MaxResultSize: 0 } })).toBe(
      '{"featureFlags":{"enableAPIFields":"beta","enableStepActions":true}}',
    );
    // metav1.Time is a struct: omitempty never drops it, and its zero value marshals as null.
    expect(goMarshal('corev1.ContainerStateTerminated', {})).toBe('{"exitCode":0,"startedAt":null,"finishedAt":null}');
    // No omitempty on a slice: nil is null, an empty one is [].
    expect(goMarshal('x.T', {}, { 'x.T': { struct: [['a', '[]string'], ['b', '[]string']] } })).toBe('{"a":null,"b":null}');
    expect(goMarshal('x.T', { a: [] }, { 'x.T': { struct: [['a', '[]string']] } })).toBe('{"a":[]}');
  });

  it('the Go declaration order it uses for ObjectMeta and TaskRun is the one in the Go sources', () => {
    const meta = tektonGoTypes['metav1.ObjectMeta'];
    expect(meta && 'struct' in meta ? meta.struct.map(([n]) => n) : []).toEqual([
      'name', 'generateName', 'namespace', 'selfLink', 'uid', 'resourceVersion', 'generation', 'creationTimestamp',
      'deletionTimestamp', 'deletionGracePeriodSeconds', 'labels', 'annotations', 'ownerReferences', 'finalizers', 'managedFields',
    ]);
    const run = tektonGoTypes['v1.TaskRun'];
    expect(run && 'struct' in run ? run.struct.map(([n, t]) => n || t) : []).toEqual(['metav1.TypeMeta', 'metadata', 'spec', 'status']);
  });

  it("Chains' taskrun1.json fixture: same values as the input (minus what Go drops), in Go order", () => {
    const tr = input('slsa-v2alpha3/taskrun1.json');
    const out = goMarshal('v1.TaskRun', tr);
    expect(keys(out)).toEqual(['metadata', 'spec', 'status']); // the fixture has no kind/apiVersion
    expect(keys(out, 'metadata')).toEqual(['name', 'namespace', 'uid', 'labels', 'annotations'].filter((k) => k in (tr['metadata'] as object)));
    expect(keys(out, 'status').slice(0, 2)).toEqual(['conditions', 'podName']);
    const parsed = JSON.parse(out) as { status: Record<string, unknown>; spec: Record<string, unknown> };
    expect(parsed.status['results']).toEqual((tr['status'] as Record<string, unknown>)['results']);
    expect(parsed.spec['params']).toEqual((tr['spec'] as Record<string, unknown>)['params']);
  });

  it('time.Duration: parse and print as Go does', () => {
    const cases: [string, string][] = [
      ['1h', '1h0m0s'], ['90s', '1m30s'], ['1.5s', '1.5s'], ['500ms', '500ms'], ['0', '0s'], ['1us', '1µs'],
      ['2h45m', '2h45m0s'], ['-1.5h', '-1h30m0s'], ['1.5ms', '1.5ms'], ['100ns', '100ns'], ['25h', '25h0m0s'],
    ];
    for (const [input, go] of cases) expect(formatGoDuration(parseGoDuration(input) ?? -1n), input).toBe(go);
    expect(parseGoDuration('1x')).toBeUndefined();
  });

  it('resource.Quantity: the canonical form Go writes (vectors from apimachinery TestQuantityParseEmit and by hand)', () => {
    const cases: [string, string][] = [
      // k8s.io/apimachinery v0.36.3 pkg/api/resource/quantity_test.go TestQuantityParseEmit
      ['1Ki', '1Ki'], ['1Mi', '1Mi'], ['1Gi', '1Gi'], ['1024Mi', '1Gi'], ['1000M', '1G'], ['.001Ki', '1024m'],
      ['.000001Ki', '1024u'], ['.000000001Ki', '1024n'], ['.000000000001Ki', '2n'], ['-1024Mi', '-1Gi'], ['-.000000000001Ki', '-2n'],
      // by hand from Quantity.CanonicalizeBytes
      ['0', '0'], ['0Mi', '0'], ['1000m', '1'], ['0.5', '500m'], ['100m', '100m'], ['1000', '1k'], ['1.5Gi', '1536Mi'],
      ['512Ki', '512Ki'], ['1023Ki', '1023Ki'], ['128974848', '128974848'], ['129e6', '129e6'], ['1e3', '1e3'], ['2', '2'],
      ['not a quantity', 'not a quantity'],
    ];
    for (const [input, go] of cases) expect(canonicalQuantity(input), input).toBe(go);
    expect(goMarshal('corev1.ResourceRequirements', { requests: { memory: '1024Mi', cpu: 0.5 }, limits: { cpu: '1000m' } })).toBe(
      '{"limits":{"cpu":"1"},"requests":{"cpu":"500m","memory":"1Gi"}}',
    );
  });

  it('slsa-tekton: a PipelineRun pipelineTask dependency carries json.Marshal(v1.TaskRun) of the child', () => {
    const pr = parseRun(input('slsa-v2alpha3/pipelinerun1.json'), { kind: 'PipelineRun', requireMetadata: false });
    const children = ['slsa-v2alpha3/taskrun1.json', 'slsa-v2alpha3/taskrun2.json'].map((f) => parseRun(input(f), { kind: 'TaskRun', requireMetadata: false }));
    const { config } = parseConfig({ 'artifacts.pipelinerun.format': 'slsa/v2alpha3', 'builddefinition.buildtype': 'https://tekton.dev/chains/v2/slsa-tekton' });
    const statement = composeStatement({ format: formatFor(config, 'PipelineRun'), run: pr, children, options: optionsFromConfig(config, 'PipelineRun') });
    const deps = (statement.predicate as { buildDefinition: { resolvedDependencies: { name?: string; content?: string }[] } }).buildDefinition.resolvedDependencies;
    const contents = deps.filter((d) => d.name === 'pipelineTask').map((d) => Buffer.from(d.content ?? '', 'base64').toString('utf8'));
    // Pipeline order (git-clone, then build), as Chains' TestPipelineRun "test tekton build type" expects.
    expect(contents).toEqual([children[1], children[0]].map((c) => goMarshal('v1.TaskRun', c?.raw)));
    expect(keys(contents[0] ?? '{}', 'status').slice(0, 3)).toEqual(['conditions', 'podName', 'startTime']);
  });
});
