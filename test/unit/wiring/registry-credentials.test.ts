import { describe, it, expect } from 'vitest';
import { createCapturingLogger, createSilentLogger } from '../../../src/observability/index.js';
import { isManagedByAccepted } from '../../../src/reconcile/index.js';
import { createTtlCache, serviceAccountCredentials, type PullSecretSource } from '../../../src/wiring/index.js';
import { credentialsFromDockerConfig } from '../../../src/storage/index.js';
import { ProvenantError } from '../../../src/errors.js';

const dockerConfig = (host: string, user: string): Uint8Array =>
  Buffer.from(JSON.stringify({ auths: { [host]: { auth: Buffer.from(`${user}:pw-${user}`).toString('base64') } } }));

function source(sas: Record<string, string[]>, secrets: Record<string, { type: string; data: Record<string, Uint8Array> }>, fail?: string): PullSecretSource {
  return {
    getServiceAccount: (ns, name) => {
      if (fail === name) return Promise.reject(new ProvenantError('config', 'KUBE_FORBIDDEN', 'no'));
      const s = sas[`${ns}/${name}`];
      return Promise.resolve(s === undefined ? undefined : { imagePullSecrets: s });
    },
    getSecret: (ns, name) => Promise.resolve(secrets[`${ns}/${name}`]),
  };
}

const logger = createSilentLogger();

describe('serviceAccountCredentials', () => {
  it('uses the ServiceAccount pull secrets first, then the mounted docker config', async () => {
    const src = source(
      { 'ns/builder': ['a', 'missing', 'opaque', 'broken', 'legacy'] },
      {
        'ns/a': { type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': dockerConfig('reg.one', 'sa-user') } },
        'ns/opaque': { type: 'Opaque', data: { token: Buffer.from('x') } },
        'ns/broken': { type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': Buffer.from('not json') } },
        'ns/legacy': { type: 'kubernetes.io/dockercfg', data: { '.dockercfg': Buffer.from(JSON.stringify({ 'reg.three': { auth: Buffer.from('old:pw').toString('base64') } })) } },
      },
    );
    const base = credentialsFromDockerConfig(dockerConfig('reg.one', 'mounted'));
    const mounted2 = credentialsFromDockerConfig(JSON.stringify({ auths: { 'reg.two': { username: 'm2', password: 'p' } } }));
    const creds = await serviceAccountCredentials(src, 'ns', 'builder', { base, logger });
    expect(creds.get('reg.one')?.username).toBe('sa-user');
    expect(creds.get('reg.three')?.username).toBe('old');
    const creds2 = await serviceAccountCredentials(src, 'ns', 'builder', { base: mounted2, logger });
    expect(creds2.get('reg.two')?.username).toBe('m2');
    // Never serialised with values.
    expect(JSON.stringify(creds)).not.toContain('pw-');
  });

  it('a missing ServiceAccount falls back to the mounted config; an unreadable one throws its classified error', async () => {
    const base = credentialsFromDockerConfig(dockerConfig('reg.one', 'mounted'));
    expect((await serviceAccountCredentials(source({}, {}), 'ns', 'default', { base, logger })).get('reg.one')?.username).toBe('mounted');
    await expect(serviceAccountCredentials(source({}, {}, 'default'), 'ns', 'default', { base, logger })).rejects.toMatchObject({ code: 'KUBE_FORBIDDEN' });
  });
});

describe('serviceAccountCredentials without RBAC for Secrets (the base install)', () => {
  it('skips a pull secret it may not read, keeps the mounted credentials, and warns once with the typed code', async () => {
    const denied: PullSecretSource = {
      getServiceAccount: () => Promise.resolve({ imagePullSecrets: ['regcred', 'other'] }),
      getSecret: () => Promise.reject(new ProvenantError('config', 'KUBE_FORBIDDEN', 'no')),
    };
    const { logger: captured, lines } = createCapturingLogger('debug');
    const base = credentialsFromDockerConfig(dockerConfig('reg.one', 'mounted'));
    for (let i = 0; i < 3; i++) {
      const creds = await serviceAccountCredentials(denied, 'ns', 'builder', { base, logger: captured });
      expect(creds.get('reg.one')?.username).toBe('mounted');
    }
    const parsed = lines.map((l) => JSON.parse(l) as { level: number; code?: string; kind?: string; hint?: string; secretName?: string });
    const warnings = parsed.filter((l) => l.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ code: 'KUBE_FORBIDDEN', kind: 'config', secretName: 'regcred', hint: expect.any(String) });
  });

  it('other failures reading a Secret still throw their classified error', async () => {
    const down: PullSecretSource = {
      getServiceAccount: () => Promise.resolve({ imagePullSecrets: ['regcred'] }),
      getSecret: () => Promise.reject(new ProvenantError('transient', 'KUBE_UNAVAILABLE', 'down')),
    };
    await expect(serviceAccountCredentials(down, 'ns', 'builder', { logger })).rejects.toMatchObject({ code: 'KUBE_UNAVAILABLE' });
  });
});

describe('createTtlCache', () => {
  it('reuses a value within the TTL, reloads after it, and does not keep failures', async () => {
    let t = 0;
    let loads = 0;
    const cache = createTtlCache<number>(1000, () => t);
    const load = () => Promise.resolve(++loads);
    expect(await cache.get('k', load)).toBe(1);
    expect(await cache.get('k', load)).toBe(1);
    t = 1500;
    expect(await cache.get('k', load)).toBe(2);
    await expect(cache.get('f', () => Promise.reject(new Error('x')))).rejects.toThrow();
    expect(await cache.get('f', load)).toBe(3);
  });
});

describe('isManagedByAccepted (filter.managed-by, Chains #1882)', () => {
  it('accepts unset, blank and tekton.dev/pipeline; others only when listed', () => {
    expect(isManagedByAccepted({ spec: {} }, [])).toBe(true);
    expect(isManagedByAccepted({ spec: { managedBy: '  ' } }, [])).toBe(true);
    expect(isManagedByAccepted({ spec: { managedBy: 'tekton.dev/pipeline' } }, [])).toBe(true);
    expect(isManagedByAccepted({ spec: { managedBy: 'kueue' } }, [])).toBe(false);
    expect(isManagedByAccepted({ spec: { managedBy: 'kueue' } }, ['kueue'])).toBe(true);
  });
});
