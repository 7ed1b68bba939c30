/**
 * The behaviour both JobQueue implementations share, written once and run against the in-process
 * queue (test/unit/queue/memory-queue.test.ts) and BullMQ on a real Redis (test/integration/queue-bull.test.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ProvenantError, isProvenantError } from '../../../src/errors.js';
import type { BackoffOptions, JobContext, JobQueue, RunJobData } from '../../../src/queue/index.js';
import type { RunKey } from '../../../src/tekton/run-key.js';

export interface QueueFactoryOptions {
  readonly attempts?: number;
  readonly backoff?: BackoffOptions;
  readonly random?: () => number;
  readonly backlogConcurrency?: number;
  readonly freshQuietMs?: number;
  readonly backlogDrainMs?: number;
  /** Reopen the same stored queue (persistent queues only; a fresh one otherwise). */
  readonly name?: string;
}

export type QueueFactory = (opts: QueueFactoryOptions) => Promise<JobQueue>;

export interface ContractTraits {
  /** Jobs survive the queue object (BullMQ on Redis): the restart test runs. */
  readonly persistent?: boolean;
}

export function runKey(uid: string, name = `run-${uid}`): RunKey {
  return { kind: 'TaskRun', namespace: 'ns', name, uid };
}

export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const transient = (): ProvenantError => new ProvenantError('transient', 'QUEUE_UNAVAILABLE', 'flaky');
const fastBackoff: BackoffOptions = { baseMs: 40, maxMs: 100 };

