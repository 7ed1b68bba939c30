/**
 * Building a `KubeConfig`, classifying Kubernetes API errors once, and finding which tekton.dev
 * version the cluster serves. Everything that talks to the API server goes through here.
 */
import type { KubeConfig, setHeaderOptions } from '@kubernetes/client-node';
import { ProvenantError } from '../errors.js';
import { kubeSdk } from './kube-sdk.js';

export type TektonApiVersion = 'v1' | 'v1beta1';

export const tektonGroup = 'tekton.dev';

export interface KubeConfigSource {
  /** kubeconfig YAML text (tests, demo). */
  readonly kubeconfigYaml?: string;
  /** Path of a kubeconfig file (`--kubeconfig`). */
  readonly kubeconfigPath?: string;
  /** Force the in-cluster service account config. */
  readonly inCluster?: boolean;
  /** Context to use instead of the file's current-context. */
  readonly context?: string;
}

/**
 * Same search order as kubectl when nothing is given: `$KUBECONFIG`, `~/.kube/config`, then the
 * in-cluster service account. Clusters with an `http://` server get `skipTLSVerify` set, because
 * client-node refuses plain http otherwise (REFERENCE.md, "This machine's parts").
 */
export function loadKubeConfig(source: KubeConfigSource = {}): KubeConfig {
  const kc = new (kubeSdk().KubeConfig)();
  try {
    if (source.kubeconfigYaml !== undefined) kc.loadFromString(source.kubeconfigYaml);
    else if (source.kubeconfigPath !== undefined) kc.loadFromFile(source.kubeconfigPath);
    else if (source.inCluster === true) kc.loadFromCluster();
    else kc.loadFromDefault();
    if (source.context !== undefined) kc.setCurrentContext(source.context);
  } catch (err) {
    throw new ProvenantError('config', 'KUBECONFIG_INVALID', 'could not load a Kubernetes client configuration', {
      cause: err,
      context: { hint: 'pass --kubeconfig, set KUBECONFIG, or run in a pod with a service account' },
    });
  }
  if (kc.getCurrentCluster() === null) {
    throw new ProvenantError('config', 'KUBECONFIG_INVALID', 'the Kubernetes client configuration has no current cluster', {
      context: { hint: 'pass --kubeconfig, set KUBECONFIG, or run in a pod with a service account' },
    });
  }
  return allowPlainHttp(kc);
}

/** client-node only speaks http:// to clusters marked skipTLSVerify; mark them. */
export function allowPlainHttp(kc: KubeConfig): KubeConfig {
  if (!kc.clusters.some((c) => c.server.startsWith('http://') && !c.skipTLSVerify)) return kc;
  const fixed = new (kubeSdk().KubeConfig)();
  fixed.loadFromOptions({
    clusters: kc.clusters.map((c) => (c.server.startsWith('http://') ? { ...c, skipTLSVerify: true } : c)),
    users: kc.users,
    contexts: kc.contexts,
    currentContext: kc.currentContext,
  });
  return fixed;
}

/** Request options that make a client-node patch call send a JSON merge patch. */
export function mergePatchOptions(): ReturnType<typeof setHeaderOptions> {
  const { setHeaderOptions, PatchStrategy } = kubeSdk();
  return setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
}

/** HTTP status of a client-node error (an ApiException's `code`, the Watch's `statusCode`), if any. */
export function kubeStatusCode(err: unknown): number | undefined {
  if (typeof err === 'object' && err !== null) {
    const e = err as { statusCode?: unknown; code?: unknown };
    if (typeof e.statusCode === 'number') return e.statusCode;
    if (typeof e.code === 'number') return e.code;
  }
  return undefined;
}

export interface KubeErrorContext {
  /** What we were doing, e.g. `patch taskrun/ns/name` (no secrets). */
  readonly action: string;
  /** `<kind>/<namespace>/<name>` when the error concerns one run. */
  readonly run?: string;
  /** RBAC verb/resource to name in the hint on 403. */
  readonly rbac?: string;
}

