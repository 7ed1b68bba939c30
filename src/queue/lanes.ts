/**
 * Fresh runs first, always. Ordering alone is not enough, because backlog jobs already hold every
 * worker slot when a fresh run arrives. So each process has two lanes with their own slots: the
 * fresh lane (`concurrency`) and the backlog lane (`backlogConcurrency`, default half as many). A
 * backlog never takes a fresh run's slot.
 *
 * Slots do not protect the CPU, and on a saturated machine CPU is the limit: one backlog job at work
 * (~20 ms CPU) took half of a 2-core machine from the fresh runs (measured: p99 4.2 s with a backlog
 * while the lane ran one job at a time). So the backlog lane **pauses** while fresh traffic is seen:
 * fresh jobs waiting or in work, or a fresh job added, started or finished within `freshQuietMs`
 * (default 1 s). With BullMQ that signal is shared by every process through Redis (a key with a TTL
 * of `freshQuietMs`, refreshed by whichever process sees fresh traffic), because the processes share
 * the machine's cores, the API server and Redis: one replica's backlog hurts another's fresh runs.
 *
 * The drain guarantee: while paused, the backlog lane still starts one job (with none of its own in
 * work) every `backlogDrainMs` (default 100 ms; with BullMQ once per interval for all processes, through
 * a Redis key), so a steady fresh stream never starves the backlog: at least one backlog job per
 * `backlogDrainMs` plus one job's duration. After `freshQuietMs` without fresh traffic the lane uses
 * all its slots again.
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

/** The backlog lane resumes this long after fresh traffic was last seen. */
export const defaultFreshQuietMs = 1_000;

/** While paused, the backlog lane still starts one job this often (the drain guarantee). */
// 100 ms: measured on the merged code (bench:latency, 50 runs/s, 10,000-run backlog, 2 cores), the
// fresh p99 was 57 ms with a 1 s drain (81 backlog runs in the 60 s window), 33 ms with 100 ms (574)
// and 103 ms with 10 ms (3,943): fresh runs do not notice a 100 ms drain, and the backlog moves ten
// times faster under steady fresh traffic than with 1 s.
export const defaultBacklogDrainMs = 100;

export interface LaneTiming {
  readonly freshQuietMs: number;
  readonly backlogDrainMs: number;
}

/** Problems with the lane timing options (empty when valid): `freshQuietMs` >= 0, `backlogDrainMs` >= 1. */
export function laneTimingProblems(options: { readonly freshQuietMs?: number; readonly backlogDrainMs?: number }): string[] {
  const problems: string[] = [];
  const { freshQuietMs, backlogDrainMs } = options;
  if (freshQuietMs !== undefined && !(Number.isFinite(freshQuietMs) && freshQuietMs >= 0)) problems.push('freshQuietMs must be a number >= 0');
  if (backlogDrainMs !== undefined && !(Number.isFinite(backlogDrainMs) && backlogDrainMs >= 1)) problems.push('backlogDrainMs must be a number >= 1');
  return problems;
}

export function laneTiming(options: { readonly freshQuietMs?: number; readonly backlogDrainMs?: number }): LaneTiming {
  return { freshQuietMs: options.freshQuietMs ?? defaultFreshQuietMs, backlogDrainMs: options.backlogDrainMs ?? defaultBacklogDrainMs };
}

/**
 * Whether the backlog lane is paused: fresh jobs are waiting or in work (`freshBusy`), or fresh
 * traffic was seen less than `freshQuietMs` ago.
 */
export function backlogPaused(freshBusy: number, msSinceFresh: number, timing: LaneTiming): boolean {
  return freshBusy > 0 || msSinceFresh < timing.freshQuietMs;
}

/**
 * While paused, whether the backlog lane may start its drain job: none of its jobs in work, and
 * `backlogDrainMs` since the last backlog job started.
 */
export function drainDue(backlogInWork: number, msSinceBacklogStart: number, timing: LaneTiming): boolean {
  return backlogInWork === 0 && msSinceBacklogStart >= timing.backlogDrainMs;
}
