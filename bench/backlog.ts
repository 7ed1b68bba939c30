/**
 * `backlog`: N completed, unsigned TaskRuns (default 2,000) are in the API server when the controller
 * starts; runs/s until every one is signed, with BullMQ (2 controller processes × BENCH_CONCURRENCY)
 * and again with the in-process queue (1 process). Storage `tekton` + `oci` (images really pushed to
 * the loopback registry), Rekor on (mock Rekor over HTTP). The ceiling (compose + sign in one
 * process, no I/O) is measured in the same run, over the same runs.
 */
import { cpuSeconds, envNumber, report, round, scaled, sleep, waitFor } from './lib/common.js';
import { measureCeiling } from './lib/ceiling.js';
import { createImagePusher, mapLimit } from './lib/images.js';
import { fakeImages, taskRun } from './lib/runs.js';
import { startRedisMonitor } from './lib/redis-monitor.js';
import { createAll, ensureNamespace, spawnController, startStack, type ControllerProcess, type Stack } from './lib/stack.js';

const namespaces = ['team-a', 'team-b', 'team-c', 'team-d'];

const storage = process.env['BENCH_STORAGE'] ?? 'tekton,oci';
const oci = storage.split(',').includes('oci');
const configData = {
  'artifacts.taskrun.storage': storage,
  'artifacts.oci.storage': oci ? 'oci' : 'tekton',
};

async function seed(stack: Stack, prefix: string, n: number): Promise<Record<string, unknown>[]> {
  const host = stack.registry?.host ?? '';
  const pusher = createImagePusher(host);
  const runs = await mapLimit(n, 16, async (i) =>
    taskRun({ index: i, prefix, namespace: namespaces[i % namespaces.length] ?? 'default', images: await pusher.imagesFor(prefix, i) }),
  );
  for (const ns of namespaces) ensureNamespace(stack.kube, ns);
  return runs;
}

interface Variant {
  readonly runsPerSecond: number;
  readonly complete: boolean;
  readonly wallSeconds: number;
  readonly signed: number;
  readonly failed: number;
  readonly controllerCpuMsPerRun: number;
  readonly harnessCpuMsPerRun: number;
  /** CPU seconds per second of the bench process (API server + Rekor + seeding): 1 = one core. */
  readonly harnessCpuShare: number;
  readonly apiRequests: number;
  /**
   * CPU ms per run of the other processes on the same cores: the registry (`docker-registry`) and
   * Redis, read from /proc like the controllers' (undefined when the variant has none).
   */
  readonly registryCpuMsPerRun?: number;
  readonly redisCpuMsPerRun?: number;
  /** Top-level Redis commands per run over a 5 s window (MONITOR; a script counts once): ≥ round trips. */
  readonly redisCommandsPerJob?: number;
  readonly redisCommandsByName?: Record<string, number>;
}

/** MONITOR for `ms` once `after` ms have passed: commands per run signed in that window. */
async function sampleRedis(stack: Stack, after: number, ms: number): Promise<Pick<Variant, 'redisCommandsPerJob' | 'redisCommandsByName'>> {
  if (stack.redis === undefined) return {};
  await sleep(after);
  const before = stack.tracker.signedAt.size;
  const monitor = await startRedisMonitor(stack.redis.url);
  await sleep(ms);
  const { commands, byCommand } = await monitor.stop();
  const jobs = Math.max(1, stack.tracker.signedAt.size - before);
  return {
    redisCommandsPerJob: round(commands / jobs, 1),
    redisCommandsByName: Object.fromEntries(Object.entries(byCommand).map(([k, v]) => [k, round(v / jobs, 2)])),
  };
}

async function runVariant(
  stack: Stack,
  prefix: string,
  runs: Record<string, unknown>[],
  start: () => ControllerProcess[],
  options: { readonly sampleRedis?: boolean } = {},
): Promise<Variant> {
  const names = runs.map((r) => (r['metadata'] as { name: string }).name);
  createAll(stack.kube, runs);
  stack.resetRequestCount();
  const controllers = start();
  try {
    const t0s = await Promise.all(controllers.map((c) => c.waitEvent('started', 300_000)));
    const t0 = Math.min(...t0s);
    // This process serves the API server and Rekor: its CPU per run tells whether the harness limits.
    const harness0 = process.cpuUsage();
    const registryPid = stack.registry?.pid;
    const redisPid = stack.redis?.process.pid;
    const registry0 = registryPid === undefined ? 0 : cpuSeconds(registryPid);
    const redis0 = redisPid === undefined ? 0 : cpuSeconds(redisPid);
    // The whole suite must fit in 15 minutes on a 2-core machine: when the backlog is not drained
    // within the window, the rate is that of the window (and `complete` says so).
    const windowMs = envNumber('BENCH_BACKLOG_MAX_SECONDS', 120) * 1000;
    const reconciled = (n: string): boolean => stack.tracker.signedAt.has(n) || stack.tracker.failedAt.has(n);
    const redisSample = options.sampleRedis ? sampleRedis(stack, 5_000, 5_000) : Promise.resolve({});
    await waitFor(
      () => {
        for (const c of controllers) c.assertAlive();
        return names.every(reconciled);
      },
      windowMs,
      `${prefix}: all runs signed`,
      50,
    ).catch((err: unknown) => {
      if (!(err instanceof Error && err.message.startsWith('timed out'))) throw err;
    });
    const complete = names.every(reconciled);
    const end = complete ? Math.max(...names.map((n) => stack.tracker.signedAt.get(n) ?? stack.tracker.failedAt.get(n) ?? 0)) : Date.now();
    const cpu = controllers.reduce((sum, c) => sum + cpuSeconds(c.pid), 0);
    const harness = process.cpuUsage(harness0);
    const registryCpu = registryPid === undefined ? undefined : cpuSeconds(registryPid) - registry0;
    const redisCpu = redisPid === undefined ? undefined : cpuSeconds(redisPid) - redis0;
    const signed = names.filter((n) => stack.tracker.signedAt.has(n)).length;
    const failed = names.filter((n) => stack.tracker.failedAt.has(n)).length;
    return {
      runsPerSecond: round((signed + failed) / ((end - t0) / 1000)),
      complete,
      wallSeconds: round((end - Math.min(...controllers.map((c) => c.spawnedAt))) / 1000, 2),
      signed,
      failed,
      controllerCpuMsPerRun: round((cpu * 1000) / Math.max(1, signed + failed), 2),
      harnessCpuMsPerRun: round((harness.user + harness.system) / 1000 / Math.max(1, signed + failed), 2),
      harnessCpuShare: round((harness.user + harness.system) / 1000 / (end - t0), 2),
      apiRequests: stack.requestCount(),
      ...(registryCpu !== undefined ? { registryCpuMsPerRun: round((registryCpu * 1000) / Math.max(1, signed + failed), 2) } : {}),
      ...(redisCpu !== undefined ? { redisCpuMsPerRun: round((redisCpu * 1000) / Math.max(1, signed + failed), 2) } : {}),
      ...(await redisSample),
    };
  } finally {
    await Promise.all(controllers.map((c) => c.stop()));
  }
}

