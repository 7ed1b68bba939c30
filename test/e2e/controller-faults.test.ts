/**
 * Controller fault scenarios (in-process queue; the Redis paths are in controller.test.ts): watch
 * drops and 410 relists, a broken ConfigMap, an invalid digest, storage that keeps failing, and
 * registry credentials taken from the run's ServiceAccount pull secrets (only with the opt-in
 * `manifests/overlays/pull-secrets` RBAC; the base install degrades to the controller's own).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialsFromDockerConfig } from '../../src/storage/index.js';
import { pushTestImage } from '../support/oci-image.js';
import { startRegistry, type RegistryHandle } from '../support/services.js';
import {
  annotationsOf,
  configNamespace,
  pushImages,
  refOf,
  runNamespace,
  signedState,
  startE2eEnvironment,
  startInstance,
  taskRunObject,
  verifyRegistry,
  waitFor,
  type E2eEnvironment,
  type RunRef,
} from '../support/controller-harness.js';
import { applyControllerIdentity } from '../support/manifest-rbac.js';

let env: E2eEnvironment;
const cmRef = { apiVersion: 'v1', kind: 'ConfigMap', namespace: configNamespace, name: 'chains-config' };

beforeAll(async () => {
  env = await startE2eEnvironment({ redis: false });
}, 60_000);

afterAll(async () => {
  await env?.stop();
});

function setConfig(data: Record<string, string>): void {
  const cm = env.kube.get(cmRef);
  if (cm === undefined) throw new Error('no ConfigMap');
  env.kube.update({ ...cm, data });
}

async function gauge(instance: { metrics: { registry: { getSingleMetricAsString(n: string): Promise<string> } } }, name: string): Promise<number> {
  const text = await instance.metrics.registry.getSingleMetricAsString(name);
  return Number(/\s(\d+)\s*$/.exec(text.trim())?.[1] ?? NaN);
}

describe('controller faults', () => {
  it('misses no run across dropped watches and a 410 relist', async () => {
    const images = await pushImages(env.registry, 'watch', 30);
    const c = await startInstance(env, { memoryQueue: true });
    const refs: RunRef[] = [];
    const create = (i: number): void => {
      refs.push(refOf(env.kube.create(taskRunObject(`watch-tr-${i}`, { image: images[i] as (typeof images)[number] }))));
    };
    try {
      for (let i = 0; i < 10; i++) create(i);
      env.kube.dropWatches();
      for (let i = 10; i < 20; i++) create(i);
      env.kube.compact();
      env.kube.dropWatches();
      for (let i = 20; i < 30; i++) create(i);
      await waitFor(() => signedState(env.kube, refs).signed === 30, 60_000, 'all runs signed');
      expect(signedState(env.kube, refs)).toEqual({ signed: 30, failed: 0, pending: 0 });
    } finally {
      await c.stop();
    }
  }, 90_000);

  it('keeps the last good config on a broken ConfigMap (metric 0, Warning Event), recovers when fixed', async () => {
    const c = await startInstance(env, { memoryQueue: true });
    try {
      expect(await gauge(c, 'provenant_config_valid')).toBe(1);
      setConfig({ ...env.configData, 'artifacts.taskrun.format': 'not-a-format' });
      await waitFor(async () => (await gauge(c, 'provenant_config_valid')) === 0, 10_000, 'config_valid 0');
      expect(c.controller.config().artifacts.taskrun.format).toBe('in-toto');
      await waitFor(
        () => env.kube.events().some((e) => (e['involvedObject'] as { kind?: string } | undefined)?.kind === 'ConfigMap' && e['type'] === 'Warning'),
        10_000,
        'Warning Event on the ConfigMap',
      );
      const ev = env.kube.events().find((e) => (e['involvedObject'] as { kind?: string }).kind === 'ConfigMap');
      expect(ev?.['involvedObject']).toMatchObject({ apiVersion: 'v1', kind: 'ConfigMap', name: 'chains-config', namespace: configNamespace });
      expect(ev?.['reason']).toBe('InvalidConfiguration');
      // Runs are still signed with the last good configuration.
      const [image] = await pushImages(env.registry, 'badcm', 1);
      const ref = refOf(env.kube.create(taskRunObject('badcm-tr', { image: image as NonNullable<typeof image> })));
      await waitFor(() => signedState(env.kube, [ref]).signed === 1, 20_000, 'run signed under the last good config');

      setConfig({ ...env.configData, 'artifacts.taskrun.format': 'slsa/v2alpha4' });
      await waitFor(async () => (await gauge(c, 'provenant_config_valid')) === 1, 10_000, 'config_valid 1');
      await waitFor(() => c.controller.config().artifacts.taskrun.format === 'slsa/v2alpha4', 5000, 'new config applied');
    } finally {
      setConfig(env.configData);
      await c.stop();
    }
  }, 60_000);

  it('signs a run with an invalid digest result without that subject and logs why', async () => {
    const c = await startInstance(env, { memoryQueue: true, capture: true });
    try {
      const [image] = await pushImages(env.registry, 'baddigest', 1);
      const ref = refOf(env.kube.create(taskRunObject('baddigest-tr', { image: image as NonNullable<typeof image>, digestValue: 'sha256:not-a-digest' })));
      await waitFor(() => signedState(env.kube, [ref]).signed === 1, 20_000, 'run signed');
      const a = annotationsOf(env.kube, ref);
      const payloadKey = Object.keys(a).find((k) => k.startsWith('chains.tekton.dev/payload-taskrun-'));
      const statement = JSON.parse(Buffer.from(a[payloadKey ?? ''] ?? '', 'base64').toString('utf8')) as { subject: unknown[] | null };
      expect(statement.subject ?? []).toEqual([]);
      const logged = c.lines.map((l) => JSON.parse(l) as { level: number; msg: string; reason?: string; run?: string });
      expect(logged.some((l) => l.level === 40 && l.msg.startsWith('provenance: dropped') && l.run === `taskrun/${runNamespace}/baddigest-tr` && typeof l.reason === 'string')).toBe(true);
    } finally {
      await c.stop();
    }
  }, 30_000);

  it('a run whose storage keeps failing ends signed=failed with the reason code and a Warning Event', async () => {
    const broken: Server = createServer((_req, res) => {
      res.writeHead(500).end();
    });
    await new Promise<void>((r) => broken.listen(0, '127.0.0.1', r));
    const port = (broken.address() as AddressInfo).port;
    setConfig({ ...env.configData, 'storage.oci.repository': `127.0.0.1:${port}/signatures` });
    const c = await startInstance(env, { memoryQueue: true, attempts: 3 });
    try {
      const [image] = await pushImages(env.registry, 'failing', 1);
      const ref = refOf(env.kube.create(taskRunObject('failing-tr', { image: image as NonNullable<typeof image> })));
      await waitFor(() => signedState(env.kube, [ref]).failed === 1, 30_000, 'run marked failed');
      const a = annotationsOf(env.kube, ref);
      expect(a['chains.tekton.dev/signed']).toBe('failed');
      expect(a['chains.tekton.dev/reason']).toMatch(/^OCI_/);
      expect(a['chains.tekton.dev/retries']).toBe('3');
      const events = () => env.kube.events().filter((e) => (e['involvedObject'] as { name?: string }).name === 'failing-tr');
      await waitFor(() => events().length > 0, 5000, 'Warning Event on the run');
      expect(events()).toEqual([expect.objectContaining({ type: 'Warning', reason: 'SigningFailed' })]);
    } finally {
      await c.stop();
      setConfig(env.configData);
      await new Promise<void>((r) => broken.close(() => r()));
    }
  }, 60_000);

  describe('registry credentials from the run ServiceAccount', () => {
    let secured: RegistryHandle;
    const auth = { username: 'builder', password: 'test-only-password' };
    beforeAll(async () => {
      secured = await startRegistry({ auth });
    }, 30_000);
    afterAll(async () => {
      await secured?.stop();
    });

    const dockerConfig = (): Record<string, unknown> => ({ auths: { [secured.host]: { auth: Buffer.from(`${auth.username}:${auth.password}`).toString('base64') } } });
    const controllerUser = 'system:serviceaccount:tekton-chains:provenant-controller';

    it('base RBAC: the 403 on the pull secret is one typed warning and the push uses the controller credentials', async () => {
      const credentials = credentialsFromDockerConfig(dockerConfig());
      const image = await pushTestImage({ host: secured.host, repository: 'private/own', credentials });
      env.kube.create({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'denied', namespace: runNamespace },
        type: 'kubernetes.io/dockerconfigjson',
        data: { '.dockerconfigjson': Buffer.from(JSON.stringify(dockerConfig())).toString('base64') },
      });
      env.kube.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'denied-sa', namespace: runNamespace }, imagePullSecrets: [{ name: 'denied' }] });
      const c = await startInstance(env, { memoryQueue: true, attempts: 2, capture: true, ociCredentials: credentials });
      try {
        const refs = ['own-1', 'own-2'].map((n) => refOf(env.kube.create(taskRunObject(n, { image, serviceAccountName: 'denied-sa' }))));
        await waitFor(() => signedState(env.kube, refs).signed === 2, 30_000, 'both runs signed with the controller credentials');
        expect((await verifyRegistry(env, [image], credentials)).envelopes).toBe(2);
        const refused = env.kube.requestLog.filter((r) => r.path === `/api/v1/namespaces/${runNamespace}/secrets/denied`);
        expect(refused.length).toBeGreaterThan(0);
        expect(refused.every((r) => r.status === 403 && r.user === controllerUser)).toBe(true);
        const warned = c.lines.map((l) => JSON.parse(l) as { level: number; code?: string; secretName?: string; hint?: string }).filter((l) => l.code === 'KUBE_FORBIDDEN');
        expect(warned).toHaveLength(1);
        expect(warned[0]).toMatchObject({ level: 40, secretName: 'denied', hint: expect.any(String) });
      } finally {
        await c.stop();
      }
    }, 60_000);

    it('with manifests/overlays/pull-secrets: uses the imagePullSecrets of spec.serviceAccountName; a ServiceAccount without them is refused', async () => {
      await applyControllerIdentity(env.kube, { target: 'manifests/overlays/pull-secrets' });
      const credentials = credentialsFromDockerConfig(dockerConfig());
      const image = await pushTestImage({ host: secured.host, repository: 'private/app', credentials });
      const other = await pushTestImage({ host: secured.host, repository: 'private/other', credentials });
      env.kube.create({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'regcred', namespace: runNamespace },
        type: 'kubernetes.io/dockerconfigjson',
        data: { '.dockerconfigjson': Buffer.from(JSON.stringify(dockerConfig())).toString('base64') },
      });
      env.kube.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'builder', namespace: runNamespace }, imagePullSecrets: [{ name: 'regcred' }] });
      env.kube.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'nobody', namespace: runNamespace } });
      const c = await startInstance(env, { memoryQueue: true, attempts: 2 });
      try {
        const good = refOf(env.kube.create(taskRunObject('creds-good', { image, serviceAccountName: 'builder' })));
        const bad = refOf(env.kube.create(taskRunObject('creds-bad', { image: other, serviceAccountName: 'nobody' })));
        await waitFor(() => signedState(env.kube, [good]).signed === 1 && signedState(env.kube, [bad]).failed === 1, 30_000, 'both runs reconciled');
        const stored = await verifyRegistry(env, [image], credentials);
        expect(stored.envelopes).toBe(1);
        expect(stored.signatures).toBe(1);
        expect(annotationsOf(env.kube, bad)['chains.tekton.dev/reason']).toBe('OCI_UNAUTHORIZED');
        // The password never reaches an Event.
        expect(JSON.stringify(env.kube.events())).not.toContain(auth.password);
      } finally {
        await c.stop();
        env.kube.delete({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', name: 'provenant-pull-secrets' });
      }
    }, 60_000);
  });
});
