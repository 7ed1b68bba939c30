/**
 * The controller as the benchmarks run it: a child process of its own (so its RSS and CPU are its
 * alone), wired like `provenant controller` but signing with a generated P-256 key (`signerOverride`)
 * instead of a key from a Secret. Everything else is the production path: `startController`, the
 * configured storage backends, the real Rekor client against `transparency.url`.
 *
 * Environment: BENCH_KUBECONFIG_YAML, REDIS_URL (unset = in-process queue), BENCH_CONCURRENCY,
 * BENCH_ROLE (all|watch|work), BENCH_LOG_FILE, BENCH_LOG_LEVEL (default info), BENCH_BACKLOG_CONCURRENCY,
 * BENCH_FRESH_QUIET_MS, BENCH_BACKLOG_DRAIN_MS (the queue lanes' timing), BENCH_STAGE_FILE (per-run stage times).
 * Reports on stdout, one JSON line each: {event:'started'}, {event:'ready'} (first list done),
 * {event:'idle'} (ready and the queue empty), {event:'stopped'}.
 */
import { writeFileSync } from 'node:fs';
import { pino } from 'pino';
import { startController, type ControllerRole } from '../src/main.js';
import { createLogger, createMetrics } from '../src/observability/index.js';
import { createBullQueue, createMemoryQueue, createRedisLock, type JobQueue } from '../src/queue/index.js';
import type { RunKey } from '../src/tekton/index.js';
import { createKeyedMutex } from '../src/mutex.js';
import { createEphemeralSigner } from '../src/signing/index.js';
import { loadKubeConfig } from '../src/tekton/index.js';

/** Per run (`namespace/name`): when this process called `add` (the watch event seen), when `add` resolved, when a worker picked the job, when the handler returned. */
interface StageTimes {
  seenAt?: number;
  enqueuedAt?: number;
  pickedAt?: number;
  handledAt?: number;
}

/**
 * With `BENCH_STAGE_FILE`, wraps the queue to record each run's stage times (epoch ms) and writes
 * them, one JSON object, to that file when the process stops: the latency benchmark's per-stage
 * breakdown. Costs a Map entry and a few `Date.now()` per run; off by default.
 */
function traceStages(queue: JobQueue, file: string | undefined): { queue: JobQueue; write(): void } {
  if (file === undefined || file === '') return { queue, write: () => undefined };
  const stages = new Map<string, StageTimes>();
  const at = (key: RunKey): StageTimes => {
    const id = `${key.namespace}/${key.name}`;
    let s = stages.get(id);
    if (s === undefined) stages.set(id, (s = {}));
    return s;
  };
  const traced: JobQueue = {
    add: async (key, opts) => {
      const seenAt = Date.now();
      const result = await queue.add(key, opts);
      const s = at(key);
      if (result === 'added' && s.seenAt === undefined) {
        s.seenAt = seenAt;
        s.enqueuedAt = Date.now();
      }
      return result;
    },
    process: (handler, opts) =>
      queue.process(async (ctx) => {
        const s = at(ctx.data.key);
        s.pickedAt ??= Date.now();
        try {
          return await handler(ctx);
        } finally {
          s.handledAt = Date.now();
        }
      }, opts),
    depth: () => queue.depth(),
    close: (opts) => queue.close(opts),
    ...(queue.onReset === undefined ? {} : { onReset: (listener: () => void) => queue.onReset?.(listener) }),
  };
  return { queue: traced, write: () => writeFileSync(file, JSON.stringify(Object.fromEntries(stages))) };
}

function emit(event: string, extra: Record<string, unknown> = {}): void {
  process.stdout.write(JSON.stringify({ event, at: Date.now(), ...extra }) + '\n');
}

async function main(): Promise<void> {
  const env = process.env;
  const logFile = env['BENCH_LOG_FILE'];
  const logger = createLogger({
    level: env['BENCH_LOG_LEVEL'] ?? 'info',
    ...(logFile ? { destination: pino.destination({ dest: logFile, sync: false }) } : {}),
  });
  const concurrency = Number(env['BENCH_CONCURRENCY'] ?? '16');
  const role = (env['BENCH_ROLE'] ?? 'all') as ControllerRole;
  const redisUrl = env['REDIS_URL'];
  // The backlog lane's slots (default: half of BENCH_CONCURRENCY, see src/queue/lanes.ts).
  // The lanes' pause timing (src/queue/lanes.ts; defaults 1 s and 1 s).
  const backlog = {
    ...(env['BENCH_BACKLOG_CONCURRENCY'] ? { backlogConcurrency: Number(env['BENCH_BACKLOG_CONCURRENCY']) } : {}),
    ...(env['BENCH_FRESH_QUIET_MS'] ? { freshQuietMs: Number(env['BENCH_FRESH_QUIET_MS']) } : {}),
    ...(env['BENCH_BACKLOG_DRAIN_MS'] ? { backlogDrainMs: Number(env['BENCH_BACKLOG_DRAIN_MS']) } : {}),
  };
  const stages = traceStages(
    redisUrl === undefined || redisUrl === ''
      ? createMemoryQueue({ logger, attempts: 5, ...backlog })
      : await createBullQueue({ logger, attempts: 5, redisUrl, ...backlog }),
    env['BENCH_STAGE_FILE'],
  );
  const queue = stages.queue;
  // As `provenant controller` does: replicas share a Redis lock around OCI tag updates; one process
  // needs only its own mutex.
  const lock = redisUrl ? createRedisLock({ redisUrl }) : undefined;
  const controller = await startController({
    kubeConfig: loadKubeConfig({ kubeconfigYaml: env['BENCH_KUBECONFIG_YAML'] ?? '' }),
    queue,
    logger,
    metrics: createMetrics(),
    role,
    configNamespace: 'tekton-chains',
    concurrency,
    wiring: { signerOverride: createEphemeralSigner(), tagWrites: { mode: 'shared', lock: lock ? lock.lock : createKeyedMutex() } },
    watchBackoff: { initialMs: 200, maxMs: 2000 },
  });
  emit('started');

  let readySent = false;
  let idleSent = false;
  const poll = setInterval(() => {
    if (!controller.ready()) return;
    if (!readySent) {
      readySent = true;
      emit('ready');
    }
    if (idleSent) return;
    queue
      .depth()
      .then((d) => {
        if (!idleSent && d.waiting + d.active + d.delayed === 0) {
          idleSent = true;
          emit('idle');
        }
      })
      .catch(() => undefined);
  }, 25);

  const stop = (): void => {
    clearInterval(poll);
    controller
      .stop({ timeoutMs: 5000 })
      .catch(() => undefined)
      .then(() => lock?.close())
      .finally(() => {
        try {
          stages.write();
        } catch (err) {
          process.stderr.write(`controller-entry: stage file: ${String(err)}\n`);
        }
        emit('stopped');
        logger.flush();
        setTimeout(() => process.exit(0), 50);
      });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`controller-entry: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
