/**
 * The controller's identity as the install manifests define it: `kubectl kustomize` renders a
 * target (the base, or an overlay such as `manifests/overlays/pull-secrets`), and its
 * ServiceAccount, ClusterRoles, Roles and bindings are applied to the fake API server. The
 * ServiceAccount is the one the controller Deployment runs as (`serviceAccountName`), so a test
 * that runs the controller with `identity.kubeconfigYaml` has exactly the permissions a cluster
 * installed from `manifests/` would give it, no more.
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import type { FakeKubeServer, KubeObject } from './fake-kube-server.js';

const run = promisify(execFile);
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const identityKinds = new Set(['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']);
const rendered = new Map<string, Promise<KubeObject[]>>();

/** `kubectl kustomize <target>` (relative to the repository), parsed; cached per target. */
export function renderManifests(target = 'manifests'): Promise<KubeObject[]> {
  let hit = rendered.get(target);
  if (hit === undefined) {
    hit = run('kubectl', ['kustomize', path.join(repoRoot, target)], { timeout: 30_000 }).then(({ stdout }) =>
      parseAllDocuments(stdout)
        .map((d) => d.toJS() as KubeObject | null)
        .filter((o): o is KubeObject => o !== null),
    );
    rendered.set(target, hit);
    hit.catch(() => rendered.delete(target));
  }
  return hit.then((objs) => structuredClone(objs));
}

export interface ControllerIdentity {
  readonly namespace: string;
  readonly serviceAccount: string;
  /** The ServiceAccount's token (what the pod has mounted). */
  readonly token: string;
  /** A kubeconfig authenticating as the ServiceAccount. */
  readonly kubeconfigYaml: string;
  /** The RBAC objects applied (after `transform`). */
  readonly applied: readonly KubeObject[];
}

export interface ApplyOptions {
  /** Kustomize target, relative to the repository; default `manifests`. */
  readonly target?: string;
  /** Edit the rendered RBAC objects before they are applied (e.g. drop one verb). */
  readonly transform?: (objects: KubeObject[]) => KubeObject[];
}

const nameOf = (o: KubeObject): string => String(o.metadata?.['name'] ?? '');
const namespaceOf = (o: KubeObject): string | undefined => (typeof o.metadata?.['namespace'] === 'string' ? (o.metadata['namespace'] as string) : undefined);

/**
 * Applies the target's ServiceAccount and RBAC objects (create, or replace what is there) and
 * issues a token for the controller's ServiceAccount. Namespaces it needs are created when missing.
 */
export async function applyControllerIdentity(kube: FakeKubeServer, options: ApplyOptions = {}): Promise<ControllerIdentity> {
  const objects = await renderManifests(options.target);
  const deployment = objects.find((o) => o.kind === 'Deployment' && nameOf(o) === 'provenant-controller');
  const pod = (deployment?.['spec'] as { template?: { spec?: { serviceAccountName?: string } } } | undefined)?.template?.spec;
  const serviceAccount = pod?.serviceAccountName;
  const namespace = deployment === undefined ? undefined : namespaceOf(deployment);
  if (serviceAccount === undefined || namespace === undefined) throw new Error(`${options.target ?? 'manifests'}: no provenant-controller Deployment with a serviceAccountName`);
  let rbac = objects.filter((o) => identityKinds.has(String(o.kind)));
  if (options.transform) rbac = options.transform(rbac);
  for (const ns of new Set([namespace, ...rbac.map(namespaceOf).filter((n): n is string => n !== undefined)])) {
    if (kube.get({ apiVersion: 'v1', kind: 'Namespace', name: ns }) === undefined) kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  }
  for (const o of rbac) {
    const ref = { apiVersion: String(o.apiVersion), kind: String(o.kind), name: nameOf(o), ...(namespaceOf(o) === undefined ? {} : { namespace: namespaceOf(o) as string }) };
    if (kube.get(ref) === undefined) kube.create(o);
    else kube.update(o);
  }
  const token = kube.issueServiceAccountToken(namespace, serviceAccount);
  return { namespace, serviceAccount, token, kubeconfigYaml: kube.kubeconfigFor(token, namespace).yaml, applied: rbac };
}

/** Removes `verb` from every rule of every Role/ClusterRole that grants it on `resource`. */
export function withoutVerb(resource: string, verb: string): (objects: KubeObject[]) => KubeObject[] {
  return (objects) =>
    objects.map((o) => {
      if ((o.kind !== 'ClusterRole' && o.kind !== 'Role') || !Array.isArray(o['rules'])) return o;
      const rules = (o['rules'] as { resources?: string[]; verbs?: string[] }[]).map((r) =>
        r.resources?.includes(resource) ? { ...r, verbs: (r.verbs ?? []).filter((v) => v !== verb) } : r,
      );
      return { ...o, rules };
    });
}

/**
 * The files client-node's `loadFromCluster(root)` reads, written under `root` as the kubelet mounts
 * them in a pod: `<root>/var/run/secrets/kubernetes.io/serviceaccount/{token,ca.crt,namespace}`.
 * Returns the environment a pod gets (`KUBERNETES_SERVICE_HOST`/`PORT`).
 */
export async function writeInClusterFiles(kube: FakeKubeServer, identity: ControllerIdentity, root: string): Promise<Record<string, string>> {
  const dir = path.join(root, 'var/run/secrets/kubernetes.io/serviceaccount');
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'token'), identity.token, { mode: 0o600 });
  await writeFile(path.join(dir, 'ca.crt'), kube.caPem);
  await writeFile(path.join(dir, 'namespace'), identity.namespace);
  return { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(kube.port) };
}
