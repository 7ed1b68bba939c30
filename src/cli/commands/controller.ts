import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { startController, type ControllerRole } from '../../main.js';
import { createLogger, createMetrics, startHealthServer } from '../../observability/index.js';
import { createBullQueue, createMemoryQueue, createRedisLock, defaultAttempts, type JobQueue, type RedisLock } from '../../queue/index.js';
import { createKeyedMutex } from '../../mutex.js';
import { credentialsFromDockerConfig } from '../../storage/index.js';
import { loadKubeConfig } from '../../tekton/index.js';
import { parseCommandArgs, usageError } from '../args.js';
import type { CliCommand, CliIo } from '../io.js';

const help = `usage: provenant controller [options]

Watches completed TaskRuns and PipelineRuns and signs them (the Tekton Chains controller's job).

options:
  --namespace a,b          watch only these namespaces (default: cluster-wide)
  --config-namespace NS    namespace of the chains-config ConfigMap (default: $POD_NAMESPACE or tekton-chains)
  --config-name NAME       ConfigMap name (default: chains-config)
  --role watch|work|all    watch and enqueue, work the queue, or both (default: all)
  --concurrency N          jobs worked at once per replica (default: 4)
  --backlog-concurrency N  backlog-lane jobs (runs completed over a minute before they were seen) worked
                           at once per replica, besides --concurrency (default: half of it, at least 1)
  --fresh-quiet-ms N       the backlog lane pauses while fresh runs are in work and this long after the
                           last one was seen, by any replica (default: 1000)
  --backlog-drain-ms N     while paused, the backlog lane still starts one job this often, for all
                           replicas together, so a steady stream never starves it (default: 100)
  --attempts N             tries per run before signed=failed (default: 8: with the 2 s base backoff,
                           an outage of ~2 minutes is ridden out)
  --metrics-port N         /metrics, /healthz, /readyz (default: 9090; 0 = off)
  --kubeconfig FILE        kubeconfig (default: as kubectl: $KUBECONFIG, ~/.kube/config, in-cluster)
  --docker-config FILE     registry credentials for oci storage (default: $DOCKER_CONFIG/config.json if set);
                           the run's ServiceAccount imagePullSecrets come first where RBAC allows
                           reading them (opt-in: manifests/overlays/pull-secrets, docs/rbac.md)

environment:
  REDIS_URL                redis://[:password@]host:port[/db] or rediss:// (TLS); unset = in-process queue
  REDIS_PASSWORD           overrides the URL's password
  REDIS_TLS_CA_FILE        CA bundle for a rediss:// server with a private CA
  PROVENANT_LOG_LEVEL      pino level (default info)
`;

function int(value: string | undefined, name: string, dflt: number): number {
  if (value === undefined) return dflt;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw usageError('controller', `--${name} must be a non-negative integer`);
  return n;
}

/** The job queue, and with Redis also the lock replicas share around OCI tag updates. */
/** The queue lanes' options (src/queue/lanes.ts) given on the command line. */
type LaneFlags = Partial<Record<'backlogConcurrency' | 'freshQuietMs' | 'backlogDrainMs', number>>;

async function createQueue(
  env: NodeJS.ProcessEnv,
  attempts: number,
  logger: ReturnType<typeof createLogger>,
  lanes: LaneFlags,
): Promise<{ queue: JobQueue; lock?: RedisLock }> {
  const url = env['REDIS_URL'];
  if (url === undefined || url === '') {
    logger.warn('REDIS_URL is not set: using the in-process queue (one replica, nothing survives a restart but the run annotations)');
    return { queue: createMemoryQueue({ logger, attempts, ...lanes }) };
  }
  const ca = env['REDIS_TLS_CA_FILE'];
  const connection = {
    redisUrl: url,
    ...(env['REDIS_PASSWORD'] ? { password: env['REDIS_PASSWORD'] } : {}),
    ...(ca ? { tls: { ca: await readFile(ca, 'utf8') } } : {}),
  };
  const queue = await createBullQueue({ logger, attempts, ...lanes, ...connection });
  return { queue, lock: createRedisLock(connection) };
}

