/**
 * In-process twin of the BullMQ queue for the embedded default (no Redis): same dedup, ordering,
 * retry and checkpoint semantics, but nothing survives the process. That is fine by design: the
 * run annotations are the source of truth, and the next relist re-enqueues unfinished runs.
 */
import { ProvenantError, errorMessage } from '../errors.js';
import { formatRunKey, type RunKey } from '../tekton/run-key.js';
import {
  backoffDelayMs,
  isRetryable,
  mergeCheckpoints,
  resolveQueueOptions,
  runPriority,
  validateConcurrency,
  untimed,
  validateRunKey,
} from './policy.js';
import { backlogConcurrency, backlogPaused, defaultFreshWindowMs, drainDue, laneOf, type Lane } from './lanes.js';
import type {
  AddOptions,
  AddResult,
  Checkpoints,
  CloseOptions,
  JobContext,
  JobHandler,
  JobQueue,
  ProcessOptions,
  QueueDepth,
  QueueOptions,
  RunJobData,
} from './types.js';

type MemoryJobState = 'waiting' | 'active' | 'delayed' | 'failed';

interface MemoryJob {
  data: RunJobData;
  state: MemoryJobState;
  readonly priority: number;
  readonly lane: Lane;
  /** Insertion order, FIFO within one priority (as BullMQ's priority counter). */
  seq: number;
  failures: number;
  timer: NodeJS.Timeout | undefined;
  controller: AbortController | undefined;
}

/** Binary min-heap on (priority, seq). */
class JobHeap {
  private readonly items: MemoryJob[] = [];

  get size(): number {
    return this.items.length;
  }

  push(job: MemoryJob): void {
    const items = this.items;
    items.push(job);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!JobHeap.before(items[i]!, items[parent]!)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  pop(): MemoryJob | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    items[0] = last;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let best = i;
      if (left < items.length && JobHeap.before(items[left]!, items[best]!)) best = left;
      if (right < items.length && JobHeap.before(items[right]!, items[best]!)) best = right;
      if (best === i) break;
      [items[i], items[best]] = [items[best]!, items[i]!];
      i = best;
    }
    return top;
  }

  private static before(a: MemoryJob, b: MemoryJob): boolean {
    return a.priority < b.priority || (a.priority === b.priority && a.seq < b.seq);
  }
}

/** A fresh job with a run time: fresh traffic that holds the backlog lane for the quiet period (lanes.ts). */
function arrival(job: MemoryJob): boolean {
  return job.lane === 'fresh' && job.data.untimed !== true;
}

