/**
 * Streaming list/watch of TaskRuns and PipelineRuns that hands out keys and keeps no objects:
 * per stream it remembers one resourceVersion. This is what keeps memory flat where Chains'
 * informer caches every run in the cluster.
 *
 * Per stream (kind × namespace, or kind cluster-wide): paginated list → watch from the list's
 * resourceVersion (started once the first page named it, while the other pages stream in) → on a
 * normal close resume from the last seen resourceVersion → on 410 Gone relist → on errors retry
 * with capped exponential backoff and jitter.
 */
import type { Logger } from 'pino';
import { backoffDelayMs } from '../backoff.js';
import { errorMessage, ProvenantError } from '../errors.js';
import {
  classifyKubeError,
  detectTektonApiVersion,
  formatRunKey,
  kubeClientFor,
  kubeStatusCode,
  tektonGroup,
  type KubeClientConfig,
  type RunKey,
  type RunKind,
  type TektonApiVersion,
} from '../tekton/index.js';
import { parentPipelineRunKey, shouldEnqueue } from './filter.js';

export interface WatchBackoffOptions {
  /** Nominal delay after the first failure; default 500 ms. */
  readonly initialMs?: number;
  /** Cap; default 30 s. */
  readonly maxMs?: number;
}

/** Delay before reconnect number `failures` (1-based), by the project's one backoff formula. */
export function watchBackoffDelay(failures: number, options: WatchBackoffOptions = {}, random: () => number = Math.random): number {
  return backoffDelayMs(failures, { baseMs: options.initialMs ?? 500, maxMs: options.maxMs ?? 30_000 }, random);
}

export interface RunWatcherOptions {
  readonly kubeConfig: KubeClientConfig;
  /** Watch only these namespaces (one stream each); undefined or empty = cluster-wide. */
  readonly namespaces?: readonly string[];
  /**
   * Called once per interesting event; awaited during lists (backpressure), not during watches.
   * `createdAt` is the run's `metadata.creationTimestamp` (epoch ms) so the queue can order newest
   * first (Chains #979); absent when the object carries none (or for a parent PipelineRun nudge).
   */
  readonly onKey: (key: RunKey, info: KeyInfo) => void | Promise<void>;
  /**
   * Extra admission check on the watched object, consulted after the enqueue filter (e.g. the
   * `filter.managed-by` rule, which depends on the current configuration). Default: accept all.
   */
  readonly accept?: (obj: unknown) => boolean;
  readonly logger: Logger;
  readonly backoff?: WatchBackoffOptions;
  /** `limit` of each list page; default 500. */
  readonly pageSize?: number;
  /** Skip discovery and use this tekton.dev version. */
  readonly apiVersion?: TektonApiVersion;
  /** `timeoutSeconds` asked of the server per watch; default 300. */
  readonly watchTimeoutSeconds?: number;
  /** A watch that lasts this long counts as healthy even without events; default 5000 ms. */
  readonly healthyWatchMs?: number;
  readonly now?: () => Date;
  readonly random?: () => number;
}

export interface KeyInfo {
  /** The run's creation time (epoch ms), when known. */
  readonly createdAt?: number;
  /** The run's `status.completionTime` (epoch ms), when known: decides the queue lane (fresh or backlog). */
  readonly completedAt?: number;
}

export interface RunWatcher {
  /** Resolves once every stream finished its first list; rejects on a config error (RBAC, no Tekton). */
  start(): Promise<void>;
  /** Stops every stream and waits for them. */
  stop(): Promise<void>;
  /** True once every stream finished its first list. */
  readonly ready: boolean;
  /**
   * List every stream again (re-deriving every key from the runs' annotations), e.g. after the
   * queue lost its jobs. Idempotent; a no-op before `start()` or after `stop()`.
   */
  relist(): void;
}

interface Stream {
  readonly kind: RunKind;
  readonly plural: 'taskruns' | 'pipelineruns';
  readonly namespace: string | undefined;
  listed: boolean;
  abort: AbortController | undefined;
  relistNeeded: boolean;
}

interface WatchOutcome {
  readonly rv: string;
  readonly events: number;
  readonly gone: boolean;
  readonly error: unknown;
  readonly durationMs: number;
}

