import { checkJsonShape, limits, violationError } from '../limits.js';

const runTooBig = violationError('input', 'RUN_MALFORMED', 'run');

/**
 * Refuses a run over `limits.run` (depth, sizes) before anything recursive reads it. `input`, so the
 * controller marks it `signed=failed` with `RUN_MALFORMED` at once and the CLI exits 2.
 */
export function checkRunLimits(raw: unknown): void {
  checkJsonShape(raw, limits.run, runTooBig);
}
