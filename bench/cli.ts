/**
 * `cli`: what a user waits for. The bin as `npm ci` leaves it (dist/ built by `prepare`; this
 * benchmark rebuilds it first, as `prepare` would), run as its own process the way an installed
 * `provenant` runs (`node bin/provenant.mjs …`; npx's own start-up, ~0.3 s, is not provenant's):
 *   helpWallMs        `provenant --help`
 *   provenanceWallMs  `provenant provenance RUN.yaml` (an example TaskRun, YAML)
 *   verifyWallMs      `provenant verify --image REF@DIGEST --key pub.pem` against a loopback registry
 *   cosignVerifyWallMs `cosign verify-attestation` (Debian's cosign 2.5) on the same image and key,
 *                     paired with each verify run (alternating which goes first)
 * Each figure is the median of BENCH_CLI_RUNS (default 7, at least 5) runs after one warm-up run
 * (the warm-up fills Node's compile cache; its figures are reported as `first*`). Peak RSS is the
 * child's ru_maxrss, CPU its user+system time, both from wait4(2) (a python3 one-liner spawns and reaps
 * each command). Nothing asserts on time.
 */
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli } from '../src/cli/index.js';
import { captureIo } from '../test/support/cli.js';
import { debianTool } from '../test/support/debian-tools.js';
import { pushTestImage } from '../test/support/oci-image.js';
import { startRegistry } from '../test/support/services.js';
import { envNumber, percentile, report, repoRoot, round } from './lib/common.js';

interface Sample {
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly rssMB: number;
}

/**
 * Spawns argv[1:] and waits for it with wait4(2), printing wall ms, user+system CPU ms and peak RSS KB
 * of that child alone (µs resolution, unlike GNU time's 10 ms; the interpreter's own start is outside).
 */
const rusageProbe = `
import os, sys, time
t = time.perf_counter()
pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ)
_, status, ru = os.wait4(pid, 0)
wall = (time.perf_counter() - t) * 1000
sys.stderr.write("@@rusage %.3f %.3f %d %d\\n" % (wall, (ru.ru_utime + ru.ru_stime) * 1000, ru.ru_maxrss, os.waitstatus_to_exitcode(status)))
`;
import { imageTaskRun } from '../test/support/task-run.js';

