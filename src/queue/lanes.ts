/**
 * Fresh runs first, always. Ordering alone is not enough, because backlog jobs already hold every
 * worker slot when a fresh run arrives. So each process has two lanes with their own slots: the
 * fresh lane (`concurrency`) and the backlog lane (`backlogConcurrency`, default half as many). A
 * backlog never takes a fresh run's slot; and since slots do not protect the CPU, the backlog lane
 * starts one job at a time while the process has fresh jobs in work, and for `freshHoldMs` after.
 *
 * (A single pool with a cap on backlog holders was tried first: with BullMQ each lane is a Worker
 * that fetches before it knows whether a slot is free, so a backlog job fetched while the pool was
 * full took the next freed slot ahead of a fresh job not yet fetched.)
 *
 * The lane is decided once, when the job is added, from how long ago the run completed: a run that
 * finished within `freshWindowMs` is fresh (the watch delivers completions within a second), one that
 * finished earlier (found by the first list after a restart, or a relist) is backlog.
 */
export type Lane = 'fresh' | 'backlog';

/** A run that completed less than a minute before it was enqueued is fresh. */
export const defaultFreshWindowMs = 60_000;

export interface LaneTimes {
  /** `status.completionTime` of the run (epoch ms). */
  readonly completedAt?: number | undefined;
  /** `metadata.creationTimestamp` (epoch ms): the stand-in when the completion time is unknown. */
  readonly createdAt?: number | undefined;
}

/** Without any time (a parent PipelineRun nudged by its last child), the run is fresh. */
export function laneOf(times: LaneTimes, now: number, freshWindowMs = defaultFreshWindowMs): Lane {
  const at = times.completedAt ?? times.createdAt;
  if (at === undefined || !Number.isFinite(at)) return 'fresh';
  return now - at <= freshWindowMs ? 'fresh' : 'backlog';
}

/**
 * The backlog lane's slots: `configured` when given (clamped to 1..concurrency), else half of the
 * fresh lane's. At least one, so a backlog always drains.
 */
export function backlogConcurrency(concurrency: number, configured?: number): number {
  const wanted = configured ?? Math.floor(concurrency / 2);
  return Math.max(1, Math.min(concurrency, Math.floor(wanted)));
}

/**
 * While fresh runs are in work in a process, its backlog lane starts at most this many jobs (jobs
 * already running finish): on a saturated machine CPU, not slots, is the limit, and every backlog job
 * at work takes a share of it from the fresh ones. One keeps the backlog draining.
 */
export const backlogConcurrencyWhileFresh = 1;

/**
 * The backlog lane also stays held back this long after the process last started or finished a
 * fresh job: fresh runs arrive one by one, and between two of them (tens of ms at 50 runs/s) the
 * backlog lane would otherwise take all its slots and the CPU (measured: p99 4.4 s with a backlog).
 */
export const freshHoldMs = 1_000;

/**
 * The backlog lane's current limit, given how many fresh jobs this process has in work (or waiting)
 * and how long ago it last started or finished one.
 */
export function currentBacklogLimit(backlogLimit: number, freshInWork: number, msSinceFresh = Number.POSITIVE_INFINITY): number {
  return freshInWork > 0 || msSinceFresh < freshHoldMs ? Math.min(backlogLimit, backlogConcurrencyWhileFresh) : backlogLimit;
}

