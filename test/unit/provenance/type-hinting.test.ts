import { describe, it, expect } from 'vitest';
import {
  checkDigest,
  composeProvenance,
  composeStatement,
  extractImageSubjects,
  parseImageDigestReference,
  simpleSigningPayload,
  spdxGit,
  statementSubjects,
  predicateTypeOf,
  optionsFromConfig,
  formatFor,
  type ProvenanceOptions,
} from '../../../src/provenance/index.js';
import { defaultConfig, parseConfig } from '../../../src/config/index.js';
import { parseRun, type Run } from '../../../src/tekton/index.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const SHA1 = 'c'.repeat(40);
const options: ProvenanceOptions = { builderId: 'b', buildType: 'https://tekton.dev/chains/v2/slsa', deepInspection: false };

function taskRun(status: Record<string, unknown>, spec: Record<string, unknown> = {}, metadata: Record<string, unknown> = {}): Run {
  return parseRun({
    kind: 'TaskRun',
    metadata: { name: 'tr', uid: 'u', ...metadata },
    spec,
    status: { conditions: [{ type: 'Succeeded', status: 'True' }], ...status },
  });
}
const results = (...r: [string, unknown][]) => ({ results: r.map(([name, value]) => ({ name, value })) });
const subjects = (run: Run, format: 'in-toto' | 'slsa/v2alpha3' | 'slsa/v2alpha4' = 'in-toto') =>
  composeStatement({ format, run, children: [], options }).subject ?? [];
const materials = (run: Run) => composeStatement({ format: 'in-toto', run, children: [], options }).predicate['materials'];

describe('docker reference normalisation (go-containerregistry semantics)', () => {
  it.each([
    [`abc@sha256:${A}`, 'index.docker.io/library/abc'],
    [`docker.io/abc@sha256:${A}`, 'index.docker.io/library/abc'],
    [`team/abc@sha256:${A}`, 'index.docker.io/team/abc'],
    [`gcr.io/p/abc:v1@sha256:${A}`, 'gcr.io/p/abc'],
    [`localhost:5000/abc:v1@sha256:${A}`, 'localhost:5000/abc'],
    [`localhost/abc@sha256:${A}`, 'index.docker.io/localhost/abc'],
  ])('%s → %s', (ref, repo) => {
    expect(parseImageDigestReference(ref)).toEqual({ ok: true, repository: repo, digest: `sha256:${A}` });
  });

  it.each([`abc@sha512:${A}${A}`, `abc@sha256:${A.slice(1)}`, 'abc', `Upper/Case@sha256:${A}`, `a@b@sha256:${A}`, `abc:bad tag@sha256:${A}`])(
    'rejects %s',
    (ref) => expect(parseImageDigestReference(ref).ok).toBe(false),
  );
});

describe('digest validation', () => {
  it.each([
    [`sha256:${A}`, true],
    [`sha384:${'a'.repeat(96)}`, true],
    [`sha512:${'a'.repeat(128)}`, true],
    [`sha1:${SHA1}`, true],
    [`SHA256:${A}`, true],
    ['sha256:', false],
    [`sha256:${A}0`, false],
    [`sha256:${A.toUpperCase()}`, false],
    [`md5:${'a'.repeat(32)}`, false],
    [`sha256:${A}:x`, false],
    [A, false],
  ])('%s valid=%s', (d, ok) => expect(checkDigest(d).ok).toBe(ok));
});

