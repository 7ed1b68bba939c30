import type { BackoffOptions } from '../backoff.js';
import type { Logger } from '../observability/index.js';
import type { RunKey } from '../tekton/index.js';

/**
 * What a step already achieved for a run, persisted in the job so that a retry (or another worker
 * after a crash) re-uses it: one run, one signature, one Rekor entry (ARCHITECTURE.md).
 * Keys of the records are the reconciler's short artifact keys.
 */
export interface Checkpoints {
  /** Serialized Sigstore bundles (JSON), per artifact. */
  readonly bundles?: Readonly<Record<string, unknown>>;
  /** Storage backend names already done, per artifact. */
  readonly stored?: Readonly<Record<string, readonly string[]>>;
}

export interface RunJobData {
  readonly key: RunKey;
  /** Epoch ms when the job was (first) enqueued. */
  readonly enqueuedAt: number;
  readonly checkpoints: Checkpoints;
  /**
   * Added without any run time (a parent PipelineRun nudged by a child, a deferred recheck): it runs
   * in the fresh lane, and pauses the backlog lane only while it waits or runs, not for the quiet
   * period after (it is not an arrival; a backlog child's nudges would otherwise hold the backlog).
   */
  readonly untimed?: boolean;
}

export interface JobContext {
  /** 1 on the first try; a crash-restart of the same try does not count as a new attempt. */
  readonly attempt: number;
  readonly maxAttempts: number;
  /** The current job data, including checkpoints written during this attempt. */
  readonly data: RunJobData;
  /**
   * Merge `patch` into the checkpoints and persist it before resolving. Top-level fields are
   * replaced; the record fields (`bundles`, `stored`) are merged by artifact key.
   */
  checkpoint(patch: Checkpoints): Promise<void>;
  /** Aborted when the queue is closed without waiting for this job (or the job lock is lost). */
  readonly signal: AbortSignal;
}

/**
 * What a handler may ask of the queue after a successful attempt (controller-runtime's Result):
 * `requeueAfterMs` adds the run again, as a delayed job, once this job has completed.
 */
export interface JobResult {
  readonly requeueAfterMs?: number;
}

export type JobHandler = (ctx: JobContext) => Promise<void | JobResult>;

/**
 * Called after every failed attempt; `final` is true when the job will not be tried again
 * (a `permanent`/`config` error, or attempts exhausted). Errors it throws are logged, not retried.
 */
export type FailedHandler = (ctx: JobContext, err: unknown, final: boolean) => Promise<void>;

export interface ProcessOptions {
  /** Jobs of the fresh lane worked at once by this process (the backlog lane has its own slots). */
  readonly concurrency: number;
  readonly onFailed?: FailedHandler;
}

export interface QueueDepth {
  /** Ready to run (includes BullMQ's prioritized and paused sets). */
  readonly waiting: number;
  readonly active: number;
  /** Waiting for a retry backoff to elapse. */
  readonly delayed: number;
  /** Finally failed and kept for inspection (bounded by `keepFailed`). */
  readonly failed: number;
}

export interface CloseOptions {
  /** true: stop taking jobs and wait for active ones up to `timeoutMs`; then (or with false) abort them. */
  readonly graceful: boolean;
  readonly timeoutMs?: number;
}

export type AddResult = 'added' | 'duplicate';

export interface AddOptions {
  readonly createdAt?: number;
  readonly completedAt?: number;
  readonly delayMs?: number;
}

export interface JobQueue {
  /**
   * Enqueue a run by key. The job id is the run uid: adding a uid that is waiting, active or delayed
   * is a no-op (`duplicate`); after completion or final failure it can be added again.
   * `createdAt` (the run's creation time, epoch ms) orders the queue newest first. `completedAt` (its
   * completion time) puts it in the fresh lane when recent, else in the backlog lane (see lanes.ts).
   * `delayMs` makes the job wait that long before it can run (a BullMQ delayed job; a timer in the
   * in-process queue).
   */
  add(key: RunKey, opts?: AddOptions): Promise<AddResult>;
  /** Start consuming. Call once per queue object. */
  process(handler: JobHandler, opts: ProcessOptions): void;
  depth(): Promise<QueueDepth>;
  close(opts: CloseOptions): Promise<void>;
  /**
   * Called when the queue's store lost its jobs (Redis restarted empty or flushed): the caller
   * relists runs so every finished, unsigned run is enqueued again. Not called by in-process
   * queues (they cannot lose jobs without losing the process).
   */
  onReset?(listener: () => void): void;
}

export type { BackoffOptions } from '../backoff.js';

/** Options shared by both implementations. */
export interface QueueOptions {
  readonly logger: Logger;
  /** Total tries per job, including the first. Default `defaultAttempts` (8). */
  readonly attempts?: number;
  /** Default `{ baseMs: 2000, maxMs: 300000 }`. */
  readonly backoff?: BackoffOptions;
  /** How many finally failed jobs to keep (for `depth().failed` and checkpoint carry-over). Default 1000. */
  readonly keepFailed?: number;
  /** Epoch ms clock; default `Date.now`. */
  readonly now?: () => number;
  /** Uniform [0, 1) source for jitter; default `Math.random`. */
  readonly random?: () => number;
  /** A run that completed at most this long before it is enqueued goes to the fresh lane; default 60 s. */
  readonly freshWindowMs?: number;
  /**
   * Jobs of the backlog lane (runs that completed earlier than `freshWindowMs` before they were
   * enqueued) worked at once per process, besides the fresh lane's `concurrency`: a backlog never
   * takes a fresh run's slot. Default half of `concurrency`, at least 1 (lanes.ts).
   */
  readonly backlogConcurrency?: number;
  /**
   * The backlog lane pauses while fresh jobs are waiting or in work and for this long after fresh
   * traffic (a fresh job added, started or finished) was last seen; with BullMQ, seen by any process
   * sharing the queue. Default 1 s (lanes.ts).
   */
  readonly freshQuietMs?: number;
  /**
   * While paused, the backlog lane still starts one job this often (with BullMQ: once per interval
   * for all processes), so a steady stream of fresh runs never starves it. Default 1 s (lanes.ts).
   */
  readonly backlogDrainMs?: number;
}
