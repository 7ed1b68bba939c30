import { describe, expect, it } from 'vitest';
import { ProvenantError } from '../../../src/errors.js';
import {
  backoffDelayMs,
  defaultAttempts,
  defaultBackoff,
  isRetryable,
  maxPriority,
  mergeCheckpoints,
  runPriority,
} from '../../../src/queue/index.js';

describe('runPriority', () => {
  it('gives newer runs a smaller number (runs first), within BullMQ limits', () => {
    const now = Date.UTC(2026, 0, 15, 12, 0, 0);
    const newer = runPriority(now);
    const older = runPriority(now - 3_600_000);
    expect(newer).toBeLessThan(older);
    for (const t of [0, now, now - 1, Date.UTC(2030, 5, 1), -60_000]) {
      const p = runPriority(t);
      expect(Number.isInteger(p)).toBe(true);
      expect(p).toBeGreaterThanOrEqual(1);
      expect(p).toBeLessThanOrEqual(maxPriority);
    }
  });

  it('has one-minute resolution', () => {
    const minute = Date.UTC(2026, 0, 15, 12, 0, 0);
    expect(runPriority(minute)).toBe(runPriority(minute + 59_999));
    expect(runPriority(minute + 60_000)).toBe(runPriority(minute) - 1);
  });
});

describe('backoffDelayMs', () => {
  const backoff = { baseMs: 100, maxMs: 1_000 };
  it('doubles per failure with equal jitter and caps at maxMs', () => {
    expect(backoffDelayMs(1, backoff, () => 0)).toBe(50);
    expect(backoffDelayMs(1, backoff, () => 0.999999)).toBe(100);
    expect(backoffDelayMs(2, backoff, () => 0)).toBe(100);
    expect(backoffDelayMs(3, backoff, () => 0.5)).toBe(300);
    expect(backoffDelayMs(10, backoff, () => 0.999999)).toBe(1_000);
    expect(backoffDelayMs(500, backoff, () => 0)).toBe(500);
  });

  it('has sane defaults', () => {
    expect(defaultAttempts).toBeGreaterThan(1);
    expect(defaultBackoff.baseMs).toBeLessThan(defaultBackoff.maxMs);
  });
});

describe('isRetryable', () => {
  it('retries transient and unclassified errors only', () => {
    expect(isRetryable(new ProvenantError('transient', 'UNEXPECTED', 'x'))).toBe(true);
    expect(isRetryable(new Error('x'))).toBe(true);
    expect(isRetryable('x')).toBe(true);
    expect(isRetryable(new ProvenantError('permanent', 'RUN_MALFORMED', 'x'))).toBe(false);
    expect(isRetryable(new ProvenantError('config', 'CONFIG_INVALID', 'x'))).toBe(false);
    expect(isRetryable(new ProvenantError('input', 'USAGE', 'x'))).toBe(false);
  });
});

describe('mergeCheckpoints', () => {
  it('merges records by artifact key', () => {
    const merged = mergeCheckpoints({ bundles: { x: 1 }, stored: { x: ['tekton'] } }, { bundles: { y: 2 }, stored: { x: ['tekton', 'oci'] } });
    expect(merged).toEqual({ bundles: { x: 1, y: 2 }, stored: { x: ['tekton', 'oci'] } });
    expect(mergeCheckpoints({ bundles: { x: 1 } }, {})).toEqual({ bundles: { x: 1 } });
  });
});
