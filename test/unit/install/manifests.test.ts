import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { configDataFromDocument, parseConfig } from '../../../src/config/index.js';
import { runCli } from '../../../src/cli/index.js';

const root = path.resolve(import.meta.dirname, '..', '..', '..');
const overlays = readdirSync(path.join(root, 'manifests', 'overlays'));
const targets = ['manifests', 'manifests/base', ...overlays.map((o) => `manifests/overlays/${o}`)];

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  [k: string]: unknown;
}

/** `kubectl kustomize` renders offline: a real client reads every manifest. */
function render(dir: string): K8sObject[] {
  const out = execFileSync('kubectl', ['kustomize', path.join(root, dir)], { encoding: 'utf8' });
  return parseAllDocuments(out).map((d) => d.toJS() as K8sObject);
}

type Container = { securityContext?: Record<string, unknown>; resources?: Record<string, unknown>; livenessProbe?: unknown; readinessProbe?: unknown };

describe.each(targets)('kustomize %s', (dir) => {
  const objects = render(dir);

  it('renders objects with apiVersion, kind and name', () => {
    expect(objects.length).toBeGreaterThan(5);
    for (const o of objects) {
      expect(o.apiVersion).toBeTruthy();
      expect(o.kind).toBeTruthy();
      expect(o.metadata.name).toBeTruthy();
    }
  });

  it('ships a chains-config the parser accepts', () => {
    const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'chains-config');
    expect(cm).toBeDefined();
    expect(() => parseConfig(configDataFromDocument(cm))).not.toThrow();
  });

  it('runs the controller hardened: non-root, read-only rootfs, no capabilities, seccomp, limits, probes', () => {
    const dep = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'provenant-controller') as
      | (K8sObject & { spec: { template: { spec: { securityContext: Record<string, unknown>; containers: Container[]; volumes: { name: string; projected?: { sources: { serviceAccountToken?: { audience: string; path: string } }[] } }[] } } } })
      | undefined;
    expect(dep).toBeDefined();
    const pod = dep!.spec.template.spec;
    expect(pod.securityContext['runAsNonRoot']).toBe(true);
    expect(pod.securityContext['seccompProfile']).toEqual({ type: 'RuntimeDefault' });
    for (const c of pod.containers) {
      expect(c.securityContext?.['readOnlyRootFilesystem']).toBe(true);
      expect(c.securityContext?.['allowPrivilegeEscalation']).toBe(false);
      expect(c.securityContext?.['capabilities']).toEqual({ drop: ['ALL'] });
      expect(c.resources?.['limits']).toBeDefined();
      expect(c.resources?.['requests']).toBeDefined();
      expect(c.livenessProbe).toBeDefined();
      expect(c.readinessProbe).toBeDefined();
    }
    const token = pod.volumes.flatMap((v) => v.projected?.sources ?? []).find((s) => s.serviceAccountToken);
    expect(token?.serviceAccountToken).toMatchObject({ audience: 'sigstore', path: 'oidc-token' });
  });

  it('grants least privilege: no wildcards, runs only get/list/watch/patch, secrets by name in its namespace', () => {
    const roles = objects.filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role') as (K8sObject & {
      rules: { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] }[];
    })[];
    expect(roles.length).toBeGreaterThan(0);
    for (const r of roles) {
      for (const rule of r.rules) {
        expect(rule.verbs).not.toContain('*');
        expect(rule.resources).not.toContain('*');
        expect(rule.verbs).not.toContain('delete');
        if (rule.resources.includes('taskruns')) expect([...rule.verbs].sort()).toEqual(['get', 'list', 'patch', 'watch']);
        if (r.kind === 'Role' && rule.resources.includes('secrets')) expect(rule.resourceNames).toEqual(['signing-secrets']);
      }
    }
  });

  it('reads Secrets outside its namespace only with the opt-in pull-secrets overlay, and then only with get', () => {
    const clusterSecretRules = objects
      .filter((o) => o.kind === 'ClusterRole')
      .flatMap((o) => (o['rules'] as { resources: string[]; verbs: string[] }[]).filter((rule) => rule.resources.includes('secrets')));
    if (dir === 'manifests/overlays/pull-secrets') expect(clusterSecretRules.map((r) => r.verbs)).toEqual([['get']]);
    else expect(clusterSecretRules).toEqual([]);
  });
});

describe('config/ examples', () => {
  const files = readdirSync(path.join(root, 'config')).filter((f) => f.endsWith('.yaml'));
  it.each(files)('%s passes provenant config validate', async (file) => {
    const out: string[] = [];
    const code = await runCli(['config', 'validate', path.join(root, 'config', file)], {
      stdout: (t) => void out.push(t),
      stderr: (t) => void out.push(t),
      readStdin: async () => '',
      env: {},
      cwd: root,
    });
    expect(out.join('')).toContain(': valid');
    expect(code).toBe(0);
  });
});