async function main(): Promise<void> {
  const n = scaled(2000, 20);
  const concurrency = envNumber('BENCH_CONCURRENCY', 16);
  // While iterating: `BENCH_BACKLOG_ONLY=tekton` runs that variant alone and prints it (no results file).
  if (process.env['BENCH_BACKLOG_ONLY'] === 'tekton') {
    process.stdout.write(JSON.stringify(await tektonVariant(n, concurrency)) + '\n');
    return;
  }
  const stack = await startStack({ redis: true, registry: true, rekor: true, config: configData });
  try {
    const pushStart = Date.now();
    const bullRuns = await seed(stack, 'bl', n);
    const memRuns = await seed(stack, 'bm', n);
    const pushSeconds = (Date.now() - pushStart) / 1000;

    const ceiling = await measureCeiling(bullRuns, configData);
    const redisUrl = stack.redis?.url ?? '';
    const bull = await runVariant(stack, 'bl', bullRuns, () => [
      spawnController(stack, { concurrency, role: 'all', redisUrl }),
      spawnController(stack, { concurrency, role: 'work', redisUrl }),
    ]);
    const memory = await runVariant(stack, 'bm', memRuns, () => [spawnController(stack, { concurrency: concurrency * 2 })]);

    const tekton = await tektonVariant(n, concurrency);
    await report('backlog', {
      runs: n,
      runsPerSecond: bull.runsPerSecond,
      ceilingRunsPerSecond: round(ceiling.runsPerSecond),
      ratioToCeiling: round(bull.runsPerSecond / ceiling.runsPerSecond, 3),
      inProcessQueue: { ...memory, ratioToCeiling: round(memory.runsPerSecond / ceiling.runsPerSecond, 3) },
      bullmq: { ...bull, workers: 2, concurrencyPerWorker: concurrency },
      ceiling: {
        runsPerSecond: round(ceiling.runsPerSecond),
        provenanceOnlyRunsPerSecond: round(ceiling.provenanceOnlyRunsPerSecond),
        artifactsPerRun: round(ceiling.artifactsPerRun, 2),
      },
      rekorEntries: stack.rekor?.rekorEntryCount(),
      seedSeconds: round(pushSeconds, 1),
      storage,
      transparency: true,
      // Same runs, storage `tekton` only (annotations), Rekor on, BullMQ 2 processes (goal ≥ 100 runs/s).
      tektonRunsPerSecond: tekton.runsPerSecond,
      tekton: { ...tekton, storage: 'tekton', workers: 2, concurrencyPerWorker: concurrency },
      // Every backlog run is in the backlog lane (completed before the controller started): per
      // process it has half the fresh lane's slots unless BENCH_BACKLOG_CONCURRENCY says otherwise.
      backlogConcurrencyPerWorker: envNumber('BENCH_BACKLOG_CONCURRENCY', Math.max(1, Math.floor(concurrency / 2))),
      redisCommandsPerJob: tekton.redisCommandsPerJob,
    });
  } finally {
    await stack.stop();
  }
}

/** The `tekton` variant: its own stack (no registry), the same run shapes with made-up image digests. */
async function tektonVariant(n: number, concurrency: number): Promise<Variant> {
  const stack = await startStack({ redis: true, rekor: true, config: { 'artifacts.taskrun.storage': 'tekton', 'artifacts.oci.storage': 'tekton' } });
  try {
    for (const ns of namespaces) ensureNamespace(stack.kube, ns);
    const runs = Array.from({ length: n }, (_, i) =>
      taskRun({ index: i, prefix: 'bt', namespace: namespaces[i % namespaces.length] ?? 'default', images: fakeImages('bt', i) }),
    );
    const redisUrl = stack.redis?.url ?? '';
    return await runVariant(
      stack,
      'bt',
      runs,
      () => [spawnController(stack, { concurrency, role: 'all', redisUrl }), spawnController(stack, { concurrency, role: 'work', redisUrl })],
      { sampleRedis: true },
    );
  } finally {
    await stack.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`backlog: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