describe('subjects', () => {
  it('pairs *IMAGE_URL and *IMAGE_DIGEST by prefix and normalises the name', () => {
    const run = taskRun(results(['first-IMAGE_URL', 'abc'], ['second-IMAGE_DIGEST', `sha256:${B}`], ['first-IMAGE_DIGEST', `sha256:${A}`], ['second-IMAGE_URL', ' gcr.io/x/y\n']));
    expect(subjects(run)).toEqual([
      { name: 'index.docker.io/library/abc', digest: { sha256: A } },
      { name: 'gcr.io/x/y', digest: { sha256: B } },
    ]);
  });

  it('reads IMAGES separated by commas and newlines', () => {
    const run = taskRun(results(['IMAGES', `gcr.io/aa@sha256:${A},\n gcr.io/bb@sha256:${B}\n\n`]));
    expect(subjects(run)).toEqual([
      { name: 'gcr.io/aa', digest: { sha256: A } },
      { name: 'gcr.io/bb', digest: { sha256: B } },
    ]);
  });

  it('keeps *ARTIFACT_URI names verbatim (v0.2, v2alpha3) and ignores them in v2alpha4', () => {
    const run = taskRun(results(['file-ARTIFACT_URI', 'pkg:generic/file'], ['file-ARTIFACT_DIGEST', `sha1:${SHA1}`]));
    expect(subjects(run)).toEqual([{ name: 'pkg:generic/file', digest: { sha1: SHA1 } }]);
    expect(subjects(run, 'slsa/v2alpha3')).toEqual([{ name: 'pkg:generic/file', digest: { sha1: SHA1 } }]);
    expect(subjects(run, 'slsa/v2alpha4')).toEqual([]);
  });

  it('*ARTIFACT_OUTPUTS: always subjects in v0.2/v2alpha3, only isBuildArtifact in v2alpha4 (plus the image reading)', () => {
    const run = taskRun(results(['a-ARTIFACT_OUTPUTS', { uri: 'abc', digest: `sha256:${A}` }], ['b-ARTIFACT_OUTPUTS', { uri: 'def', digest: `sha256:${B}`, isBuildArtifact: 'true' }]));
    expect(subjects(run)).toEqual([
      { name: 'index.docker.io/library/def', digest: { sha256: B } },
      { name: 'abc', digest: { sha256: A } },
      { name: 'def', digest: { sha256: B } },
    ]);
    expect(subjects(run, 'slsa/v2alpha4')).toEqual([
      { name: 'def', digest: { sha256: B } },
      { name: 'index.docker.io/library/def', digest: { sha256: B } },
    ]);
  });

  it('deduplicates subjects with the same name and a common digest, merging digest sets', () => {
    const run = taskRun(results(['x-ARTIFACT_OUTPUTS', { uri: 'f', digest: `sha256:${A}` }], ['y-ARTIFACT_URI', 'f'], ['y-ARTIFACT_DIGEST', `sha256:${A}`], ['z-ARTIFACT_OUTPUTS', { uri: 'f', digest: `sha256:${B}` }]));
    expect(subjects(run)).toEqual([
      { name: 'f', digest: { sha256: A } },
      { name: 'f', digest: { sha256: B } },
    ]);
  });

  it('step results count in v2alpha4 only', () => {
    const run = taskRun({ steps: [{ name: 's', imageID: `i@sha256:${A}`, results: [{ name: 'o-ARTIFACT_OUTPUTS', value: { uri: 'gcr.io/s', digest: `sha256:${A}`, isBuildArtifact: 'true' } }] }] });
    expect(subjects(run, 'slsa/v2alpha4')).toEqual([{ name: 'gcr.io/s', digest: { sha256: A } }]);
    expect(subjects(run)).toEqual([]);
  });
});