function streamName(s: Stream): string {
  return `${s.plural}${s.namespace === undefined ? '' : `@${s.namespace}`}`;
}

function resourceVersionOf(obj: unknown): string | undefined {
  if (typeof obj !== 'object' || obj === null) return undefined;
  const md = (obj as { metadata?: { resourceVersion?: unknown } }).metadata;
  return typeof md?.resourceVersion === 'string' && md.resourceVersion !== '' ? md.resourceVersion : undefined;
}

function createdAtOf(obj: unknown): number | undefined {
  if (typeof obj !== 'object' || obj === null) return undefined;
  const ts = (obj as { metadata?: { creationTimestamp?: unknown } }).metadata?.creationTimestamp;
  const ms = typeof ts === 'string' ? Date.parse(ts) : ts instanceof Date ? ts.getTime() : Number.NaN;
  return Number.isFinite(ms) ? ms : undefined;
}

function completedAtOf(obj: unknown): number | undefined {
  if (typeof obj !== 'object' || obj === null) return undefined;
  const ts = (obj as { status?: { completionTime?: unknown } }).status?.completionTime;
  const ms = typeof ts === 'string' ? Date.parse(ts) : ts instanceof Date ? ts.getTime() : Number.NaN;
  return Number.isFinite(ms) ? ms : undefined;
}

