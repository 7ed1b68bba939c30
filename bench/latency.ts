/**
 * `latency`: TaskRuns complete at a steady rate (default 50/s for 60 s): each is created running,
 * then its status is patched to Succeeded (the moment of completion); the figure is the time from
 * that patch to the API server seeing `chains.tekton.dev/signed=true`. Then the same with a backlog
 * of 10,000 completed, unsigned runs present when the controller starts: new runs must not wait
 * behind it. Two controller processes on BullMQ, Rekor on, storage `BENCH_LATENCY_STORAGE`
 * (default `tekton`). Runs still unsigned after a grace period count as infinitely late.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cpuSeconds, envNumber, percentile, report, round, scaled, sleep } from './lib/common.js';
import { completedCondition, fakeImages, runName, taskRun } from './lib/runs.js';
import { redisCommandStats, startRedisMonitor, topLevelCommands } from './lib/redis-monitor.js';
import { createAll, ensureNamespace, spawnController, startStack } from './lib/stack.js';
import { defaultBacklogDrainMs, defaultFreshQuietMs } from '../src/queue/index.js';

const storage = process.env['BENCH_LATENCY_STORAGE'] ?? 'tekton';
const configData = { 'artifacts.taskrun.storage': storage, 'artifacts.oci.storage': 'tekton' };
const namespaces = ['team-a', 'team-b', 'team-c', 'team-d'];
const redisMonitor = process.env['BENCH_REDIS_MONITOR'] === '1';

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
  /** Backlog runs signed from the arrivals' start to the end of the grace period. */
  readonly backlogSignedDuringWindow?: number;
  /** Backlog runs signed before the arrivals started (between the first list and the window). */
  readonly backlogSignedBeforeWindow?: number;
  /** Top-level Redis commands (MONITOR, scripts count once) per run signed in the window: ≥ round trips. */
  readonly redisCommandsPerJob?: number;
  readonly redisCommandsByName?: Record<string, number>;
  readonly jobsInWindow?: number;
  /**
   * The same percentiles over the runs that completed `fromSecond` s or more into the window: the
   * steady state, without the start-up transient (after the first list the watch replays the events
   * of the backlog runs signed during that list, delaying the first fresh completions).
   */
  readonly steadyState?: { readonly fromSecond: number; readonly runs: number; readonly p50Ms: number; readonly p99Ms: number; readonly maxMs: number };
  /** Where the measured runs' time went, per stage (see `stageBreakdown`). */
  readonly stages?: Record<string, StageFigure>;
  /** CPU seconds used during the window (arrivals + grace), per process group, and the machine's busy share. */
  readonly cpuInWindow?: CpuInWindow;
}

/** p50/p99 of one stage over the measured runs, and its mean over the slowest 1% (by total latency). */
interface StageFigure {
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly slowest1PctMeanMs: number;
}

interface CpuInWindow {
  readonly seconds: number;
  /** Per controller process (the first also watches). */
  readonly controllersCpuS: readonly number[];
  readonly redisCpuS: number;
  /** This process: the fake API server, the mock Rekor and the arrival loop. */
  readonly harnessCpuS: number;
  /** Busy share of all cores (/proc/stat), 1 = every core busy the whole window. */
  readonly machineBusyShare: number;
  readonly loadAverageAtEnd: readonly number[];
}

interface StageTimes {
  seenAt?: number;
  enqueuedAt?: number;
  pickedAt?: number;
  handledAt?: number;
}

/** Busy and total jiffies of the machine (first line of /proc/stat). */
function machineJiffies(): { busy: number; total: number } {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busy: total - idle, total };
}

/** Stage times of every run, merged over the controllers' stage files (adds in one, picks in either). */
function readStages(files: readonly string[]): Map<string, StageTimes> {
  const merged = new Map<string, StageTimes>();
  for (const file of files) {
    let parsed: Record<string, StageTimes>;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8')) as Record<string, StageTimes>;
    } catch {
      continue;
    }
    for (const [id, t] of Object.entries(parsed)) {
      const m = merged.get(id) ?? {};
      if (m.seenAt === undefined && t.seenAt !== undefined) {
        m.seenAt = t.seenAt;
        if (t.enqueuedAt !== undefined) m.enqueuedAt = t.enqueuedAt;
      }
      if (t.pickedAt !== undefined) m.pickedAt = Math.min(m.pickedAt ?? t.pickedAt, t.pickedAt);
      if (t.handledAt !== undefined) m.handledAt = Math.max(m.handledAt ?? t.handledAt, t.handledAt);
      merged.set(id, m);
    }
  }
  return merged;
}

