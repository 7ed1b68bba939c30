/**
 * The fake API server as a cluster's security sees it: TLS with its own CA, bearer-token
 * authentication (401), RBAC from the manifests' roles (403), the controller's in-cluster
 * configuration path, and a manifest missing one verb making the controller's call fail.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'node:https';
import { ApiException, CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { loadKubeConfig, signedAnnotation, type KubeClientConfig } from '../../src/tekton/index.js';
import {
  annotationsOf,
  configNamespace,
  refOf,
  runNamespace,
  startE2eEnvironment,
  startInstance,
  taskRunObject,
  waitFor,
  type E2eEnvironment,
} from '../support/controller-harness.js';
import { requestAttributes, ruleAllows } from '../support/fake-kube-rbac.js';
import { applyControllerIdentity, withoutVerb } from '../support/manifest-rbac.js';

let env: E2eEnvironment;
const controllerUser = 'system:serviceaccount:tekton-chains:provenant-controller';

beforeAll(async () => {
  env = await startE2eEnvironment({ redis: false });
}, 60_000);

afterAll(async () => {
  await env?.stop();
});

/** Status of a raw HTTPS GET (`ca` undefined: the system trust store, which does not know the cluster CA). */
function rawGet(path: string, options: { token?: string; ca?: string }): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${env.kube.url}${path}`,
      { headers: options.token ? { Authorization: `Bearer ${options.token}` } : {}, ...(options.ca ? { ca: options.ca } : {}) },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function status(p: Promise<unknown>): Promise<number | undefined> {
  try {
    await p;
    return 200;
  } catch (err) {
    return err instanceof ApiException ? err.code : undefined;
  }
}

function asController(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(env.identity.kubeconfigYaml);
  return kc;
}

describe('transport and authentication', () => {
  it('serves TLS signed by its own CA: unknown to the system trust store, trusted with caPem', async () => {
    await expect(rawGet('/version', { token: env.identity.token })).rejects.toMatchObject({ code: expect.stringMatching(/CERT|SIGNATURE/) });
    expect(await rawGet('/version', { token: env.identity.token, ca: env.kube.caPem })).toBe(200);
  });

  it('answers 401 without a token, with a forged or foreign token, and once the ServiceAccount is deleted', async () => {
    const ca = env.kube.caPem;
    expect(await rawGet('/version', { ca })).toBe(401);
    expect(await rawGet('/apis/tekton.dev/v1/taskruns', { ca, token: 'not-a-token' })).toBe(401);
    const [h, p] = env.identity.token.split('.');
    expect(await rawGet('/version', { ca, token: `${h}.${p}.${Buffer.alloc(64).toString('base64url')}` })).toBe(401);
    env.kube.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'short-lived', namespace: runNamespace } });
    const token = env.kube.issueServiceAccountToken(runNamespace, 'short-lived');
    expect(await rawGet('/version', { ca, token })).toBe(200);
    env.kube.delete({ apiVersion: 'v1', kind: 'ServiceAccount', namespace: runNamespace, name: 'short-lived' });
    expect(await rawGet('/version', { ca, token })).toBe(401);
  });
});

describe('RBAC from the manifests', () => {
  it('grants the controller what manifests/base grants and refuses the rest with 403', async () => {
    const kc = asController();
    const core = kc.makeApiClient(CoreV1Api);
    const custom = kc.makeApiClient(CustomObjectsApi);
    env.kube.create(taskRunObject('rbac-probe'));
    env.kube.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'other', namespace: configNamespace }, data: {} });
    env.kube.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'signing-secrets', namespace: configNamespace }, data: {} });
    env.kube.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'app-secret', namespace: runNamespace }, data: {} });
    const taskruns = { group: 'tekton.dev', version: 'v1', plural: 'taskruns' };
    const before = env.kube.requestLog.length;
    // granted
    expect(await status(custom.listClusterCustomObject(taskruns))).toBe(200);
    expect(await status(custom.getNamespacedCustomObject({ ...taskruns, namespace: runNamespace, name: 'rbac-probe' }))).toBe(200);
    expect(await status(core.readNamespacedConfigMap({ namespace: configNamespace, name: 'chains-config' }))).toBe(200);
    // resourceNames grants a list/watch only when the field selector names the object
    expect(await status(core.listNamespacedConfigMap({ namespace: configNamespace, fieldSelector: 'metadata.name=chains-config' }))).toBe(200);
    expect(await status(core.readNamespacedSecret({ namespace: configNamespace, name: 'signing-secrets' }))).toBe(200);
    expect(await status(custom.getAPIResources({ group: 'tekton.dev', version: 'v1' }))).toBe(200);
    // refused
    expect(await status(core.listNamespacedConfigMap({ namespace: configNamespace }))).toBe(403);
    expect(await status(core.readNamespacedConfigMap({ namespace: configNamespace, name: 'other' }))).toBe(403);
    expect(await status(core.readNamespacedConfigMap({ namespace: runNamespace, name: 'chains-config' }))).toBe(403);
    expect(await status(core.readNamespacedSecret({ namespace: runNamespace, name: 'app-secret' }))).toBe(403);
    expect(await status(core.listSecretForAllNamespaces())).toBe(403);
    expect(await status(core.listNamespace())).toBe(403);
    expect(await status(custom.deleteNamespacedCustomObject({ ...taskruns, namespace: runNamespace, name: 'rbac-probe' }))).toBe(403);
    expect(
      await status(custom.patchNamespacedCustomObjectStatus({ ...taskruns, namespace: runNamespace, name: 'rbac-probe', body: [] })),
    ).toBe(403);
    const refused = env.kube.requestLog.slice(before).filter((r) => r.status === 403);
    expect(refused.length).toBe(8);
    expect(refused.every((r) => r.user === controllerUser)).toBe(true);
  });

  it('with the pull-secrets overlay, Secrets become readable in every namespace', async () => {
    const core = asController().makeApiClient(CoreV1Api);
    await applyControllerIdentity(env.kube, { target: 'manifests/overlays/pull-secrets' });
    try {
      expect(await status(core.readNamespacedSecret({ namespace: runNamespace, name: 'app-secret' }))).toBe(200);
      // get only: still no listing
      expect(await status(core.listNamespacedSecret({ namespace: runNamespace }))).toBe(403);
    } finally {
      env.kube.delete({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', name: 'provenant-pull-secrets' });
    }
    expect(await status(core.readNamespacedSecret({ namespace: runNamespace, name: 'app-secret' }))).toBe(403);
  });

  it('matches rules as the API server does: subresources, wildcards, resourceNames, non-resource URLs', () => {
    const q = new URLSearchParams();
    const logs = requestAttributes('GET', '/api/v1/namespaces/ns/pods/p1/log', q);
    expect(logs).toMatchObject({ verb: 'get', apiGroup: '', resource: 'pods', subresource: 'log', namespace: 'ns', name: 'p1' });
    expect(ruleAllows(logs, { apiGroups: [''], resources: ['pods'], verbs: ['get'] })).toBe(false);
    expect(ruleAllows(logs, { apiGroups: [''], resources: ['pods/log'], verbs: ['get'] })).toBe(true);
    expect(ruleAllows(logs, { apiGroups: [''], resources: ['*/log'], verbs: ['get'] })).toBe(true);
    expect(ruleAllows(logs, { apiGroups: [''], resources: ['pods/log'], verbs: ['get'], resourceNames: ['p2'] })).toBe(false);
    const watch = requestAttributes('GET', '/api/v1/namespaces/ns/configmaps', new URLSearchParams({ watch: '1', fieldSelector: 'metadata.name=cm' }));
    expect(watch).toMatchObject({ verb: 'watch', name: 'cm' });
    expect(requestAttributes('DELETE', '/apis/tekton.dev/v1/namespaces/ns/taskruns', q)).toMatchObject({ verb: 'deletecollection', apiGroup: 'tekton.dev' });
    expect(requestAttributes('GET', '/api/v1/namespaces/ns', q)).toMatchObject({ resource: 'namespaces', name: 'ns', namespace: 'ns' });
    const discovery = requestAttributes('GET', '/apis/tekton.dev/v1', q);
    expect(discovery).toEqual({ resourceRequest: false, verb: 'get', path: '/apis/tekton.dev/v1' });
    expect(ruleAllows(discovery, { nonResourceURLs: ['/apis/*'], verbs: ['get'] })).toBe(true);
    expect(ruleAllows(discovery, { nonResourceURLs: ['/apis'], verbs: ['get'] })).toBe(false);
    expect(ruleAllows(discovery, { apiGroups: ['*'], resources: ['*'], verbs: ['*'] })).toBe(false);
  });
});

describe('the controller', () => {
  it('runs through the in-cluster path (KUBERNETES_SERVICE_HOST/PORT, token and CA files) and signs as its ServiceAccount', async () => {
    const saved = { host: process.env['KUBERNETES_SERVICE_HOST'], port: process.env['KUBERNETES_SERVICE_PORT'] };
    let kubeConfig: KubeClientConfig;
    try {
      Object.assign(process.env, env.inClusterEnv);
      kubeConfig = loadKubeConfig({ inClusterRoot: env.inClusterRoot });
    } finally {
      for (const [k, v] of [['KUBERNETES_SERVICE_HOST', saved.host], ['KUBERNETES_SERVICE_PORT', saved.port]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
    expect(kubeConfig).toMatchObject({ server: env.kube.url, skipTLSVerify: false });
    const before = env.kube.requestLog.length;
    const c = await startInstance(env, { memoryQueue: true, kubeConfig });
    try {
      const ref = refOf(env.kube.create(taskRunObject('in-cluster')));
      await waitFor(() => annotationsOf(env.kube, ref)[signedAnnotation] === 'true', 20_000, 'run signed');
    } finally {
      await c.stop();
    }
    const served = env.kube.requestLog.slice(before);
    expect(served.length).toBeGreaterThan(0);
    // Every call authenticated as the ServiceAccount and allowed (the run's ServiceAccount itself may be a 404).
    expect(served.every((r) => r.user === controllerUser && r.status !== 401 && r.status !== 403)).toBe(true);
    expect(served.some((r) => r.method === 'PATCH' && r.path.endsWith('/taskruns/in-cluster') && r.status === 200)).toBe(true);
  }, 40_000);

  it('loadKubeConfig({ inClusterRoot }) without KUBERNETES_SERVICE_HOST is a config error', () => {
    const saved = process.env['KUBERNETES_SERVICE_HOST'];
    delete process.env['KUBERNETES_SERVICE_HOST'];
    try {
      expect(() => loadKubeConfig({ inClusterRoot: env.inClusterRoot })).toThrow(expect.objectContaining({ code: 'KUBECONFIG_INVALID' }));
    } finally {
      if (saved !== undefined) process.env['KUBERNETES_SERVICE_HOST'] = saved;
    }
  });

  it('with one verb missing from the manifests (patch on taskruns), its call fails with 403 and the typed KUBE_FORBIDDEN', async () => {
    await applyControllerIdentity(env.kube, { transform: withoutVerb('taskruns', 'patch') });
    const before = env.kube.requestLog.length;
    const c = await startInstance(env, { memoryQueue: true, attempts: 2, capture: true });
    try {
      const ref = refOf(env.kube.create(taskRunObject('missing-patch')));
      const forbidden = (): { err?: { code?: string; kind?: string } }[] =>
        c.lines.map((l) => JSON.parse(l) as { run?: string; err?: { code?: string; kind?: string } }).filter((l) => l.run?.endsWith('/missing-patch') && l.err?.code === 'KUBE_FORBIDDEN');
      await waitFor(() => forbidden().length > 0, 20_000, 'the typed error logged');
      expect(forbidden()[0]?.err).toMatchObject({ code: 'KUBE_FORBIDDEN', kind: 'config' });
      const patches = env.kube.requestLog.slice(before).filter((r) => r.method === 'PATCH' && r.path.endsWith('/taskruns/missing-patch'));
      expect(patches.length).toBeGreaterThan(0);
      expect(patches.every((r) => r.status === 403 && r.user === controllerUser)).toBe(true);
      expect(annotationsOf(env.kube, ref)[signedAnnotation]).toBeUndefined();
    } finally {
      await c.stop();
      await applyControllerIdentity(env.kube);
    }
  }, 40_000);

  it('with list on taskruns missing, the controller does not start: its first list answers 403 and start fails with KUBE_FORBIDDEN', async () => {
    await applyControllerIdentity(env.kube, { transform: withoutVerb('taskruns', 'list') });
    const before = env.kube.requestLog.length;
    try {
      await expect(startInstance(env, { memoryQueue: true })).rejects.toMatchObject({ code: 'KUBE_FORBIDDEN', kind: 'config' });
      const lists = env.kube.requestLog.slice(before).filter((r) => r.method === 'GET' && r.path.endsWith('/taskruns') && r.query['watch'] === undefined);
      expect(lists.length).toBeGreaterThan(0);
      expect(lists.every((r) => r.status === 403)).toBe(true);
    } finally {
      await applyControllerIdentity(env.kube);
    }
  }, 40_000);
});
