/**
 * Child process of `per-run-cost`: does the controller's per-run steps one run at a time with the
 * production building blocks (`createWiring` from wiring/, and reconcile's per-artifact engine, the
 * same code the controller runs), and measures this process's CPU time (`process.cpuUsage`) and
 * wall time per step. Inside the engine: `sign` is the time in the signer, `store` the time in the
 * backends (one backend after the other; `oci` stores a run's artifacts at once, timed as one span), `rekor` the rest of the engine (bundling and the witnesses). The services (API server, registry, Rekor) live in
 * the parent, so their CPU is not counted here.
 *
 * Environment: BENCH_KUBECONFIG_YAML, BENCH_CONFIG_JSON (chains-config data), BENCH_RUNS_JSON
 * (file with `[{kind, namespace, name}]`), BENCH_WARMUP. Prints one JSON line of figures.
 */
import { readFileSync } from 'node:fs';
import type { Signer } from '@sigstore/sign';
import { parseConfig } from '../src/config/index.js';
import { createKeyedMutex } from '../src/mutex.js';
import { createSilentLogger } from '../src/observability/index.js';
import { createMemoryCheckpoints, planArtifacts, processArtifacts } from '../src/reconcile/index.js';
import { createEphemeralSigner } from '../src/signing/index.js';
import { imageSubjects, registryRequestsSent } from '../src/storage/index.js';
import { createRunStore, loadKubeConfig, parseRun, type RunKey } from '../src/tekton/index.js';
import { createWiring } from '../src/wiring/index.js';

type Phase = 'read' | 'compose' | 'sign' | 'rekor' | 'store' | 'patch';
const phases: Phase[] = ['read', 'compose', 'sign', 'rekor', 'store', 'patch'];

