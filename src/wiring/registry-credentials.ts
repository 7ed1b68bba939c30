/**
 * Registry credentials per run, the way Tekton Chains gets them (k8schain): the run's ServiceAccount
 * (`default` when unset) and its `imagePullSecrets` of type `kubernetes.io/dockerconfigjson` (or the
 * legacy `kubernetes.io/dockercfg`), then the controller's mounted docker config. For a registry
 * present in several, the first wins (kubelet's order). Secret values never reach a log or an error.
 */
import { errorMessage, isProvenantError, ProvenantError } from '../errors.js';
import type { Logger } from '../observability/index.js';
import { credentialsFromDockerConfig, mergeDockerCredentials, noCredentials, type DockerCredentials } from '../storage/index.js';
import type { RunStore } from '../tekton/index.js';

export type PullSecretSource = Pick<RunStore, 'getServiceAccount' | 'getSecret'>;

const secretKeys = { 'kubernetes.io/dockerconfigjson': '.dockerconfigjson', 'kubernetes.io/dockercfg': '.dockercfg' } as const;

/**
 * Loggers that have already reported a refused pull secret read: the refusal is a deployment
 * choice (the base manifests do not grant `get secrets`), so it is said once per controller, not
 * once per run.
 */
const refusalReported = new WeakSet<Logger>();

/** The typed, actionable form of a 403 on a pull secret (logged once; storage goes on). */
export function pullSecretForbidden(cause: unknown, namespace: string, secret: string): ProvenantError {
  return new ProvenantError('config', 'KUBE_FORBIDDEN', 'not allowed to read image pull Secrets: pushing with the controller\'s own registry credentials', {
    cause,
    context: {
      namespace,
      secret,
      hint: "to push with the runs' imagePullSecrets, grant get on secrets (kubectl apply -k manifests/overlays/pull-secrets); otherwise give the controller a push credential (--docker-config). See docs/rbac.md",
    },
  });
}

/** ServiceAccount used when a run names none (as Kubernetes does). */
export const defaultServiceAccount = 'default';

/**
 * Credentials of `namespace/serviceAccount` merged over `base` (the mounted docker config).
 * A missing ServiceAccount or Secret is skipped (kubelet does the same); a Secret the controller may
 * not read (403: the base RBAC does not grant `get secrets`) is skipped and reported once per
 * logger as a `KUBE_FORBIDDEN` warning with the fix; any other failure (an unreadable ServiceAccount,
 * the API down) throws its classified error; a malformed pull secret is skipped with a warning.
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
    let secret: Awaited<ReturnType<PullSecretSource['getSecret']>>;
    try {
      secret = await source.getSecret(namespace, name);
    } catch (err) {
      // Not granted (the default install): degrade to the mounted credentials, say so once.
      if (!isProvenantError(err, 'KUBE_FORBIDDEN')) throw err;
      if (!refusalReported.has(options.logger)) {
        refusalReported.add(options.logger);
        const e = pullSecretForbidden(err, namespace, name);
        // `secret` is a redacted log key: the Secret's name goes as `secretName`.
        options.logger.warn({ code: e.code, kind: e.kind, namespace, serviceAccount, secretName: name, hint: e.context.hint }, e.message);
      } else {
        options.logger.debug({ namespace, serviceAccount, secretName: name }, 'image pull secret not readable (RBAC); skipped');
      }
      continue;
    }
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
