import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it, expect } from 'vitest';
import { composeStatement, extractImageSubjects, serializeStatement, type ProvenanceOptions } from '../../../src/provenance/index.js';
import { parseRun } from '../../../src/tekton/index.js';

// Expectations below are written by hand from the type-hinting and format rules (docs/provenance.md),
// not captured from the code's output.

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/provenance');
const load = (f: string) => parseRun(JSON.parse(readFileSync(path.join(dir, f), 'utf8')));
const options: ProvenanceOptions = { builderId: 'https://provenant.test/builder', buildType: 'https://tekton.dev/chains/v2/slsa', deepInspection: false };
const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

describe('hand-written fixtures', () => {
  it('run with no results: no subject, step image as the only dependency (v2alpha4)', () => {
    const s = composeStatement({ format: 'slsa/v2alpha4', run: load('taskrun-no-results.json'), children: [], options });
    expect(s).toEqual({
      _type: 'https://in-toto.io/Statement/v1',
      predicateType: 'https://slsa.dev/provenance/v1',
      predicate: {
        buildDefinition: {
          buildType: 'https://tekton.dev/chains/v2/slsa',
          externalParameters: { runSpec: { serviceAccountName: 'default', taskRef: { name: 'lint' } } },
          internalParameters: {},
          resolvedDependencies: [{ digest: { sha256: A }, uri: 'oci://alpine' }],
        },
        runDetails: {
          builder: { id: 'https://provenant.test/builder' },
          metadata: { finishedOn: '2024-01-02T03:05:05Z', invocationId: 'uid-quiet', startedOn: '2024-01-02T03:04:05Z' },
        },
      },
    });
    expect('subject' in s).toBe(false);
  });

  it('failed run is attested like a successful one (in-toto / SLSA v0.2)', () => {
    const s = composeStatement({ format: 'in-toto', run: load('taskrun-failed.json'), children: [], options });
    expect(s).toEqual({
      _type: 'https://in-toto.io/Statement/v0.1',
      subject: [{ name: 'registry.example/app', digest: { sha256: A } }],
      predicateType: 'https://slsa.dev/provenance/v0.2',
      predicate: {
        buildConfig: {
          steps: [
            {
              annotations: null,
              arguments: null,
              entryPoint: '',
              environment: { container: 'build', image: `oci://gcr.io/tools/kaniko@sha256:${B}` },
            },
          ],
        },
        buildType: 'tekton.dev/v1/TaskRun',
        builder: { id: 'https://provenant.test/builder' },
        invocation: { configSource: {}, parameters: {} },
        materials: [{ digest: { sha256: B }, uri: 'oci://gcr.io/tools/kaniko' }],
        metadata: {
          buildFinishedOn: '2024-01-02T03:04:09Z',
          buildStartedOn: '2024-01-02T03:04:05Z',
          completeness: { environment: false, materials: false, parameters: false },
          reproducible: false,
        },
      },
    });
  });

  it('run with only sidecars: sidecar images are materials, steps empty', () => {
    const s = composeStatement({ format: 'slsa/v1', run: load('taskrun-sidecars-only.json'), children: [], options });
    expect(s.subject).toBeUndefined();
    expect(s.predicate['materials']).toEqual([
      { digest: { sha256: A }, uri: 'oci://postgres' },
      { digest: { sha256: B }, uri: 'oci://redis' },
    ]);
    expect(s.predicate['buildConfig']).toEqual({ steps: [] });
    expect(s.predicate['metadata']).toEqual({ completeness: { environment: false, materials: false, parameters: false }, reproducible: false });
  });

  it('50 IMAGES entries: 50 subjects in order, and 50 images to sign', () => {
    const run = load('taskrun-50-images.json');
    const expected = Array.from({ length: 50 }, (_, i) => ({ name: `registry.example/team/app-${i}`, digest: { sha256: i.toString(16).padStart(64, '0') } }));
    for (const format of ['in-toto', 'slsa/v2alpha3', 'slsa/v2alpha4'] as const) {
      expect(composeStatement({ format, run, children: [], options }).subject).toEqual(expected);
    }
    expect(extractImageSubjects(run)).toEqual(expected);
  });

  it('unicode names and HTML characters are encoded like Go (v2alpha4)', () => {
    const s = composeStatement({ format: 'slsa/v2alpha4', run: load('taskrun-unicode.json'), children: [], options });
    expect(s.subject).toEqual([{ name: 'pkg:npm/%C3%BC@1', digest: { sha256: B } }]);
    const rd = s.predicate['runDetails'] as Record<string, unknown>;
    expect(rd['byproducts']).toEqual([
      { content: b64('"héllo \\u003c\\u0026\\u003e"'), mediaType: 'application/json', name: 'taskRunResults/build-ünïcode/greeting' },
    ]);
    expect(rd['metadata']).toEqual({ invocationId: 'uid-ü' });
    const bd = s.predicate['buildDefinition'] as Record<string, unknown>;
    expect(bd['externalParameters']).toEqual({ runSpec: { params: [{ name: 'greeting', value: 'héllo <&>' }], serviceAccountName: 'default' } });
    expect('resolvedDependencies' in bd).toBe(false);
    // Signed bytes are UTF-8 of compact JSON.
    const bytes = serializeStatement(s);
    expect(new TextDecoder().decode(bytes)).toBe(JSON.stringify(s));
    expect(new TextDecoder().decode(bytes)).toContain('build-ünïcode');
  });
});
