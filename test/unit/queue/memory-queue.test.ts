import { describe, expect, it } from 'vitest';
import { createSilentLogger } from '../../../src/observability/logger.js';
import { createMemoryQueue } from '../../../src/queue/index.js';
import { defineQueueContract, deferred, runKey, waitFor } from './queue-contract.js';

defineQueueContract('in-process', async ({ name: _name, ...opts }) => createMemoryQueue({ logger: createSilentLogger(), ...opts }));

describe('createMemoryQueue', () => {
  it('keeps at most keepFailed failed jobs', async () => {
    const q = createMemoryQueue({ logger: createSilentLogger(), attempts: 1, keepFailed: 2 });
    let failures = 0;
    q.process(
      async () => {
        throw new Error('boom');
      },
      { concurrency: 1, onFailed: async () => void failures++ },
    );
    for (const uid of ['a', 'b', 'c']) await q.add(runKey(uid));
    await waitFor(() => failures === 3);
    expect((await q.depth()).failed).toBe(2);
    await q.close({ graceful: false });
  });

  it('a throwing onFailed callback does not break the queue', async () => {
    const q = createMemoryQueue({ logger: createSilentLogger(), attempts: 1 });
    const done = deferred();
    let callbacks = 0;
    q.process(
      async (ctx) => {
        if (ctx.data.key.uid === 'bad') throw new Error('boom');
        done.resolve();
      },
      {
        concurrency: 1,
        onFailed: async () => {
          callbacks++;
          throw new Error('callback broke');
        },
      },
    );
    await q.add(runKey('bad'));
    await q.add(runKey('good'));
    await done.promise;
    expect(callbacks).toBe(1);
    // The failed job is kept as failed, and the queue went on to the next one.
    expect(await q.depth()).toEqual({ waiting: 0, active: expect.any(Number), delayed: 0, failed: 1 });
    await q.close({ graceful: true, timeoutMs: 1_000 });
  });
});
