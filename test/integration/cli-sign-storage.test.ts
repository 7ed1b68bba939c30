// `provenant sign --storage tekton|local`: what lands in the annotated run file and in the local
// directory, read back with the project's own readers and verified.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { SerializedBundle } from '@sigstore/bundle';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { readLocal } from '../../src/storage/index.js';
import { verifyBundle } from '../../src/verify/index.js';
import { artifactsFromAnnotations } from '../../src/verify/inspect-attestation.js';
import { startSigstoreMock, type SigstoreMock } from '../support/sigstore-mock.js';
import { runCaptured, type CliResult } from '../support/cli.js';

let dir: string;
let sigstore: SigstoreMock;
let publicKeyPem: string;
const file = (name: string): string => path.join(dir, name);
const uid = '0f0f0f0f-1111-2222-3333-444444444444';
const digest = 'a'.repeat(64);

function cli(argv: string[]): Promise<CliResult> {
  return runCaptured(argv, { env: { HOME: '/nonexistent' }, cwd: dir });
}

const taskRun = {
  apiVersion: 'tekton.dev/v1',
  kind: 'TaskRun',
  metadata: { name: 'build', namespace: 'ci', uid, annotations: { keep: 'me' } },
  spec: { taskRef: { name: 'build' } },
  status: {
    startTime: '2024-01-01T00:00:00Z',
    completionTime: '2024-01-01T00:01:00Z',
    conditions: [{ type: 'Succeeded', status: 'True', reason: 'Succeeded' }],
    results: [
      { name: 'IMAGE_URL', type: 'string', value: 'registry.invalid/app' },
      { name: 'IMAGE_DIGEST', type: 'string', value: `sha256:${digest}` },
    ],
    taskSpec: { steps: [{ name: 'build', image: 'busybox' }] },
  },
};

beforeAll(async () => {
  sigstore = await startSigstoreMock();
  dir = await mkdtemp(path.join(tmpdir(), 'provenant-cli-sign-storage-'));
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  publicKeyPem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
  await writeFile(file('x509.pem'), privateKey.export({ format: 'pem', type: 'pkcs8' }));
  await writeFile(file('run.json'), JSON.stringify(taskRun));
  // Image signatures go to tekton too (Chains' artifacts.oci.storage can name tekton).
  await writeFile(file('config.json'), JSON.stringify({ 'artifacts.oci.storage': 'oci,tekton' }));
});

afterAll(async () => {
  await sigstore?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('provenant sign --storage', () => {
  it('tekton: writes the run with Chains annotations (provenance + image signature), signed=true and the transparency URL', async () => {
    const r = await cli(['sign', '--config', file('config.json'), '--signing-secrets', dir, '--storage', 'tekton', '--rekor-url', sigstore.rekorUrl, '--run-out', file('signed.yaml'), file('run.json')]);
    expect(r.code, r.err).toBe(0);
    const bundle = JSON.parse(r.out) as SerializedBundle;
    expect(bundle.verificationMaterial.tlogEntries).toHaveLength(1);

    const doc = parseYaml(await readFile(file('signed.yaml'), 'utf8')) as { metadata: { annotations: Record<string, string> }; status: unknown };
    const a = doc.metadata.annotations;
    expect(doc.status).toEqual(taskRun.status);
    expect(a['keep']).toBe('me');
    expect(a['chains.tekton.dev/signed']).toBe('true');
    expect(a['chains.tekton.dev/signed-uid']).toBe(uid);
    expect(a['chains.tekton.dev/transparency']).toBe(`${sigstore.rekorUrl}/api/v1/log/entries?logIndex=${bundle.verificationMaterial.tlogEntries[0]?.logIndex ?? ''}`);
    expect(Object.keys(a).filter((k) => k.startsWith('chains.tekton.dev/payload-')).sort()).toEqual([
      `chains.tekton.dev/payload-${digest.slice(0, 12)}`,
      `chains.tekton.dev/payload-taskrun-${uid}`,
    ]);

    const artifacts = artifactsFromAnnotations(a);
    expect(artifacts.map((x) => x.type).sort()).toEqual(['image-signature', 'provenance']);
    for (const artifact of artifacts) {
      const verified = verifyBundle(artifact.bundle, { key: publicKeyPem }, artifact.type === 'image-signature' ? { artifact: artifact.payload } : {});
      expect(verified.payload.length).toBeGreaterThan(0);
    }
  });

  it('tekton without --run-out writes RUN.signed.json next to the run file', async () => {
    const r = await cli(['sign', '--config', file('config.json'), '--signing-secrets', dir, '--storage', 'tekton', file('run.json')]);
    expect(r.code, r.err).toBe(0);
    const doc = JSON.parse(await readFile(file('run.signed.json'), 'utf8')) as { metadata: { annotations: Record<string, string> } };
    expect(doc.metadata.annotations['chains.tekton.dev/signed']).toBe('true');
    expect(doc.metadata.annotations['chains.tekton.dev/transparency']).toBeUndefined();
  });

  it('local: stores the provenance bundle and payload under the run directory', async () => {
    const root = file('store');
    const r = await cli(['sign', '--config', file('config.json'), '--signing-secrets', dir, '--storage', 'local', '--local-dir', root, file('run.json')]);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain('stored provenance');
    const entries = await readLocal(root);
    // artifacts.oci.storage does not name local: only the provenance is stored there.
    expect(entries.map((e) => e.shortKey)).toEqual([`taskrun-${uid}`]);
    expect(entries[0]?.run).toEqual({ kind: 'TaskRun', namespace: 'ci', name: 'build', uid });
    const verified = verifyBundle(entries[0]?.bundle, { key: publicKeyPem });
    expect(Buffer.from(entries[0]?.payload ?? []).equals(verified.payload)).toBe(true);
  });

  it('errors: unknown backend (2, STORAGE_UNSUPPORTED), tekton from stdin without --run-out (2), run without uid (2), bad --rekor-url (2)', async () => {
    const unsupported = await cli(['sign', '--config', file('config.json'), '--signing-secrets', dir, '--storage', 'kafka', file('run.json')]);
    expect(unsupported.code).toBe(2);
    expect(unsupported.err).toContain('STORAGE_UNSUPPORTED');

    expect((await cli(['sign', '--config', file('config.json'), '--signing-secrets', dir, '--storage', 'tekton', '-'])).code).toBe(2);

    await writeFile(file('no-uid.json'), JSON.stringify({ ...taskRun, metadata: { name: 'build' } }));
    const noUid = await cli(['sign', '--config', file('config.json'), '--signing-secrets', dir, '--storage', 'local', '--local-dir', file('x'), file('no-uid.json')]);
    expect(noUid.code).toBe(2);
    expect(noUid.err).toContain('RUN_METADATA_MISSING');

    expect((await cli(['sign', '--config', file('config.json'), '--signing-secrets', dir, '--rekor-url', 'ftp://x', file('run.json')])).code).toBe(2);
  });
});
