/**
 * `trace` point 6: from a running workload. The fake Kubernetes API server holds pods whose container
 * statuses name the images actually running (`imageID`); the CLI reads them with the user's kubeconfig
 * and traces every image as one graph rooted at the workload.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TraceGraph } from '../../src/verify/index.js';
import { runCaptured } from '../support/cli.js';
import { createFakeKubeServer, type FakeKubeServer } from '../support/fake-kube.js';
import { createTestKey, pushTestImage, type PushedImage } from '../support/oci-image.js';
import { startRegistry, type RegistryHandle } from '../support/services.js';
import { attachTampered, signAndAttach } from '../support/supply-chain.js';

let registry: RegistryHandle;
let kube: FakeKubeServer;
let dir: string;
let kubeconfig: string;
let keyFile: string;
const key = createTestKey();
const img: Record<string, PushedImage> = {};

function pod(name: string, containers: Record<string, PushedImage>, owner?: string, labels: Record<string, string> = { app: 'web' }): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'shop', labels, ...(owner === undefined ? {} : { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: owner, uid: `uid-${owner}`, controller: true }] }) },
    spec: { containers: Object.entries(containers).map(([n, i]) => ({ name: n, image: `${i.name}:latest` })) },
    status: { phase: 'Running', containerStatuses: Object.entries(containers).map(([n, i]) => ({ name: n, image: `${i.name}:latest`, imageID: `docker-pullable://${i.ref}`, ready: true })) },
  };
}

beforeAll(async () => {
  [registry, kube] = await Promise.all([startRegistry(), createFakeKubeServer()]);
  dir = await mkdtemp(path.join(tmpdir(), 'provenant-trace-workload-'));
  for (const r of ['shop/web', 'shop/proxy', 'shop/tampered', 'shop/other']) img[r.split('/')[1]!] = await pushTestImage({ host: registry.host, repository: r });
  await Promise.all([signAndAttach(key, img['web']!, []), signAndAttach(key, img['proxy']!, []), attachTampered(key, img['tampered']!, []), signAndAttach(key, img['other']!, [])]);
  kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
  kube.create({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'shop' }, spec: { selector: { matchLabels: { app: 'web' } } } });
  for (const [rs, owner] of [['web-5d8f', 'web'], ['canary-77aa', 'canary']] as const) {
    kube.create({ apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: rs, namespace: 'shop', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: owner, uid: `uid-${owner}` }] } });
  }
  kube.create(pod('web-5d8f-a', { app: img['web']!, proxy: img['proxy']! }, 'web-5d8f'));
  kube.create(pod('web-5d8f-b', { app: img['web']!, proxy: img['proxy']! }, 'web-5d8f'));
  // Same labels, another deployment's ReplicaSet: not part of deployment/web.
  kube.create(pod('canary-77aa-a', { app: img['tampered']! }, 'canary-77aa'));
  kube.create(pod('batch', { job: img['other']! }, undefined, { app: 'batch' }));
  kubeconfig = path.join(dir, 'kubeconfig');
  await writeFile(kubeconfig, kube.kubeconfigYaml);
  keyFile = path.join(dir, 'key.pub');
  await writeFile(keyFile, key.publicKeyPem);
}, 60_000);

afterAll(async () => {
  await Promise.all([registry?.stop(), kube?.stop()]);
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

async function cli(target: string, ...extra: string[]): Promise<{ code: number; graph: TraceGraph; err: string }> {
  const r = await runCaptured(['trace', target, '--key', keyFile, '--kubeconfig', kubeconfig, '-o', 'json', ...extra], { env: { PROVENANT_LOG_LEVEL: 'silent' }, cwd: dir });
  return { code: r.code, graph: (r.out === '' ? { nodes: [], edges: [] } : JSON.parse(r.out)) as TraceGraph, err: r.err };
}

describe('trace a running workload', () => {
  it('traces the images of a deployment, and only of its own ReplicaSets', async () => {
    const { code, graph } = await cli('deployment/web', '-n', 'shop');
    expect(graph.root).toBe('workload:deployment/shop/web');
    const images = graph.nodes.filter((n) => n.kind === 'image');
    expect(images.map((n) => n.ref).sort()).toEqual([img['proxy']!.ref, img['web']!.ref].sort());
    expect(images.every((n) => n.verdict === 'verified')).toBe(true);
    expect(graph.edges.filter((e) => e.relation === 'container').map((e) => e.label).sort()).toEqual(['web-5d8f-a/app', 'web-5d8f-a/proxy', 'web-5d8f-b/app', 'web-5d8f-b/proxy']);
    expect(code).toBe(0);
  });

  it('fails a namespace with a tampered image, and a pod that does not exist', async () => {
    const ns = await cli('namespace/shop');
    expect(ns.graph.nodes.find((n) => n.ref === img['tampered']!.ref)).toMatchObject({ verdict: 'invalid-signature' });
    expect(ns.graph.nodes.filter((n) => n.kind === 'image')).toHaveLength(4);
    expect(ns.code).toBe(1);
    const one = await cli('pod/batch', '-n', 'shop');
    expect(one.graph.nodes.map((n) => n.ref)).toEqual(['pod/shop/batch', img['other']!.ref]);
    expect(one.code).toBe(0);
    const missing = await cli('pod/nope', '-n', 'shop');
    expect(missing.code).toBe(2);
  });
});