/** Runs a command to completion: wall, CPU and peak RSS of the command's process. */
async function measure(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<Sample> {
  const r = spawnSync('python3', ['-c', rusageProbe, ...argv], { env, encoding: 'utf8', maxBuffer: 64 << 20 });
  const m = /@@rusage (\S+) (\S+) (\d+) (-?\d+)/.exec(r.stderr);
  if (m === null || m[4] !== '0') throw new Error(`${argv.slice(0, 3).join(' ')} … failed: ${r.stderr.slice(-800)}`);
  return { wallMs: Number(m[1]), cpuMs: Number(m[2]), rssMB: Number(m[3]) / 1024 };
}

const median = (xs: readonly number[]): number => percentile(xs, 50);

function summary(samples: readonly Sample[]): { wallMs: number; cpuMs: number; rssMB: number; peakRssMB: number; maxWallMs: number } {
  return {
    wallMs: round(median(samples.map((s) => s.wallMs))),
    cpuMs: round(median(samples.map((s) => s.cpuMs))),
    rssMB: round(median(samples.map((s) => s.rssMB))),
    peakRssMB: round(Math.max(...samples.map((s) => s.rssMB))),
    maxWallMs: round(Math.max(...samples.map((s) => s.wallMs))),
  };
}

/** `node -e 0`: the floor any Node program starts from. */
async function nodeStart(node: string, env: NodeJS.ProcessEnv): Promise<ReturnType<typeof summary>> {
  const samples: Sample[] = [];
  for (let i = 0; i < 5; i++) samples.push(await measure([node, '-e', '0'], env));
  return summary(samples);
}

function taskRun(image: { name: string; digest: string }): Record<string, unknown> {
  return imageTaskRun({ image: image.name, digest: image.digest, name: 'bench-build', uid: 'b0000000-1111-2222-3333-444444444444' });
}

async function main(): Promise<void> {
  const runs = Math.max(5, envNumber('BENCH_CLI_RUNS', 7));
  const node = process.execPath;
  const bin = path.join(repoRoot, 'bin', 'provenant.mjs');
  const cosign = debianTool('cosign');

  // What `npm ci` leaves: the `prepare` build.
  const built = spawnSync(node, [path.join(repoRoot, 'scripts', 'build.mjs')], { cwd: repoRoot, encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`build failed: ${built.stderr}`);

  const scratch = await mkdtemp(path.join(tmpdir(), 'provenant-bench-cli-'));
  const registry = await startRegistry();
  try {
    const file = (name: string): string => path.join(scratch, name);
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await writeFile(file('x509.pem'), privateKey.export({ format: 'pem', type: 'pkcs8' }));
    await writeFile(file('key.pub'), publicKey.export({ format: 'pem', type: 'spki' }));
    const image = await pushTestImage({ host: registry.host, repository: 'bench/cli' });
    await writeFile(file('run.json'), JSON.stringify(taskRun(image)));
    await writeFile(file('config.json'), JSON.stringify({ 'artifacts.taskrun.format': 'in-toto', 'storage.oci.encoding-format': 'both' }));
    // The attestation to verify, stored the way the controller stores it (set-up, not measured).
    const io = captureIo({ env: { HOME: scratch } });
    const signed = await runCli(
      ['sign', '--config', file('config.json'), '--signing-secrets', scratch, '--storage', 'oci', '--insecure', file('run.json')],
      io,
    );
    if (signed !== 0) throw new Error(`sign failed: ${io.err.join('')}`);
    const ref = `${image.name}@${image.digest}`;

    const env: NodeJS.ProcessEnv = {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      HOME: scratch, // no docker credentials from the machine; the registry is open
      TUF_ROOT: file('tuf'), // cosign: never the public TUF root
      NODE_COMPILE_CACHE: file('node-compile-cache'), // a cache of our own, filled by the warm-up run
    };
    const help = [node, bin, '--help'];
    const provenance = [node, bin, 'provenance', path.join(repoRoot, 'examples', 'taskrun-buildah-image.yaml')];
    const verify = [node, bin, 'verify', '--image', ref, '--key', file('key.pub'), '--insecure'];
    const cosignVerify = [
      cosign,
      'verify-attestation',
      '--key',
      file('key.pub'),
      '--type',
      'slsaprovenance',
      '--insecure-ignore-tlog',
      '--allow-insecure-registry',
      '--allow-http-registry',
      ref,
    ];

    const first = {
      help: await measure(help, env),
      provenance: await measure(provenance, env),
      verify: await measure(verify, env),
      cosign: await measure(cosignVerify, env),
    };
    const samples = { help: [] as Sample[], provenance: [] as Sample[], verify: [] as Sample[], cosign: [] as Sample[] };
    const ratios: number[] = [];
    for (let i = 0; i < runs; i++) {
      samples.help.push(await measure(help, env));
      samples.provenance.push(await measure(provenance, env));
      // paired: both on the same image within the same moment of the machine's load, order alternating
      const pair =
        i % 2 === 0
          ? { v: await measure(verify, env), c: await measure(cosignVerify, env) }
          : { c: await measure(cosignVerify, env), v: await measure(verify, env) };
      samples.verify.push(pair.v);
      samples.cosign.push(pair.c);
      ratios.push(pair.v.wallMs / pair.c.wallMs);
    }
    const h = summary(samples.help);
    const p = summary(samples.provenance);
    const v = summary(samples.verify);
    const c = summary(samples.cosign);
    await report('cli', {
      runs,
      helpWallMs: h.wallMs,
      provenanceWallMs: p.wallMs,
      verifyWallMs: v.wallMs,
      cosignVerifyWallMs: c.wallMs,
      verifyToCosignRatio: round(v.wallMs / c.wallMs, 2),
      pairedRatioMedian: round(median(ratios), 2),
      // CPU (user + system) moves less with the machine's load than wall time does.
      verifyCpuMs: v.cpuMs,
      cosignVerifyCpuMs: c.cpuMs,
      verifyToCosignCpuRatio: round(v.cpuMs / c.cpuMs, 2),
      peakRssMB: Math.max(h.peakRssMB, p.peakRssMB, v.peakRssMB),
      goals: { helpWallMs: 150, provenanceWallMs: 250, verifyToCosignRatio: 2, peakRssMB: 100 },
      commands: { help: h, provenance: p, verify: v, cosignVerify: c },
      first: {
        helpWallMs: round(first.help.wallMs),
        provenanceWallMs: round(first.provenance.wallMs),
        verifyWallMs: round(first.verify.wallMs),
        cosignVerifyWallMs: round(first.cosign.wallMs),
      },
      nodeStart: await nodeStart(node, env),
      runtime: 'node bin/provenant.mjs on dist/ (esbuild bundle built as `prepare` builds it), compile cache on',
    });
  } finally {
    await registry.stop();
    await rm(scratch, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`cli: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
