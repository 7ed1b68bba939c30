/**
 * `latency`: TaskRuns complete at a steady rate (default 50/s for 60 s): each is created running,
 * then its status is patched to Succeeded (the moment of completion); the figure is the time from
 * that patch to the API server seeing `chains.tekton.dev/signed=true`. Then the same with a backlog
 * of 10,000 completed, unsigned runs present when the controller starts: new runs must not wait
 * behind it. Two controller processes on BullMQ, Rekor on, storage `BENCH_LATENCY_STORAGE`
 * (default `tekton`). Runs still unsigned after a grace period count as infinitely late.
 */
import os from 'node:os';
import { envNumber, percentile, report, round, scaled, sleep } from './lib/common.js';
import { completedCondition, fakeImages, runName, taskRun } from './lib/runs.js';
import { startRedisMonitor } from './lib/redis-monitor.js';
import { createAll, ensureNamespace, spawnController, startStack } from './lib/stack.js';

const storage = process.env['BENCH_LATENCY_STORAGE'] ?? 'tekton';
const configData = { 'artifacts.taskrun.storage': storage, 'artifacts.oci.storage': 'tekton' };
const namespaces = ['team-a', 'team-b', 'team-c', 'team-d'];

interface Phase {
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly runs: number;
  readonly unsigned: number;
  /** True when some runs were still unsigned: the percentiles are then lower bounds. */
  readonly lowerBound: boolean;
  readonly achievedRatePerSecond: number;
  readonly backlogSignedDuringWindow?: number;
  /** Top-level Redis commands (MONITOR, scripts count once) per run signed in the window: ≥ round trips. */
  readonly redisCommandsPerJob?: number;
  readonly redisCommandsByName?: Record<string, number>;
  readonly jobsInWindow?: number;
}

