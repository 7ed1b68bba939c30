/**
 * `per-run-cost`: CPU µs per run, split into the steps reconcile sequences: read (GET the live
 * run), compose (parse + plan: provenance statement and simple-signing payloads), sign (every
 * artifact, local P-256 key), Rekor (one entry per artifact), store (`tekton` + `oci`), patch (the
 * final annotation patch). Measured in a child process (`bench/cost-probe.ts`) that does one run at
 * a time, so the figures are CPU of the controller side only, without contention.
 */
import { spawn, spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { benchDir, repoRoot, report, round, scaled } from './lib/common.js';
import { createImagePusher, mapLimit } from './lib/images.js';
import { taskRun } from './lib/runs.js';
import { createAll, ensureNamespace, startStack } from './lib/stack.js';

/** `storage.oci.encoding-format`: Chains' default `dsse` (`.att` + `.sig`); `both` adds the bundle referrers. */
const encoding = process.env['BENCH_OCI_ENCODING'] ?? 'dsse';
const configData = {
  'artifacts.taskrun.storage': 'tekton,oci',
  'artifacts.oci.storage': 'oci',
  'storage.oci.encoding-format': encoding,
};

/** Extra node flags for the probe child, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` (profiling the controller side alone). */
const probeNodeArgs = (process.env['BENCH_PROBE_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== '');
/**
 * `BENCH_PROBE_COMPILED=1`: run the probe compiled as the product ships (the esbuild bundle of
 * scripts/build.mjs) instead of through tsx, whose `keepNames` wraps every closure it creates in a
 * `__name()` call (a property definition): code that makes closures per request pays for it there only.
 */
const compiled = process.env['BENCH_PROBE_COMPILED'] === '1';

function probeProgram(): string[] {
  if (!compiled) return ['--import', 'tsx', path.join(benchDir, 'cost-probe.ts')];
  const outdir = path.join('node_modules', '.cache', 'provenant-bench', 'cost-probe');
  const r = spawnSync(process.execPath, ['scripts/build.mjs', '--entry', 'cost-probe=bench/cost-probe.ts', '--outdir', outdir], { cwd: repoRoot, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`compiling bench/cost-probe.ts failed: ${r.stderr}`);
  return [path.join(repoRoot, outdir, 'cost-probe.js')];
}

async function main(): Promise<void> {
  // One run at a time through the real registry takes ~1.3 s of wall time (see README): keep it short.
  const warmup = 10;
  const n = scaled(60, 20) + warmup;
  const stack = await startStack({ redis: false, registry: true, rekor: true, config: configData });
  try {
    ensureNamespace(stack.kube, 'team-a');
    const pusher = createImagePusher(stack.registry?.host ?? '');
    const runs = await mapLimit(n, 16, async (i) => taskRun({ index: i, prefix: 'pc', namespace: 'team-a', images: await pusher.imagesFor('pc', i) }));
    const created = createAll(stack.kube, runs);
    const keys = created.map((o) => {
      const md = o['metadata'] as { name: string; namespace: string; uid: string };
      return { kind: 'TaskRun', namespace: md.namespace, name: md.name, uid: md.uid };
    });
    const keysFile = path.join(stack.tmp, 'keys.json');
    await writeFile(keysFile, JSON.stringify(keys));
    const program = probeProgram();
    const fullConfig = { ...configData, 'transparency.enabled': 'true', 'transparency.url': stack.rekor?.url ?? '', 'storage.oci.repository.insecure': 'true' };
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, [...probeNodeArgs, ...program], {
        cwd: repoRoot,
        env: {
          ...process.env,
          BENCH_KUBECONFIG_YAML: stack.kube.kubeconfigYaml,
          BENCH_CONFIG_JSON: JSON.stringify(fullConfig),
          BENCH_RUNS_JSON: keysFile,
          BENCH_WARMUP: String(warmup),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('exit', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`cost-probe exited ${code}: ${stderr}`))));
    });
    const figures = JSON.parse(out.trim().split('\n').pop() ?? '{}') as {
      runs: number;
      artifactsPerRun: number;
      cpuUs: Record<string, number>;
      wallUs: Record<string, number>;
      storeByBackend: Record<string, { cpuUs: number; wallUs: number }>;
      registryRequestsPerRun: number;
      registryRequestsPerArtifact: number;
      registryRequestsPerPair: number;
      ociPairsPerRun: number;
    };
    const total = Object.values(figures.cpuUs).reduce((a, b) => a + b, 0);
    await report('per-run-cost', {
      runs: figures.runs,
      artifactsPerRun: figures.artifactsPerRun,
      readUs: figures.cpuUs['read'],
      composeUs: figures.cpuUs['compose'],
      signUs: figures.cpuUs['sign'],
      rekorUs: figures.cpuUs['rekor'],
      storeUs: figures.cpuUs['store'],
      patchUs: figures.cpuUs['patch'],
      totalUs: total,
      wallUs: figures.wallUs,
      storeByBackend: figures.storeByBackend,
      // Registry requests of the `oci` store (every hop, HEADs and tag reads included), per run, per
      // stored artifact, and per (artifact, image) pair (a provenance is written once per image).
      registryRequestsPerRun: round(figures.registryRequestsPerRun, 1),
      registryRequestsPerArtifact: round(figures.registryRequestsPerArtifact, 1),
      registryRequestsPerPair: round(figures.registryRequestsPerPair, 1),
      ociPairsPerRun: round(figures.ociPairsPerRun, 2),
      encoding,
      storage: 'tekton,oci',
      transparency: true,
      runtime: compiled ? 'compiled (esbuild bundle, as dist/ ships)' : 'tsx',
    });
  } finally {
    await stack.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`per-run-cost: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