describe('invalid digests are dropped with a logged reason, never thrown', () => {
  it.each([
    ['IMAGE_DIGEST not sha256', results(['IMAGE_URL', 'gcr.io/aa'], ['IMAGE_DIGEST', `sha512:${A}`])],
    ['IMAGE_DIGEST short', results(['IMAGE_URL', 'gcr.io/aa'], ['IMAGE_DIGEST', 'sha256:abc'])],
    ['IMAGE_URL without digest', results(['IMAGE_URL', 'gcr.io/aa'])],
    ['IMAGES entry without digest', results(['IMAGES', 'gcr.io/a:latest'])],
    ['ARTIFACT_DIGEST bad hex', results(['f-ARTIFACT_URI', 'f'], ['f-ARTIFACT_DIGEST', 'sha256:zz'])],
    ['ARTIFACT_DIGEST unknown algorithm', results(['f-ARTIFACT_URI', 'f'], ['f-ARTIFACT_DIGEST', `md5:${'a'.repeat(32)}`])],
    ['ARTIFACT_OUTPUTS empty hex', results(['f-ARTIFACT_OUTPUTS', { uri: 'def', digest: 'sha256:' }])],
    ['ARTIFACT_OUTPUTS sha1 wrong length', results(['f-ARTIFACT_OUTPUTS', { uri: 'def', digest: 'sha1:abc' }])],
    ['ARTIFACT_OUTPUTS without uri', results(['f-ARTIFACT_OUTPUTS', { digest: `sha256:${A}` }])],
    ['ARTIFACT_OUTPUTS not an object', results(['f-ARTIFACT_OUTPUTS', 'x'])],
  ])('%s', (_label, status) => {
    const { statement: s, warnings } = composeProvenance({ format: 'in-toto', run: taskRun(status), children: [], options });
    expect(s.subject).toBeUndefined();
    const warns = warnings.filter((w) => w.level === 'warn');
    expect(warns.length).toBeGreaterThan(0);
    expect(warns.every((w) => typeof w.fields['reason'] === 'string' && w.fields['reason'].length > 0)).toBe(true);
  });

  it('invalid build artifact is dropped from v2alpha4 subjects and byproducts', () => {
    const run = taskRun(results(['f-ARTIFACT_OUTPUTS', { uri: 'def', digest: 'sha256:basd-sha', isBuildArtifact: 'true' }], ['other', 'x']));
    const { statement: s, warnings } = composeProvenance({ format: 'slsa/v2alpha4', run, children: [], options });
    expect(s.subject).toBeUndefined();
    const byproducts = (s.predicate['runDetails'] as Record<string, unknown>)['byproducts'] as { name: string }[];
    expect(byproducts.map((b) => b.name)).toEqual(['taskRunResults/tr/other']);
    expect(warnings.some((w) => w.level === 'warn' && w.fields['reason'] !== undefined)).toBe(true);
  });

  it('invalid ARTIFACT_INPUTS digest is dropped from materials with a reason', () => {
    const run = taskRun(results(['in-ARTIFACT_INPUTS', { uri: 'abc', digest: 'sha256:nope' }]));
    const { statement: s, warnings } = composeProvenance({ format: 'in-toto', run, children: [], options });
    expect(s.predicate['materials']).toBeUndefined();
    expect(warnings.filter((w) => w.level === 'warn')).toHaveLength(1);
  });

  it('a step imageID without "@" is dropped with a reason (Chains fails the whole attestation)', () => {
    const run = taskRun({ steps: [{ name: 'a', imageID: 'gcr.io/unpinned:latest' }, { name: 'b', imageID: `gcr.io/pinned@sha256:${A}` }] });
    const { statement: s, warnings } = composeProvenance({ format: 'in-toto', run, children: [], options });
    expect(s.predicate['materials']).toEqual([{ digest: { sha256: A }, uri: 'oci://gcr.io/pinned' }]);
    expect(warnings.filter((w) => w.level === 'warn')).toHaveLength(1);
  });
});

describe('materials', () => {
  it('step and sidecar imageIDs: docker-pullable:// stripped, oci:// added, duplicates merged', () => {
    const run = taskRun({
      steps: [
        { name: 'a', imageID: `docker-pullable://gcr.io/aa@sha256:${A}` },
        { name: 'b', imageID: `gcr.io/aa@sha256:${A}` },
      ],
      sidecars: [{ name: 's', imageID: `gcr.io/s@sha256:${B}` }],
    });
    expect(materials(run)).toEqual([
      { digest: { sha256: A }, uri: 'oci://gcr.io/aa' },
      { digest: { sha256: B }, uri: 'oci://gcr.io/s' },
    ]);
  });

  it('CHAINS-GIT_*: results override params override task defaults; both needed', () => {
    const taskSpec = { params: [{ name: 'CHAINS-GIT_URL', default: 'https://default.example' }, { name: 'CHAINS-GIT_COMMIT', default: 'def' }] };
    const specParams = { params: [{ name: 'CHAINS-GIT_COMMIT', value: 'param' }] };
    expect(materials(taskRun({ taskSpec }))).toEqual([{ digest: { sha1: 'def' }, uri: 'git+https://default.example.git' }]);
    expect(materials(taskRun({ taskSpec }, specParams))).toEqual([{ digest: { sha1: 'param' }, uri: 'git+https://default.example.git' }]);
    expect(materials(taskRun({ taskSpec, ...results(['CHAINS-GIT_COMMIT', 'res'], ['CHAINS-GIT_URL', 'git+https://r.example.git']) }, specParams))).toEqual([
      { digest: { sha1: 'res' }, uri: 'git+https://r.example.git' },
    ]);
    expect(materials(taskRun(results(['CHAINS-GIT_COMMIT', 'only-commit'])))).toBeUndefined();
  });

  it('*ARTIFACT_INPUTS objects become materials with verbatim uri', () => {
    const run = taskRun(results(['src-ARTIFACT_INPUTS', { uri: 'https://github.com/x/y', digest: `sha1:${SHA1}` }]));
    expect(materials(run)).toEqual([{ digest: { sha1: SHA1 }, uri: 'https://github.com/x/y' }]);
  });

  it('refSource: configSource in v0.2, `task` dependency in v1.0', () => {
    const run = taskRun({ provenance: { refSource: { uri: 'git+https://g.example', digest: { sha1: SHA1 }, entryPoint: 't.yaml' } } });
    const v02 = composeStatement({ format: 'in-toto', run, children: [], options });
    expect((v02.predicate['invocation'] as Record<string, unknown>)['configSource']).toEqual({ digest: { sha1: SHA1 }, entryPoint: 't.yaml', uri: 'git+https://g.example' });
    const v1 = composeStatement({ format: 'slsa/v2alpha3', run, children: [], options });
    expect((v1.predicate['buildDefinition'] as Record<string, unknown>)['resolvedDependencies']).toEqual([{ digest: { sha1: SHA1 }, name: 'task', uri: 'git+https://g.example' }]);
  });

  it('v2alpha4: StepAction refSources and step ARTIFACT_INPUTS are dependencies', () => {
    const run = taskRun({
      steps: [
        {
          name: 'fetch',
          imageID: `gcr.io/aa@sha256:${A}`,
          provenance: { refSource: { uri: 'git+https://sa.example', digest: { sha1: SHA1 }, entryPoint: 'sa.yaml' } },
          results: [{ name: 'src-ARTIFACT_INPUTS', value: { uri: 'https://src.example', digest: `sha256:${B}` } }],
        },
      ],
    });
    const s = composeStatement({ format: 'slsa/v2alpha4', run, children: [], options });
    expect((s.predicate['buildDefinition'] as Record<string, unknown>)['resolvedDependencies']).toEqual([
      { digest: { sha256: A }, uri: 'oci://gcr.io/aa' },
      { digest: { sha1: SHA1 }, name: 'stepAction/fetch', uri: 'git+https://sa.example' },
      { digest: { sha256: B }, name: 'inputs/result', uri: 'https://src.example' },
    ]);
  });

  it('spdxGit adds git+ and .git once', () => {
    expect(spdxGit('https://x')).toBe('git+https://x.git');
    expect(spdxGit('git+https://x.git')).toBe('git+https://x.git');
  });
});

