/**
 * Queue policy shared by the BullMQ and the in-process queue, so both order, retry and classify alike.
 */
import { backoffDelayMs } from '../backoff.js';
import { isRetryable, ProvenantError } from '../errors.js';
import { laneTiming, laneTimingProblems, type LaneTiming } from './lanes.js';
import type { BackoffOptions, Checkpoints, QueueOptions } from './types.js';

/** Tries per run before `signed=failed`: with the 2 s base backoff, about 4 minutes of retries. */
export const defaultAttempts = 8;
export const defaultBackoff: BackoffOptions = { baseMs: 2_000, maxMs: 300_000 };
export { backoffDelayMs };
export const defaultKeepFailed = 1_000;

/** BullMQ's largest priority (2^21 - 1); lower numbers run first. */
export const maxPriority = 2_097_151;
/** Priority resolution: runs created in the same minute keep their enqueue (FIFO) order. */
export const priorityBucketMs = 60_000;

/**
 * Newest runs first (Tekton Chains #979: a backlog must not starve new builds).
 * The priority is fixed when the job is added, so it must be a function of the run's creation time
 * alone (not of its age "now"): one minute per step, newer minute = smaller number, in 1..maxPriority.
 * 2^21 - 1 minutes is ~3.99 years, after which the scale wraps: only runs enqueued on both sides of
 * that instant are misordered (old before new) until that backlog drains.
 */
export function runPriority(createdAtMs: number): number {
  const minute = Math.floor(createdAtMs / priorityBucketMs);
  const position = ((minute % maxPriority) + maxPriority) % maxPriority;
  return maxPriority - position;
}

/** The one classifier lives in errors.ts; the queues use it through here. */
export { isRetryable };

/** The record fields are merged by artifact key. */
export function mergeCheckpoints(current: Checkpoints, patch: Checkpoints): Checkpoints {
  const merged: { -readonly [K in keyof Checkpoints]: Checkpoints[K] } = { ...current };
  if (patch.bundles !== undefined) merged.bundles = { ...current.bundles, ...patch.bundles };
  if (patch.stored !== undefined) merged.stored = { ...current.stored, ...patch.stored };
  return merged;
}

export interface ResolvedQueueOptions {
  readonly attempts: number;
  readonly backoff: BackoffOptions;
  readonly keepFailed: number;
  readonly now: () => number;
  readonly random: () => number;
  readonly lanes: LaneTiming;
}

export function resolveQueueOptions(options: QueueOptions): ResolvedQueueOptions {
  const attempts = options.attempts ?? defaultAttempts;
  const backoff = options.backoff ?? defaultBackoff;
  const keepFailed = options.keepFailed ?? defaultKeepFailed;
  const problems: string[] = [];
  if (!Number.isInteger(attempts) || attempts < 1) problems.push('attempts must be an integer >= 1');
  if (!(backoff.baseMs >= 0) || !(backoff.maxMs >= backoff.baseMs)) problems.push('backoff needs 0 <= baseMs <= maxMs');
  if (!Number.isInteger(keepFailed) || keepFailed < 0) problems.push('keepFailed must be an integer >= 0');
  problems.push(...laneTimingProblems(options));
  if (problems.length > 0) {
    throw new ProvenantError('config', 'QUEUE_OPTIONS_INVALID', `invalid queue options: ${problems.join('; ')}`, {
      context: { problems },
    });
  }
  return { attempts, backoff, keepFailed, now: options.now ?? Date.now, random: options.random ?? Math.random, lanes: laneTiming(options) };
}

export function validateConcurrency(concurrency: number): void {
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new ProvenantError('config', 'QUEUE_OPTIONS_INVALID', 'concurrency must be an integer >= 1', {
      context: { problems: ['concurrency must be an integer >= 1'] },
    });
  }
}

/** Added without any run time (see `RunJobData.untimed`). */
export function untimed(opts: { readonly createdAt?: number | undefined; readonly completedAt?: number | undefined }): boolean {
  return opts.createdAt === undefined && opts.completedAt === undefined;
}

export function validateRunKey(uid: string): void {
  // BullMQ reserves "0" and "0:…" ids; a Kubernetes uid is a UUID, so anything else is a bug upstream.
  if (uid === '' || uid === '0' || uid.startsWith('0:')) {
    throw new ProvenantError('permanent', 'QUEUE_INVALID_KEY', 'run key has no usable uid');
  }
}
