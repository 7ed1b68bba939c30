import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { createFakeKubeServer, type FakeKubeServer } from '../support/fake-kube.js';

// kubectl must run asynchronously: the fake API server lives in this process's event loop.
const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '..', '..');

// The fake serves HTTPS with its own CA and enforces RBAC; kubectl applies as the admin (system:masters).
describe('install manifests, applied by a real kubectl to the fake API server', () => {
  let server: FakeKubeServer;
  let dir: string;
  let kubeconfig: string;
  beforeAll(async () => {
    server = await createFakeKubeServer();
    dir = await mkdtemp(path.join(tmpdir(), 'provenant-manifests-'));
    kubeconfig = path.join(dir, 'kubeconfig');
    await writeFile(kubeconfig, server.kubeconfigYaml);
  });
  afterAll(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const targets = async (): Promise<string[]> => ['manifests', ...(await readdir(path.join(root, 'manifests', 'overlays'))).map((o) => `manifests/overlays/${o}`)];

  it('server-side dry-runs the base and every overlay without persisting anything', async () => {
    for (const target of await targets()) {
      const { stdout: rendered } = await run('kubectl', ['kustomize', path.join(root, target)]);
      const objects = parseAllDocuments(rendered).map((d) => d.toJS() as { kind: string; metadata: { name: string } });
      const { stdout } = await run('kubectl', ['--kubeconfig', kubeconfig, 'apply', '--server-side', '--dry-run=server', '-k', path.join(root, target)]);
      for (const o of objects) {
        expect(stdout, `${target}: ${o.kind}/${o.metadata.name}`).toMatch(new RegExp(`/${o.metadata.name} serverside-applied \\(server dry run\\)`));
      }
    }
    expect(server.list('apps/v1', 'Deployment')).toEqual([]);
    expect(server.list('v1', 'ConfigMap', 'tekton-chains')).toEqual([]);
  });

  it('applies the base for real: kubectl reads back the controller and its config', async () => {
    await run('kubectl', ['--kubeconfig', kubeconfig, 'apply', '--server-side', '-k', path.join(root, 'manifests')]);
    const { stdout } = await run('kubectl', ['--kubeconfig', kubeconfig, 'get', 'configmap', 'chains-config', '-n', 'tekton-chains', '-o', 'json']);
    const cm = JSON.parse(stdout) as { data: Record<string, string> };
    expect(cm.data['storage.oci.encoding-format']).toBe('both');
    const deployments = server.list('apps/v1', 'Deployment', 'tekton-chains').map((d) => (d['metadata'] as { name: string }).name);
    expect(deployments.sort()).toEqual(['provenant-controller', 'provenant-redis']);
  });

  it('kubectl as the applied ServiceAccount (TLS + its token) gets what the roles grant and a 403 for the rest', async () => {
    const token = server.issueServiceAccountToken('tekton-chains', 'provenant-controller');
    const saConfig = path.join(dir, 'sa-kubeconfig');
    await writeFile(saConfig, server.kubeconfigFor(token, 'tekton-chains').yaml);
    const asSa = (...args: string[]) => run('kubectl', ['--kubeconfig', saConfig, ...args]);
    const { stdout } = await asSa('get', 'taskruns.tekton.dev', '-A', '-o', 'json');
    expect((JSON.parse(stdout) as { items: unknown[] }).items).toEqual([]);
    await asSa('get', 'configmap', 'chains-config', '-o', 'json');
    const before = server.requestLog.length;
    await expect(asSa('get', 'secrets', '-n', 'default')).rejects.toMatchObject({ code: 1 });
    const refused = server.requestLog.slice(before).filter((r) => r.path === '/api/v1/namespaces/default/secrets');
    expect(refused.map((r) => [r.status, r.user])).toContainEqual([403, 'system:serviceaccount:tekton-chains:provenant-controller']);
  });
});
