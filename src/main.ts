/**
 * The controller: read config, wire the rooms, start watch + workers, hot-reload config, drain on
 * SIGTERM. Wiring only (ARCHITECTURE.md): every decision lives in a room.
 */
import type { Config } from './config/index.js';
import { createMetrics, type Logger, type Metrics } from './observability/index.js';
import type { JobQueue } from './queue/index.js';
import { createRunJobHandler, handleFailure, isManagedByAccepted, type ReconcileDeps } from './reconcile/index.js';
import type { TagWriteCoordination } from './storage/index.js';
import { createRunStore, type KubeClientConfig, type RunStore } from './tekton/index.js';
import { createConfigWatcher, createRunWatcher, type RunWatcher, type WatchBackoffOptions } from './watch/index.js';
import { createLiveWiring, createWiringFactory, type WiringDeps } from './wiring/index.js';

export type ControllerRole = 'watch' | 'work' | 'all';

export interface ControllerOptions {
  /** Where the API server is and how to authenticate (`loadKubeConfig`). */
  readonly kubeConfig: KubeClientConfig;
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
  /** Wiring dependencies; `tagWrites` defaults to `{mode: 'process'}`. */
  readonly wiring?: Omit<WiringDeps, 'logger' | 'runStore' | 'tagWrites'> & { readonly tagWrites?: TagWriteCoordination };
  readonly runStore?: RunStore;
  /** Watch backoff of the run and config watchers (tests shorten it). */
  readonly watchBackoff?: WatchBackoffOptions;
  /** First delay before a deferred PipelineRun is looked at again (reconcile's backoff base). Default 2 s. */
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
  const { logger, queue, kubeConfig, configNamespace: namespace } = options;
  const metrics = options.metrics ?? createMetrics();
  const [role, name] = [options.role ?? 'all', options.configMapName ?? 'chains-config'];
  const runStore = options.runStore ?? createRunStore(kubeConfig, { logger, component: 'provenant' });
  const initialData = await runStore.getConfigMap(namespace, name);
  let [watcher, stopped]: [RunWatcher | undefined, boolean] = [undefined, false];
  const startWatcher = async (): Promise<void> => {
    watcher = createRunWatcher({
      kubeConfig,
      ...(options.namespaces?.length ? { namespaces: options.namespaces } : {}),
      onKey: async (key, info) => void (await queue.add(key, info)),
      accept: (obj) => isManagedByAccepted(obj, live.current().config.filter.managedBy),
      logger,
      ...(options.watchBackoff ? { backoff: options.watchBackoff } : {}),
    });
    await watcher.start();
  };
  const live = await createLiveWiring(initialData, {
    build: createWiringFactory({ tagWrites: { mode: 'process' }, ...options.wiring, logger, runStore }),
    logger,
    configDefaults: options.configDefaults,
    onValidity: (valid) => metrics.setConfigValid(valid),
    onRejected: ({ code, message }) =>
      runStore.emitObjectEvent(
        { apiVersion: 'v1', kind: 'ConfigMap', namespace, name, ...(configWatcher.uid ? { uid: configWatcher.uid } : {}) },
        { type: 'Warning', reason: 'InvalidConfiguration', message: `${code}: ${message}`.slice(0, 1000) },
      ),
    // Runs left unsigned under the old configuration (config errors) are listed again.
    onApplied: async () => {
      if (watcher && !stopped) await watcher.stop().then(startWatcher).catch((err: unknown) => logger.error({ err: String(err) }, 'watch restart failed'));
    },
  });
  logger.info({ namespace, name }, 'configuration loaded');
  const deps: ReconcileDeps = {
    runs: runStore,
    wiring: () => live.current(),
    enqueue: async (key) => void (await queue.add(key)),
    logger,
    metrics,
    ...(options.deferredRecheckMs === undefined ? {} : { deferredRecheck: { baseMs: options.deferredRecheckMs, maxMs: 60_000 } }),
  };
  if (role !== 'watch') queue.process(createRunJobHandler(deps), { concurrency: options.concurrency ?? 4, onFailed: (ctx, err, final) => handleFailure(ctx, err, final, deps) });
  if (role !== 'work') await startWatcher();
  // Redis lost its jobs: the annotations did not, so a relist enqueues every finished, unsigned run again.
  queue.onReset?.(() => void (stopped || watcher?.relist()));
  const configWatcher = createConfigWatcher({ kubeConfig, namespace, name, initialData, apply: live.apply, logger, ...(options.watchBackoff ? { backoff: options.watchBackoff } : {}) });
  configWatcher.start();
  return {
    ready: () => !stopped && (role === 'work' || (watcher?.ready ?? false)),
    config: () => live.current().config,
    stop: async (stopOptions = {}) => {
      stopped = true;
      await configWatcher.stop();
      await watcher?.stop();
      await queue.close({ graceful: true, timeoutMs: stopOptions.timeoutMs ?? 30_000 });
      await live.close();
    },
  };
}