/**
 * The one classification of Kubernetes API failures:
 * network, 5xx, 429, 409 and 410 → transient; 401/403 → config (RBAC); 404 → permanent
 * `KUBE_NOT_FOUND`; any other 4xx → permanent `KUBE_REJECTED`.
 */
export function classifyKubeError(err: unknown, ctx: KubeErrorContext): ProvenantError {
  if (err instanceof ProvenantError) return err;
  const status = kubeStatusCode(err);
  const base = { action: ctx.action, status, ...(ctx.run === undefined ? {} : { run: ctx.run }) };
  if (status === 403) {
    return new ProvenantError('config', 'KUBE_FORBIDDEN', `Kubernetes API refused to ${ctx.action} (403)`, {
      cause: err,
      context: {
        ...base,
        hint: `grant the controller's service account ${ctx.rbac ?? 'the needed verbs'} (see config/rbac.yaml)`,
      },
    });
  }
  if (status === 401) {
    return new ProvenantError('config', 'KUBE_UNAUTHORIZED', `Kubernetes API rejected our credentials to ${ctx.action} (401)`, {
      cause: err,
      context: { ...base, hint: 'check the kubeconfig or the service account token' },
    });
  }
  if (status === 404) {
    return new ProvenantError('permanent', 'KUBE_NOT_FOUND', `not found: ${ctx.action} (404)`, { cause: err, context: base });
  }
  if (status === 409) {
    return new ProvenantError('transient', 'KUBE_CONFLICT', `conflict: ${ctx.action} (409)`, { cause: err, context: base });
  }
  if (status === 410) {
    return new ProvenantError('transient', 'KUBE_GONE', `resource version expired: ${ctx.action} (410)`, { cause: err, context: base });
  }
  if (status !== undefined && status >= 400 && status < 500 && status !== 429 && status !== 408) {
    return new ProvenantError('permanent', 'KUBE_REJECTED', `Kubernetes API rejected ${ctx.action} (${status})`, {
      cause: err,
      context: base,
    });
  }
  return new ProvenantError(
    'transient',
    'KUBE_UNAVAILABLE',
    `Kubernetes API unavailable to ${ctx.action}${status === undefined ? '' : ` (${status})`}`,
    { cause: err, context: base },
  );
}

/**
 * Which tekton.dev version serves TaskRuns: `preferred` (default v1) if discovery lists it,
 * else v1beta1 (older Pipelines), else a config error `TEKTON_NOT_SERVED`.
 */
export async function detectTektonApiVersion(kc: KubeConfig, preferred: TektonApiVersion = 'v1'): Promise<TektonApiVersion> {
  const api = kc.makeApiClient(kubeSdk().CustomObjectsApi);
  const order: TektonApiVersion[] = preferred === 'v1' ? ['v1', 'v1beta1'] : ['v1beta1', 'v1'];
  for (const version of order) {
    try {
      const list = await api.getAPIResources({ group: tektonGroup, version });
      if (list.resources.some((r) => r.name === 'taskruns') && list.resources.some((r) => r.name === 'pipelineruns')) {
        return version;
      }
    } catch (err) {
      if (kubeStatusCode(err) === 404) continue;
      throw classifyKubeError(err, { action: `discover ${tektonGroup}/${version}`, rbac: 'discovery access' });
    }
  }
  throw new ProvenantError('config', 'TEKTON_NOT_SERVED', 'the cluster serves neither tekton.dev/v1 nor tekton.dev/v1beta1 TaskRuns and PipelineRuns', {
    context: { hint: 'install Tekton Pipelines, or point --kubeconfig at the right cluster' },
  });
}

/** Plural resource name of a run kind. */
export function runPlural(kind: 'TaskRun' | 'PipelineRun'): 'taskruns' | 'pipelineruns' {
  return kind === 'TaskRun' ? 'taskruns' : 'pipelineruns';
}
