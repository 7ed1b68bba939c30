/**
 * Log scan: a controller at debug level works with every kind of secret the fixtures hold (signing
 * key, Kubernetes bearer token, registry password via a ServiceAccount pull secret, a wrong
 * registry password, a PKCS#11 PIN inline in a kmsref and a MongoDB password inline in
 * storage.docdb.mongo-server-url pushed as a broken ConfigMap) and hits the
 * error paths where secrets tend to leak. No secret appears in any log line or Event.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialsFromDockerConfig } from '../../src/storage/index.js';
import { pushImages, taskRunObject } from '../support/controller-harness.js';
import { startRegistry, type RegistryHandle } from '../support/services.js';
import {
  annotationsOf,
  leakedSecrets,
  reconciledCount,
  recordRow,
  refOf,
  runNamespace,
  scenarioTimeoutMs,
  startFaultController,
  startFaultEnvironment,
  waitUntil,
  type FaultEnvironment,
  type RunRef,
} from './support/fault-harness.js';

let env: FaultEnvironment;
let secured: RegistryHandle;
// Test-only credentials, made up for this file.
const auth = { username: 'builder', password: 'faults-test-only-Pa55word' };
const wrongPassword = 'faults-test-only-WRONG-pass';
const pin = '739146-test-only-pin';
const vaultToken = 'hvs.faults-test-only-vault-token';
const mongoPassword = 'faults-test-only-mongo-pw';

beforeAll(async () => {
  // Pull secrets are read: the opt-in RBAC overlay.
  [env, secured] = await Promise.all([startFaultEnvironment({ rbacTarget: 'manifests/overlays/pull-secrets' }), startRegistry({ auth })]);
}, 60_000);

afterAll(async () => {
  await Promise.allSettled([env?.stop(), secured?.stop()]);
});

function dockerConfig(username: string, password: string): Record<string, unknown> {
  return { auths: { [secured.host]: { auth: Buffer.from(`${username}:${password}`).toString('base64') } } };
}

function pullSecret(name: string, config: Record<string, unknown>): void {
  env.kube.create({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: runNamespace },
    type: 'kubernetes.io/dockerconfigjson',
    data: { '.dockerconfigjson': Buffer.from(JSON.stringify(config)).toString('base64') },
  });
}

describe('log scan', () => {
  it('no key, token, password or PIN reaches a log line or an Event', async () => {
    const good = dockerConfig(auth.username, auth.password);
    const bad = dockerConfig(auth.username, wrongPassword);
    const secrets = [
      ...env.secrets,
      auth.password,
      wrongPassword,
      pin,
      vaultToken,
      mongoPassword,
      Buffer.from(`${auth.username}:${auth.password}`).toString('base64'),
      Buffer.from(`${auth.username}:${wrongPassword}`).toString('base64'),
    ];
    pullSecret('regcred', good);
    pullSecret('badcred', bad);
    env.kube.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'builder', namespace: runNamespace }, imagePullSecrets: [{ name: 'regcred' }] });
    env.kube.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'wrong', namespace: runNamespace }, imagePullSecrets: [{ name: 'badcred' }] });
    const credentials = credentialsFromDockerConfig(good);
    const images = await pushImages(secured, 'scan', 30, credentials);
    env.setConfig({ ...env.faultConfig, 'artifacts.taskrun.storage': 'tekton,local,oci', 'artifacts.oci.signer': 'x509', 'artifacts.oci.storage': 'oci' });
    const started = Date.now();
    const c = await startFaultController(env, { attempts: 2 });
    try {
      const goodRefs: RunRef[] = [];
      const badRefs: RunRef[] = [];
      images.forEach((image, i) => {
        const sa = i % 5 === 4 ? 'wrong' : 'builder';
        const ref = refOf(env.kube.create(taskRunObject(`scan-${i}`, { image, serviceAccountName: sa })));
        (sa === 'wrong' ? badRefs : goodRefs).push(ref);
      });
      const all = [...goodRefs, ...badRefs];
      await waitUntil(() => reconciledCount(env.kube, all) === all.length, scenarioTimeoutMs, 'all runs reconciled');
      for (const r of goodRefs) expect(annotationsOf(env.kube, r)['chains.tekton.dev/signed'], r.name).toBe('true');
      for (const r of badRefs) expect(annotationsOf(env.kube, r)['chains.tekton.dev/reason'], r.name).toBe('OCI_UNAUTHORIZED');

      // A broken ConfigMap carrying a PIN inline: rejected (the module does not exist), logged, Event.
      const eventsBefore = env.kube.events().length;
      env.setConfig({
        ...env.faultConfig,
        'artifacts.taskrun.signer': 'kms',
        'signers.kms.kmsref': `pkcs11:token=faults;object=key?module-path=/nonexistent/libfaults.so&pin-value=${pin}`,
        'signers.kms.auth.token': vaultToken,
        // docdb: a MongoDB password inline (Chains' storage.docdb.mongo-server-url), with a refused URL scheme.
        'artifacts.pipelinerun.storage': 'tekton,docdb',
        'storage.docdb.url': 'mem://chains/_id',
        'storage.docdb.mongo-server-url': `mongodb://chains:${mongoPassword}@127.0.0.1:9/chains`,
      });
      await waitUntil(() => env.kube.events().slice(eventsBefore).some((e) => e['reason'] === 'InvalidConfiguration'), 15_000, 'Warning Event for the bad kmsref');
      env.setConfig(env.faultConfig);

      expect(c.lines.length).toBeGreaterThan(all.length);
      // The scan is not vacuous: the error paths were logged, and a planted secret is found.
      expect(c.lines.some((l) => l.includes('OCI_UNAUTHORIZED'))).toBe(true);
      expect(c.lines.some((l) => l.includes('chains-config update rejected'))).toBe(true);
      expect(leakedSecrets([...c.lines, `{"msg":"x","v":"${pin}"}`], secrets)).toEqual([`secret #${secrets.indexOf(pin)} in log line ${c.lines.length}`]);
      expect(leakedSecrets(c.lines, secrets)).toEqual([]);
      expect(leakedSecrets(env.kube.events().map((e) => JSON.stringify(e)), secrets)).toEqual([]);
      await recordRow({
        scenario: `log scan: ${c.lines.length} debug lines, ${secrets.length} secrets, wrong registry password, PIN in a broken kmsref`,
        runs: all.length,
        signed: goodRefs.length,
        failed: badRefs.length,
        rekorEntries: 0,
        duplicates: 0,
        recoverSeconds: 0,
        totalSeconds: (Date.now() - started) / 1000,
      });
    } finally {
      await c.stop();
      env.setConfig(env.faultConfig);
    }
  }, scenarioTimeoutMs + 60_000);
});
