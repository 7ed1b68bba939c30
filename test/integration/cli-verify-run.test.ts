// `provenant verify --taskrun` against the fake Kubernetes API server: attestations stored by the real
// tekton backend, checked with a key, with policy flags, and with the Rekor entry the transparency
// annotation names (mock Rekor + trusted root).
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { SerializedBundle } from '@sigstore/bundle';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSilentLogger } from '../../src/observability/logger.js';
import { createTektonStorage } from '../../src/storage/index.js';
import { createRunStore, loadKubeConfig, type RunKey, type RunStore } from '../../src/tekton/index.js';
import { tlogEntryOf, transparencyAnnotationValue } from '../../src/transparency/index.js';
import { createFakeKubeServer, type FakeKubeServer, type KubeObject } from '../support/fake-kube.js';
import { startSigstoreMock, type SigstoreMock } from '../support/sigstore-mock.js';
import { jwt } from '../unit/signing/helpers.js';
import type { InspectReport } from '../../src/cli/commands/inspect.js';
import { runCaptured } from '../support/cli.js';

interface Result {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

let fake: FakeKubeServer;
let sigstore: SigstoreMock;
let store: RunStore;
let dir: string;
const file = (name: string): string => path.join(dir, name);

function cli(argv: string[]): Promise<Result> {
  return runCaptured(argv, { env: { KUBECONFIG: file('kubeconfig'), HOME: '/nonexistent' }, cwd: dir });
}

function taskRun(name: string): KubeObject {
  return {
    apiVersion: 'tekton.dev/v1',
    kind: 'TaskRun',
    metadata: { name, namespace: 'default' },
    spec: { taskRef: { name: 'build' } },
    status: {
      startTime: '2024-01-01T00:00:00Z',
      completionTime: '2024-01-01T00:01:00Z',
      conditions: [{ type: 'Succeeded', status: 'True', reason: 'Succeeded' }],
      results: [
        { name: 'IMAGE_URL', type: 'string', value: 'registry.invalid/app' },
        { name: 'IMAGE_DIGEST', type: 'string', value: `sha256:${'e'.repeat(64)}` },
      ],
      taskSpec: { steps: [{ name: 'build', image: 'busybox' }] },
    },
  };
}

/** Creates the run in the fake API server, signs it, stores it as annotations (tekton backend). */
async function createSignedRun(name: string, options: { rekor?: boolean } = {}): Promise<{ key: RunKey; bundle: SerializedBundle }> {
  const created = fake.create(taskRun(name));
  const uid = String((created.metadata as Record<string, unknown>)['uid']);
  await writeFile(file(`${name}.json`), JSON.stringify(created));
  const rekor = options.rekor === true ? ['--rekor-url', sigstore.rekorUrl] : [];
  const signed = await cli(['sign', '--config', file('config.json'), '--signing-secrets', dir, ...rekor, '--out', file(`${name}.bundle.json`), file(`${name}.json`)]);
  expect(signed.code, signed.err).toBe(0);
  const bundle = JSON.parse(await readFile(file(`${name}.bundle.json`), 'utf8')) as SerializedBundle;
  const payload = Buffer.from(bundle.dsseEnvelope?.payload ?? '', 'base64');
  const statement = JSON.parse(payload.toString('utf8')) as { subject: { name: string; digest: Record<string, string> }[]; predicateType: string };
  const key: RunKey = { kind: 'TaskRun', namespace: 'default', name, uid };
  const tekton = createTektonStorage({ patchAnnotations: (run, a) => store.patchAnnotations(run, a), logger: createSilentLogger() });
  await tekton.store({ run: key, artifact: { type: 'provenance', shortKey: `taskrun-${uid}`, subjects: statement.subject, predicateType: statement.predicateType }, payload, bundle });
  const entry = tlogEntryOf(bundle);
  await store.patchAnnotations(key, {
    'chains.tekton.dev/signed': 'true',
    ...(entry === undefined ? {} : { 'chains.tekton.dev/transparency': transparencyAnnotationValue(sigstore.rekorUrl, entry.logIndex) }),
  });
  return { key, bundle };
}

beforeAll(async () => {
  [fake, sigstore] = await Promise.all([createFakeKubeServer(), startSigstoreMock()]);
  dir = await mkdtemp(path.join(tmpdir(), 'provenant-cli-verify-run-'));
  await writeFile(file('kubeconfig'), fake.kubeconfigYaml);
  store = createRunStore(loadKubeConfig({ kubeconfigYaml: fake.kubeconfigYaml }));
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  await writeFile(file('x509.pem'), privateKey.export({ format: 'pem', type: 'pkcs8' }));
  await writeFile(file('key.pub'), publicKey.export({ format: 'pem', type: 'spki' }));
  await writeFile(file('other.pub'), generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'pem', type: 'spki' }));
  await writeFile(file('trusted_root.json'), JSON.stringify(sigstore.trustedRoot));
  await writeFile(file('config.json'), '{}');
});

