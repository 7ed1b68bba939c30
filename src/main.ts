/**
 * The controller: read config, wire the rooms, start watch + workers, hot-reload config, drain on
 * SIGTERM. Wiring only (ARCHITECTURE.md): every decision lives in a room.
 */
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import type { Signer, Witness } from '@sigstore/sign';
import { parseConfig, type Config, type StorageName } from './config/index.js';
import { ProvenantError, errorMessage, isProvenantError } from './errors.js';
import { createMetrics, type Logger, type Metrics } from './observability/index.js';
import type { JobQueue } from './queue/index.js';
import {
  createTtlCache,
  handleFailure,
  isManagedByAccepted,
  reconcileRun,
  serviceAccountCredentials,
  type PullSecretSource,
  type RunAccess,
  type StorageScope,
  type Wiring,
} from './reconcile/index.js';
import { createSignersFromConfig, type SignerSet } from './signing/index.js';
import { createStorageBackends, type StorageBackend, type StorageDeps } from './storage/index.js';
import { createRunStore, type RunKey, type RunStore } from './tekton/index.js';
import { createTransparencyWitness, createTsaWitness, type TsaTimestamper } from './transparency/index.js';
import { createRunWatcher, type RunWatcher } from './watch/index.js';

export interface WiringDeps {
  readonly logger: Logger;
  readonly runStore: RunStore;
  /** Use this signer for every artifact instead of the configured ones (embedded default: a generated key). */
  readonly signerOverride?: Signer;
  /** Registry credentials for `oci` storage (mounted docker config); a run's pull secrets come first. */
  readonly ociCredentials?: StorageDeps['ociCredentials'];
  /** A lock shared by replicas around each OCI tag read-modify-write (Redis, when the queue is BullMQ). */
  readonly ociTagLock?: StorageDeps['ociTagLock'];
  /** Where ServiceAccounts and pull secrets are read for `oci` storage; default the RunStore. */
  readonly pullSecrets?: PullSecretSource;
  /** How long a ServiceAccount's registry credentials are reused; default 60 s. */
  readonly pullSecretTtlMs?: number;
  readonly env?: NodeJS.ProcessEnv;
  readonly fetch?: typeof fetch;
  /** For tests: a witness to use instead of Rekor at `transparency.url`. */
  readonly rekorWitness?: Witness;
  /** For tests: a timestamper to use instead of the TSA at `signers.x509.tsa.url`. */
  readonly tsaWitness?: TsaTimestamper;
}

export interface ClosableWiring extends Wiring {
  close(): Promise<void>;
}

/** Builds everything one Config needs, eagerly, so a bad key or KMS is a config error now, not per run. */
export async function createWiring(config: Config, deps: WiringDeps): Promise<ClosableWiring> {
  const logger = deps.logger;
  let signers: SignerSet | undefined;
  if (deps.signerOverride === undefined) {
    signers = await createSignersFromConfig(config, {
      logger,
      ...(deps.env ? { env: deps.env } : {}),
      ...(deps.fetch ? { fetch: deps.fetch } : {}),
    });
  }
  const tsaUrl = config.signers.x509.tsa.url;
  const tsa = tsaUrl === undefined ? undefined : (deps.tsaWitness ?? createTsaWitness({ url: tsaUrl, logger }));
  const storageDeps: StorageDeps = {
    config,
    logger,
    ...(tsa ? { ociTimestamper: (bytes: Uint8Array) => tsa.timestamp(bytes) } : {}),
    patchAnnotations: async (run, annotations) => {
      await deps.runStore.patchAnnotations(run, annotations);
    },
    getObjectSize: async (run) => {
      const obj = (await deps.runStore.get(run)) as { metadata?: { annotations?: Record<string, string> } } | undefined;
      return { annotations: obj?.metadata?.annotations ?? {} };
    },
    ...(deps.ociCredentials ? { ociCredentials: deps.ociCredentials } : {}),
    ...(deps.ociTagLock ? { ociTagLock: deps.ociTagLock } : {}),
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
  };
  const names = [...new Set([...config.artifacts.taskrun.storage, ...config.artifacts.pipelinerun.storage, ...config.artifacts.oci.storage])];
  const backends = new Map<StorageName, StorageBackend>();
  // `oci` is built per ServiceAccount (its pull secrets); building one now still validates the config.
  createStorageBackends(names, storageDeps).forEach((b, i) => backends.set(names[i] as StorageName, b));
  const pullSecrets = deps.pullSecrets ?? deps.runStore;
  const ociByScope = createTtlCache<StorageBackend>(deps.pullSecretTtlMs ?? 60_000);
  const ociFor = (scope: StorageScope): Promise<StorageBackend> =>
    ociByScope.get(`${scope.namespace}/${scope.serviceAccountName}`, async () => {
      const credentials = await serviceAccountCredentials(pullSecrets, scope.namespace, scope.serviceAccountName, {
        base: deps.ociCredentials,
        logger,
      });
      const [backend] = createStorageBackends(['oci'], {
        ...storageDeps,
        ociCredentials: credentials,
        serviceAccount: `${scope.namespace}/${scope.serviceAccountName}`,
      });
      if (backend === undefined) throw new ProvenantError('config', 'STORAGE_NOT_WIRED', 'storage backend oci is not configured');
      return backend;
    });
  const rekor =
    config.transparency.mode === 'false' ? undefined : (deps.rekorWitness ?? createTransparencyWitness({ transparency: config.transparency, logger }));
  return {
    config,
    rekor,
    tsa,
    signer: (section) => {
      const s = deps.signerOverride ?? signers?.signerFor(section);
      if (s === undefined) {
        throw new ProvenantError('config', 'SIGNER_DISABLED', `artifacts.${section}.signer is "none"`, { context: { hint: 'nothing to sign' } });
      }
      return s;
    },
    storage: (name, scope) => {
      const b = backends.get(name);
      if (b === undefined) throw new ProvenantError('config', 'STORAGE_NOT_WIRED', `storage backend ${name} is not configured`);
      return name === 'oci' ? ociFor(scope) : b;
    },
    close: async () => {
      ociByScope.clear();
      await signers?.close();
    },
  };
}