export function createRunWatcher(options: RunWatcherOptions): RunWatcher {
  const { kubeConfig, logger, onKey } = options;
  const namespaces = (options.namespaces ?? []).filter((n) => n !== '');
  const pageSize = options.pageSize ?? 500;
  const watchTimeoutSeconds = options.watchTimeoutSeconds ?? 300;
  const healthyWatchMs = options.healthyWatchMs ?? 5000;
  const now = options.now ?? (() => new Date());
  const random = options.random ?? Math.random;
  const kube = kubeClientFor(kubeConfig);
  const streams: Stream[] = [];
  for (const kind of ['TaskRun', 'PipelineRun'] as const) {
    const plural = kind === 'TaskRun' ? 'taskruns' : 'pipelineruns';
    for (const namespace of namespaces.length > 0 ? namespaces : [undefined]) {
      streams.push({ kind, plural, namespace, listed: false, abort: undefined, relistNeeded: false });
    }
  }
  const stopSignal = new AbortController();
  let stopped = false;
  let ready = false;
  let loops: Promise<void>[] = [];
  let started: Promise<void> | undefined;

  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      if (stopSignal.signal.aborted) return resolve();
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        stopSignal.signal.removeEventListener('abort', done);
        resolve();
      }
      stopSignal.signal.addEventListener('abort', done);
    });

  const filterOptions = (s: Stream): { namespaces: readonly string[]; kind: RunKind; now: Date } => ({
    namespaces,
    kind: s.kind,
    now: now(),
  });

  /** Keys an object yields: itself when it needs signing, its parent PipelineRun on watch events. */
  const keysOf = (s: Stream, obj: unknown, fromWatch: boolean): { key: RunKey; info: KeyInfo }[] => {
    const opts = filterOptions(s);
    const keys: { key: RunKey; info: KeyInfo }[] = [];
    const decision = shouldEnqueue(obj, opts);
    if (decision.enqueue && (options.accept === undefined || options.accept(obj))) {
      const createdAt = createdAtOf(obj);
      const completedAt = completedAtOf(obj);
      keys.push({
        key: decision.key,
        info: { ...(createdAt === undefined ? {} : { createdAt }), ...(completedAt === undefined ? {} : { completedAt }) },
      });
      if (decision.reason === 'copied-annotations') {
        logger.info({ run: formatRunKey(decision.key) }, 'run carries signing annotations of another run; enqueued');
      }
    }
    // The initial list already covers every unsigned PipelineRun; only changes need the nudge.
    if (fromWatch) {
      const parent = parentPipelineRunKey(obj, opts);
      if (parent !== undefined) keys.push({ key: parent, info: {} });
    }
    return keys;
  };

  const streamPath = (s: Stream, version: TektonApiVersion): string =>
    s.namespace === undefined
      ? `/apis/${tektonGroup}/${version}/${s.plural}`
      : `/apis/${tektonGroup}/${version}/namespaces/${encodeURIComponent(s.namespace)}/${s.plural}`;

  /**
   * Lists pages from `cont` (undefined: the first page) to the last one, or only one page with
   * `firstOnly`, handing every item over one at a time while the page streams in (kube-http.ts
   * `listEach`). Returns the first page's resourceVersion (the snapshot every page of one list
   * shares), the continue token where it stopped, and how many items it handed over.
   */
  const listPages = async (
    s: Stream,
    version: TektonApiVersion,
    cont: string | undefined,
    signal: AbortSignal,
    firstOnly: boolean,
  ): Promise<{ rv: string | undefined; cont: string | undefined; items: number }> => {
    let listRv: string | undefined;
    let count = 0;
    let next = cont;
    do {
      const metadata = await kube.listEach(
        streamPath(s, version),
        { limit: pageSize, continue: next },
        async (item) => {
          count += 1;
          for (const { key, info } of keysOf(s, item, false)) await onKey(key, info);
        },
        signal,
      );
      if (signal.aborted) return { rv: listRv, cont: undefined, items: count };
      listRv ??= metadata.resourceVersion;
      next = metadata.continue;
    } while (next !== undefined && !firstOnly);
    return { rv: listRv, cont: next, items: count };
  };

  const watchOnce = async (s: Stream, version: TektonApiVersion, fromRv: string): Promise<WatchOutcome> => {
    const startedAt = Date.now();
    let rv = fromRv;
    let events = 0;
    let gone = false;
    let failure: unknown;
    const controller = new AbortController();
    s.abort = controller;
    if (stopped || s.relistNeeded) controller.abort();
    let error: unknown;
    try {
      await kube.watch(
        streamPath(s, version),
        ({ type, object: obj }) => {
          if (type === 'ERROR') {
            const code = typeof obj === 'object' && obj !== null ? (obj as { code?: unknown }).code : undefined;
            if (code === 410) gone = true;
            else failure = Object.assign(new Error('watch ERROR event'), { statusCode: typeof code === 'number' ? code : undefined });
            controller.abort();
            return;
          }
          events += 1;
          rv = resourceVersionOf(obj) ?? rv;
          if (type !== 'ADDED' && type !== 'MODIFIED') return;
          for (const { key, info } of keysOf(s, obj, true)) {
            void Promise.resolve()
              .then(() => onKey(key, info))
              .catch((err: unknown) => {
                // Not lost: a relist re-derives every key from the runs' annotations.
                logger.warn({ run: formatRunKey(key), err: errorMessage(err) }, 'enqueue failed; relisting');
                s.relistNeeded = true;
                s.abort?.abort();
              });
          }
        },
        { query: { resourceVersion: fromRv, allowWatchBookmarks: true, timeoutSeconds: watchTimeoutSeconds }, signal: controller.signal },
      );
    } catch (err) {
      error = err;
    }
    if (s.abort === controller) s.abort = undefined;
    return { rv, events, gone, error: failure ?? error, durationMs: Date.now() - startedAt };
  };

  /**
   * One stream: list, then watch from the list's resourceVersion. The watch starts as soon as the
   * first page has named that resourceVersion, while the remaining pages still stream in: every page
   * of one list is the same snapshot, so the watch from it misses nothing, and new completions are
   * seen at once instead of behind a list of thousands of runs (and behind the replayed events of
   * every backlog run signed while that list took). A key seen by both is enqueued twice, which the
   * queue folds into one job. The stream counts as listed (ready) when its last page is done.
   */
  const runStream = async (s: Stream, version: TektonApiVersion, onFirstList: (err?: ProvenantError) => void): Promise<void> => {
    let rv: string | undefined;
    let failures = 0;
    let rest: Promise<void> | undefined;
    let restAbort: AbortController | undefined;
    let restError: unknown;
    const listed = (): void => {
      if (s.listed) return;
      s.listed = true;
      onFirstList();
    };
    const stopRest = async (): Promise<void> => {
      restAbort?.abort();
      await rest;
      rest = undefined;
      restError = undefined;
    };
    try {
      while (!stopped) {
        try {
          if (rv === undefined || s.relistNeeded) {
            s.relistNeeded = false;
            rv = undefined; // a list that fails is listed again from its first page
            await stopRest();
            const abort = new AbortController();
            restAbort = abort;
            const signal = AbortSignal.any([abort.signal, stopSignal.signal]);
            const first = await listPages(s, version, undefined, signal, true);
            if (stopped) return;
            if (first.rv === undefined || first.rv === '') {
              throw new ProvenantError('transient', 'KUBE_UNAVAILABLE', `list of ${s.plural} carried no resourceVersion`);
            }
            rv = first.rv;
            failures = 0;
            if (first.cont === undefined) {
              logger.debug({ stream: streamName(s), items: first.items, resourceVersion: rv }, 'listed runs');
              listed();
            } else {
              rest = listPages(s, version, first.cont, signal, false).then(
                (done) => {
                  if (signal.aborted) return;
                  logger.debug({ stream: streamName(s), items: first.items + done.items, resourceVersion: first.rv }, 'listed runs');
                  listed();
                },
                (err: unknown) => {
                  if (signal.aborted) return;
                  // The watch ends; the loop below rethrows this, backs off and lists again.
                  restError = err;
                  s.abort?.abort();
                },
              );
            }
          }
          const out = await watchOnce(s, version, rv);
          if (stopped) return;
          if (restError !== undefined) {
            const err = restError;
            rv = undefined;
            throw err;
          }
          // Ended on purpose by relist() (or a failed enqueue): list again now, no backoff.
          if (s.relistNeeded) continue;
          if (out.gone || kubeStatusCode(out.error) === 410) {
            logger.info({ stream: streamName(s), resourceVersion: out.rv }, 'resourceVersion expired (410); relisting');
            rv = undefined;
            continue;
          }
          rv = out.rv;
          if (out.error !== undefined && out.error !== null) throw out.error;
          if (out.events > 0 || out.durationMs >= healthyWatchMs) {
            failures = 0;
            continue;
          }
          // Closed at once with nothing delivered: do not spin against a struggling server.
          failures += 1;
          await sleep(watchBackoffDelay(failures, options.backoff, random));
        } catch (err) {
          if (stopped) return;
          const e = classifyKubeError(err, { action: `list/watch ${s.plural}`, rbac: `list and watch on ${s.plural}.tekton.dev` });
          if (!s.listed && e.kind === 'config') {
            onFirstList(e);
            return;
          }
          if (e.code === 'KUBE_GONE') rv = undefined;
          failures += 1;
          const delay = watchBackoffDelay(failures, options.backoff, random);
          logger.warn({ stream: streamName(s), code: e.code, status: kubeStatusCode(err), attempt: failures, delayMs: delay }, 'list/watch failed; retrying');
          await sleep(delay);
        }
      }
    } finally {
      await stopRest();
    }
  };

  const stopAll = async (): Promise<void> => {
    stopped = true;
    stopSignal.abort();
    for (const s of streams) s.abort?.abort();
    await Promise.allSettled(loops);
  };

  return {
    get ready() {
      return ready;
    },
    relist() {
      if (stopped) return;
      logger.info('relisting runs on request');
      for (const s of streams) {
        s.relistNeeded = true;
        s.abort?.abort();
      }
    },
    start() {
      started ??= (async () => {
        const version = options.apiVersion ?? (await detectTektonApiVersion(kube));
        logger.info({ apiVersion: `${tektonGroup}/${version}`, namespaces: namespaces.length > 0 ? namespaces : 'all' }, 'watching runs');
        await new Promise<void>((resolve, reject) => {
          let pending = streams.length;
          let failed = false;
          const onFirstList = (err?: ProvenantError): void => {
            if (failed) return;
            if (err !== undefined) {
              failed = true;
              void stopAll().then(() => reject(err));
              return;
            }
            pending -= 1;
            if (pending === 0) {
              ready = true;
              resolve();
            }
          };
          loops = streams.map((s) => runStream(s, version, onFirstList));
          void Promise.allSettled(loops).then(() => {
            if (!ready && !failed) reject(new ProvenantError('transient', 'WATCH_STOPPED', 'watcher stopped before its first list'));
          });
        });
      })();
      return started;
    },
    async stop() {
      await stopAll();
      ready = false;
    },
  };
}
