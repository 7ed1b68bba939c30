/**
 * Watch of the `chains-config` ConfigMap. Changes are applied one at a time and the latest wins:
 * while one `apply` runs, further edits only replace the pending data, so an older configuration
 * can never be installed after a newer one. Reconnects use the run watcher's backoff.
 */
import type { Logger } from 'pino';
import { errorMessage } from '../errors.js';
import { kubeClientFor, type KubeClientConfig } from '../tekton/index.js';
import { watchBackoffDelay, type WatchBackoffOptions } from './run-watcher.js';

export type ConfigData = Readonly<Record<string, string>>;

export interface ConfigWatcherOptions {
  readonly kubeConfig: KubeClientConfig;
  readonly namespace: string;
  readonly name: string;
  /** The data already in use (read at start-up): a watch replaying it changes nothing. */
  readonly initialData: ConfigData | undefined;
  /** Installs one configuration; never called concurrently. Errors are logged, not retried. */
  readonly apply: (data: ConfigData) => Promise<void>;
  readonly logger: Logger;
  readonly backoff?: WatchBackoffOptions;
  readonly random?: () => number;
}

export interface ConfigWatcher {
  /** The ConfigMap's uid, once an event carried it (for Events about the ConfigMap). */
  readonly uid: string | undefined;
  start(): void;
  /** Stops watching and waits for an `apply` in progress. */
  stop(): Promise<void>;
  /** Resolves once no `apply` is running or pending. */
  settled(): Promise<void>;
}

/** Order-insensitive identity of ConfigMap data. */
export function configDataKey(data: ConfigData | undefined): string {
  const d = data ?? {};
  return JSON.stringify(Object.keys(d).sort().map((k) => [k, d[k]]));
}

/**
 * Serialises calls of `apply`: `offer` while an apply runs replaces the pending value (latest
 * wins); values equal to the last offered one are dropped.
 */
export function createLatestWins<T>(
  apply: (value: T) => Promise<void>,
  options: { readonly keyOf: (value: T) => string; readonly initialKey: string; readonly onError: (err: unknown) => void },
): { offer(value: T): void; settled(): Promise<void> } {
  let lastKey = options.initialKey;
  let pending: { value: T } | undefined;
  let running: Promise<void> | undefined;
  const drain = async (): Promise<void> => {
    while (pending !== undefined) {
      const { value } = pending;
      pending = undefined;
      await apply(value).catch(options.onError);
    }
  };
  return {
    offer(value) {
      const key = options.keyOf(value);
      if (key === lastKey) return;
      lastKey = key;
      pending = { value };
      running ??= drain().finally(() => {
        running = undefined;
      });
    },
    async settled() {
      while (running !== undefined) await running;
    },
  };
}

export function createConfigWatcher(options: ConfigWatcherOptions): ConfigWatcher {
  const { logger } = options;
  const random = options.random ?? Math.random;
  const kube = kubeClientFor(options.kubeConfig);
  const applier = createLatestWins<ConfigData>(options.apply, {
    keyOf: configDataKey,
    initialKey: configDataKey(options.initialData),
    onError: (err) => logger.error({ err: { message: errorMessage(err) } }, 'applying chains-config failed'),
  });
  let uid: string | undefined;
  let stopped = false;
  let abort: AbortController | undefined;
  let timer: NodeJS.Timeout | undefined;
  let failures = 0;

  const reconnect = (): void => {
    if (stopped) return;
    failures += 1;
    timer = setTimeout(connect, watchBackoffDelay(failures, options.backoff, random));
    timer.unref();
  };
  function connect(): void {
    if (stopped) return;
    const controller = new AbortController();
    abort = controller;
    void kube
      .watch(
        `/api/v1/namespaces/${encodeURIComponent(options.namespace)}/configmaps`,
        ({ type, object }) => {
          const obj = (typeof object === 'object' && object !== null ? object : {}) as { metadata?: { uid?: string }; data?: Record<string, string> };
          failures = 0;
          uid = obj.metadata?.uid ?? uid;
          // Compare data, not resourceVersions: the first ADDED (and every replay after a reconnect)
          // carries the current object, which may have changed since it was last read.
          if (type === 'ADDED' || type === 'MODIFIED') applier.offer(obj.data ?? {});
        },
        { query: { fieldSelector: `metadata.name=${options.name}` }, signal: controller.signal },
      )
      .catch(() => undefined)
      .then(reconnect);
  }

  return {
    get uid() {
      return uid;
    },
    start() {
      connect();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      abort?.abort();
      await applier.settled();
    },
    settled: () => applier.settled(),
  };
}
