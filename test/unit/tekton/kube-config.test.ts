import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKubeConfig } from '../../../src/tekton/index.js';

describe('loadKubeConfig (lean client configuration)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'kube-config-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('KUBECONFIG with several files: merged, the first naming an entry wins; relative files are relative to their kubeconfig', async () => {
    await mkdir(path.join(dir, 'a'), { recursive: true });
    await writeFile(path.join(dir, 'a', 'ca.pem'), 'CA-A');
    await writeFile(path.join(dir, 'a', 'client.crt'), 'CERT');
    await writeFile(path.join(dir, 'a', 'client.key'), 'KEY');
    const a = path.join(dir, 'a', 'config');
    const b = path.join(dir, 'b-config');
    await writeFile(a, [
      'apiVersion: v1',
      'kind: Config',
      'current-context: one',
      'clusters:',
      '- name: c1',
      '  cluster: { server: "https://one.example:6443", certificate-authority: ca.pem, tls-server-name: api.one }',
      'users:',
      '- name: u1',
      '  user: { client-certificate: client.crt, client-key: client.key }',
      'contexts:',
      '- name: one',
      '  context: { cluster: c1, user: u1, namespace: team-a }',
    ].join('\n'));
    await writeFile(b, JSON.stringify({
      'current-context': 'two',
      clusters: [{ name: 'c1', cluster: { server: 'https://shadowed.example' } }, { name: 'c2', cluster: { server: 'http://two.example:8080' } }],
      users: [{ name: 'u2', user: { token: 'static', username: 'ignored-when-token' } }],
      contexts: [{ name: 'two', context: { cluster: 'c2', user: 'u2' } }],
    }));
    const env = { KUBECONFIG: [a, b].join(path.delimiter), HOME: dir };
    expect(loadKubeConfig({}, env)).toEqual({
      server: 'https://one.example:6443',
      namespace: 'team-a',
      skipTLSVerify: false,
      caPem: 'CA-A',
      tlsServerName: 'api.one',
      clientCertPem: 'CERT',
      clientKeyPem: 'KEY',
    });
    expect(loadKubeConfig({ context: 'two' }, env)).toMatchObject({ server: 'http://two.example:8080', skipTLSVerify: true, token: 'static', namespace: undefined });
    expect(() => loadKubeConfig({}, { KUBECONFIG: path.join(dir, 'missing'), HOME: dir })).toThrow(expect.objectContaining({ code: 'KUBECONFIG_INVALID' }));
  });

  it('in-cluster: IPv6 service host in brackets, plain http on the kube-proxy ports, the token as a file', async () => {
    const sa = path.join(dir, 'pod', 'var/run/secrets/kubernetes.io/serviceaccount');
    await mkdir(sa, { recursive: true });
    await writeFile(path.join(sa, 'ca.crt'), 'CLUSTER-CA');
    expect(loadKubeConfig({ inClusterRoot: path.join(dir, 'pod') }, { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' })).toEqual({
      server: 'https://[fd00::1]:443',
      namespace: undefined,
      skipTLSVerify: false,
      caPem: 'CLUSTER-CA',
      tokenFile: path.join(sa, 'token'),
    });
    expect(loadKubeConfig({ inClusterRoot: path.join(dir, 'pod') }, { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '8080' })).toMatchObject({ server: 'http://10.0.0.1:8080', skipTLSVerify: true });
  });

  // Inside a pod the service account comes first; the fallback is only reachable outside one.
  it.skipIf(existsSync('/var/run/secrets/kubernetes.io/serviceaccount/token'))('nothing configured anywhere: kubectl\'s default http://localhost:8080', () => {
    expect(loadKubeConfig({}, { HOME: dir })).toMatchObject({ server: 'http://localhost:8080' });
  });
});