async function phase(backlog: number): Promise<Phase> {
  const rate = envNumber('BENCH_RATE', 50);
  const seconds = envNumber('BENCH_LATENCY_SECONDS', Math.max(5, Math.round(60 * Math.min(1, scaled(100) / 100))));
  const graceMs = envNumber('BENCH_GRACE_SECONDS', 30) * 1000;
  const concurrency = envNumber('BENCH_CONCURRENCY', 16);
  const n = Math.round(rate * seconds);
  const stack = await startStack({ redis: true, rekor: true, config: configData, historyLimit: 50_000 });
  try {
    for (const ns of namespaces) ensureNamespace(stack.kube, ns);
    const ns = (i: number): string => namespaces[i % namespaces.length] ?? 'default';
    // The backlog: runs that finished while no controller was running, so created earlier than the
    // runs now in flight (an hour: the queue orders by creation minute, newest first).
    const ageMs = envNumber('BENCH_BACKLOG_AGE_SECONDS', 3600) * 1000;
    // Completed a minute after they were created, long before the controller came up.
    const completedIso = new Date(Date.now() - ageMs + 60_000).toISOString();
    createAll(
      stack.kube,
      Array.from({ length: backlog }, (_, i) => {
        const run = taskRun({ index: i, prefix: 'old', namespace: ns(i), images: fakeImages('old', i) });
        return { ...run, status: { ...(run['status'] as Record<string, unknown>), completionTime: completedIso, conditions: completedCondition(completedIso) } };
      }),
      ageMs,
    );
    // The measured runs exist (running) before the controller starts, as pods in flight do.
    createAll(
      stack.kube,
      Array.from({ length: n }, (_, i) => taskRun({ index: i, prefix: 'new', namespace: ns(i), images: fakeImages('new', i), condition: 'running' })),
    );
    const redisUrl = stack.redis?.url ?? '';
    const controllers = [
      spawnController(stack, { concurrency, role: 'all', redisUrl }),
      spawnController(stack, { concurrency, role: 'work', redisUrl }),
    ];
    try {
      await Promise.all(controllers.map((c) => c.waitEvent('started', 300_000)));
      await controllers[0]?.waitEvent('ready', 300_000);
      const completedAt = new Map<string, number>();
      const latencies = new Map<string, number>();
      stack.tracker.onSigned = (name, at) => {
        const c = completedAt.get(name);
        if (c !== undefined) latencies.set(name, at - c);
      };
      const monitor = stack.redis ? await startRedisMonitor(stack.redis.url) : undefined;
      const signedBefore = stack.tracker.signedAt.size;
      const start = Date.now();
      let next = 0;
      while (next < n) {
        const due = Math.min(n, Math.floor(((Date.now() - start) / 1000) * rate) + 1);
        for (; next < due; next++) {
          const done = taskRun({ index: next, prefix: 'new', namespace: ns(next), images: fakeImages('new', next) });
          const name = runName('new', next);
          // Completed now, as Tekton stamps it (the fixture's times are fixed in the past).
          const nowIso = new Date().toISOString();
          const status = { ...(done['status'] as Record<string, unknown>), completionTime: nowIso, conditions: completedCondition(nowIso) };
          stack.kube.patch({ apiVersion: 'tekton.dev/v1', kind: 'TaskRun', namespace: ns(next), name }, { status });
          completedAt.set(name, Date.now());
        }
        await sleep(5);
      }
      const elapsed = (Date.now() - start) / 1000;
      const graceEnd = Date.now() + graceMs;
      while (latencies.size < n && Date.now() < graceEnd) {
        for (const c of controllers) c.assertAlive();
        await sleep(50);
      }
      // A run still unsigned counts with the time it has waited so far: the percentiles become lower bounds.
      const end = Date.now();
      const redis = await monitor?.stop();
      const jobsInWindow = stack.tracker.signedAt.size - signedBefore;
      const samples = [...completedAt.entries()].map(([k, c]) => latencies.get(k) ?? end - c);
      const backlogSigned = [...stack.tracker.signedAt.keys()].filter((k) => k.startsWith('old-')).length;
      return {
        p50Ms: round(percentile(samples, 50)),
        p95Ms: round(percentile(samples, 95)),
        p99Ms: round(percentile(samples, 99)),
        maxMs: round(Math.max(...samples)),
        runs: n,
        unsigned: n - latencies.size,
        lowerBound: latencies.size < n,
        achievedRatePerSecond: round(n / elapsed, 1),
        ...(backlog > 0 ? { backlogSignedDuringWindow: backlogSigned } : {}),
        ...(redis
          ? {
              redisCommandsPerJob: round(redis.commands / Math.max(1, jobsInWindow), 1),
              redisCommandsByName: Object.fromEntries(Object.entries(redis.byCommand).map(([k, v]) => [k, round(v / Math.max(1, jobsInWindow), 2)])),
              jobsInWindow,
            }
          : {}),
      };
    } finally {
      await Promise.all(controllers.map((c) => c.stop()));
    }
  } finally {
    await stack.stop();
  }
}

async function main(): Promise<void> {
  const loadAverageAtStart = os.loadavg().map((l) => round(l, 2));
  const quiet = await phase(0);
  const backlog = scaled(10_000, 100);
  const loaded = await phase(backlog);
  await report('latency', {
    p50Ms: quiet.p50Ms,
    p95Ms: quiet.p95Ms,
    p99Ms: quiet.p99Ms,
    p99MsWithBacklog: loaded.p99Ms,
    withoutBacklog: quiet,
    withBacklog: { ...loaded, backlog },
    ratePerSecond: envNumber('BENCH_RATE', 50),
    storage,
    transparency: true,
    queue: 'bullmq, 2 processes',
    concurrencyPerWorker: envNumber('BENCH_CONCURRENCY', 16),
    // The backlog lane's slots per process (src/queue/lanes.ts): default half of the fresh lane's.
    backlogConcurrencyPerWorker: envNumber('BENCH_BACKLOG_CONCURRENCY', Math.max(1, Math.floor(envNumber('BENCH_CONCURRENCY', 16) / 2))),
    redisCommandsPerJob: loaded.redisCommandsPerJob,
    loadAverageAtStart,
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`latency: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