async function main(): Promise<void> {
  const env = process.env;
  const logger = createSilentLogger();
  const config = parseConfig(JSON.parse(env['BENCH_CONFIG_JSON'] ?? '{}') as Record<string, string>).config;
  const kubeConfig = loadKubeConfig({ kubeconfigYaml: env['BENCH_KUBECONFIG_YAML'] ?? '' });
  const runStore = createRunStore(kubeConfig, { logger });
  const signer = createEphemeralSigner();
  // The coordination a single-replica controller uses (cli/commands/controller.ts): every provenant
  // writer takes the process mutex, so tag writes need no settle wait and no re-read.
  const wiring = await createWiring(config, { logger, runStore, signerOverride: signer, tagWrites: { mode: 'shared', lock: createKeyedMutex() } });
  const keys = JSON.parse(readFileSync(env['BENCH_RUNS_JSON'] ?? '', 'utf8')) as RunKey[];
  const warmup = Number(env['BENCH_WARMUP'] ?? '10');

  const cpuUs: Record<Phase, number> = { read: 0, compose: 0, sign: 0, rekor: 0, store: 0, patch: 0 };
  const wallUs: Record<Phase, number> = { read: 0, compose: 0, sign: 0, rekor: 0, store: 0, patch: 0 };
  const byBackend: Record<string, { cpuUs: number; wallUs: number }> = {};
  let measured = 0;
  let artifacts = 0;
  let ociArtifacts = 0;
  let ociPairs = 0;
  let registryRequests = 0;
  let measuring = false;
  const timed = async <T>(phase: Phase, fn: () => Promise<T> | T): Promise<T> => {
    const c0 = process.cpuUsage();
    const w0 = performance.now();
    const out = await fn();
    if (measuring) {
      const c = process.cpuUsage(c0);
      cpuUs[phase] += c.user + c.system;
      wallUs[phase] += (performance.now() - w0) * 1000;
    }
    return out;
  };

  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    if (key === undefined) continue;
    measuring = i >= warmup;
    const raw = await timed('read', () => runStore.get(key));
    const plan = await timed('compose', () => planArtifacts({ run: parseRun(raw, { kind: key.kind }), children: [], config, logger }));
    if (measuring) {
      artifacts += plan.length;
      for (const a of plan) {
        if (!a.storage.includes('oci')) continue;
        ociArtifacts++;
        const images = imageSubjects(a.subjects).images.length;
        ociPairs += a.type === 'image-signature' ? Math.min(1, images) : images;
      }
    }
    const requests0 = registryRequestsSent();
    const c0 = process.cpuUsage();
    const w0 = performance.now();
    const inner = { signCpu: 0, signWall: 0, storeCpu: 0, storeWall: 0 };
    const lanes: Record<string, { active: number; cpu0: NodeJS.CpuUsage; wall0: number }> = {};
    const timedSigner: Signer = {
      sign: async (data) => {
        const sc = process.cpuUsage();
        const sw = performance.now();
        const out = await signer.sign(data);
        const c = process.cpuUsage(sc);
        inner.signCpu += c.user + c.system;
        inner.signWall += (performance.now() - sw) * 1000;
        return out;
      },
    };
    const result = await processArtifacts(plan, {
      run: key,
      signer: () => timedSigner,
      witnesses: wiring.rekor ? [wiring.rekor] : [],
      storage: (name) => wiring.storage(name, { namespace: key.namespace, serviceAccountName: 'pipeline' }),
      checkpoints: createMemoryCheckpoints(),
      logger,
      // `oci` stores a run's artifacts at once: CPU and wall time are taken over the union of a
      // backend's overlapping store calls (backends run one after the other), not summed per call.
      around: async (name, fn, info) => {
        if (name !== 'storage') return fn();
        const backend = info.backend ?? '?';
        const lane = (lanes[backend] ??= { active: 0, cpu0: { user: 0, system: 0 }, wall0: 0 });
        if (lane.active++ === 0) {
          lane.cpu0 = process.cpuUsage();
          lane.wall0 = performance.now();
        }
        try {
          return await fn();
        } finally {
          if (--lane.active === 0) {
            const c = process.cpuUsage(lane.cpu0);
            const wall = (performance.now() - lane.wall0) * 1000;
            inner.storeCpu += c.user + c.system;
            inner.storeWall += wall;
            if (measuring) {
              const b = (byBackend[backend] ??= { cpuUs: 0, wallUs: 0 });
              b.cpuUs += c.user + c.system;
              b.wallUs += wall;
            }
          }
        }
      },
    });
    if (measuring) {
      const c = process.cpuUsage(c0);
      const total = c.user + c.system;
      const wall = (performance.now() - w0) * 1000;
      cpuUs.sign += inner.signCpu;
      wallUs.sign += inner.signWall;
      cpuUs.store += inner.storeCpu;
      wallUs.store += inner.storeWall;
      cpuUs.rekor += Math.max(0, total - inner.signCpu - inner.storeCpu);
      wallUs.rekor += Math.max(0, wall - inner.signWall - inner.storeWall);
    }
    if (measuring) registryRequests += registryRequestsSent() - requests0;
    // One PATCH per run, as reconcile does: the tekton annotations with `signed`.
    await timed('patch', () => runStore.patchAnnotations(key, { ...result.annotations, 'chains.tekton.dev/signed': 'true', 'chains.tekton.dev/signed-uid': key.uid }));
    if (measuring) measured++;
  }
  await wiring.close();
  const per = (r: Record<Phase, number>): Record<Phase, number> =>
    Object.fromEntries(phases.map((p) => [p, Math.round(r[p] / Math.max(1, measured))])) as Record<Phase, number>;
  process.stdout.write(JSON.stringify({ runs: measured, artifactsPerRun: artifacts / Math.max(1, measured), cpuUs: per(cpuUs), wallUs: per(wallUs), registryRequestsPerRun: registryRequests / Math.max(1, measured), registryRequestsPerArtifact: registryRequests / Math.max(1, ociArtifacts), registryRequestsPerPair: registryRequests / Math.max(1, ociPairs), ociPairsPerRun: ociPairs / Math.max(1, measured), storeByBackend: Object.fromEntries(Object.entries(byBackend).map(([k, v]) => [k, { cpuUs: Math.round(v.cpuUs / Math.max(1, measured)), wallUs: Math.round(v.wallUs / Math.max(1, measured)) }])) }) + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`cost-probe: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
