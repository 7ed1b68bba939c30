/**
 * The RunStore: the only way the controller reads and writes runs (STYLE.md #1). Reads are always
 * live GETs (never a cache: Chains #703), writes are JSON merge patches of annotations only.
 */
import type { Logger } from 'pino';
import { errorMessage } from '../errors.js';
import {
  classifyKubeError,
  detectTektonApiVersion,
  kubeStatusCode,
  runPlural,
  tektonGroup,
  type TektonApiVersion,
} from './kube-client.js';
import type { KubeClientConfig } from './kube-config.js';
import { kubeClientFor } from './kube-http.js';
import { formatRunKey, type RunKey } from './run-key.js';

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
}


const seg = encodeURIComponent;

function runPath(version: TektonApiVersion, key: RunLocator): string {
  return `/apis/${tektonGroup}/${version}/namespaces/${seg(key.namespace)}/${runPlural(key.kind)}/${seg(key.name)}`;
}

function corePath(namespace: string, plural: string, name?: string): string {
  return `/api/v1/namespaces/${seg(namespace)}/${plural}${name === undefined ? '' : `/${seg(name)}`}`;
}

export function createRunStore(kc: KubeClientConfig, options: RunStoreOptions = {}): RunStore {
  const kube = kubeClientFor(kc);
  const now = options.now ?? (() => new Date());
  const component = options.component ?? 'provenant';
  let version: Promise<TektonApiVersion> | undefined = options.apiVersion === undefined ? undefined : Promise.resolve(options.apiVersion);

  const apiVersion = (): Promise<TektonApiVersion> => {
    if (version === undefined) {
      const detecting = detectTektonApiVersion(kube);
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
      await kube.create(corePath(target.namespace, 'events'), {
        apiVersion: 'v1',
        kind: 'Event',
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
        firstTimestamp: at,
        lastTimestamp: at,
        count: 1,
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
        return await kube.get(runPath(v, key));
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
        await kube.mergePatch(runPath(v, key), { metadata });
      } catch (err) {
        throw classifyKubeError(err, {
          action: `patch annotations of ${formatRunKey(key)}`,
          run: formatRunKey(key),
          rbac: `patch on ${runPlural(key.kind)}.tekton.dev`,
        });
      }
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
        const cm = (await kube.get(corePath(namespace, 'configmaps', name))) as { data?: Record<string, string> } | undefined;
        return { ...(cm?.data ?? {}) };
      } catch (err) {
        if (kubeStatusCode(err) === 404) return undefined;
        throw classifyKubeError(err, { action: `get configmap ${namespace}/${name}`, rbac: 'get on configmaps' });
      }
    },

    async getServiceAccount(namespace, name) {
      try {
        const sa = (await kube.get(corePath(namespace, 'serviceaccounts', name))) as { imagePullSecrets?: { name?: unknown }[] } | undefined;
        const names = (Array.isArray(sa?.imagePullSecrets) ? sa.imagePullSecrets : []).map((r) => r.name).filter((n): n is string => typeof n === 'string' && n !== '');
        return { imagePullSecrets: names };
      } catch (err) {
        if (kubeStatusCode(err) === 404) return undefined;
        throw classifyKubeError(err, { action: `get serviceaccount ${namespace}/${name}`, rbac: 'get on serviceaccounts' });
      }
    },

    async getSecret(namespace, name) {
      try {
        const secret = (await kube.get(corePath(namespace, 'secrets', name))) as { type?: unknown; data?: Record<string, unknown> } | undefined;
        const data: Record<string, Uint8Array> = {};
        for (const [k, v] of Object.entries(secret?.data ?? {})) if (typeof v === 'string') data[k] = Buffer.from(v, 'base64');
        return { type: typeof secret?.type === 'string' ? secret.type : 'Opaque', data };
      } catch (err) {
        if (kubeStatusCode(err) === 404) return undefined;
        // The error names the Secret, never its content.
        throw classifyKubeError(err, { action: `get secret ${namespace}/${name}`, rbac: 'get on secrets' });
      }
    },
  };
}
