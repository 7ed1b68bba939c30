/**
 * Registry credentials per run, the way Tekton Chains gets them (k8schain): the run's ServiceAccount
 * (`default` when unset) and its `imagePullSecrets` of type `kubernetes.io/dockerconfigjson` (or the
 * legacy `kubernetes.io/dockercfg`), then the controller's mounted docker config. For a registry
 * present in several, the first wins (kubelet's order). Secret values never reach a log or an error.
 */
import { errorMessage } from '../errors.js';
import type { Logger } from '../observability/index.js';
import { credentialsFromDockerConfig, mergeDockerCredentials, noCredentials, type DockerCredentials } from '../storage/index.js';
import type { RunStore } from '../tekton/index.js';

export type PullSecretSource = Pick<RunStore, 'getServiceAccount' | 'getSecret'>;

const secretKeys = { 'kubernetes.io/dockerconfigjson': '.dockerconfigjson', 'kubernetes.io/dockercfg': '.dockercfg' } as const;

/** ServiceAccount used when a run names none (as Kubernetes does). */
export const defaultServiceAccount = 'default';

/**
 * Credentials of `namespace/serviceAccount` merged over `base` (the mounted docker config).
 * A missing ServiceAccount or Secret is skipped (kubelet does the same), an unreadable one (RBAC,
 * API down) throws its classified error; a malformed pull secret is skipped with a warning.
 */
export async function serviceAccountCredentials(
  source: PullSecretSource,
  namespace: string,
  serviceAccount: string,
  options: { readonly base?: DockerCredentials | undefined; readonly logger: Logger },
): Promise<DockerCredentials> {
  const base = options.base ?? noCredentials;
  const sa = await source.getServiceAccount(namespace, serviceAccount);
  if (sa === undefined) {
    options.logger.debug({ namespace, serviceAccount }, 'service account not found; using the mounted registry credentials only');
    return base;
  }
  const found: DockerCredentials[] = [];
  for (const name of sa.imagePullSecrets) {
    const secret = await source.getSecret(namespace, name);
    if (secret === undefined) {
      options.logger.warn({ namespace, serviceAccount, secret: name }, 'image pull secret not found; skipped');
      continue;
    }
    const key = secretKeys[secret.type as keyof typeof secretKeys] as string | undefined;
    const bytes = key === undefined ? undefined : secret.data[key];
    if (bytes === undefined) {
      options.logger.warn({ namespace, secret: name, type: secret.type }, 'image pull secret is not a docker config secret; skipped');
      continue;
    }
    try {
      found.push(credentialsFromDockerConfig(bytes, `secret ${namespace}/${name}`));
    } catch (err) {
      options.logger.warn({ namespace, secret: name, err: errorMessage(err) }, 'image pull secret is malformed; skipped');
    }
  }
  return mergeDockerCredentials(...found, base);
}

/** A cache of per-ServiceAccount values with a time to live (pull secrets rotate). */
export function createTtlCache<T>(ttlMs: number, now: () => number = Date.now): {
  get(key: string, load: () => Promise<T>): Promise<T>;
  clear(): void;
} {
  const entries = new Map<string, { at: number; value: Promise<T> }>();
  return {
    get(key, load) {
      const hit = entries.get(key);
      if (hit !== undefined && now() - hit.at < ttlMs) return hit.value;
      const value = load();
      entries.set(key, { at: now(), value });
      // A failed load is not cached: the next run asks again.
      value.catch(() => {
        if (entries.get(key)?.value === value) entries.delete(key);
      });
      return value;
    },
    clear() {
      entries.clear();
    },
  };
}
