/**
 * A controller in its own process for the e2e kill test: started by `spawnControllerProcess`,
 * prints READY once watching; the test SIGKILLs it mid-work (no drain, no cleanup).
 */
import { startController } from '../../src/main.js';
import { createSilentLogger } from '../../src/observability/index.js';
import { createBullQueue } from '../../src/queue/index.js';
import { loadKubeConfig } from '../../src/tekton/index.js';

const env = process.env;
const logger = createSilentLogger();
const queue = await createBullQueue({
  logger,
  attempts: 5,
  backoff: { baseMs: 100, maxMs: 400 },
  redisUrl: env['E2E_REDIS_URL'] ?? '',
  queueName: env['E2E_QUEUE'] ?? 'e2e',
  lockDurationMs: 3000,
  stalledIntervalMs: 1000,
});
await startController({
  kubeConfig: loadKubeConfig({ kubeconfigYaml: env['E2E_KUBECONFIG'] ?? '' }),
  queue,
  logger,
  configNamespace: 'tekton-chains',
  concurrency: 8,
  watchBackoff: { initialMs: 50, maxMs: 500 },
  deferredRecheckMs: 300,
});
process.stdout.write('READY\n');