/**
 * The measured (fresh) runs' latency split into stages that add up to the total:
 * `event` completion PATCH → the watcher's `queue.add` call (watch delivery and filtering);
 * `enqueue` the `add` call itself (Redis round trips); `queueWait` added → picked by a worker
 * (BullMQ fetch, free slots, CPU to get there); `work` picked → `signed=true` PATCH served (sign,
 * Rekor, store, PATCH).
 */
function stageBreakdown(
  runs: readonly { id: string; completedAt: number; signedAt: number | undefined }[],
  stages: Map<string, StageTimes>,
): Record<string, StageFigure> | undefined {
  const rows: { total: number; parts: Record<string, number> }[] = [];
  for (const r of runs) {
    const t = stages.get(r.id);
    if (r.signedAt === undefined || t?.seenAt === undefined || t.enqueuedAt === undefined || t.pickedAt === undefined) continue;
    rows.push({
      total: r.signedAt - r.completedAt,
      parts: {
        event: t.seenAt - r.completedAt,
        enqueue: t.enqueuedAt - t.seenAt,
        queueWait: t.pickedAt - t.enqueuedAt,
        work: r.signedAt - t.pickedAt,
      },
    });
  }
  if (rows.length === 0) return undefined;
  const slowest = [...rows].sort((a, b) => b.total - a.total).slice(0, Math.max(1, Math.ceil(rows.length / 100)));
  const out: Record<string, StageFigure> = {};
  for (const stage of ['event', 'enqueue', 'queueWait', 'work']) {
    const all = rows.map((r) => r.parts[stage] ?? 0);
    out[stage] = {
      p50Ms: round(percentile(all, 50)),
      p99Ms: round(percentile(all, 99)),
      slowest1PctMeanMs: round(slowest.reduce((a, r) => a + (r.parts[stage] ?? 0), 0) / slowest.length),
    };
  }
  return out;
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
    const stageFiles = ['all', 'work'].map((role) => path.join(stack.tmp, `stages-${role}.json`));
    const controllers = [
      spawnController(stack, { concurrency, role: 'all', redisUrl, env: { BENCH_STAGE_FILE: stageFiles[0] ?? '' } }),
      spawnController(stack, { concurrency, role: 'work', redisUrl, env: { BENCH_STAGE_FILE: stageFiles[1] ?? '' } }),
    ];
    let stageRuns: { id: string; completedAt: number; signedAt: number | undefined }[] = [];
    let result: Phase | undefined;
    try {
      await Promise.all(controllers.map((c) => c.waitEvent('started', 300_000)));
      await controllers[0]?.waitEvent('ready', 300_000);
      const completedAt = new Map<string, number>();
      const latencies = new Map<string, number>();
      stack.tracker.onSigned = (name, at) => {
        const c = completedAt.get(name);
        if (c !== undefined) latencies.set(name, at - c);
      };
      // MONITOR streams every command (with its arguments: job data, checkpoints) to this process: it
      // cost Redis ~11 ms CPU per job here, on the same cores as the controllers. So by default the
      // counts come from `INFO commandstats` before and after; `BENCH_REDIS_MONITOR=1` uses MONITOR.
      const monitor = stack.redis && redisMonitor ? await startRedisMonitor(stack.redis.url) : undefined;
      const stats0 = stack.redis && !redisMonitor ? await redisCommandStats(stack.redis.url) : undefined;
      const signedBefore = stack.tracker.signedAt.size;
      const redisPid = stack.redis?.process.pid;
      const cpu0 = {
        controllers: controllers.map((c) => cpuSeconds(c.pid)),
        redis: redisPid === undefined ? 0 : cpuSeconds(redisPid),
        harness: process.cpuUsage(),
        machine: machineJiffies(),
      };
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
      const machine1 = machineJiffies();
      const harness = process.cpuUsage(cpu0.harness);
      const cpuInWindow: CpuInWindow = {
        seconds: round((end - start) / 1000, 1),
        controllersCpuS: controllers.map((c, i) => round(cpuSeconds(c.pid) - (cpu0.controllers[i] ?? 0), 2)),
        redisCpuS: round(redisPid === undefined ? 0 : cpuSeconds(redisPid) - cpu0.redis, 2),
        harnessCpuS: round((harness.user + harness.system) / 1e6, 2),
        machineBusyShare: round((machine1.busy - cpu0.machine.busy) / Math.max(1, machine1.total - cpu0.machine.total), 2),
        loadAverageAtEnd: os.loadavg().map((l) => round(l, 2)),
      };
      const redis = monitor
        ? await monitor.stop()
        : stack.redis && stats0
          ? topLevelCommands(stats0, await redisCommandStats(stack.redis.url))
          : undefined;
      const jobsInWindow = stack.tracker.signedAt.size - signedBefore;
      const samples = [...completedAt.entries()].map(([k, c]) => latencies.get(k) ?? end - c);
      const fromSecond = envNumber('BENCH_STEADY_FROM_SECONDS', 15);
      const steady = [...completedAt.entries()].filter(([, c]) => c - start >= fromSecond * 1000).map(([k, c]) => latencies.get(k) ?? end - c);
      const backlogTimes = [...stack.tracker.signedAt.entries()].filter(([k]) => k.startsWith('old-')).map(([, at]) => at);
      const backlogSigned = backlogTimes.filter((at) => at >= start && at <= end).length;
      const backlogBefore = backlogTimes.filter((at) => at < start).length;
      stageRuns = Array.from({ length: n }, (_, i) => {
        const name = runName('new', i);
        return { id: `${ns(i)}/${name}`, completedAt: completedAt.get(name) ?? start, signedAt: stack.tracker.signedAt.get(name) };
      });
      result = {
        p50Ms: round(percentile(samples, 50)),
        p95Ms: round(percentile(samples, 95)),
        p99Ms: round(percentile(samples, 99)),
        maxMs: round(Math.max(...samples)),
        runs: n,
        unsigned: n - latencies.size,
        lowerBound: latencies.size < n,
        achievedRatePerSecond: round(n / elapsed, 1),
        ...(steady.length > 0
          ? { steadyState: { fromSecond, runs: steady.length, p50Ms: round(percentile(steady, 50)), p99Ms: round(percentile(steady, 99)), maxMs: round(Math.max(...steady)) } }
          : {}),
        ...(backlog > 0 ? { backlogSignedDuringWindow: backlogSigned, backlogSignedBeforeWindow: backlogBefore } : {}),
        ...(redis
          ? {
              redisCommandsPerJob: round(redis.commands / Math.max(1, jobsInWindow), 1),
              redisCommandsByName: Object.fromEntries(Object.entries(redis.byCommand).map(([k, v]) => [k, round(v / Math.max(1, jobsInWindow), 2)])),
              jobsInWindow,
            }
          : {}),
        cpuInWindow,
      };
    } finally {
      await Promise.all(controllers.map((c) => c.stop()));
    }
    // The controllers wrote their stage files on the way out.
    const stages = stageBreakdown(stageRuns, readStages(stageFiles));
    if (result === undefined) throw new Error('latency phase ended without a result');
    return { ...result, ...(stages === undefined ? {} : { stages }) };
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
    // The backlog lane pauses while fresh traffic is seen, resuming after the quiet period, and still
    // starts one job per drain interval meanwhile (src/queue/lanes.ts).
    freshQuietMs: envNumber('BENCH_FRESH_QUIET_MS', defaultFreshQuietMs),
    backlogDrainMs: envNumber('BENCH_BACKLOG_DRAIN_MS', defaultBacklogDrainMs),
    redisCommandsPerJob: loaded.redisCommandsPerJob,
    redisCommandsSource: redisMonitor ? 'MONITOR (every top-level command)' : 'INFO commandstats (script calls and blocking fetches; plain GET/SET left out)',
    loadAverageAtStart,
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`latency: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