afterAll(async () => {
  await Promise.all([fake?.stop(), sigstore?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('provenant verify --taskrun', () => {
  it('the right key verifies (0) and prints subjects, predicate type and builder; a wrong key is rejected (1)', async () => {
    await createSignedRun('ok');
    const ok = await cli(['verify', '--taskrun', 'ok', '--key', file('key.pub')]);
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toContain('Verified OK: taskrun/default/ok annotation chains.tekton.dev/payload-taskrun-');
    expect(ok.out).toContain('subject: registry.invalid/app sha256:');
    expect(ok.out).toContain('predicate type: https://slsa.dev/provenance/v0.2');
    expect(ok.out).toContain('builder: https://tekton.dev/chains/v2');

    const policy = await cli(['verify', '--taskrun', 'ok', '-n', 'default', '--key', file('key.pub'), '--builder-id', 'https://tekton.dev/chains/v2', '--predicate-type', 'https://slsa.dev/provenance/v0.2']);
    expect(policy.code, policy.err).toBe(0);

    const wrong = await cli(['verify', '--taskrun', 'ok', '--key', file('other.pub')]);
    expect(wrong.code).toBe(1);
    expect(wrong.err).toContain('VERIFY_SIGNATURE_INVALID');

    const builder = await cli(['verify', '--taskrun', 'ok', '--key', file('key.pub'), '--builder-id', 'https://evil.example']);
    expect(builder.code).toBe(1);
    expect(builder.err).toContain('POLICY_BUILDER_MISMATCH');
  });

  it('a tampered payload annotation is rejected (1), and so is a tampered envelope', async () => {
    const { key } = await createSignedRun('tampered');
    const shortKey = `taskrun-${key.uid}`;
    await store.patchAnnotations(key, { [`chains.tekton.dev/payload-${shortKey}`]: Buffer.from('{"_type":"forged"}').toString('base64') });
    const r = await cli(['verify', '--taskrun', 'tampered', '--key', file('key.pub')]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('VERIFY_PAYLOAD_MISMATCH');

    // Forge both the payload and the envelope's payload: the signature no longer matches.
    const { key: key2, bundle } = await createSignedRun('forged');
    const forged = Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v0.1', subject: [], predicateType: 'x', predicate: {} }));
    const envelope = { ...bundle.dsseEnvelope, payload: forged.toString('base64') };
    await store.patchAnnotations(key2, {
      [`chains.tekton.dev/payload-taskrun-${key2.uid}`]: forged.toString('base64'),
      [`chains.tekton.dev/signature-taskrun-${key2.uid}`]: Buffer.from(JSON.stringify(envelope)).toString('base64'),
    });
    const f = await cli(['verify', '--taskrun', 'forged', '--key', file('key.pub')]);
    expect(f.code).toBe(1);
    expect(f.err).toContain('VERIFY_SIGNATURE_INVALID');
  });

  it('a run without attestations is rejected (1); attestations copied from another run are rejected', async () => {
    fake.create(taskRun('bare'));
    const r = await cli(['verify', '--taskrun', 'bare', '--key', file('key.pub')]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('VERIFY_NO_ATTESTATIONS');

    const { key } = await createSignedRun('source');
    const source = (await store.get(key)) as { metadata: { annotations: Record<string, string> } };
    const copy = taskRun('copy');
    (copy.metadata as Record<string, unknown>)['annotations'] = source.metadata.annotations;
    fake.create(copy);
    const c = await cli(['verify', '--taskrun', 'copy', '--key', file('key.pub')]);
    expect(c.code).toBe(1);
    expect(c.err).toContain('VERIFY_RUN_MISMATCH');
  });

  it('--require-tlog fetches the Rekor entry the transparency annotation names (0); without one it is rejected (1)', async () => {
    await createSignedRun('logged', { rekor: true });
    const r = await cli(['verify', '--taskrun', 'logged', '--key', file('key.pub'), '--trusted-root', file('trusted_root.json'), '--require-tlog']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/tlog: logIndex \d+/);

    await createSignedRun('unlogged');
    const u = await cli(['verify', '--taskrun', 'unlogged', '--key', file('key.pub'), '--trusted-root', file('trusted_root.json'), '--require-tlog']);
    expect(u.code).toBe(1);
    expect(u.err).toContain('VERIFY_TLOG_MISSING');
  });

  it('keyless: the certificate from cert-<key> plus the Rekor entry verifies against the identity (0), a wrong identity is rejected (1)', async () => {
    const issuer = 'https://kubernetes.default.svc';
    const san = 'https://kubernetes.io/namespaces/build/serviceaccounts/pipeline';
    const token = jwt({ iss: issuer, sub: 'system:serviceaccount:build:pipeline', aud: ['sigstore'], 'kubernetes.io': { namespace: 'build', serviceaccount: { name: 'pipeline' } } });
    await writeFile(file('oidc-token'), token);
    await writeFile(
      file('config-keyless.json'),
      JSON.stringify({ 'signers.x509.fulcio.enabled': 'true', 'signers.x509.fulcio.address': sigstore.fulcioUrl, 'signers.x509.identity.token.file': file('oidc-token'), 'artifacts.oci.signer': 'none' }),
    );
    const created = fake.create(taskRun('keyless'));
    const uid = String((created.metadata as Record<string, unknown>)['uid']);
    await writeFile(file('keyless.json'), JSON.stringify(created));
    const signed = await cli(['sign', '--config', file('config-keyless.json'), '--storage', 'tekton', '--rekor-url', sigstore.rekorUrl, '--run-out', file('keyless.signed.json'), file('keyless.json')]);
    expect(signed.code, signed.err).toBe(0);
    const annotated = JSON.parse(await readFile(file('keyless.signed.json'), 'utf8')) as { metadata: { annotations: Record<string, string> } };
    await store.patchAnnotations({ kind: 'TaskRun', namespace: 'default', name: 'keyless' }, annotated.metadata.annotations);

    const base = ['verify', '--taskrun', 'keyless', '--trusted-root', file('trusted_root.json'), '--certificate-oidc-issuer', issuer];
    const ok = await cli([...base, '--certificate-identity', san, '--require-tlog']);
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toContain(`signer: ${san}`);
    expect(ok.out).toMatch(/tlog: logIndex \d+/);

    const wrong = await cli([...base, '--certificate-identity', 'https://kubernetes.io/namespaces/build/serviceaccounts/other']);
    expect(wrong.code).toBe(1);
    expect(wrong.err).toContain('VERIFY_IDENTITY_MISMATCH');

    const inspected = await cli(['inspect', 'taskrun', 'keyless', '-o', 'json', '--skip-oci']);
    const report = JSON.parse(inspected.out) as InspectReport;
    expect(report.status.state).toBe('signed');
    expect(report.status.transparency).toContain(`${sigstore.rekorUrl}/api/v1/log/entries?logIndex=`);
    expect(report.attestations.map((a) => [a.shortKey, a.signer])).toEqual([[`taskrun-${uid}`, { type: 'certificate', san, issuer }]]);
  });

  it('bad flags and a missing run exit 2', async () => {
    expect((await cli(['verify', '--taskrun', 'ok', '--pipelinerun', 'p', '--key', file('key.pub')])).code).toBe(2);
    expect((await cli(['verify', '--taskrun', 'ok'])).code).toBe(2);
    expect((await cli(['verify', '--key', file('key.pub')])).code).toBe(2);
    expect((await cli(['verify', '--taskrun', 'ok', '--certificate-identity', 'x', '--certificate-oidc-issuer', 'y'])).code).toBe(2);
    expect((await cli(['verify', '--taskrun', 'ok', '--key', file('key.pub'), '--bogus'])).code).toBe(2);
    const missing = await cli(['verify', '--taskrun', 'nope', '--key', file('key.pub')]);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('RUN_NOT_FOUND');
  });
});
