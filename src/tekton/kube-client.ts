/**
 * Classifying Kubernetes API errors once, and finding which tekton.dev version the cluster serves.
 * Everything that talks to the API server goes through the lean client (kube-http.ts) built from a
 * `KubeClientConfig` (kube-config.ts).
 */
import { ProvenantError } from '../errors.js';
import type { KubeClientConfig } from './kube-config.js';
import { kubeClientFor, type KubeClient } from './kube-http.js';

export { loadKubeConfig, type KubeClientConfig, type KubeConfigSource } from './kube-config.js';
export { createKubeClient, kubeClientFor, KubeApiError, mergePatchContentType, type KubeClient, type KubeClientOptions, type ListPage, type WatchEvent, type WatchEnd, type WatchOptions, type Query } from './kube-http.js';
export type { ListMeta } from './list-scanner.js';

export type TektonApiVersion = 'v1' | 'v1beta1';

export const tektonGroup = 'tekton.dev';

/** HTTP status of a failed Kubernetes API call (`KubeApiError.statusCode`; client-node's `code`), if any. */
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
        hint: `grant the controller's service account ${ctx.rbac ?? 'the needed verbs'} (see manifests/base/rbac.yaml)`,
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
export async function detectTektonApiVersion(kube: KubeClientConfig | KubeClient, preferred: TektonApiVersion = 'v1'): Promise<TektonApiVersion> {
  const client = 'request' in kube ? kube : kubeClientFor(kube);
  const order: TektonApiVersion[] = preferred === 'v1' ? ['v1', 'v1beta1'] : ['v1beta1', 'v1'];
  for (const version of order) {
    try {
      const list = (await client.get(`/apis/${tektonGroup}/${version}`)) as { resources?: { name?: unknown }[] } | undefined;
      const resources = Array.isArray(list?.resources) ? list.resources : [];
      if (resources.some((r) => r.name === 'taskruns') && resources.some((r) => r.name === 'pipelineruns')) {
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
