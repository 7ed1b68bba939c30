import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { CoreV1Api, CustomObjectsApi, KubeConfig, PatchStrategy, Watch, makeInformer, setHeaderOptions, ApiException } from '@kubernetes/client-node';
import { createFakeKubeServer, type FakeKubeServer, type KubeObject } from '../support/fake-kube.js';
import { createRunStore } from '../../src/tekton/run-store.js';
import { classifyKubeError, detectTektonApiVersion, loadKubeConfig } from '../../src/tekton/kube-client.js';
import { isProvenantError } from '../../src/errors.js';

const run = promisify(execFile);

function taskRun(name: string, ns = 'ns', extra: Partial<KubeObject> = {}): KubeObject {
  return { apiVersion: 'tekton.dev/v1', kind: 'TaskRun', metadata: { name, namespace: ns }, spec: {}, ...extra };
}

async function status(p: Promise<unknown>): Promise<number | undefined> {
  try {
    await p;
    return 200;
  } catch (err) {
    return err instanceof ApiException ? err.code : undefined;
  }
}

describe('fake kube server', () => {
  let server: FakeKubeServer;
  let dir: string;
  let kubeconfigPath: string;
  let kc: KubeConfig;

  beforeAll(async () => {
    server = await createFakeKubeServer({ bookmarkIntervalMs: 100 });
    dir = await mkdtemp(path.join(tmpdir(), 'fake-kube-'));
    kubeconfigPath = path.join(dir, 'kubeconfig');
    await writeFile(kubeconfigPath, server.kubeconfigYaml);
    kc = new KubeConfig();
    kc.loadFromOptions(server.kubeconfig);
  });
  afterAll(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const kubectl = (...args: string[]) => run('/usr/bin/kubectl', ['--kubeconfig', kubeconfigPath, ...args], { timeout: 20_000 });

  describe('with kubectl', () => {
    it('get -o json lists namespaced TaskRuns', async () => {
      server.create(taskRun('k1'));
      server.create(taskRun('k-other', 'elsewhere'));
      const { stdout } = await kubectl('get', 'taskruns', '-n', 'ns', '-o', 'json');
      const names = (JSON.parse(stdout) as { items: KubeObject[] }).items.map((i) => (i.metadata as { name: string }).name);
      expect(names).toEqual(['k1']);
    });

    it('patch --type merge changes the stored object', async () => {
      await kubectl('patch', 'taskrun', 'k1', '-n', 'ns', '--type', 'merge', '-p', '{"metadata":{"annotations":{"a":"b"}}}');
      const got = server.get({ apiVersion: 'tekton.dev/v1', kind: 'TaskRun', namespace: 'ns', name: 'k1' });
      expect((got?.metadata as { annotations: Record<string, string> }).annotations).toEqual({ a: 'b' });
    });

    it('create -f configmap.yaml, and apply --server-side --dry-run=server does not persist', async () => {
      const file = path.join(dir, 'cm.yaml');
      await writeFile(file, 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm1\n  namespace: ns\ndata:\n  k: v\n');
      await kubectl('create', '-f', file);
      expect(server.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'ns', name: 'cm1' })?.['data']).toEqual({ k: 'v' });
      const file2 = path.join(dir, 'cm2.yaml');
      await writeFile(file2, 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm2\n  namespace: ns\ndata:\n  k: v\n');
      await kubectl('apply', '--server-side', '--dry-run=server', '-f', file2);
      expect(server.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'ns', name: 'cm2' })).toBeUndefined();
      expect(server.requestLog.some((r) => r.method === 'PATCH' && r.query['dryRun'] === 'All')).toBe(true);
    });

    it('get --watch -o json streams events', async () => {
      const child = spawn('/usr/bin/kubectl', ['--kubeconfig', kubeconfigPath, 'get', 'taskruns', '-n', 'ns', '--watch', '-o', 'json']);
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      try {
        await expect.poll(() => out, { timeout: 10_000 }).toContain('"k1"');
        expect(out).not.toContain('"k-watched"');
        server.create(taskRun('k-watched'));
        await expect.poll(() => out, { timeout: 10_000 }).toContain('"k-watched"');
      } finally {
        child.kill('SIGTERM');
      }
    });
  });

  describe('with @kubernetes/client-node', () => {
    it('lists cluster-wide with limit/continue pagination and a list resourceVersion', async () => {
      for (let i = 0; i < 5; i++) server.create(taskRun(`page-${i}`, 'paged'));
      const api = kc.makeApiClient(CustomObjectsApi);
      const names: string[] = [];
      let cont: string | undefined;
      let pages = 0;
      do {
        const page = (await api.listNamespacedCustomObject({
          group: 'tekton.dev', version: 'v1', namespace: 'paged', plural: 'taskruns', limit: 2, ...(cont ? { _continue: cont } : {}),
        })) as { items: KubeObject[]; metadata: { continue?: string; resourceVersion: string } };
        expect(page.metadata.resourceVersion).toMatch(/^\d+$/);
        names.push(...page.items.map((i) => (i.metadata as { name: string }).name));
        cont = page.metadata.continue;
        pages++;
      } while (cont);
      expect(pages).toBe(3);
      expect(names).toEqual(['page-0', 'page-1', 'page-2', 'page-3', 'page-4']);
    });

    it('expired continue token → 410; watch from a compacted resourceVersion → ERROR 410', async () => {
      const api = kc.makeApiClient(CustomObjectsApi);
      const page = (await api.listNamespacedCustomObject({ group: 'tekton.dev', version: 'v1', namespace: 'paged', plural: 'taskruns', limit: 2 })) as {
        metadata: { continue: string; resourceVersion: string };
      };
      server.compact();
      expect(await status(api.listNamespacedCustomObject({ group: 'tekton.dev', version: 'v1', namespace: 'paged', plural: 'taskruns', limit: 2, _continue: page.metadata.continue }))).toBe(410);
      const events: { type: string; obj: { code?: number } }[] = [];
      await new Promise<void>((resolve) => {
        void new Watch(kc).watch('/apis/tekton.dev/v1/taskruns', { resourceVersion: page.metadata.resourceVersion }, (type, obj: { code?: number }) => events.push({ type, obj }), () => resolve());
      });
      expect(events).toEqual([{ type: 'ERROR', obj: expect.objectContaining({ kind: 'Status', code: 410, reason: 'Expired' }) }]);
    });

    it('watch resumes from a resourceVersion and sends bookmarks', async () => {
      const api = kc.makeApiClient(CustomObjectsApi);
      const list = (await api.listClusterCustomObject({ group: 'tekton.dev', version: 'v1', plural: 'taskruns' })) as { metadata: { resourceVersion: string } };
      server.create(taskRun('after-list', 'w'));
      const seen: string[] = [];
      const ctl = await new Watch(kc).watch(
        '/apis/tekton.dev/v1/namespaces/w/taskruns',
        { resourceVersion: list.metadata.resourceVersion, allowWatchBookmarks: true },
        (type, obj: KubeObject) => seen.push(`${type}:${String((obj.metadata as { name?: string }).name ?? '')}`),
        () => undefined,
      );
      await expect.poll(() => seen.includes('ADDED:after-list') && seen.some((s) => s.startsWith('BOOKMARK')), { timeout: 10_000 }).toBe(true);
      server.patch({ apiVersion: 'tekton.dev/v1', kind: 'TaskRun', namespace: 'w', name: 'after-list' }, { metadata: { labels: { x: 'y' } } });
      server.delete({ apiVersion: 'tekton.dev/v1', kind: 'TaskRun', namespace: 'w', name: 'after-list' });
      const changes = (): string[] => seen.filter((s) => !s.startsWith('BOOKMARK'));
      // Resumed from the list's resourceVersion: exactly the changes made after it, in order.
      await expect.poll(changes, { timeout: 10_000 }).toEqual(['ADDED:after-list', 'MODIFIED:after-list', 'DELETED:after-list']);
      ctl.abort();
    });

    it('an informer syncs and sees additions', async () => {
      const api = kc.makeApiClient(CustomObjectsApi);
      const informer = makeInformer(
        kc,
        '/apis/tekton.dev/v1/namespaces/inf/taskruns',
        () => api.listNamespacedCustomObject({ group: 'tekton.dev', version: 'v1', namespace: 'inf', plural: 'taskruns' }) as never,
      );
      const added: string[] = [];
      informer.on('add', (o) => added.push(o.metadata?.name ?? ''));
      server.create(taskRun('inf-1', 'inf'));
      await informer.start();
      server.create(taskRun('inf-2', 'inf'));
      await expect.poll(() => [...added].sort(), { timeout: 10_000 }).toEqual(['inf-1', 'inf-2']);
      informer.on('error', () => undefined);
      await informer.stop();
    });

    it('merge patch, JSON patch, strategic merge (415), stale resourceVersion (409), dryRun', async () => {
      const api = kc.makeApiClient(CustomObjectsApi);
      const created = server.create(taskRun('p1', 'patch'));
      const ref = { group: 'tekton.dev', version: 'v1', namespace: 'patch', plural: 'taskruns', name: 'p1' };
      const merged = (await api.patchNamespacedCustomObject({ ...ref, body: { metadata: { annotations: { a: '1' } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch))) as KubeObject;
      expect((merged.metadata as { annotations: object }).annotations).toEqual({ a: '1' });
      const jp = (await api.patchNamespacedCustomObject({ ...ref, body: [{ op: 'add', path: '/metadata/annotations/b', value: '2' }] }, setHeaderOptions('Content-Type', PatchStrategy.JsonPatch))) as KubeObject;
      expect((jp.metadata as { annotations: object }).annotations).toEqual({ a: '1', b: '2' });
      expect(await status(api.patchNamespacedCustomObject({ ...ref, body: [{ op: 'test', path: '/metadata/annotations/b', value: 'x' }] }, setHeaderOptions('Content-Type', PatchStrategy.JsonPatch)))).toBe(422);
      expect(await status(api.patchNamespacedCustomObject({ ...ref, body: {} }, setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch)))).toBe(415);
      const staleRv = (created.metadata as { resourceVersion: string }).resourceVersion;
      expect(await status(api.patchNamespacedCustomObject({ ...ref, body: { metadata: { resourceVersion: staleRv, annotations: { c: '3' } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch)))).toBe(409);
      expect(await status(api.replaceNamespacedCustomObject({ ...ref, body: created }))).toBe(409);
      await api.patchNamespacedCustomObject({ ...ref, dryRun: 'All', body: { metadata: { annotations: { d: '4' } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
      const now = (await api.getNamespacedCustomObject(ref)) as KubeObject;
      expect((now.metadata as { annotations: object }).annotations).toEqual({ a: '1', b: '2' });
      expect(await status(api.getNamespacedCustomObject({ ...ref, name: 'missing' }))).toBe(404);
      expect(await status(api.createNamespacedCustomObject({ ...ref, body: taskRun('p1', 'patch') }))).toBe(409);
    });

    it('DELETE honours finalizers', async () => {
      const api = kc.makeApiClient(CustomObjectsApi);
      server.create(taskRun('fin', 'del', { metadata: { name: 'fin', namespace: 'del', finalizers: ['x/y'] } }));
      const ref = { group: 'tekton.dev', version: 'v1', namespace: 'del', plural: 'taskruns', name: 'fin' };
      await api.deleteNamespacedCustomObject(ref);
      const kept = (await api.getNamespacedCustomObject(ref)) as KubeObject;
      expect((kept.metadata as { deletionTimestamp?: string }).deletionTimestamp).toBeDefined();
      await api.patchNamespacedCustomObject({ ...ref, body: { metadata: { finalizers: null } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
      expect(await status(api.getNamespacedCustomObject(ref))).toBe(404);
    });

    it('core v1: namespaces, configmaps, secrets, serviceaccounts, events (v1 and events.k8s.io)', async () => {
      const core = kc.makeApiClient(CoreV1Api);
      await core.createNamespace({ body: { metadata: { name: 'corens' } } });
      await core.createNamespacedConfigMap({ namespace: 'corens', body: { metadata: { name: 'c' }, data: { x: '1' } } });
      await core.createNamespacedSecret({ namespace: 'corens', body: { metadata: { name: 's' }, stringData: { y: '2' } } });
      await core.createNamespacedServiceAccount({ namespace: 'corens', body: { metadata: { name: 'sa' } } });
      expect((await core.readNamespacedConfigMap({ namespace: 'corens', name: 'c' })).data).toEqual({ x: '1' });
      expect((await core.listNamespace()).items.map((n) => n.metadata?.name)).toContain('corens');
      const before = server.events().length;
      await core.createNamespacedEvent({ namespace: 'corens', body: { metadata: { generateName: 'e.' }, involvedObject: { name: 'x' }, reason: 'R', message: 'm' } });
      expect(server.events().length).toBe(before + 1);
    });
  });

  describe('RunStore and kube-client', () => {
    it('get / patchAnnotations / getConfigMap / emitEvent', async () => {
      const store = createRunStore(loadKubeConfig({ kubeconfigYaml: server.kubeconfigYaml }), { now: () => new Date(0) });
      expect(await store.apiVersion()).toBe('v1');
      server.create(taskRun('rs1', 'rs', { metadata: { name: 'rs1', namespace: 'rs', labels: { 'tekton.dev/pipelineRun': 'pr' } } }));
      server.create(taskRun('rs2', 'rs', { metadata: { name: 'rs2', namespace: 'rs', labels: { 'tekton.dev/pipelineRun': 'pr' } } }));
      server.create(taskRun('rs3', 'rs'));
      const key = { kind: 'TaskRun' as const, namespace: 'rs', name: 'rs1' };
      expect(await store.get(key)).toMatchObject({ metadata: { name: 'rs1' } });
      expect(await store.get({ ...key, name: 'nope' })).toBeUndefined();
      await store.patchAnnotations(key, { 'chains.tekton.dev/signed': 'true', gone: null });
      await store.patchAnnotations(key, { gone: null, more: 'x' });
      expect((server.get({ apiVersion: 'tekton.dev/v1', kind: 'TaskRun', namespace: 'rs', name: 'rs1' })?.metadata as { annotations: object }).annotations).toEqual({
        'chains.tekton.dev/signed': 'true',
        more: 'x',
      });
      expect(server.requestLog.filter((r) => r.method === 'PATCH' && r.path.endsWith('/rs1')).every((r) => r.contentType === 'application/merge-patch+json')).toBe(true);
      await expect(store.patchAnnotations(key, { a: 'b' }, { resourceVersion: '1' })).rejects.toMatchObject({ code: 'KUBE_CONFLICT', kind: 'transient' });
      server.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'chains-config', namespace: 'rs' }, data: { 'artifacts.taskrun.format': 'slsa/v1' } });
      expect(await store.getConfigMap('rs', 'chains-config')).toEqual({ 'artifacts.taskrun.format': 'slsa/v1' });
      expect(await store.getConfigMap('rs', 'absent')).toBeUndefined();
      await store.emitEvent({ ...key, uid: 'u' }, { type: 'Normal', reason: 'Signed', message: 'ok' });
      expect(server.events().at(-1)).toMatchObject({ reason: 'Signed', type: 'Normal', involvedObject: { kind: 'TaskRun', name: 'rs1', uid: 'u' } });
    });

    it('classifies 403, 5xx, 429 and network errors', async () => {
      const store = createRunStore(loadKubeConfig({ kubeconfigYaml: server.kubeconfigYaml }), { apiVersion: 'v1' });
      const key = { kind: 'TaskRun' as const, namespace: 'rs', name: 'rs1' };
      server.injectFault({ method: 'GET', pathIncludes: '/taskruns/rs1', status: 403 });
      await expect(store.get(key)).rejects.toMatchObject({ code: 'KUBE_FORBIDDEN', kind: 'config' });
      server.injectFault({ method: 'PATCH', pathIncludes: '/taskruns/rs1', status: 503 });
      await expect(store.patchAnnotations(key, { a: 'b' })).rejects.toMatchObject({ code: 'KUBE_UNAVAILABLE', kind: 'transient' });
      server.injectFault({ method: 'GET', pathIncludes: '/configmaps/', status: 429 });
      await expect(store.getConfigMap('rs', 'x')).rejects.toMatchObject({ code: 'KUBE_UNAVAILABLE', kind: 'transient' });
      server.injectFault({ method: 'POST', pathIncludes: '/events', status: 500 });
      const eventsBefore = server.events().length;
      await expect(store.emitEvent(key, { type: 'Warning', reason: 'X', message: 'y' })).resolves.toBeUndefined();
      expect(server.events().length).toBe(eventsBefore);
      const dead = loadKubeConfig({ kubeconfigYaml: server.kubeconfigYaml.replace(/server: https:\/\/.*/, 'server: http://127.0.0.1:1') });
      await expect(createRunStore(dead, { apiVersion: 'v1' }).get(key)).rejects.toMatchObject({ code: 'KUBE_UNAVAILABLE' });
      expect(classifyKubeError(new ApiException(404, 'x', {}, {}), { action: 'a' }).code).toBe('KUBE_NOT_FOUND');
      expect(classifyKubeError(new ApiException(422, 'x', {}, {}), { action: 'a' }).code).toBe('KUBE_REJECTED');
      expect(classifyKubeError(new ApiException(401, 'x', {}, {}), { action: 'a' }).code).toBe('KUBE_UNAUTHORIZED');
    });

    it('detects v1beta1 when v1 is not served, and none at all', async () => {
      const old = await createFakeKubeServer({ tektonVersions: ['v1beta1'] });
      try {
        const k = loadKubeConfig({ kubeconfigYaml: old.kubeconfigYaml });
        expect(await detectTektonApiVersion(k)).toBe('v1beta1');
        old.create({ apiVersion: 'tekton.dev/v1beta1', kind: 'TaskRun', metadata: { name: 'b', namespace: 'ns' } });
        expect(await createRunStore(k).get({ kind: 'TaskRun', namespace: 'ns', name: 'b' })).toMatchObject({ apiVersion: 'tekton.dev/v1beta1' });
      } finally {
        await old.stop();
      }
      const none = await createFakeKubeServer({ tektonVersions: [] });
      try {
        const err = await detectTektonApiVersion(loadKubeConfig({ kubeconfigYaml: none.kubeconfigYaml })).catch((e: unknown) => e);
        expect(isProvenantError(err, 'TEKTON_NOT_SERVED')).toBe(true);
      } finally {
        await none.stop();
      }
    });

    it('loadKubeConfig: bad input is a config error; http clusters get skipTLSVerify', () => {
      expect(() => loadKubeConfig({ kubeconfigPath: '/nonexistent/kubeconfig' })).toThrow(expect.objectContaining({ code: 'KUBECONFIG_INVALID' }));
      const yaml = server.kubeconfigYaml.replace(/server: https:\/\/.*/, 'server: http://127.0.0.1:1');
      expect(loadKubeConfig({ kubeconfigYaml: yaml }).skipTLSVerify).toBe(true);
      // The fake serves https with its own CA: the cluster stays verified.
      expect(loadKubeConfig({ kubeconfigYaml: server.kubeconfigYaml }).skipTLSVerify).toBe(false);
    });
  });
});
