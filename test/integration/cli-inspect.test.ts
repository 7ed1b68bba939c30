// `provenant inspect` against the project's fake Kubernetes API server, with runs annotated by the
// real tekton storage backend through the real RunStore (the lean client's merge patches).
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { SerializedBundle } from '@sigstore/bundle';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { InspectReport } from '../../src/cli/commands/inspect.js';
import { createSilentLogger } from '../../src/observability/logger.js';
import { createTektonStorage } from '../../src/storage/index.js';
import { createRunStore, loadKubeConfig, type RunKey, type RunStore } from '../../src/tekton/index.js';
import { createFakeKubeServer, type FakeKubeServer, type KubeObject } from '../support/fake-kube.js';
import { runCaptured } from '../support/cli.js';

interface Result {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

let fake: FakeKubeServer;
let store: RunStore;
let dir: string;
const file = (name: string): string => path.join(dir, name);

function cli(argv: string[]): Promise<Result> {
  return runCaptured(argv, { env: { KUBECONFIG: file('kubeconfig'), HOME: '/nonexistent' }, cwd: dir });
}

const digest = 'c'.repeat(64);

function taskRun(name: string, annotations: Record<string, string> = {}): KubeObject {
  return {
    apiVersion: 'tekton.dev/v1',
    kind: 'TaskRun',
    metadata: { name, namespace: 'ci', annotations },
    spec: { taskRef: { name: 'build' }, params: [{ name: 'revision', value: 'main' }] },
    status: {
      startTime: '2024-01-01T00:00:00Z',
      completionTime: '2024-01-01T00:01:00Z',
      conditions: [{ type: 'Succeeded', status: 'True', reason: 'Succeeded' }],
      results: [
        { name: 'IMAGE_URL', type: 'string', value: 'registry.invalid/team/app' },
        { name: 'IMAGE_DIGEST', type: 'string', value: `sha256:${digest}` },
        { name: 'CHAINS-GIT_URL', type: 'string', value: 'https://git.example/team/app' },
        { name: 'CHAINS-GIT_COMMIT', type: 'string', value: 'a'.repeat(40) },
      ],
      taskSpec: { steps: [{ name: 'build', image: 'busybox' }] },
      steps: [{ name: 'build', container: 'step-build', imageID: `docker.io/library/busybox@sha256:${'d'.repeat(64)}` }],
    },
  };
}

/** Creates the run, signs it with `provenant sign` and stores it with the tekton backend on the fake server. */
async function createSignedRun(name: string): Promise<{ uid: string; bundle: SerializedBundle }> {
  const created = fake.create(taskRun(name));
  const uid = String((created.metadata as Record<string, unknown>)['uid']);
  await writeFile(file(`${name}.json`), JSON.stringify(created));
  const signed = await cli(['sign', '--config', file('config.json'), '--signing-secrets', dir, '--out', file(`${name}.bundle.json`), file(`${name}.json`)]);
  expect(signed.code, signed.err).toBe(0);
  const bundle = JSON.parse(await readFile(file(`${name}.bundle.json`), 'utf8')) as SerializedBundle;
  const payload = Buffer.from(bundle.dsseEnvelope?.payload ?? '', 'base64');
  const statement = JSON.parse(payload.toString('utf8')) as { subject: { name: string; digest: Record<string, string> }[]; predicateType: string };
  const key: RunKey = { kind: 'TaskRun', namespace: 'ci', name, uid };
  const tekton = createTektonStorage({ patchAnnotations: (run, annotations) => store.patchAnnotations(run, annotations), logger: createSilentLogger() });
  await tekton.store({
    run: key,
    artifact: { type: 'provenance', shortKey: `taskrun-${uid}`, subjects: statement.subject, predicateType: statement.predicateType },
    payload,
    bundle,
  });
  await store.patchAnnotations(key, {
    'chains.tekton.dev/signed': 'true',
    'chains.tekton.dev/signed-uid': uid,
    'chains.tekton.dev/transparency': 'https://rekor.example/api/v1/log/entries?logIndex=42',
  });
  return { uid, bundle };
}

beforeAll(async () => {
  fake = await createFakeKubeServer();
  dir = await mkdtemp(path.join(tmpdir(), 'provenant-cli-inspect-'));
  await writeFile(file('kubeconfig'), fake.kubeconfigYaml);
  store = createRunStore(loadKubeConfig({ kubeconfigYaml: fake.kubeconfigYaml }));
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  await writeFile(file('x509.pem'), privateKey.export({ format: 'pem', type: 'pkcs8' }));
  await writeFile(file('config.json'), JSON.stringify({ 'artifacts.taskrun.format': 'in-toto' }));
});

afterAll(async () => {
  await fake?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('provenant inspect', () => {
  it('-o json: signing status, transparency URL and the decoded provenance from the tekton annotations', async () => {
    const { uid } = await createSignedRun('build-json');
    const r = await cli(['inspect', 'taskrun', 'build-json', '-n', 'ci', '-o', 'json', '--skip-oci']);
    expect(r.code, r.err).toBe(0);
    const report = JSON.parse(r.out) as InspectReport;
    expect(report.run).toEqual({ kind: 'TaskRun', namespace: 'ci', name: 'build-json', uid });
    expect(report.status).toEqual({ state: 'signed', retries: 0, transparency: 'https://rekor.example/api/v1/log/entries?logIndex=42' });
    expect(report.attestations).toHaveLength(1);
    const a = report.attestations[0]!;
    expect(a).toMatchObject({
      source: 'tekton',
      location: `chains.tekton.dev/payload-taskrun-${uid}`,
      shortKey: `taskrun-${uid}`,
      type: 'provenance',
      payloadType: 'application/vnd.in-toto+json',
      predicateType: 'https://slsa.dev/provenance/v0.2',
      subjects: [{ name: 'registry.invalid/team/app', digest: { sha256: digest } }],
      signer: { type: 'key' },
    });
    expect(a.provenance?.builderId).toBe('https://tekton.dev/chains/v2');
    expect(a.provenance?.buildType).toBe('tekton.dev/v1/TaskRun');
    expect(a.provenance?.parameters).toContain('revision');
    expect(a.provenance?.materials).toEqual(
      expect.arrayContaining([
        { uri: 'git+https://git.example/team/app.git', digest: { sha1: 'a'.repeat(40) } },
        { uri: 'oci://docker.io/library/busybox', digest: { sha256: 'd'.repeat(64) } },
      ]),
    );
    expect(a.warnings).toBeUndefined();
    expect(report.notes).toEqual([]);
  });

  it('a failed run shows state failed, its reason code and retries', async () => {
    fake.create(taskRun('build-failed', { 'chains.tekton.dev/signed': 'failed', 'chains.tekton.dev/reason': 'OCI_UNAUTHORIZED', 'chains.tekton.dev/retries': '3' }));
    const r = await cli(['inspect', 'taskrun', 'build-failed', '-n', 'ci', '-o', 'json']);
    expect(r.code, r.err).toBe(0);
    const report = JSON.parse(r.out) as InspectReport;
    expect(report.status).toEqual({ state: 'failed', reason: 'OCI_UNAUTHORIZED', retries: 3 });
    expect(report.attestations).toEqual([]);
    expect(report.notes).toContain('no attestations found for this run');

    const table = await cli(['inspect', 'taskrun', 'build-failed', '-n', 'ci']);
    expect(table.out).toContain('failed (OCI_UNAUTHORIZED)');
  });

  it('an unsigned run, and annotations copied from another run, read as unsigned', async () => {
    fake.create(taskRun('build-unsigned'));
    const plain = JSON.parse((await cli(['inspect', 'tr', 'build-unsigned', '-n', 'ci', '-o', 'json'])).out) as InspectReport;
    expect(plain.status).toEqual({ state: 'unsigned', retries: 0 });

    fake.create(taskRun('build-copied', { 'chains.tekton.dev/signed': 'true', 'chains.tekton.dev/signed-uid': 'someone-else' }));
    const copied = JSON.parse((await cli(['inspect', 'taskrun', 'build-copied', '-n', 'ci', '-o', 'json'])).out) as InspectReport;
    expect(copied.status.state).toBe('unsigned');
    expect(copied.notes.join('\n')).toContain('someone-else');
  });

  it('a tampered payload annotation is flagged', async () => {
    const { uid } = await createSignedRun('build-tampered');
    await store.patchAnnotations({ kind: 'TaskRun', namespace: 'ci', name: 'build-tampered' }, {
      [`chains.tekton.dev/payload-taskrun-${uid}`]: Buffer.from('{"_type":"forged"}').toString('base64'),
    });
    const report = JSON.parse((await cli(['inspect', 'taskrun', 'build-tampered', '-n', 'ci', '-o', 'json', '--skip-oci'])).out) as InspectReport;
    expect(report.attestations[0]?.warnings).toHaveLength(1);
  });

  it('table and yaml outputs; unreachable registries are a note, not a failure', async () => {
    await createSignedRun('build-table');
    const table = await cli(['inspect', 'taskrun', 'build-table', '-n', 'ci', '--insecure']);
    expect(table.code, table.err).toBe(0);
    expect(table.out).toContain('status:       signed');
    expect(table.out).toContain('builder: https://tekton.dev/chains/v2');
    expect(table.out).toContain('subject: registry.invalid/team/app');
    expect(table.out).toContain('material: git+https://git.example/team/app.git');
    // The note carries the error code, which is what is asserted (not the wording around it).
    expect(table.out).toMatch(/registry\.invalid\/team\/app@sha256:c+: .*\(OCI_[A-Z_]+\)/);

    const yaml = await cli(['inspect', 'taskrun', 'build-table', '-n', 'ci', '-o', 'yaml', '--skip-oci']);
    expect((parseYaml(yaml.out) as InspectReport).status.state).toBe('signed');
  });

  it('--local-dir adds what the local backend stored for the run', async () => {
    const created = fake.create(taskRun('build-local'));
    await writeFile(file('build-local.json'), JSON.stringify(created));
    const local = path.join(dir, 'local-store');
    // artifacts.oci.storage names local, so the image signature is stored there too.
    await writeFile(file('config-local.json'), JSON.stringify({ 'artifacts.oci.storage': 'local' }));
    const signed = await cli(['sign', '--config', file('config-local.json'), '--signing-secrets', dir, '--storage', 'local', '--local-dir', local, '--out', file('ignored.json'), file('build-local.json')]);
    expect(signed.code, signed.err).toBe(0);
    const report = JSON.parse((await cli(['inspect', 'taskrun', 'build-local', '-n', 'ci', '-o', 'json', '--local-dir', local, '--skip-oci'])).out) as InspectReport;
    const sources = report.attestations.map((a) => `${a.source}:${a.type}`).sort();
    expect(sources).toEqual(['local:image-signature', 'local:provenance']);
    expect(report.status.state).toBe('unsigned');
  });

  it('usage errors and a missing run exit 2', async () => {
    expect((await cli(['inspect'])).code).toBe(2);
    expect((await cli(['inspect', 'job', 'x'])).code).toBe(2);
    expect((await cli(['inspect', 'taskrun', 'x', '-o', 'xml'])).code).toBe(2);
    const missing = await cli(['inspect', 'taskrun', 'nope', '-n', 'ci']);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('RUN_NOT_FOUND');
  });
});