describe('images to sign and simple signing', () => {
  it('extracts each image once from a TaskRun, none from a PipelineRun', () => {
    const run = taskRun(results(['IMAGE_URL', 'gcr.io/aa'], ['IMAGE_DIGEST', `sha256:${A}`], ['IMAGES', `gcr.io/aa@sha256:${A}`]));
    expect(extractImageSubjects(run)).toEqual([{ name: 'gcr.io/aa', digest: { sha256: A } }]);
    const pr = parseRun({ kind: 'PipelineRun', metadata: { name: 'p' }, status: results(['IMAGES', `gcr.io/aa@sha256:${A}`]) });
    expect(extractImageSubjects(pr)).toEqual([]);
  });

  it("matches cosign's byte layout", () => {
    const bytes = simpleSigningPayload({ name: 'gcr.io/aa', digest: `sha256:${A}` });
    expect(new TextDecoder().decode(bytes)).toBe(
      `{"critical":{"identity":{"docker-reference":"gcr.io/aa"},"image":{"docker-manifest-digest":"sha256:${A}"},"type":"cosign container image signature"},"optional":null}`,
    );
  });
});

describe('config helpers', () => {
  it('maps config to format and options', () => {
    const { config } = parseConfig({
      'artifacts.taskrun.format': 'slsa/v2alpha4',
      'artifacts.pipelinerun.enable-deep-inspection': 'true',
      'builder.id': 'x',
      'builddefinition.buildtype': 'https://tekton.dev/chains/v2/slsa-tekton',
    });
    expect(formatFor(config, 'TaskRun')).toBe('slsa/v2alpha4');
    expect(formatFor(config, 'PipelineRun')).toBe('in-toto');
    expect(optionsFromConfig(config, 'TaskRun')).toEqual({ builderId: 'x', buildType: 'https://tekton.dev/chains/v2/slsa-tekton', deepInspection: false });
    expect(optionsFromConfig(config, 'PipelineRun').deepInspection).toBe(true);
    expect(optionsFromConfig(defaultConfig(), 'TaskRun').builderId).toBe('https://tekton.dev/chains/v2');
    expect(predicateTypeOf('slsa/v1')).toBe('https://slsa.dev/provenance/v0.2');
  });

  it('statementSubjects lists the subjects', () => {
    const run = taskRun(results(['IMAGE_URL', 'gcr.io/aa'], ['IMAGE_DIGEST', `sha256:${A}`]));
    expect(statementSubjects(composeStatement({ format: 'slsa/v2alpha3', run, children: [], options }))).toEqual([{ name: 'gcr.io/aa', digest: { sha256: A } }]);
  });
});
