import { describe, it, expect } from 'vitest';
import { configDataKey, createLatestWins } from '../../../src/watch/index.js';

function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe('createLatestWins', () => {
  it('applies one at a time; edits made during an apply collapse to the latest', async () => {
    const applied: number[] = [];
    let active = 0;
    let maxActive = 0;
    const first = gate();
    const applier = createLatestWins<number>(
      async (n) => {
        active += 1;
        maxActive = Math.max(maxActive, active);
        if (n === 1) await first.promise;
        applied.push(n);
        active -= 1;
      },
      { keyOf: String, initialKey: '0', onError: () => undefined },
    );
    applier.offer(1);
    for (let n = 2; n <= 50; n++) applier.offer(n);
    first.open();
    await applier.settled();
    expect(applied).toEqual([1, 50]);
    expect(maxActive).toBe(1);
  });

  it('drops a value equal to the last one offered (a watch replay)', async () => {
    const applied: string[] = [];
    const applier = createLatestWins<string>(async (v) => void applied.push(v), { keyOf: (v) => v, initialKey: 'a', onError: () => undefined });
    applier.offer('a');
    applier.offer('b');
    await applier.settled();
    applier.offer('b');
    await applier.settled();
    expect(applied).toEqual(['b']);
  });

  it('keeps going after a failed apply', async () => {
    const applied: string[] = [];
    const errors: unknown[] = [];
    const applier = createLatestWins<string>(
      async (v) => {
        if (v === 'bad') throw new Error('boom');
        applied.push(v);
      },
      { keyOf: (v) => v, initialKey: '', onError: (e) => void errors.push(e) },
    );
    applier.offer('bad');
    await applier.settled();
    applier.offer('good');
    await applier.settled();
    expect(applied).toEqual(['good']);
    expect(errors).toHaveLength(1);
  });

  it('configDataKey ignores key order', () => {
    expect(configDataKey({ a: '1', b: '2' })).toBe(configDataKey({ b: '2', a: '1' }));
    expect(configDataKey(undefined)).toBe(configDataKey({}));
  });
});