export type ControllerRole = 'watch' | 'work' | 'all';

export interface ControllerOptions {
  readonly kubeConfig: KubeConfig;
  readonly queue: JobQueue;
  readonly logger: Logger;
  readonly metrics?: Metrics;
  /** Namespace of the chains-config ConfigMap. */
  readonly configNamespace: string;
  readonly configMapName?: string;
  /** Watch only these namespaces; empty = cluster-wide. */
  readonly namespaces?: readonly string[];
  readonly role?: ControllerRole;
  readonly concurrency?: number;
  /** Keys merged over the ConfigMap's data (the embedded default uses it); the ConfigMap wins. */
  readonly configDefaults?: Readonly<Record<string, string>>;
  readonly wiring?: Omit<WiringDeps, 'logger' | 'runStore'>;
  readonly runStore?: RunStore;
  /** Watch backoff (tests shorten it). */
  readonly watchBackoff?: { readonly initialMs?: number; readonly maxMs?: number };
  /**
   * First delay before a deferred PipelineRun (children not signed yet) is looked at again; doubles
   * per recheck up to 60 s. Default 2 s. The children's signing also nudges it; this covers a nudge
   * that arrived while the parent's own job was still running (and was deduplicated away).
   */
  readonly deferredRecheckMs?: number;
}

export interface Controller {
  /** True once the config is loaded and (for watchers) the first list is done. */
  ready(): boolean;
  /** The config in use. */
  config(): Config;
  /** Stops watching, drains the queue (graceful: active jobs finish or go back), closes clients. */
  stop(options?: { readonly timeoutMs?: number }): Promise<void>;
}

