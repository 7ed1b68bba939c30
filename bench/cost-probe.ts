/**
 * Child process of `per-run-cost`: does the controller's per-run steps one run at a time, in the
 * order reconcile does them, with the production building blocks (`createWiring` from main.ts: the
 * configured storage backends and the Rekor client), and measures this process's CPU time
 * (`process.cpuUsage`) and wall time per step. The services (API server, registry, Rekor) live in
 * the parent, so their CPU is not counted here.
 *
 * Environment: BENCH_KUBECONFIG_YAML, BENCH_CONFIG_JSON (chains-config data), BENCH_RUNS_JSON
 * (file with `[{kind, namespace, name}]`), BENCH_WARMUP. Prints one JSON line of figures.
 */
import { readFileSync } from 'node:fs';
import { bundleFromJSON, bundleToJSON } from '@sigstore/bundle';
import { parseConfig, type StorageName } from '../src/config/index.js';
import { createWiring } from '../src/main.js';
import { createSilentLogger } from '../src/observability/index.js';
import { planArtifacts } from '../src/reconcile/index.js';
import { createEphemeralSigner, signMessage, signStatement } from '../src/signing/index.js';
import { imageSubjects, processTagLock, registryRequestsSent } from '../src/storage/index.js';
import { createRunStore, loadKubeConfig, parseRun, type RunKey } from '../src/tekton/index.js';

type Phase = 'read' | 'compose' | 'sign' | 'rekor' | 'store' | 'patch';
const phases: Phase[] = ['read', 'compose', 'sign', 'rekor', 'store', 'patch'];

async function main(): Promise<void> {
  const env = process.env;
  const logger = createSilentLogger();
  const config = parseConfig(JSON.parse(env['BENCH_CONFIG_JSON'] ?? '{}') as Record<string, string>).config;
  const kubeConfig = loadKubeConfig({ kubeconfigYaml: env['BENCH_KUBECONFIG_YAML'] ?? '' });
  const runStore = createRunStore(kubeConfig, { logger });
  const signer = createEphemeralSigner();
  // The tag lock the controller passes (cli/commands/controller.ts): without one, every tag write
  // waits a settle time meant for foreign writers.
  const wiring = await createWiring(config, { logger, runStore, signerOverride: signer, ociTagLock: processTagLock });
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
    if (measuring) artifacts += plan.length;
    const signed = await timed('sign', async () =>
      Promise.all(plan.map((a) => (a.type === 'provenance' ? signStatement(signer, a.payload) : signMessage(signer, a.payload)))),
    );
    const logged = await timed('rekor', async () => {
      const out = [];
      for (const b of signed) {
        const bundle = bundleFromJSON(b);
        const material = wiring.rekor ? await wiring.rekor.testify(bundle.content, signer.publicKeyPem) : undefined;
        bundle.verificationMaterial.tlogEntries = material?.tlogEntries ?? [];
        out.push(bundleToJSON(bundle));
      }
      return out;
    });
    const requests0 = registryRequestsSent();
    // Per backend, a run's artifacts are stored concurrently: the (artifact, image) pairs go to the
    // registry together and tag writes for one image coalesce. Backends one after the other, so each
    // one's CPU and wall time stay its own.
    await timed('store', async () => {
      if (measuring) {
        for (const a of plan) {
          if (!a.storage.includes('oci')) continue;
          ociArtifacts++;
          const images = imageSubjects(a.subjects).images.length;
          ociPairs += a.type === 'image-signature' ? Math.min(1, images) : images;
        }
      }
      const names = [...new Set(plan.flatMap((a) => a.storage))];
      for (const name of names) {
        const backend = await wiring.storage(name as StorageName, { namespace: key.namespace, serviceAccountName: 'pipeline' });
        const c0 = process.cpuUsage();
        const w0 = performance.now();
        await Promise.all(
          plan.map(async (a, j) => {
            const bundle = logged[j];
            if (bundle === undefined || !a.storage.includes(name)) return;
            await backend.store({
              run: key,
              artifact: { type: a.type, shortKey: a.shortKey, subjects: a.subjects, ...(a.predicateType ? { predicateType: a.predicateType } : {}) },
              payload: a.payload,
              bundle,
            });
          }),
        );
        if (measuring) {
          const c = process.cpuUsage(c0);
          const b = (byBackend[name] ??= { cpuUs: 0, wallUs: 0 });
          b.cpuUs += c.user + c.system;
          b.wallUs += (performance.now() - w0) * 1000;
        }
      }
    });
    if (measuring) registryRequests += registryRequestsSent() - requests0;
    await timed('patch', () => runStore.patchAnnotations(key, { 'chains.tekton.dev/signed': 'true', 'chains.tekton.dev/signed-uid': key.uid }));
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
