/**
 * The controller as the benchmarks run it: a child process of its own (so its RSS and CPU are its
 * alone), wired like `provenant controller` but signing with a generated P-256 key (`signerOverride`)
 * instead of a key from a Secret. Everything else is the production path: `startController`, the
 * configured storage backends, the real Rekor client against `transparency.url`.
 *
 * Environment: BENCH_KUBECONFIG_YAML, REDIS_URL (unset = in-process queue), BENCH_CONCURRENCY,
 * BENCH_ROLE (all|watch|work), BENCH_LOG_FILE, BENCH_LOG_LEVEL (default info), BENCH_BACKLOG_CONCURRENCY.
 * Reports on stdout, one JSON line each: {event:'started'}, {event:'ready'} (first list done),
 * {event:'idle'} (ready and the queue empty), {event:'stopped'}.
 */
import { pino } from 'pino';
import { startController, type ControllerRole } from '../src/main.js';
import { createLogger, createMetrics } from '../src/observability/index.js';
import { createBullQueue, createMemoryQueue, createRedisLock, type JobQueue } from '../src/queue/index.js';
import { createKeyedMutex } from '../src/mutex.js';
import { createEphemeralSigner } from '../src/signing/index.js';
import { loadKubeConfig } from '../src/tekton/index.js';

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
  const backlog = env['BENCH_BACKLOG_CONCURRENCY'] ? { backlogConcurrency: Number(env['BENCH_BACKLOG_CONCURRENCY']) } : {};
  const queue: JobQueue =
    redisUrl === undefined || redisUrl === ''
      ? createMemoryQueue({ logger, attempts: 5, ...backlog })
      : await createBullQueue({ logger, attempts: 5, redisUrl, ...backlog });
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