export function createMemoryQueue(options: QueueOptions): JobQueue {
  const { attempts, backoff, keepFailed, now, random, lanes: timing } = resolveQueueOptions(options);
  const logger = options.logger.child({ component: 'queue', queue: 'memory' });
  const jobs = new Map<string, MemoryJob>();
  /** Finally failed uids, oldest first, bounded by keepFailed. */
  const failedOrder: string[] = [];
  const heaps: Record<Lane, JobHeap> = { fresh: new JobHeap(), backlog: new JobHeap() };
  const freshWindowMs = options.freshWindowMs ?? defaultFreshWindowMs;
  const settled = new Set<() => void>();
  let seq = 0;
  let handler: JobHandler | undefined;
  let processOptions: ProcessOptions | undefined;
  let backlogLimit = 1;
  let active = 0;
  let backlogActive = 0;
  /** When this queue last saw fresh traffic: a fresh job enqueued, started or finished (lanes.ts). */
  let lastFreshAt = Number.NEGATIVE_INFINITY;
  /** When the backlog lane last started a job (the drain interval counts from it). */
  let lastBacklogStartAt = Number.NEGATIVE_INFINITY;
  /** Wakes `pump` when the pause ends or the next drain job is due. */
  let gateTimer: NodeJS.Timeout | undefined;
  let gateAt = Number.POSITIVE_INFINITY;
  let accepting = true;
  let closed = false;

  function enqueue(job: MemoryJob): void {
    job.state = 'waiting';
    job.seq = seq++;
    heaps[job.lane].push(job);
    if (arrival(job)) lastFreshAt = now();
    pump();
  }

  /**
   * Each lane fills its own slots. The backlog lane pauses while fresh traffic is seen, starting one
   * job per `backlogDrainMs` meanwhile (lanes.ts).
   */
  function pump(): void {
    if (handler === undefined || processOptions === undefined || !accepting) return;
    while (active - backlogActive < processOptions.concurrency && heaps.fresh.size > 0) {
      const job = heaps.fresh.pop();
      if (job !== undefined) void run(job, handler, processOptions);
    }
    if (heaps.backlog.size === 0) return;
    const t = now();
    const freshBusy = active - backlogActive + heaps.fresh.size;
    if (!backlogPaused(freshBusy, t - lastFreshAt, timing)) {
      while (backlogActive < backlogLimit && heaps.backlog.size > 0) {
        const job = heaps.backlog.pop();
        if (job !== undefined) void run(job, handler, processOptions);
      }
      return;
    }
    if (drainDue(backlogActive, t - lastBacklogStartAt, timing)) {
      const job = heaps.backlog.pop();
      if (job !== undefined) void run(job, handler, processOptions);
    }
    // Look again when the pause may end (no fresh job in work) or the next drain job is due.
    const resumeAt = freshBusy === 0 ? lastFreshAt + timing.freshQuietMs : Number.POSITIVE_INFINITY;
    const drainAt = backlogActive === 0 ? lastBacklogStartAt + timing.backlogDrainMs : Number.POSITIVE_INFINITY;
    wakeAt(Math.min(resumeAt, drainAt), t);
  }

  function wakeAt(at: number, t: number): void {
    if (!Number.isFinite(at) || (gateTimer !== undefined && gateAt <= at)) return;
    clearTimeout(gateTimer);
    gateAt = at;
    gateTimer = setTimeout(
      () => {
        gateTimer = undefined;
        gateAt = Number.POSITIVE_INFINITY;
        if (!closed) pump();
      },
      Math.max(1, at - t),
    );
    gateTimer.unref();
  }

  function removeFailed(uid: string): void {
    const index = failedOrder.indexOf(uid);
    if (index >= 0) failedOrder.splice(index, 1);
  }

  async function run(job: MemoryJob, handle: JobHandler, opts: ProcessOptions): Promise<void> {
    active++;
    if (job.lane === 'backlog') {
      backlogActive++;
      lastBacklogStartAt = now();
    } else if (arrival(job)) lastFreshAt = now();
    job.state = 'active';
    const controller = new AbortController();
    job.controller = controller;
    const ctx: JobContext = {
      attempt: job.failures + 1,
      maxAttempts: attempts,
      get data() {
        return job.data;
      },
      signal: controller.signal,
      checkpoint: async (patch: Checkpoints) => {
        job.data = { ...job.data, checkpoints: mergeCheckpoints(job.data.checkpoints, patch) };
      },
    };
    const run = formatRunKey(job.data.key);
    try {
      const result = await handle(ctx);
      if (!controller.signal.aborted) {
        jobs.delete(job.data.key.uid);
        const requeueAfterMs = result?.requeueAfterMs;
        if (requeueAfterMs !== undefined && !closed) {
          // Back to its own lane (completedAt 0 is "long ago": backlog).
          const times = job.lane === 'backlog' ? { completedAt: 0 } : {};
          await queue.add(job.data.key, { ...times, delayMs: requeueAfterMs }).catch((err: unknown) => logger.warn({ run, err: errorMessage(err) }, 'requeue failed'));
        }
      }
    } catch (err) {
      // Aborted by a non-graceful close: the job is handed back (here: dropped with the process).
      if (!controller.signal.aborted) await failed(job, ctx, err, opts, run);
    } finally {
      job.controller = undefined;
      active--;
      if (job.lane === 'backlog') backlogActive--;
      else if (arrival(job)) lastFreshAt = now();
      for (const notify of settled) notify();
      if (!closed) pump();
    }
  }

  async function failed(job: MemoryJob, ctx: JobContext, err: unknown, opts: ProcessOptions, run: string): Promise<void> {
    job.failures++;
    const retryable = isRetryable(err);
    const final = !retryable || job.failures >= attempts;
    const code = err instanceof ProvenantError ? err.code : undefined;
    logger[final ? 'error' : 'warn'](
      { run, uid: job.data.key.uid, attempt: ctx.attempt, maxAttempts: attempts, code, final, err: errorMessage(err) },
      final ? 'job failed' : 'job attempt failed, will retry',
    );
    if (opts.onFailed !== undefined) {
      try {
        await opts.onFailed(ctx, err, final);
      } catch (cbErr) {
        logger.error({ run, err: errorMessage(cbErr) }, 'onFailed callback threw');
      }
    }
    if (final) {
      job.state = 'failed';
      failedOrder.push(job.data.key.uid);
      while (failedOrder.length > keepFailed) {
        const evicted = failedOrder.shift();
        if (evicted !== undefined) jobs.delete(evicted);
      }
      return;
    }
    job.state = 'delayed';
    const delay = backoffDelayMs(job.failures, backoff, random);
    job.timer = setTimeout(() => {
      job.timer = undefined;
      if (!closed) enqueue(job);
    }, delay);
  }

  function allSettled(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      if (active === 0) return resolve();
      const finish = (): void => {
        settled.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const check = (): void => {
        if (active === 0) finish();
      };
      const timer = setTimeout(finish, timeoutMs);
      settled.add(check);
    });
  }

  const queue: JobQueue = {
    async add(key: RunKey, opts: AddOptions = {}): Promise<AddResult> {
      validateRunKey(key.uid);
      if (closed) throw new ProvenantError('transient', 'QUEUE_CLOSED', 'the queue is closed');
      const existing = jobs.get(key.uid);
      let checkpoints: Checkpoints = {};
      if (existing !== undefined) {
        if (existing.state !== 'failed') return 'duplicate';
        // A finally failed run that is enqueued again keeps what it already achieved.
        checkpoints = existing.data.checkpoints;
        removeFailed(key.uid);
      }
      const job: MemoryJob = {
        data: {
          key: { kind: key.kind, namespace: key.namespace, name: key.name, uid: key.uid },
          enqueuedAt: now(),
          checkpoints,
          ...(untimed(opts) ? { untimed: true } : {}),
        },
        state: 'waiting',
        priority: runPriority(opts.createdAt ?? now()),
        lane: laneOf(opts, now(), freshWindowMs),
        seq: 0,
        failures: 0,
        timer: undefined,
        controller: undefined,
      };
      jobs.set(key.uid, job);
      const delayMs = opts.delayMs ?? 0;
      if (delayMs > 0) {
        job.state = 'delayed';
        job.timer = setTimeout(() => {
          job.timer = undefined;
          if (!closed) enqueue(job);
        }, delayMs);
      } else {
        enqueue(job);
      }
      return 'added';
    },

    process(handle: JobHandler, opts: ProcessOptions): void {
      validateConcurrency(opts.concurrency);
      if (handler !== undefined) {
        throw new ProvenantError('permanent', 'QUEUE_ALREADY_PROCESSING', 'process() was already called on this queue');
      }
      handler = handle;
      processOptions = opts;
      backlogLimit = backlogConcurrency(opts.concurrency, options.backlogConcurrency);
      pump();
    },

    async depth(): Promise<QueueDepth> {
      let waiting = 0;
      let delayed = 0;
      let failed = 0;
      for (const job of jobs.values()) {
        if (job.state === 'waiting') waiting++;
        else if (job.state === 'delayed') delayed++;
        else if (job.state === 'failed') failed++;
      }
      return { waiting, active, delayed, failed };
    },

    async close(opts: CloseOptions): Promise<void> {
      if (closed) return;
      accepting = false;
      if (opts.graceful) await allSettled(opts.timeoutMs ?? 30_000);
      closed = true;
      clearTimeout(gateTimer);
      for (const job of jobs.values()) {
        if (job.timer !== undefined) clearTimeout(job.timer);
        job.controller?.abort(new ProvenantError('transient', 'QUEUE_CLOSED', 'the queue was closed'));
      }
      logger.debug({ abandoned: active }, 'queue closed');
    },
  };
  return queue;
}
