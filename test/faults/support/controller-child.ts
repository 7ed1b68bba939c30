/**
 * A controller in its own process for the SIGKILL scenario, logging JSON lines at debug level to
 * stderr through the production logger (redaction included) so the suite can scan them for secrets.
 * Prints READY on stdout once watching.
 */
import { startController } from '../../../src/main.js';
import { createLogger } from '../../../src/observability/index.js';
import { createBullQueue } from '../../../src/queue/index.js';
import { loadKubeConfig } from '../../../src/tekton/index.js';

const env = process.env;
const logger = createLogger({ level: 'debug' });
const queue = await createBullQueue({
  logger,
  attempts: 5,
  backoff: { baseMs: 100, maxMs: 1000 },
  redisUrl: env['FAULTS_REDIS_URL'] ?? '',
  queueName: env['FAULTS_QUEUE'] ?? 'faults',
  // Short locks so a killed worker's jobs are picked up again within seconds.
  lockDurationMs: 3000,
  stalledIntervalMs: 1000,
});
await startController({
  kubeConfig: loadKubeConfig({ kubeconfigYaml: env['FAULTS_KUBECONFIG'] ?? '' }),
  queue,
  logger,
  configNamespace: 'tekton-chains',
  concurrency: 8,
  watchBackoff: { initialMs: 50, maxMs: 500 },
  deferredRecheckMs: 300,
});
process.stdout.write('READY\n');
