// Contract of the lean Kubernetes client (src/tekton/kube-http.ts, kube-config.ts) against the fake
// API server over HTTPS with tokens and RBAC: pagination, watch with bookmarks, 410 and reconnect,
// token rotation from a file, typed 401/403 errors, merge patch. kubectl (a client nobody here wrote)
// reads what the lean client wrote and the other way round, so both sides speak the real protocol.
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyKubeError, createKubeClient, createRunStore, KubeApiError, loadKubeConfig, type KubeClient, type WatchEvent } from '../../src/tekton/index.js';
import { createFakeKubeServer, type FakeKubeServer, type KubeObject } from '../support/fake-kube.js';

const run = promisify(execFile);

function taskRun(name: string, ns = 'lean'): KubeObject {
  return { apiVersion: 'tekton.dev/v1', kind: 'TaskRun', metadata: { name, namespace: ns }, spec: {}, status: { conditions: [{ type: 'Succeeded', status: 'True' }] } };
}

const trRef = (name: string) => ({ apiVersion: 'tekton.dev/v1', kind: 'TaskRun', namespace: 'lean', name });

/** Collects a watch's events until `until` holds, then aborts it; resolves how it ended and the events. */
async function watchUntil(kube: KubeClient, query: Record<string, string | boolean | number>, until: (events: WatchEvent[]) => boolean, act: () => void = () => undefined): Promise<{ end: string; events: WatchEvent[] }> {
  const events: WatchEvent[] = [];
  const abort = new AbortController();
  const done = kube.watch('/apis/tekton.dev/v1/namespaces/lean/taskruns', (e) => {
    events.push(e);
    if (until(events)) abort.abort();
  }, { query, signal: abort.signal });
  act();
  return { end: await done, events };
}