async function runController(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs('controller', argv, {
    namespace: { type: 'string' },
    'config-namespace': { type: 'string' },
    'config-name': { type: 'string' },
    role: { type: 'string' },
    concurrency: { type: 'string' },
    attempts: { type: 'string' },
    'backlog-concurrency': { type: 'string' },
    'fresh-quiet-ms': { type: 'string' },
    'backlog-drain-ms': { type: 'string' },
    'metrics-port': { type: 'string' },
    kubeconfig: { type: 'string' },
    'docker-config': { type: 'string' },
  });
  if (values.help) {
    io.stdout(help);
    return 0;
  }
  if (positionals.length > 0) throw usageError('controller', `unexpected argument ${positionals[0] ?? ''}`);
  const role = (values.role ?? 'all') as ControllerRole;
  if (!['watch', 'work', 'all'].includes(role)) throw usageError('controller', '--role must be watch, work or all');
  const lanes: LaneFlags = {};
  for (const [flag, key] of [['backlog-concurrency', 'backlogConcurrency'], ['fresh-quiet-ms', 'freshQuietMs'], ['backlog-drain-ms', 'backlogDrainMs']] as const) {
    const value = values[flag];
    if (value !== undefined) lanes[key] = int(value, flag, 0);
  }
  if (lanes.backlogConcurrency === 0 || lanes.backlogDrainMs === 0) throw usageError('controller', '--backlog-concurrency and --backlog-drain-ms must be at least 1');
  const logger = createLogger();
  const metrics = createMetrics({ defaultMetrics: true });
  const kubeConfig = loadKubeConfig(values.kubeconfig ? { kubeconfigPath: values.kubeconfig } : {});
  const dockerConfig = values['docker-config'] ?? (io.env['DOCKER_CONFIG'] ? path.join(io.env['DOCKER_CONFIG'], 'config.json') : undefined);
  const ociCredentials = dockerConfig ? credentialsFromDockerConfig(JSON.parse(await readFile(dockerConfig, 'utf8')), dockerConfig) : undefined;
  const { queue, lock } = await createQueue(io.env, int(values.attempts, 'attempts', defaultAttempts), logger, lanes);
  const controller = await startController({
    kubeConfig,
    queue,
    logger,
    metrics,
    role,
    configNamespace: values['config-namespace'] ?? io.env['POD_NAMESPACE'] ?? 'tekton-chains',
    ...(values['config-name'] ? { configMapName: values['config-name'] } : {}),
    ...(values.namespace ? { namespaces: values.namespace.split(',').map((s) => s.trim()).filter(Boolean) } : {}),
    concurrency: int(values.concurrency, 'concurrency', 4),
    // Every provenant writer takes the same lock: Redis across replicas, or (in-process queue, one
    // replica) this process's mutex; so the tag writes need no settle wait.
    wiring: { ...(ociCredentials ? { ociCredentials } : {}), tagWrites: { mode: 'shared', lock: lock ? lock.lock : createKeyedMutex() } },
  });
  const port = int(values['metrics-port'], 'metrics-port', 9090);
  const health = port === 0 ? undefined : await startHealthServer({ port, metrics, ready: () => controller.ready() });
  const depthTimer = setInterval(() => {
    queue
      .depth()
      .then((d) => {
        for (const [state, n] of Object.entries(d)) metrics.setQueueDepth(state as 'waiting', n);
      })
      .catch(() => undefined);
  }, 5000);
  depthTimer.unref();
  logger.info({ role, metricsPort: health?.port }, 'provenant controller started');

  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      logger.info({ signal }, 'draining: finishing or handing back active jobs');
      clearInterval(depthTimer);
      controller
        .stop({ timeoutMs: 25_000 })
        .then(() => health?.close())
        .then(() => lock?.close())
        .finally(resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  logger.info('provenant controller stopped');
  return 0;
}

export const controllerCommand: CliCommand = {
  name: 'controller',
  summary: 'run the controller (watch runs, sign, store, record)',
  run: runController,
};