export function defineQueueContract(name: string, factory: QueueFactory, traits: ContractTraits = {}): void {
  describe(`JobQueue contract: ${name}`, () => {
    const open: JobQueue[] = [];
    const make = async (opts: QueueFactoryOptions = {}): Promise<JobQueue> => {
      // Short lane timings keep the tests quick; the tests that are about them set their own.
      const q = await factory({ attempts: 3, backoff: fastBackoff, random: () => 0, freshQuietMs: 100, backlogDrainMs: 100, ...opts });
      open.push(q);
      return q;
    };
    afterEach(async () => {
      await Promise.all(open.splice(0).map((q) => q.close({ graceful: false })));
    });

    it('processes an added run with its key, attempt 1 and empty checkpoints, then forgets it', async () => {
      const q = await make();
      const seen: RunJobData[] = [];
      const done = deferred();
      q.process(
        async (ctx) => {
          seen.push(ctx.data);
          expect(ctx.attempt).toBe(1);
          expect(ctx.maxAttempts).toBe(3);
          done.resolve();
        },
        { concurrency: 1 },
      );
      expect(await q.add(runKey('u-1'))).toBe('added');
      await done.promise;
      expect(seen[0]?.key).toEqual(runKey('u-1'));
      expect(seen[0]?.checkpoints).toEqual({});
      expect(typeof seen[0]?.enqueuedAt).toBe('number');
      await waitFor(async () => (await q.depth()).active === 0);
      expect(await q.depth()).toEqual({ waiting: 0, active: 0, delayed: 0, failed: 0 });
    });

    it('dedups by uid while waiting and active, and accepts the uid again after completion', async () => {
      const q = await make();
      expect(await q.add(runKey('u-1'))).toBe('added');
      expect(await q.add(runKey('u-1'))).toBe('duplicate');
      expect((await q.depth()).waiting).toBe(1);
      const calls: string[] = [];
      let gate = deferred();
      const started = deferred();
      q.process(
        async (ctx) => {
          calls.push(ctx.data.key.uid);
          started.resolve();
          await gate.promise;
        },
        { concurrency: 2 },
      );
      await started.promise;
      expect(await q.add(runKey('u-1'))).toBe('duplicate');
      gate.resolve();
      await waitFor(async () => (await q.depth()).active === 0 && calls.length === 1);
      gate = deferred();
      gate.resolve();
      expect(await q.add(runKey('u-1'))).toBe('added');
      await waitFor(() => calls.length === 2);
      expect(calls).toEqual(['u-1', 'u-1']);
    });

    it('runs a new run at once under a backlog, and drains the backlog newest first (Chains #979)', async () => {
      const q = await make();
      const order: string[] = [];
      const gate = deferred();
      const blockerStarted = deferred();
      q.process(
        async (ctx) => {
          order.push(ctx.data.key.uid);
          if (ctx.data.key.uid === 'blocker') {
            blockerStarted.resolve();
            await gate.promise;
          }
        },
        { concurrency: 1 },
      );
      const now = Date.now();
      // The backlog lane's only slot (concurrency 1) is held by an old run while the rest waits.
      await q.add(runKey('blocker'), { createdAt: now - 3_600_000 });
      await blockerStarted.promise;
      for (let i = 0; i < 100; i++) await q.add(runKey(`old-${i}`), { createdAt: now - 3_600_000 - i * 120_000 });
      await q.add(runKey('new'), { createdAt: now });
      await waitFor(() => order.includes('new'));
      gate.resolve();
      await waitFor(() => order.length === 102, 10_000);
      expect(order[0]).toBe('blocker');
      expect(order[1]).toBe('new');
      // The backlog itself drains newest first too.
      expect(order.slice(2)).toEqual(Array.from({ length: 100 }, (_, i) => `old-${i}`));
    });

    it('retries transient errors with backoff, then reports the final failure once', async () => {
      const q = await make({ attempts: 3 });
      const attempts: Array<{ attempt: number; at: number }> = [];
      const failures: boolean[] = [];
      q.process(
        async (ctx) => {
          attempts.push({ attempt: ctx.attempt, at: Date.now() });
          throw transient();
        },
        {
          concurrency: 1,
          onFailed: async (ctx, err, final) => {
            expect(isProvenantError(err, 'QUEUE_UNAVAILABLE')).toBe(true);
            expect(ctx.data.key.uid).toBe('u-r');
            failures.push(final);
          },
        },
      );
      await q.add(runKey('u-r'));
      await waitFor(() => failures.length === 3);
      expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
      expect(failures).toEqual([false, false, true]);
      // random() = 0: equal jitter gives half the nominal delay (40 ms, then 80 ms).
      expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(18);
      expect(attempts[2]!.at - attempts[1]!.at).toBeGreaterThanOrEqual(38);
      await waitFor(async () => (await q.depth()).failed === 1);
      // No sleep-and-see: the queue's own state says no retry is scheduled or waiting.
      expect(await q.depth()).toEqual({ waiting: 0, active: 0, delayed: 0, failed: 1 });
      expect(attempts).toHaveLength(3);
    });

    it('treats errors that are not ProvenantErrors as transient', async () => {
      const q = await make();
      const attempts: number[] = [];
      const done = deferred();
      q.process(
        async (ctx) => {
          attempts.push(ctx.attempt);
          if (ctx.attempt === 1) throw new Error('socket hang up');
          done.resolve();
        },
        { concurrency: 1 },
      );
      await q.add(runKey('u-p'));
      await done.promise;
      expect(attempts).toEqual([1, 2]);
    });

    for (const kind of ['permanent', 'config'] as const) {
      it(`does not retry a ${kind} error and reports it as final`, async () => {
        const q = await make({ attempts: 5 });
        let calls = 0;
        const failed = deferred<{ final: boolean; code: string | undefined }>();
        q.process(
          async () => {
            calls++;
            throw new ProvenantError(kind, 'RUN_MALFORMED', 'nope');
          },
          {
            concurrency: 1,
            onFailed: async (_ctx, err, final) => failed.resolve({ final, code: isProvenantError(err) ? err.code : undefined }),
          },
        );
        await q.add(runKey(`u-${kind}`));
        expect(await failed.promise).toEqual({ final: true, code: 'RUN_MALFORMED' });
        await waitFor(async () => (await q.depth()).failed === 1);
        expect(await q.depth()).toEqual({ waiting: 0, active: 0, delayed: 0, failed: 1 });
        expect(calls).toBe(1);
      });
    }

    it('keeps checkpoints across retries and merges them by artifact key', async () => {
      const q = await make();
      const seen: RunJobData[] = [];
      const done = deferred();
      q.process(
        async (ctx: JobContext) => {
          seen.push(ctx.data);
          if (ctx.attempt === 1) {
            await ctx.checkpoint({ bundles: { a: { b: 1 } } });
            expect(ctx.data.checkpoints.bundles).toEqual({ a: { b: 1 } });
            await ctx.checkpoint({ stored: { a: ['tekton'] } });
            throw transient();
          }
          await ctx.checkpoint({ bundles: { b: { b: 2 } }, stored: { b: ['oci'] } });
          expect(ctx.data.checkpoints).toEqual({
            bundles: { a: { b: 1 }, b: { b: 2 } },
            stored: { a: ['tekton'], b: ['oci'] },
          });
          done.resolve();
        },
        { concurrency: 1 },
      );
      await q.add(runKey('u-c'));
      await done.promise;
      expect(seen[1]?.checkpoints).toEqual({ bundles: { a: { b: 1 } }, stored: { a: ['tekton'] } });
    });

    it('re-adding a finally failed run starts it again with its checkpoints', async () => {
      const q = await make({ attempts: 1 });
      const seen: RunJobData[] = [];
      let failOnce = true;
      const failed = deferred();
      const done = deferred();
      q.process(
        async (ctx) => {
          seen.push(ctx.data);
          if (failOnce) {
            failOnce = false;
            await ctx.checkpoint({ bundles: { x: 'bb' } });
            throw transient();
          }
          done.resolve();
        },
        { concurrency: 1, onFailed: async () => failed.resolve() },
      );
      await q.add(runKey('u-f'));
      await failed.promise;
      await waitFor(async () => (await q.depth()).failed === 1);
      expect(await q.add(runKey('u-f'))).toBe('added');
      await done.promise;
      expect(seen[1]?.checkpoints).toEqual({ bundles: { x: 'bb' } });
      expect(seen[1]?.key).toEqual(runKey('u-f'));
    });

    it('reserves slots for fresh runs: with every backlog slot blocked, a fresh run still starts', async () => {
      const q = await make();
      const gate = deferred();
      const started: string[] = [];
      let backlogRunning = 0;
      let backlogPeak = 0;
      const backlogFull = deferred();
      const freshStarted = deferred();
      q.process(
        async (ctx) => {
          const uid = ctx.data.key.uid;
          started.push(uid);
          if (!uid.startsWith('old-')) return freshStarted.resolve();
          backlogRunning++;
          backlogPeak = Math.max(backlogPeak, backlogRunning);
          if (backlogRunning === 2) backlogFull.resolve();
          await gate.promise;
          backlogRunning--;
        },
        // Default backlog lane: half as many slots as the fresh lane.
        { concurrency: 4 },
      );
      const hourAgo = Date.now() - 3_600_000;
      // Found by a list after a restart: completed (here: only known to be created) an hour ago.
      for (let i = 0; i < 10; i++) await q.add(runKey(`old-${i}`), { createdAt: hourAgo - i * 1000 });
      await backlogFull.promise;
      // A long build that just completed: its completion time, not its creation time, makes it fresh.
      expect(await q.add(runKey('fresh'), { createdAt: hourAgo, completedAt: Date.now() })).toBe('added');
      const freshRan = await Promise.race([freshStarted.promise.then(() => true), sleep(5_000).then(() => false)]);
      expect(freshRan).toBe(true);
      expect(started.filter((u) => u.startsWith('old-'))).toHaveLength(2);
      gate.resolve();
      await waitFor(() => started.length === 11);
      expect(backlogPeak).toBe(2);
    });

    it('the backlog lane pauses during a fresh burst (one drain job at most) and resumes after the quiet period', async () => {
      // No second drain job within the test: the interval is far longer than the test.
      const q = await make({ freshQuietMs: 200, backlogDrainMs: 600_000 });
      const gate = deferred();
      const events: string[] = [];
      let freshRunning = 0;
      let backlogStartsDuringFresh = 0;
      let backlogDone = 0;
      q.process(
        async (ctx) => {
          const uid = ctx.data.key.uid;
          if (uid.startsWith('fresh-')) {
            freshRunning++;
            events.push(`start ${uid}`);
            await gate.promise;
            freshRunning--;
            events.push(`end ${uid}`);
            return;
          }
          if (freshRunning > 0) backlogStartsDuringFresh++;
          events.push(`start ${uid}`);
          await sleep(5);
          backlogDone++;
        },
        // The backlog lane has 2 slots when no fresh traffic is seen.
        { concurrency: 4 },
      );
      const hourAgo = Date.now() - 3_600_000;
      await q.add(runKey('fresh-1'), { completedAt: Date.now() });
      await waitFor(() => events.includes('start fresh-1'));
      for (let i = 0; i < 6; i++) await q.add(runKey(`old-${i}`), { completedAt: hourAgo });
      await q.add(runKey('fresh-2'), { completedAt: Date.now() });
      await waitFor(() => events.includes('start fresh-2'));
      // Give the backlog every chance to start while the burst lasts: only the drain job may.
      await sleep(400);
      expect(backlogStartsDuringFresh).toBeLessThanOrEqual(1);
      expect(backlogDone).toBeLessThanOrEqual(1);
      gate.resolve();
      await waitFor(() => backlogDone === 6, 10_000);
      // Every backlog job but the drain job started after the burst ended.
      const lastFreshEnd = Math.max(events.indexOf('end fresh-1'), events.indexOf('end fresh-2'));
      const startedAfter = events.filter((e, i) => e.startsWith('start old-') && i > lastFreshEnd);
      expect(startedAfter.length).toBeGreaterThanOrEqual(5);
      expect(backlogStartsDuringFresh).toBeLessThanOrEqual(1);
    });

    it('a run added without run times (a parent nudge) runs fresh but does not hold the backlog for the quiet period', async () => {
      // A quiet period and drain interval far longer than the test: only the nudge's own run may pause the backlog.
      const q = await make({ freshQuietMs: 600_000, backlogDrainMs: 600_000 });
      const order: string[] = [];
      const untimed: string[] = [];
      q.process(
        async (ctx) => {
          order.push(ctx.data.key.uid);
          if (ctx.data.untimed === true) untimed.push(ctx.data.key.uid);
        },
        { concurrency: 2 },
      );
      await q.add(runKey('nudge'));
      await waitFor(() => order.includes('nudge'));
      for (let i = 0; i < 4; i++) await q.add(runKey(`old-${i}`), { completedAt: Date.now() - 3_600_000 });
      // All four: had the nudge counted as an arrival, one drain job at most would have run.
      await waitFor(() => order.length === 5, 5_000);
      expect(untimed).toEqual(['nudge']);
    });

    it('drain guarantee: the backlog completes, one job at a time, under a continuous stream of fresh runs', async () => {
      const q = await make({ freshQuietMs: 300, backlogDrainMs: 40 });
      let backlogRunning = 0;
      let backlogPeak = 0;
      let backlogDone = 0;
      let freshDone = 0;
      q.process(
        async (ctx) => {
          if (ctx.data.key.uid.startsWith('fresh-')) {
            await sleep(5);
            freshDone++;
            return;
          }
          backlogPeak = Math.max(backlogPeak, ++backlogRunning);
          await sleep(5);
          backlogRunning--;
          backlogDone++;
        },
        { concurrency: 4 },
      );
      // A fresh run every 20 ms, far more often than the 300 ms quiet period: the lane never resumes.
      let streaming = true;
      let added = 0;
      const stream = (async () => {
        while (streaming && added < 2_000) {
          await q.add(runKey(`fresh-${added++}`), { completedAt: Date.now() });
          await sleep(20);
        }
      })();
      try {
        await waitFor(() => freshDone > 0);
        const hourAgo = Date.now() - 3_600_000;
        for (let i = 0; i < 5; i++) await q.add(runKey(`old-${i}`), { completedAt: hourAgo });
        await waitFor(() => backlogDone === 5, 20_000);
        // Drained while fresh runs were still arriving, never more than one backlog job at a time.
        expect(streaming).toBe(true);
        expect(backlogPeak).toBe(1);
        expect(freshDone).toBeGreaterThan(0);
      } finally {
        streaming = false;
        await stream;
      }
      await waitFor(async () => (await q.depth()).waiting + (await q.depth()).active === 0, 10_000);
    });

    it.skipIf(!traits.persistent)('loses nothing across a restart while the backlog lane is paused', async () => {
      const name = `restart-${Math.random().toString(36).slice(2, 10)}`;
      const first = await make({ name, freshQuietMs: 200, backlogDrainMs: 600_000 });
      const gate = deferred();
      const firstSeen: string[] = [];
      first.process(
        async (ctx) => {
          firstSeen.push(ctx.data.key.uid);
          if (ctx.data.key.uid.startsWith('fresh-')) await gate.promise;
        },
        { concurrency: 2 },
      );
      const hourAgo = Date.now() - 3_600_000;
      await first.add(runKey('fresh-0'), { completedAt: Date.now() });
      await waitFor(() => firstSeen.includes('fresh-0'));
      for (let i = 0; i < 8; i++) await first.add(runKey(`old-${i}`), { completedAt: hourAgo });
      await first.add(runKey('fresh-1'), { completedAt: Date.now() });
      await first.add(runKey('fresh-2'), { completedAt: Date.now() });
      await sleep(200);
      // Stops (gracefully: the fresh jobs in work finish) with the backlog lane paused and waiting.
      const closed = first.close({ graceful: true, timeoutMs: 10_000 });
      gate.resolve();
      await closed;
      const second = await make({ name, freshQuietMs: 50, backlogDrainMs: 50 });
      const secondSeen: string[] = [];
      second.process(async (ctx) => void secondSeen.push(ctx.data.key.uid), { concurrency: 2 });
      const all = ['fresh-0', 'fresh-1', 'fresh-2', ...Array.from({ length: 8 }, (_, i) => `old-${i}`)];
      await waitFor(() => firstSeen.length + secondSeen.length >= all.length, 20_000);
      await waitFor(async () => {
        const d = await second.depth();
        return d.waiting + d.active + d.delayed === 0;
      }, 20_000);
      // Each run exactly once, across both.
      expect([...firstSeen, ...secondSeen].sort()).toEqual([...all].sort());
    });

    it('fresh runs use all `concurrency` slots; backlogConcurrency sets the backlog lane', async () => {
      const q = await make({ backlogConcurrency: 1 });
      const gate = deferred();
      let running = 0;
      let freshPeak = 0;
      let backlogPeak = 0;
      let backlogRunning = 0;
      const allFresh = deferred();
      q.process(
        async (ctx) => {
          const old = ctx.data.key.uid.startsWith('old-');
          if (old) backlogPeak = Math.max(backlogPeak, ++backlogRunning);
          else freshPeak = Math.max(freshPeak, ++running);
          if (running === 3) allFresh.resolve();
          await gate.promise;
          if (old) backlogRunning--;
          else running--;
        },
        { concurrency: 3 },
      );
      const now = Date.now();
      for (let i = 0; i < 3; i++) await q.add(runKey(`new-${i}`), { createdAt: now, completedAt: now });
      await allFresh.promise;
      expect(freshPeak).toBe(3);
      for (let i = 0; i < 4; i++) await q.add(runKey(`old-${i}`), { completedAt: now - 3_600_000 });
      gate.resolve();
      await waitFor(async () => backlogPeak > 0 && (await q.depth()).waiting === 0 && (await q.depth()).active === 0);
      expect(backlogPeak).toBe(1);
    });

    it('runs at most `concurrency` jobs at once', async () => {
      const q = await make();
      let running = 0;
      let peak = 0;
      let finished = 0;
      q.process(
        async () => {
          running++;
          peak = Math.max(peak, running);
          await sleep(60);
          running--;
          finished++;
        },
        { concurrency: 3 },
      );
      for (let i = 0; i < 7; i++) await q.add(runKey(`c-${i}`));
      await waitFor(() => finished === 7);
      expect(peak).toBe(3);
    });

    it('graceful close waits for the active job and starts no new one', async () => {
      const q = await make();
      const started: string[] = [];
      let finished = false;
      let aborted = false;
      const running = deferred();
      q.process(
        async (ctx) => {
          started.push(ctx.data.key.uid);
          running.resolve();
          await sleep(200);
          aborted = ctx.signal.aborted;
          finished = true;
        },
        { concurrency: 1 },
      );
      await q.add(runKey('g-1'), { createdAt: Date.now() });
      await running.promise;
      await q.add(runKey('g-2'), { createdAt: Date.now() });
      await q.close({ graceful: true, timeoutMs: 5_000 });
      expect(finished).toBe(true);
      expect(aborted).toBe(false);
      expect(started).toEqual(['g-1']);
    });

    it('graceful close gives up after its timeout and aborts the active job', async () => {
      const q = await make();
      const running = deferred();
      const abortedSeen = deferred<boolean>();
      q.process(
        async (ctx) => {
          running.resolve();
          await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
          abortedSeen.resolve(ctx.signal.aborted);
          throw new Error('aborted');
        },
        { concurrency: 1 },
      );
      await q.add(runKey('t-1'));
      await running.promise;
      const started = Date.now();
      await q.close({ graceful: true, timeoutMs: 150 });
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(await abortedSeen.promise).toBe(true);
    });

    it('a job added with delayMs waits as delayed, then runs', async () => {
      const q = await make();
      const ran = deferred();
      q.process(async () => ran.resolve(), { concurrency: 1 });
      expect(await q.add(runKey('u-d'), { delayMs: 300 })).toBe('added');
      expect((await q.depth()).delayed).toBe(1);
      expect(await q.add(runKey('u-d'))).toBe('duplicate');
      await ran.promise;
      await waitFor(async () => (await q.depth()).active === 0);
      expect(await q.depth()).toEqual({ waiting: 0, active: 0, delayed: 0, failed: 0 });
    });

    it('a handler result with requeueAfterMs adds the run again once the job completed', async () => {
      const q = await make();
      const attempts: number[] = [];
      const second = deferred();
      q.process(
        async (ctx) => {
          attempts.push(ctx.attempt);
          if (attempts.length === 1) return { requeueAfterMs: 50 };
          second.resolve();
          return undefined;
        },
        { concurrency: 1 },
      );
      await q.add(runKey('u-r'));
      await second.promise;
      // A requeue is a new job, not a retry: its attempt count starts again.
      expect(attempts).toEqual([1, 1]);
    });

    it('refuses to add after close', async () => {
      const q = await make();
      await q.close({ graceful: false });
      await expect(q.add(runKey('x'))).rejects.toMatchObject({ code: 'QUEUE_CLOSED' });
    });

    it('refuses a second process() call and bad concurrency', async () => {
      const q = await make();
      expect(() => q.process(async () => undefined, { concurrency: 0 })).toThrow(
        expect.objectContaining({ code: 'QUEUE_OPTIONS_INVALID' }),
      );
      q.process(async () => undefined, { concurrency: 1 });
      expect(() => q.process(async () => undefined, { concurrency: 1 })).toThrow(
        expect.objectContaining({ code: 'QUEUE_ALREADY_PROCESSING' }),
      );
    });

    it('rejects invalid options and unusable keys', async () => {
      await expect(factory({ attempts: 0 })).rejects.toMatchObject({ code: 'QUEUE_OPTIONS_INVALID', kind: 'config' });
      await expect(factory({ backoff: { baseMs: 10, maxMs: 5 } })).rejects.toMatchObject({ code: 'QUEUE_OPTIONS_INVALID' });
      const q = await make();
      await expect(q.add(runKey(''))).rejects.toMatchObject({ code: 'QUEUE_INVALID_KEY' });
    });
  });
}