describe('lean Kubernetes client', () => {
  let server: FakeKubeServer;
  let dir: string;
  let kube: KubeClient;
  let kubeconfigPath: string;
  const kubectl = (...args: string[]) => run('/usr/bin/kubectl', ['--kubeconfig', kubeconfigPath, ...args], { timeout: 20_000 });

  beforeAll(async () => {
    server = await createFakeKubeServer({ bookmarkIntervalMs: 0 });
    dir = await mkdtemp(path.join(tmpdir(), 'kube-lean-'));
    kubeconfigPath = path.join(dir, 'kubeconfig');
    await writeFile(kubeconfigPath, server.kubeconfigYaml);
    kube = createKubeClient(loadKubeConfig({ kubeconfigPath }));
    server.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'lean' } });
    for (let i = 0; i < 5; i++) server.create(taskRun(`tr-${i}`));
  });
  afterAll(async () => {
    kube.close();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a kubeconfig file (YAML) and the same as JSON into one config: server, CA, token, namespace', () => {
    const fromFile = loadKubeConfig({ kubeconfigPath });
    expect(fromFile).toMatchObject({ server: server.url, skipTLSVerify: false, caPem: server.caPem, namespace: 'default' });
    expect(fromFile.token).toBeDefined();
    const asJson = JSON.stringify({ apiVersion: 'v1', kind: 'Config', clusters: [{ name: 'c', cluster: { server: `${server.url}/`, 'insecure-skip-tls-verify': true } }], users: [{ name: 'u', user: { tokenFile: 'tok' } }], contexts: [{ name: 'x', context: { cluster: 'c', user: 'u', namespace: 'ns1' } }], 'current-context': 'x' });
    expect(loadKubeConfig({ kubeconfigYaml: asJson })).toMatchObject({ server: server.url, skipTLSVerify: true, namespace: 'ns1', tokenFile: 'tok' });
    // exec / auth-provider users are handed to client-node (loaded only then).
    const exec = asJson.replace('{"tokenFile":"tok"}', '{"exec":{"apiVersion":"client.authentication.k8s.io/v1","command":"true"}}');
    expect(loadKubeConfig({ kubeconfigYaml: exec }).delegated).toMatchObject({ reason: 'exec', context: 'x' });
    expect(() => loadKubeConfig({ kubeconfigYaml: asJson, context: 'nope' })).toThrow(expect.objectContaining({ code: 'KUBECONFIG_INVALID' }));
  });

  it('lists with limit/continue and one list resourceVersion', async () => {
    const names: string[] = [];
    let cont: string | undefined;
    let pages = 0;
    let rv: string | undefined;
    do {
      const page = await kube.list('/apis/tekton.dev/v1/namespaces/lean/taskruns', { limit: 2, continue: cont });
      rv ??= page.metadata.resourceVersion;
      names.push(...[...page.items].map((o) => String((o as KubeObject).metadata?.['name'])));
      expect(page.count).toBeLessThanOrEqual(2);
      cont = page.metadata.continue;
      pages++;
    } while (cont !== undefined);
    expect(pages).toBe(3);
    expect(names.sort()).toEqual(['tr-0', 'tr-1', 'tr-2', 'tr-3', 'tr-4']);
    expect(Number(rv)).toBeGreaterThan(0);
    // The streaming form the watcher uses: same items, same metadata, one item at a time.
    const streamed: string[] = [];
    const first = await kube.listEach('/apis/tekton.dev/v1/namespaces/lean/taskruns', { limit: 3 }, async (o) => {
      await new Promise((resolve) => setImmediate(resolve));
      streamed.push(String((o as KubeObject).metadata?.['name']));
    });
    expect(first.continue).toBeDefined();
    const rest = await kube.listEach('/apis/tekton.dev/v1/namespaces/lean/taskruns', { limit: 3, continue: first.continue }, (o) => void streamed.push(String((o as KubeObject).metadata?.['name'])));
    expect(rest.continue).toBeUndefined();
    expect(streamed.sort()).toEqual(names);
  });

  it('merge-patches with application/merge-patch+json; kubectl sees it, and the client sees kubectl patches', async () => {
    await kube.mergePatch('/apis/tekton.dev/v1/namespaces/lean/taskruns/tr-0', { metadata: { annotations: { 'lean/a': 'x' } } });
    const entry = server.requestLog.findLast((r) => r.method === 'PATCH');
    expect(entry).toMatchObject({ contentType: 'application/merge-patch+json', status: 200 });
    const { stdout } = await kubectl('get', 'taskrun', 'tr-0', '-n', 'lean', '-o', 'json');
    expect((JSON.parse(stdout) as KubeObject).metadata?.['annotations']).toMatchObject({ 'lean/a': 'x' });
    await kubectl('patch', 'taskrun', 'tr-1', '-n', 'lean', '--type', 'merge', '-p', '{"metadata":{"annotations":{"lean/b":"y"}}}');
    const got = (await kube.get('/apis/tekton.dev/v1/namespaces/lean/taskruns/tr-1')) as KubeObject;
    expect(got.metadata?.['annotations']).toMatchObject({ 'lean/b': 'y' });
    // The RunStore's patch: `null` removes a key; a stale resourceVersion is a 409 (transient KUBE_CONFLICT).
    const store = createRunStore(kube.config, { apiVersion: 'v1' });
    await store.patchAnnotations({ kind: 'TaskRun', namespace: 'lean', name: 'tr-0' }, { 'lean/a': null });
    expect((server.get(trRef('tr-0'))?.metadata?.['annotations'] as Record<string, string> | undefined)?.['lean/a']).toBeUndefined();
    const err = await store.patchAnnotations({ kind: 'TaskRun', namespace: 'lean', name: 'tr-0' }, { 'lean/c': 'z' }, { resourceVersion: '1' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'KUBE_CONFLICT', kind: 'transient' });
    expect(await store.get({ kind: 'TaskRun', namespace: 'lean', name: 'missing' })).toBeUndefined();
  });

  it('watches from a resourceVersion with bookmarks, ends on a server close, and gets 410 Gone after compaction', async () => {
    const { metadata } = await kube.list('/apis/tekton.dev/v1/namespaces/lean/taskruns', { limit: 1 });
    const from = metadata.resourceVersion ?? '';
    const first = await watchUntil(
      kube,
      { resourceVersion: from, allowWatchBookmarks: true },
      (events) => events.some((e) => e.type === 'BOOKMARK'),
      () => {
        server.create(taskRun('w-1'));
        server.patch(trRef('w-1'), { metadata: { labels: { l: '1' } } });
        setTimeout(() => server.sendBookmarks(), 100);
      },
    );
    expect(first.end).toBe('aborted');
    expect(first.events.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'BOOKMARK']);
    const bookmarkRv = String((first.events[2]?.object as KubeObject).metadata?.['resourceVersion']);

    // A normal close by the server resolves 'closed'; resuming from the bookmark replays nothing old.
    const closed = await watchUntil(kube, { resourceVersion: bookmarkRv }, () => false, () => setTimeout(() => server.dropWatches(), 100));
    expect(closed).toEqual({ end: 'closed', events: [] });

    server.compact();
    const gone = await watchUntil(kube, { resourceVersion: from }, (events) => events.length > 0);
    expect(gone.events[0]).toMatchObject({ type: 'ERROR', object: { code: 410 } });
    // An idle stream (nothing, not even a bookmark) ends as 'idle', like a close.
    const idle = await kube.watch('/apis/tekton.dev/v1/namespaces/lean/taskruns', () => undefined, { query: { resourceVersion: String(server.currentResourceVersion) }, idleTimeoutMs: 200 });
    expect(idle).toBe('idle');
  });

  it('401 and 403 are typed errors; a rotated token file is re-read after a 401', async () => {
    const bad = createKubeClient(loadKubeConfig({ kubeconfigYaml: server.kubeconfigFor('not-a-token').yaml }));
    const unauthorized = await bad.get('/apis/tekton.dev/v1/namespaces/lean/taskruns/tr-0').catch((e: unknown) => e);
    expect(unauthorized).toBeInstanceOf(KubeApiError);
    expect(classifyKubeError(unauthorized, { action: 'get' })).toMatchObject({ code: 'KUBE_UNAUTHORIZED', kind: 'config' });
    bad.close();

    // A ServiceAccount with no role: authenticated, refused by RBAC.
    server.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'robot', namespace: 'lean' } });
    const root = path.join(dir, 'pod');
    const saDir = path.join(root, 'var/run/secrets/kubernetes.io/serviceaccount');
    await mkdir(saDir, { recursive: true });
    await writeFile(path.join(saDir, 'ca.crt'), server.caPem);
    await writeFile(path.join(saDir, 'namespace'), 'lean\n');
    await writeFile(path.join(saDir, 'token'), server.issueServiceAccountToken('lean', 'robot'));
    const inCluster = loadKubeConfig({ inClusterRoot: root }, { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(server.port) });
    expect(inCluster).toMatchObject({ server: server.url, namespace: 'lean', skipTLSVerify: false });
    const pod = createKubeClient(inCluster);
    const forbidden = await pod.get('/apis/tekton.dev/v1/namespaces/lean/taskruns/tr-0').catch((e: unknown) => e);
    expect(classifyKubeError(forbidden, { action: 'get' })).toMatchObject({ code: 'KUBE_FORBIDDEN', kind: 'config' });
    server.create({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'read-runs', namespace: 'lean' }, rules: [{ apiGroups: ['tekton.dev'], resources: ['taskruns'], verbs: ['get', 'list', 'watch'] }] });
    server.create({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'robot-reads', namespace: 'lean' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'read-runs' }, subjects: [{ kind: 'ServiceAccount', name: 'robot', namespace: 'lean' }] });
    expect(await pod.get('/apis/tekton.dev/v1/namespaces/lean/taskruns/tr-0')).toMatchObject({ metadata: { name: 'tr-0' } });

    // Rotation: the old token stops working (its ServiceAccount was recreated); the kubelet wrote a new one.
    server.delete({ apiVersion: 'v1', kind: 'ServiceAccount', namespace: 'lean', name: 'robot' });
    server.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'robot', namespace: 'lean' } });
    await writeFile(path.join(saDir, 'token'), server.issueServiceAccountToken('lean', 'robot'));
    const before = server.requestLog.length;
    expect(await pod.get('/apis/tekton.dev/v1/namespaces/lean/taskruns/tr-1')).toMatchObject({ metadata: { name: 'tr-1' } });
    expect(server.requestLog.slice(before).map((r) => r.status)).toEqual([401, 200]);
    pod.close();
  });

  it('an exec credential plugin: client-node (loaded only for it) supplies the token and TLS options', async () => {
    const token = /token: (\S+)/.exec(server.kubeconfigYaml)?.[1] ?? '';
    const plugin = path.join(dir, 'cred-plugin.sh');
    await writeFile(plugin, `#!/bin/sh\necho '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"${token}"}}'\n`, { mode: 0o755 });
    const yaml = server.kubeconfigYaml.replace(/token: \S+/, `exec: { apiVersion: client.authentication.k8s.io/v1, command: ${plugin}, interactiveMode: Never }`);
    const config = loadKubeConfig({ kubeconfigYaml: yaml });
    expect(config.delegated?.reason).toBe('exec');
    const viaExec = createKubeClient(config);
    expect(await viaExec.get('/apis/tekton.dev/v1/namespaces/lean/taskruns/tr-2')).toMatchObject({ metadata: { name: 'tr-2' } });
    expect(server.requestLog.at(-1)).toMatchObject({ status: 200, user: expect.any(String) });
  });

  it('an unreachable server, or one that never answers, is KUBE_UNAVAILABLE (transient)', async () => {
    const dead = createKubeClient(loadKubeConfig({ kubeconfigYaml: server.kubeconfigYaml.replace(/server: https:\/\/.*/, 'server: http://127.0.0.1:1') }));
    const err = await dead.get('/api/v1/namespaces').catch((e: unknown) => e);
    expect(classifyKubeError(err, { action: 'get' })).toMatchObject({ code: 'KUBE_UNAVAILABLE', kind: 'transient' });
    const sockets = new Set<Socket>();
    const silent = createServer((s) => void sockets.add(s)).listen(0, '127.0.0.1');
    await once(silent, 'listening');
    try {
      const port = (silent.address() as AddressInfo).port;
      const hung = createKubeClient(loadKubeConfig({ kubeconfigYaml: server.kubeconfigYaml.replace(/server: https:\/\/.*/, `server: http://127.0.0.1:${port}`) }), { requestTimeoutMs: 200 });
      const timedOut = await hung.get('/api/v1/namespaces').catch((e: unknown) => e);
      expect(timedOut).toMatchObject({ code: 'ETIMEDOUT' });
      expect(classifyKubeError(timedOut, { action: 'get' })).toMatchObject({ code: 'KUBE_UNAVAILABLE', kind: 'transient' });
      hung.close();
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });
});
