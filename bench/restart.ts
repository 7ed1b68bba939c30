/**
 * `restart`: 10,000 signed TaskRuns. A first controller (BullMQ) signs the last few hundred of them
 * for real (the rest carry the annotations a previous controller left), goes idle and is stopped
 * (SIGTERM); a second one starts against the same API server and Redis. Figures: seconds from its
 * start until idle (first list done, queue empty), re-signs (new Rekor entries or run patches after
 * the restart: must be 0), and the API requests it made.
 */
import { envNumber, report, round, scaled, sleep, waitFor } from './lib/common.js';
import { fakeImages, taskRun } from './lib/runs.js';
import { createSignedRuns } from './lib/signed-runs.js';
import { createAll, ensureNamespace, spawnController, startStack } from './lib/stack.js';

async function main(): Promise<void> {
  const runs = scaled(10_000, 200);
  const fresh = Math.min(runs, envNumber('BENCH_RESTART_FRESH', scaled(300, 20)));
  const namespaces = Array.from({ length: 10 }, (_, i) => `team-${i}`);
  const stack = await startStack({ redis: true, rekor: true, config: {}, historyLimit: 20_000 });
  try {
    for (const ns of namespaces) ensureNamespace(stack.kube, ns);
    createSignedRuns(stack.kube, { prefix: 'old', count: runs - fresh, namespaces, ...(stack.rekor ? { rekorUrl: stack.rekor.url } : {}) });
    const names = createAll(
      stack.kube,
      Array.from({ length: fresh }, (_, i) => taskRun({ index: i, prefix: 'new', namespace: namespaces[i % namespaces.length] ?? 'default', images: fakeImages('new', i) })),
    ).map((o) => (o['metadata'] as { name: string }).name);
    const redisUrl = stack.redis?.url ?? '';

    const first = spawnController(stack, { concurrency: 16, redisUrl });
    try {
      await waitFor(
        () => {
          first.assertAlive();
          return names.every((n) => stack.tracker.signedAt.has(n) || stack.tracker.failedAt.has(n));
        },
        300_000,
        'first controller signs',
        50,
      );
      await first.waitEvent('idle', 60_000);
    } finally {
      await first.stop();
    }

    const entriesBefore = stack.rekor?.rekorEntryCount() ?? 0;
    stack.resetRequestCount();
    const second = spawnController(stack, { concurrency: 16, redisUrl });
    let idleAt: number;
    let startedAt: number;
    try {
      startedAt = await second.waitEvent('started', 60_000);
      idleAt = await second.waitEvent('idle', 300_000);
      // Anything the restart would redo shows up within seconds; give it the time.
      await sleep(envNumber('BENCH_RESTART_WATCH_SECONDS', 5) * 1000);
    } finally {
      await second.stop();
    }
    const verbs = stack.requestsByVerb();
    const newEntries = (stack.rekor?.rekorEntryCount() ?? 0) - entriesBefore;
    await report('restart', {
      runs,
      secondsToIdle: round((idleAt - second.spawnedAt) / 1000, 2),
      secondsToIdleAfterStart: round((idleAt - startedAt) / 1000, 2),
      resigns: Math.max(newEntries, verbs['PATCH'] ?? 0),
      rekorEntriesAfterRestart: newEntries,
      runPatchesAfterRestart: verbs['PATCH'] ?? 0,
      apiRequests: stack.requestCount(),
      apiRequestsByVerb: verbs,
      signedByFirstController: names.filter((n) => stack.tracker.signedAt.has(n)).length,
      queue: 'bullmq',
    });
  } finally {
    await stack.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`restart: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
