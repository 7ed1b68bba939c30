/**
 * The RunStore: the only way the controller reads and writes runs (STYLE.md #1). Reads are always
 * live GETs (never a cache: Chains #703), writes are JSON merge patches of annotations only.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { errorMessage } from '../errors.js';
import {
  classifyKubeError,
  detectTektonApiVersion,
  kubeStatusCode,
  mergePatchOptions,
  runPlural,
  tektonGroup,
  type TektonApiVersion,
} from './kube-client.js';
import { formatRunKey, type RunKey } from './run-key.js';
import { kubeSdk } from './kube-sdk.js';

/** Enough to address a run; the uid is not needed to read or patch it. */
export type RunLocator = Pick<RunKey, 'kind' | 'namespace' | 'name'>;

export interface RunEventSpec {
  readonly type: 'Normal' | 'Warning';
  /** CamelCase, e.g. `Signed`, `SigningFailed`. */
  readonly reason: string;
  readonly message: string;
}

export interface PatchAnnotationsOptions {
  /** Optimistic concurrency: fail with 409 (transient `KUBE_CONFLICT`) when the run changed since. */
  readonly resourceVersion?: string;
}

/** Any object an Event can be about (a ConfigMap, a run, ...). */
export interface EventTarget {
  /** e.g. `v1`, `tekton.dev/v1`. */
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid?: string;
}

/** The parts of a ServiceAccount the controller reads. */
export interface ServiceAccountView {
  /** Names of `imagePullSecrets`, in order. */
  readonly imagePullSecrets: readonly string[];
}

/** The parts of a Secret the controller reads; `data` values are decoded bytes. */
export interface SecretView {
  readonly type: string;
  readonly data: Readonly<Record<string, Uint8Array>>;
}

export interface RunStore {
  /** The tekton.dev version in use (detected through discovery unless given). */
  apiVersion(): Promise<TektonApiVersion>;
  /** The raw run as the API server returns it now; `undefined` when it does not exist (404). */
  get(key: RunLocator): Promise<unknown>;
  /** JSON merge patch of `metadata.annotations`; `null` removes a key. */
  patchAnnotations(key: RunLocator, annotations: Readonly<Record<string, string | null>>, options?: PatchAnnotationsOptions): Promise<void>;
  /** TaskRuns labelled `tekton.dev/pipelineRun=<name>` in the PipelineRun's namespace (all pages). */
  listChildren(pipelineRun: Pick<RunKey, 'namespace' | 'name'>): Promise<unknown[]>;
  /** A core/v1 Event on the run. Best effort: failures are logged (warn), never thrown. */
  emitEvent(target: RunLocator & { readonly uid?: string }, event: RunEventSpec): Promise<void>;
  /** A core/v1 Event on any object (e.g. the chains-config ConfigMap). Best effort, like `emitEvent`. */
  emitObjectEvent(target: EventTarget, event: RunEventSpec): Promise<void>;
  /** `data` of a ConfigMap, `undefined` when it does not exist. */
  getConfigMap(namespace: string, name: string): Promise<Record<string, string> | undefined>;
  /** A ServiceAccount's pull secret names; `undefined` when it does not exist. */
  getServiceAccount(namespace: string, name: string): Promise<ServiceAccountView | undefined>;
  /** A Secret's type and decoded data; `undefined` when it does not exist. Never logged. */
  getSecret(namespace: string, name: string): Promise<SecretView | undefined>;
}

export interface RunStoreOptions {
  /** Skip discovery and use this tekton.dev version. */
  readonly apiVersion?: TektonApiVersion;
  readonly logger?: Logger;
  /** Clock for Event timestamps. */
  readonly now?: () => Date;
  /** `source.component` / `reportingController` of Events. */
  readonly component?: string;
  /** Page size for `listChildren`. */
  readonly pageSize?: number;
}

const parentLabel = 'tekton.dev/pipelineRun';

