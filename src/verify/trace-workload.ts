/**
 * `provenant trace pod/NAME | deployment/NAME | namespace/NAME`: the images a workload is running, as
 * the kubelet reports them (`status.containerStatuses[].imageID`, i.e. the digest actually pulled),
 * read through the Kubernetes API with the user's own credentials. Needs get/list pods, get
 * deployments and replicasets in the namespace.
 */
import path from 'node:path';
import { ProvenantError, errorMessage } from '../errors.js';
import { kubeClientFor, loadKubeConfig } from '../tekton/index.js';
import type { WorkloadRoot } from './trace.js';

export type WorkloadKind = 'pod' | 'deployment' | 'namespace';

export interface WorkloadRef {
  readonly kind: WorkloadKind;
  readonly name: string;
}

const kinds: Readonly<Record<string, WorkloadKind>> = { pod: 'pod', pods: 'pod', po: 'pod', deployment: 'deployment', deployments: 'deployment', deploy: 'deployment', namespace: 'namespace', namespaces: 'namespace', ns: 'namespace' };

/** `pod/NAME` etc.; undefined for anything else (an image reference). */
export function parseWorkloadRef(arg: string): WorkloadRef | undefined {
  const slash = arg.indexOf('/');
  if (slash <= 0) return undefined;
  const kind = kinds[arg.slice(0, slash).toLowerCase()];
  const name = arg.slice(slash + 1);
  if (kind === undefined || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name)) return undefined;
  return { kind, name };
}

type Obj = Record<string, unknown>;

function obj(v: unknown): Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {};
}

function list(v: unknown): Obj[] {
  return Array.isArray(v) ? v.map(obj) : [];
}

/** `docker-pullable://repo@sha256:…` (or a plain `repo@sha256:…`) → `repo@sha256:…`; undefined without a digest. */
export function imageIdRef(imageId: string): string | undefined {
  const ref = imageId.replace(/^[a-z-]+:\/\//, '');
  return /@sha256:[a-f0-9]{64}$/.test(ref) ? ref : undefined;
}

/** The running images of a pod: one entry per container with a pinned digest. */
export function podContainers(pod: Obj): { name: string; image: string }[] {
  const podName = String(obj(pod['metadata'])['name'] ?? '');
  const status = obj(pod['status']);
  const spec = obj(pod['spec']);
  const specImages = new Map<string, string>();
  for (const c of [...list(spec['initContainers']), ...list(spec['containers']), ...list(spec['ephemeralContainers'])]) specImages.set(String(c['name']), String(c['image'] ?? ''));
  const out: { name: string; image: string }[] = [];
  for (const c of [...list(status['initContainerStatuses']), ...list(status['containerStatuses']), ...list(status['ephemeralContainerStatuses'])]) {
    const name = String(c['name'] ?? '');
    const ref = imageIdRef(String(c['imageID'] ?? '')) ?? imageIdRef(specImages.get(name) ?? '');
    if (ref !== undefined) out.push({ name: `${podName}/${name}`, image: ref });
  }
  return out;
}

export interface WorkloadOptions {
  readonly namespace?: string | undefined;
  readonly kubeconfig?: string | undefined;
  readonly env: NodeJS.ProcessEnv;
}

function notFound(what: string, cause?: unknown): ProvenantError {
  return new ProvenantError('input', 'WORKLOAD_NOT_FOUND', `${what} does not exist`, { ...(cause === undefined ? {} : { cause }), context: { hint: 'check the name, -n NAMESPACE and the kubeconfig context' } });
}

function status(err: unknown): number | undefined {
  const code = (err as { code?: unknown; statusCode?: unknown }).code ?? (err as { statusCode?: unknown }).statusCode;
  return typeof code === 'number' ? code : undefined;
}

/** Reads the workload's pods and their running images. */
export async function loadWorkload(ref: WorkloadRef, options: WorkloadOptions): Promise<WorkloadRoot> {
  const fromEnv = options.env['KUBECONFIG']?.split(path.delimiter).find((p) => p !== '');
  const kubeconfigPath = options.kubeconfig ?? fromEnv;
  const kc = loadKubeConfig(kubeconfigPath === undefined ? {} : { kubeconfigPath });
  const namespace = ref.kind === 'namespace' ? ref.name : (options.namespace ?? kc.namespace ?? 'default');
  const kube = kubeClientFor(kc);
  const ns = `namespaces/${encodeURIComponent(namespace)}`;
  const core = (plural: string, name?: string): string => `/api/v1/${ns}/${plural}${name === undefined ? '' : `/${encodeURIComponent(name)}`}`;
  const apps = (plural: string, name: string): string => `/apis/apps/v1/${ns}/${plural}/${encodeURIComponent(name)}`;
  const call = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (err) {
      if (status(err) === 404) throw notFound(what, err);
      throw new ProvenantError('transient', 'KUBE_UNAVAILABLE', `cannot read ${what}: ${errorMessage(err)}`, { cause: err });
    }
  };
  let pods: Obj[];
  if (ref.kind === 'pod') {
    pods = [obj(await call(`pod ${namespace}/${ref.name}`, () => kube.get(core('pods', ref.name))))];
  } else if (ref.kind === 'namespace') {
    pods = list(obj(await call(`namespace ${ref.name}`, () => kube.get(core('pods')))).items);
  } else {
    const deployment = obj(await call(`deployment ${namespace}/${ref.name}`, () => kube.get(apps('deployments', ref.name))));
    const labels = obj(obj(obj(deployment['spec'])['selector'])['matchLabels']);
    const labelSelector = Object.entries(labels).map(([k, v]) => `${k}=${String(v)}`).join(',');
    const candidates = list(obj(await call(`pods of deployment ${namespace}/${ref.name}`, () => kube.get(core('pods'), { labelSelector }))).items);
    // Only pods whose ReplicaSet belongs to this deployment (a selector can overlap another's).
    const owned = new Map<string, boolean>();
    pods = [];
    for (const pod of candidates) {
      const rs = list(obj(pod['metadata'])['ownerReferences']).find((o) => o['kind'] === 'ReplicaSet');
      const rsName = typeof rs?.['name'] === 'string' ? rs['name'] : undefined;
      if (rsName === undefined) continue;
      if (!owned.has(rsName)) {
        const replicaSet = obj(await call(`replicaset ${namespace}/${rsName}`, () => kube.get(apps('replicasets', rsName))));
        owned.set(rsName, list(obj(replicaSet['metadata'])['ownerReferences']).some((o) => o['kind'] === 'Deployment' && o['name'] === ref.name));
      }
      if (owned.get(rsName) === true) pods.push(pod);
    }
  }
  const containers = pods.flatMap(podContainers);
  return { ref: ref.kind === 'namespace' ? `namespace/${ref.name}` : `${ref.kind}/${namespace}/${ref.name}`, containers };
}
