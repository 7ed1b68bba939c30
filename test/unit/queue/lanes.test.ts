import { describe, expect, it } from 'vitest';
import { backlogConcurrency, currentBacklogLimit, freshHoldMs, laneOf } from '../../../src/queue/lanes.js';

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

  it('while fresh jobs are in work the backlog lane is held to one', () => {
    expect(currentBacklogLimit(8, 0)).toBe(8);
    expect(currentBacklogLimit(8, 3)).toBe(1);
    // held back for freshHoldMs after the last fresh job started or finished, then free again
    expect(currentBacklogLimit(8, 0, 0)).toBe(1);
    expect(currentBacklogLimit(8, 0, freshHoldMs - 1)).toBe(1);
    expect(currentBacklogLimit(8, 0, freshHoldMs)).toBe(8);
  });
});
