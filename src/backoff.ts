/**
 * The one backoff formula of the project: the queue's retries, the run and config watchers'
 * reconnects and the deferred-PipelineRun recheck all use it.
 */

export interface BackoffOptions {
  /** Nominal delay after the first failure. */
  readonly baseMs: number;
  /** Cap of the nominal delay. */
  readonly maxMs: number;
}

/**
 * Exponential backoff with "equal jitter": half of the exponential delay is fixed, the other half
 * random, so retries of many clients that failed together (a registry outage) spread out but never
 * come back sooner than half the nominal delay. `failures` counts failed attempts so far (>= 1).
 */
export function backoffDelayMs(failures: number, backoff: BackoffOptions, random: () => number): number {
  const exponent = Math.max(0, failures - 1);
  const nominal = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.min(exponent, 30));
  const half = nominal / 2;
  return Math.round(half + random() * half);
}
