/**
 * A controller in its own process, for tests that SIGKILL it mid-work (no drain, no cleanup):
 * the e2e kill test (`spawnControllerProcess`) and the fault suite's SIGKILL scenario
 * (`spawnChildController`). Prints READY on stdout once watching. With CHILD_LOG_LEVEL set it logs
 * JSON lines to stderr through the production logger (redaction included), so a suite can scan them.
 *
 * Environment: CHILD_IN_CLUSTER_ROOT (the pod's service account files, with KUBERNETES_SERVICE_HOST
 * and KUBERNETES_SERVICE_PORT: the in-cluster path) or CHILD_KUBECONFIG (YAML), CHILD_REDIS_URL, CHILD_QUEUE, CHILD_LOG_LEVEL (default
 * silent), CHILD_BACKOFF_MAX_MS (default 400).
 */
import { startController } from '../../src/main.js';
import { createLogger, createSilentLogger } from '../../src/observability/index.js';
import { createBullQueue } from '../../src/queue/index.js';
import { loadKubeConfig } from '../../src/tekton/index.js';

const env = process.env;
const level = env['CHILD_LOG_LEVEL'];
const logger = level ? createLogger({ level }) : createSilentLogger();
const queue = await createBullQueue({
  logger,
  attempts: 5,
  backoff: { baseMs: 100, maxMs: Number(env['CHILD_BACKOFF_MAX_MS'] ?? '400') },
  redisUrl: env['CHILD_REDIS_URL'] ?? '',
  queueName: env['CHILD_QUEUE'] ?? 'child',
  // Short locks so a killed worker's jobs are picked up again within seconds.
  lockDurationMs: 3000,
  stalledIntervalMs: 1000,
});
await startController({
  kubeConfig: env['CHILD_IN_CLUSTER_ROOT']
    ? loadKubeConfig({ inClusterRoot: env['CHILD_IN_CLUSTER_ROOT'] })
    : loadKubeConfig({ kubeconfigYaml: env['CHILD_KUBECONFIG'] ?? '' }),
  queue,
  logger,
  configNamespace: 'tekton-chains',
  concurrency: 8,
  watchBackoff: { initialMs: 50, maxMs: 500 },
  deferredRecheckMs: 300,
});
process.stdout.write('READY\n');