/** Starts the controller. Rejects with a `config` error when the initial configuration is unusable. */
export async function startController(options: ControllerOptions): Promise<Controller> {
  const logger = options.logger;
  const metrics = options.metrics ?? createMetrics();
  const role = options.role ?? 'all';
  const configMapName = options.configMapName ?? 'chains-config';
  const runStore = options.runStore ?? createRunStore(options.kubeConfig, { logger, component: 'provenant' });
  const wiringDeps: WiringDeps = { ...options.wiring, logger, runStore };

  const loadConfig = (data: Readonly<Record<string, string>> | undefined): Config => {
    const { config, warnings } = parseConfig({ ...options.configDefaults, ...data });
    for (const w of warnings) logger.warn({ key: w.key, value: w.value }, `chains-config: ${w.message}`);
    return config;
  };

  const initialData = await runStore.getConfigMap(options.configNamespace, configMapName);
  let current = await createWiring(loadConfig(initialData), wiringDeps);
  /** The ConfigMap data last acted on (applied or rejected): a watch replaying it changes nothing. */
  let lastData = stableJson(initialData ?? {});
  metrics.setConfigValid(true);
  logger.info({ namespace: options.configNamespace, name: configMapName }, 'configuration loaded');

  const runs: RunAccess = {
    get: (key) => runStore.get(key),
    patchAnnotations: async (key, annotations) => {
      await runStore.patchAnnotations(key, annotations);
    },
    emitEvent: async (key, event) => {
      await runStore.emitEvent(key, event);
    },
  };
  const enqueue = async (key: RunKey, info: { readonly createdAt?: number; readonly completedAt?: number } = {}): Promise<void> => {
    await options.queue.add(key, info);
  };
  const reconcileDeps = { runs, wiring: () => current, enqueue: (k: RunKey) => enqueue(k), logger, metrics };
  let stopped = false;
  const deferredRechecks = new Map<string, number>();
  const recheckLater = (key: RunKey): void => {
    const n = (deferredRechecks.get(key.uid) ?? 0) + 1;
    deferredRechecks.set(key.uid, n);
    const delay = Math.min((options.deferredRecheckMs ?? 2000) * 2 ** (n - 1), 60_000);
    // After the job has completed (and left the queue), so the add is not deduplicated against it.
    setTimeout(() => {
      if (stopped) return;
      enqueue(key).catch((err: unknown) => logger.warn({ run: key, err: errorMessage(err) }, 'could not re-enqueue a deferred run'));
    }, delay).unref();
  };

  if (role !== 'watch') {
    options.queue.process(
      async (ctx) => {
        const started = Date.now();
        const kind = ctx.data.key.kind === 'TaskRun' ? 'taskrun' : 'pipelinerun';
        const outcome = await reconcileRun(ctx, reconcileDeps).catch((err: unknown) => {
          metrics.observeJobSeconds(kind, 'retry', (Date.now() - started) / 1000);
          throw err;
        });
        metrics.observeJobSeconds(kind, outcome.status, (Date.now() - started) / 1000);
        if (outcome.status !== 'signed') logger.debug({ run: ctx.data.key, outcome }, 'job done without signing');
        if (outcome.status === 'deferred') recheckLater(ctx.data.key);
        else deferredRechecks.delete(ctx.data.key.uid);
      },
      { concurrency: options.concurrency ?? 4, onFailed: (ctx, err, final) => handleFailure(ctx, err, final, reconcileDeps) },
    );
  }

  let watcher: RunWatcher | undefined;
  const startWatcher = async (): Promise<void> => {
    watcher = createRunWatcher({
      kubeConfig: options.kubeConfig,
      ...(options.namespaces && options.namespaces.length > 0 ? { namespaces: options.namespaces } : {}),
      onKey: (key, info) => enqueue(key, info),
      // Chains #1882: runs managed by another controller are not signed (re-checked in reconcile).
      accept: (obj) => isManagedByAccepted(obj, current.config.filter.managedBy),
      logger,
      ...(options.watchBackoff ? { backoff: options.watchBackoff } : {}),
    });
    await watcher.start();
  };
  if (role !== 'work') await startWatcher();
  // Redis restarted empty (or was flushed): the queued keys are gone, the annotations are not, so a
  // relist enqueues every finished, unsigned run again (ARCHITECTURE.md: Redis only buffers).
  options.queue.onReset?.(() => {
    if (!stopped) watcher?.relist();
  });

  // Hot reload: watch the ConfigMap; build the new wiring, swap, then close the old clients.
  let configAbort: AbortController | undefined;
  let configUid: string | undefined;
  const applyConfig = async (data: Record<string, string> | undefined): Promise<void> => {
    let next: ClosableWiring;
    try {
      next = await createWiring(loadConfig(data), wiringDeps);
    } catch (err) {
      metrics.setConfigValid(false);
      const perr = isProvenantError(err) ? err : undefined;
      logger.error({ err: { code: perr?.code, message: errorMessage(err), problems: perr?.context['problems'] } }, 'chains-config update rejected; keeping the last good configuration');
      await runStore.emitObjectEvent(
        { apiVersion: 'v1', kind: 'ConfigMap', namespace: options.configNamespace, name: configMapName, ...(configUid ? { uid: configUid } : {}) },
        { type: 'Warning', reason: 'InvalidConfiguration', message: `${perr?.code ?? 'CONFIG_INVALID'}: ${errorMessage(err)}`.slice(0, 1000) },
      );
      return;
    }
    const old = current;
    current = next;
    metrics.setConfigValid(true);
    logger.info('chains-config reloaded');
    await old.close().catch(() => undefined);
    // Runs left unsigned under the old configuration (config errors) are listed again.
    if (watcher && !stopped) {
      await watcher.stop();
      await startWatcher().catch((err: unknown) => logger.error({ err: { message: errorMessage(err) } }, 'watch restart failed'));
    }
  };
  const watchConfig = (): void => {
    if (stopped) return;
    configAbort = new AbortController();
    const w = new Watch(options.kubeConfig);
    void w
      .watch(
        `/api/v1/namespaces/${options.configNamespace}/configmaps`,
        { fieldSelector: `metadata.name=${configMapName}` },
        (type: string, obj: { metadata?: { uid?: string }; data?: Record<string, string> }) => {
          configUid = obj.metadata?.uid ?? configUid;
          if (type !== 'ADDED' && type !== 'MODIFIED') return;
          // Compare data, not resourceVersions: the first ADDED (and every replay after a reconnect)
          // carries the current object, which may have changed since it was last read.
          const data = stableJson(obj.data ?? {});
          if (data === lastData) return;
          lastData = data;
          void applyConfig(obj.data ?? {});
        },
        () => {
          if (!stopped) setTimeout(watchConfig, 1000).unref();
        },
      )
      .then((req) => {
        configAbort?.signal.addEventListener('abort', () => req.abort());
      })
      .catch(() => {
        if (!stopped) setTimeout(watchConfig, 1000).unref();
      });
  };
  watchConfig();

  return {
    ready: () => !stopped && (role === 'work' || (watcher?.ready ?? false)),
    config: () => current.config,
    stop: async (stopOptions = {}) => {
      stopped = true;
      configAbort?.abort();
      await watcher?.stop();
      await options.queue.close({ graceful: true, timeoutMs: stopOptions.timeoutMs ?? 30_000 });
      await current.close();
    },
  };
}

function stableJson(data: Readonly<Record<string, string>>): string {
  return JSON.stringify(Object.keys(data).sort().map((k) => [k, data[k]]));
}