export function createRunStore(kc: KubeConfig, options: RunStoreOptions = {}): RunStore {
  const { CustomObjectsApi, CoreV1Api } = kubeSdk();
  const custom = kc.makeApiClient(CustomObjectsApi);
  const core = kc.makeApiClient(CoreV1Api);
  const now = options.now ?? (() => new Date());
  const component = options.component ?? 'provenant';
  const pageSize = options.pageSize ?? 500;
  let version: Promise<TektonApiVersion> | undefined = options.apiVersion === undefined ? undefined : Promise.resolve(options.apiVersion);

  const apiVersion = (): Promise<TektonApiVersion> => {
    if (version === undefined) {
      const detecting = detectTektonApiVersion(kc);
      version = detecting;
      // A failed discovery is retried on the next call instead of being cached forever.
      detecting.catch(() => {
        if (version === detecting) version = undefined;
      });
    }
    return version;
  };

  const emitObjectEvent = async (target: EventTarget, event: RunEventSpec): Promise<void> => {
    const at = now().toISOString();
    try {
      await core.createNamespacedEvent({
        namespace: target.namespace,
        body: {
          metadata: { generateName: `${target.name}.`, namespace: target.namespace },
          involvedObject: {
            apiVersion: target.apiVersion,
            kind: target.kind,
            namespace: target.namespace,
            name: target.name,
            ...(target.uid === undefined ? {} : { uid: target.uid }),
          },
          type: event.type,
          reason: event.reason,
          message: event.message,
          source: { component },
          reportingComponent: component,
          reportingInstance: component,
          firstTimestamp: new Date(at),
          lastTimestamp: new Date(at),
          count: 1,
        },
      });
    } catch (err) {
      options.logger?.warn(
        { object: `${target.kind.toLowerCase()}/${target.namespace}/${target.name}`, reason: event.reason, status: kubeStatusCode(err), err: errorMessage(err) },
        'could not emit Kubernetes event',
      );
    }
  };

  return {
    apiVersion,

    async get(key) {
      const v = await apiVersion();
      try {
        return (await custom.getNamespacedCustomObject({
          group: tektonGroup,
          version: v,
          namespace: key.namespace,
          plural: runPlural(key.kind),
          name: key.name,
        })) as unknown;
      } catch (err) {
        if (kubeStatusCode(err) === 404) return undefined;
        throw classifyKubeError(err, { action: `get ${formatRunKey(key)}`, run: formatRunKey(key), rbac: `get on ${runPlural(key.kind)}.tekton.dev` });
      }
    },

    async patchAnnotations(key, annotations, patchOptions = {}) {
      const v = await apiVersion();
      const metadata: Record<string, unknown> = { annotations: { ...annotations } };
      if (patchOptions.resourceVersion !== undefined) metadata['resourceVersion'] = patchOptions.resourceVersion;
      try {
        await custom.patchNamespacedCustomObject(
          { group: tektonGroup, version: v, namespace: key.namespace, plural: runPlural(key.kind), name: key.name, body: { metadata } },
          mergePatchOptions(),
        );
      } catch (err) {
        throw classifyKubeError(err, {
          action: `patch annotations of ${formatRunKey(key)}`,
          run: formatRunKey(key),
          rbac: `patch on ${runPlural(key.kind)}.tekton.dev`,
        });
      }
    },

    async listChildren(pipelineRun) {
      const v = await apiVersion();
      const items: unknown[] = [];
      let cont: string | undefined;
      do {
        try {
          const page = (await custom.listNamespacedCustomObject({
            group: tektonGroup,
            version: v,
            namespace: pipelineRun.namespace,
            plural: 'taskruns',
            labelSelector: `${parentLabel}=${pipelineRun.name}`,
            limit: pageSize,
            ...(cont === undefined ? {} : { _continue: cont }),
          })) as { items?: unknown[]; metadata?: { continue?: string } };
          items.push(...(page.items ?? []));
          cont = page.metadata?.continue || undefined;
        } catch (err) {
          throw classifyKubeError(err, {
            action: `list TaskRuns of pipelinerun/${pipelineRun.namespace}/${pipelineRun.name}`,
            run: `pipelinerun/${pipelineRun.namespace}/${pipelineRun.name}`,
            rbac: 'list on taskruns.tekton.dev',
          });
        }
      } while (cont !== undefined);
      return items;
    },

    async emitEvent(target, event) {
      let apiVersionText = `${tektonGroup}/v1`;
      try {
        apiVersionText = `${tektonGroup}/${await apiVersion()}`;
      } catch {
        // discovery failed: the Event still names the run
      }
      await emitObjectEvent({ ...target, apiVersion: apiVersionText }, event);
    },

    emitObjectEvent,

    async getConfigMap(namespace, name) {
      try {
        const cm = await core.readNamespacedConfigMap({ namespace, name });
        return { ...(cm.data ?? {}) };
      } catch (err) {
        if (kubeStatusCode(err) === 404) return undefined;
        throw classifyKubeError(err, { action: `get configmap ${namespace}/${name}`, rbac: 'get on configmaps' });
      }
    },

    async getServiceAccount(namespace, name) {
      try {
        const sa = await core.readNamespacedServiceAccount({ namespace, name });
        const names = (sa.imagePullSecrets ?? []).map((r) => r.name).filter((n): n is string => typeof n === 'string' && n !== '');
        return { imagePullSecrets: names };
      } catch (err) {
        if (kubeStatusCode(err) === 404) return undefined;
        throw classifyKubeError(err, { action: `get serviceaccount ${namespace}/${name}`, rbac: 'get on serviceaccounts' });
      }
    },

    async getSecret(namespace, name) {
      try {
        const secret = await core.readNamespacedSecret({ namespace, name });
        const data: Record<string, Uint8Array> = {};
        for (const [k, v] of Object.entries(secret.data ?? {})) data[k] = Buffer.from(v, 'base64');
        return { type: secret.type ?? 'Opaque', data };
      } catch (err) {
        if (kubeStatusCode(err) === 404) return undefined;
        // The error names the Secret, never its content.
        throw classifyKubeError(err, { action: `get secret ${namespace}/${name}`, rbac: 'get on secrets' });
      }
    },
  };
}
