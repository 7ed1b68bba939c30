import { describe, expect, it } from 'vitest';
import {
  backlogConcurrency,
  backlogPaused,
  defaultBacklogDrainMs,
  defaultFreshQuietMs,
  drainDue,
  laneTiming,
  laneTimingProblems,
  laneOf,
} from '../../../src/queue/lanes.js';

describe('queue lanes', () => {
  it('a run is fresh when it completed within the window; completion time wins over creation time', () => {
    const now = 10_000_000;
    expect(laneOf({ completedAt: now - 1_000 }, now)).toBe('fresh');
    expect(laneOf({ completedAt: now - 120_000 }, now)).toBe('backlog');
    expect(laneOf({ createdAt: now - 3_600_000, completedAt: now - 500 }, now)).toBe('fresh');
    expect(laneOf({ createdAt: now - 3_600_000 }, now)).toBe('backlog');
    expect(laneOf({}, now)).toBe('fresh');
    expect(laneOf({ completedAt: now - 5_000 }, now, 1_000)).toBe('backlog');
  });

  it('the backlog lane has half as many slots as the fresh lane by default, at least one, at most as many', () => {
    expect(backlogConcurrency(16)).toBe(8);
    expect(backlogConcurrency(3)).toBe(1);
    expect(backlogConcurrency(1)).toBe(1);
    expect(backlogConcurrency(4, 3)).toBe(3);
    expect(backlogConcurrency(4, 9)).toBe(4);
    expect(backlogConcurrency(4, 0)).toBe(1);
  });

  it('the backlog lane pauses while fresh jobs are in work and for the quiet period after fresh traffic', () => {
    const timing = laneTiming({});
    expect(timing).toEqual({ freshQuietMs: defaultFreshQuietMs, backlogDrainMs: defaultBacklogDrainMs });
    expect(backlogPaused(0, Number.POSITIVE_INFINITY, timing)).toBe(false);
    expect(backlogPaused(3, Number.POSITIVE_INFINITY, timing)).toBe(true);
    expect(backlogPaused(0, 0, timing)).toBe(true);
    expect(backlogPaused(0, defaultFreshQuietMs - 1, timing)).toBe(true);
    expect(backlogPaused(0, defaultFreshQuietMs, timing)).toBe(false);
    // quiet 0: paused only while fresh jobs wait or run
    expect(backlogPaused(0, 0, laneTiming({ freshQuietMs: 0 }))).toBe(false);
  });

  it('while paused, a drain job is due once per interval and only with no backlog job in work', () => {
    const timing = laneTiming({ backlogDrainMs: 500 });
    expect(drainDue(0, Number.POSITIVE_INFINITY, timing)).toBe(true);
    expect(drainDue(0, 499, timing)).toBe(false);
    expect(drainDue(0, 500, timing)).toBe(true);
    expect(drainDue(1, 10_000, timing)).toBe(false);
  });

  it('validates the timing options', () => {
    expect(laneTimingProblems({})).toEqual([]);
    expect(laneTimingProblems({ freshQuietMs: 0, backlogDrainMs: 1 })).toEqual([]);
    expect(laneTimingProblems({ freshQuietMs: -1 })).toHaveLength(1);
    expect(laneTimingProblems({ backlogDrainMs: 0 })).toHaveLength(1);
    expect(laneTimingProblems({ backlogDrainMs: Number.NaN, freshQuietMs: Number.POSITIVE_INFINITY })).toHaveLength(2);
  });
});
