/**
 * `memory`: 50,000 completed and signed TaskRuns in the API server; the controller (its own process,
 * BullMQ, compiled as it ships: bench/lib/compiled.ts) lists and watches them. Figures: its RSS right
 * after the initial sync, after an idle watch of BENCH_IDLE_SECONDS (default 60; the 10-minute figure
 * is BENCH_IDLE_SECONDS=600), its peak RSS (VmHWM, the kernel's high-water mark: nothing between two
 * samples escapes it), and how many API requests it made. First, the same controller with no runs at
 * all: idleNoRunsRssMB (RSS after BENCH_NO_RUNS_IDLE_SECONDS, default 10, idle) and its VmHWM. The
 * controller runs with the image's V8 flags (manifests/base/controller.yaml NODE_OPTIONS; recorded with
 * `sameFlagsAsImage`).
 */
import { readFileSync } from 'node:fs';
import { envNumber, report, round, rssMB, scaled, sleep } from './lib/common.js';
import { createSignedRuns } from './lib/signed-runs.js';
import { compileControllerEntry } from './lib/compiled.js';
import { controllerNodeFlags, ensureNamespace, spawnController, startStack } from './lib/stack.js';

/** `NODE_OPTIONS` of the Deployment (manifests/base/controller.yaml): what the image runs with. */
function imageNodeOptions(): string | undefined {
  const manifest = readFileSync(new URL('../manifests/base/controller.yaml', import.meta.url), 'utf8');
  return /- name: NODE_OPTIONS\s+value: "([^"]*)"/.exec(manifest)?.[1];
}

function hwmMB(pid: number): number {
  const m = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m?.[1] === undefined ? Number.NaN : Number(m[1]) / 1024;
}

interface NoRunsFigures {
  /** RSS right after the first (empty) list. */
  readonly readyRssMB: number;
  /** RSS after an idle while. */
  readonly idleRssMB: number;
  /** VmHWM over the whole life so far. */
  readonly peakRssMB: number;
}

/** The same controller with no runs at all: what loading the program and idling cost. */
async function noRunsRss(entry: string, idleSeconds: number): Promise<NoRunsFigures> {
  const stack = await startStack({ redis: true, config: {} });
  try {
    const controller = spawnController(stack, { concurrency: 16, redisUrl: stack.redis?.url ?? '', entry });
    try {
      await controller.waitEvent('ready', 60_000);
      await sleep(1000);
      const readyRssMB = rssMB(controller.pid);
      await sleep(idleSeconds * 1000);
      return { readyRssMB, idleRssMB: rssMB(controller.pid), peakRssMB: hwmMB(controller.pid) };
    } finally {
      await controller.stop();
    }
  } finally {
    await stack.stop();
  }
}

async function main(): Promise<void> {
  const runs = scaled(50_000, 500);
  const idleSeconds = envNumber('BENCH_IDLE_SECONDS', 60);
  const namespaces = Array.from({ length: 20 }, (_, i) => `team-${i}`);
  const entry = compileControllerEntry();
  const noRuns = await noRunsRss(entry, envNumber('BENCH_NO_RUNS_IDLE_SECONDS', 10));
  const stack = await startStack({ redis: true, config: {}, historyLimit: 1000 });
  try {
    for (const ns of namespaces) ensureNamespace(stack.kube, ns);
    const seedStart = Date.now();
    createSignedRuns(stack.kube, { prefix: 'mem', count: runs, namespaces });
    const seedSeconds = (Date.now() - seedStart) / 1000;
    stack.resetRequestCount();
    const controller = spawnController(stack, { concurrency: 16, redisUrl: stack.redis?.url ?? '', entry });
    try {
      const started = await controller.waitEvent('started', 300_000);
      const ready = await controller.waitEvent('ready', 300_000);
      await sleep(2000);
      const afterSync = rssMB(controller.pid);
      const requestsAfterSync = stack.requestCount();
      await sleep(idleSeconds * 1000);
      const afterIdle = rssMB(controller.pid);
      await report('memory', {
        runs,
        rssMB: round(Math.max(afterSync, afterIdle)),
        rssAfterSyncMB: round(afterSync),
        rssAfterIdleMB: round(afterIdle),
        peakRssMB: round(hwmMB(controller.pid)),
        baselineRssMB: round(noRuns.readyRssMB),
        idleNoRunsRssMB: round(noRuns.idleRssMB),
        idleNoRunsPeakRssMB: round(noRuns.peakRssMB),
        goals: { idleNoRunsRssMB: 100, peakRssMB: 150 },
        idleSeconds,
        apiRequests: stack.requestCount(),
        apiRequestsDuringSync: requestsAfterSync,
        apiRequestsByVerb: stack.requestsByVerb(),
        readySeconds: round((ready - controller.spawnedAt) / 1000, 2),
        startedSeconds: round((started - controller.spawnedAt) / 1000, 2),
        seedSeconds: round(seedSeconds, 1),
        queue: 'bullmq',
        runtime: 'compiled (esbuild bundle of bench/controller-entry.ts, as scripts/build.mjs builds dist/)',
        controllerNodeFlags,
        // The controller runs with the image's V8 flags unless BENCH_CONTROLLER_NODE_FLAGS says otherwise.
        imageNodeOptions: imageNodeOptions(),
        sameFlagsAsImage: controllerNodeFlags === imageNodeOptions(),
      });
    } finally {
      await controller.stop();
    }
  } finally {
    await stack.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`memory: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
