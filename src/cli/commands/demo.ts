/**
 * `provenant demo`: the embedded default, end to end, on a fresh machine with no cluster and no Redis.
 * An in-process Kubernetes API stand-in (the project's fake API server, real HTTP) is seeded with the
 * example runs in `examples/`; the real controller signs them with a generated key through the
 * in-process queue, storing into `tekton` annotations and a `local` directory; every stored bundle
 * is then verified against the generated public key.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { errorMessage } from '../../errors.js';
import { startController } from '../../main.js';
import { createLogger, createSilentLogger } from '../../observability/index.js';
import { createMemoryQueue } from '../../queue/index.js';
import { createEphemeralSigner } from '../../signing/index.js';
import { readLocal } from '../../storage/index.js';
import { loadKubeConfig, signedAnnotation, reasonAnnotation, type RunKey } from '../../tekton/index.js';
import { createFakeKubeServer, type KubeObject } from '../../testing/fake-kube-server.js';
import { verifyBundle } from '../../verify/index.js';
import { parseCommandArgs, usageError } from '../args.js';
import type { CliCommand, CliIo } from '../io.js';

const help = `usage: provenant demo [--out DIR] [--examples DIR] [--timeout SECONDS] [--verbose]

Runs the controller on its embedded default (no cluster, no Redis): an in-process Kubernetes API
stand-in seeded with the example runs, the in-process queue, a generated P-256 key, and tekton +
local storage. Prints a table (run, subjects, signed?, where stored, verified?) and exits 0 only
when every run is signed and every bundle verifies.

  --out DIR        keep the results: DIR/key.pub and DIR/**/*.bundle.json (default: a temp dir, removed)
  --examples DIR   runs to seed (default: the project's examples/)
  --verbose        controller logs on stderr
`;

/** The package root: the nearest directory up from this module with a package.json (src/cli/commands/ or dist/). */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

interface Row {
  run: string;
  subjects: string;
  signed: string;
  stored: string;
  verified: string;
  ok: boolean;
}

async function loadExamples(dir: string): Promise<KubeObject[]> {
  const files = (await readdir(dir)).filter((f) => /\.ya?ml$|\.json$/.test(f)).sort();
  const objects: KubeObject[] = [];
  for (const f of files) {
    for (const doc of parseAllDocuments(await readFile(path.join(dir, f), 'utf8'))) {
      const obj = doc.toJS() as KubeObject | null;
      if (obj && typeof obj === 'object' && (obj['kind'] === 'TaskRun' || obj['kind'] === 'PipelineRun')) objects.push(obj);
    }
  }
  return objects;
}

function keyOf(obj: KubeObject): RunKey {
  const md = obj['metadata'] as { name: string; namespace: string; uid: string };
  return { kind: obj['kind'] as RunKey['kind'], namespace: md.namespace, name: md.name, uid: md.uid };
}

function table(rows: readonly Row[]): string {
  const head: Row = { run: 'RUN', subjects: 'SUBJECTS', signed: 'SIGNED', stored: 'STORED', verified: 'VERIFIED', ok: true };
  const cols = ['run', 'subjects', 'signed', 'stored', 'verified'] as const;
  const width = Object.fromEntries(cols.map((c) => [c, Math.max(...[head, ...rows].map((r) => r[c].length))])) as Record<(typeof cols)[number], number>;
  return [head, ...rows].map((r) => cols.map((c) => r[c].padEnd(width[c])).join('  ').trimEnd()).join('\n') + '\n';
}

async function runDemo(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs('demo', argv, {
    out: { type: 'string' },
    examples: { type: 'string' },
    timeout: { type: 'string' },
    verbose: { type: 'boolean' },
  });
  if (values.help) {
    io.stdout(help);
    return 0;
  }
  if (positionals.length > 0) throw usageError('demo', `unexpected argument ${positionals[0] ?? ''}`);
  const started = Date.now();
  const outDir = values.out ? path.resolve(io.cwd, values.out) : await mkdtemp(path.join(tmpdir(), 'provenant-demo-'));
  const localRoot = path.join(outDir, 'attestations');
  await mkdir(localRoot, { recursive: true });
  const logger = values.verbose ? createLogger({ level: 'debug' }) : createSilentLogger();
  const timeoutMs = Number(values.timeout ?? '60') * 1000;

  const runs = await loadExamples(values.examples ? path.resolve(io.cwd, values.examples) : path.join(packageRoot(), 'examples'));
  const server = await createFakeKubeServer();
  const signer = createEphemeralSigner();
  await writeFile(path.join(outDir, 'key.pub'), signer.publicKeyPem);
  let controller: Awaited<ReturnType<typeof startController>> | undefined;
  try {
    server.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'tekton-chains' } });
    server.create({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'chains-config', namespace: 'tekton-chains' },
      data: {
        'artifacts.taskrun.format': 'slsa/v2alpha4',
        'artifacts.taskrun.storage': 'tekton,local',
        'artifacts.pipelinerun.format': 'slsa/v2alpha4',
        'artifacts.pipelinerun.storage': 'tekton,local',
        'artifacts.oci.storage': 'local',
        'storage.local.path': localRoot,
      },
    });
    for (const r of runs) server.create(structuredClone(r));
    io.stderr(`demo: ${runs.length} example runs in an in-process API server at ${server.url}; signing with a generated P-256 key\n`);

    controller = await startController({
      kubeConfig: loadKubeConfig({ kubeconfigYaml: server.kubeconfigYaml }),
      queue: createMemoryQueue({ logger, attempts: 3, backoff: { baseMs: 200, maxMs: 1000 } }),
      logger,
      configNamespace: 'tekton-chains',
      concurrency: 4,
      wiring: { signerOverride: signer },
      watchBackoff: { initialMs: 100, maxMs: 1000 },
    });

    const reconciled = (obj: KubeObject | undefined): boolean => {
      const v = (obj?.['metadata'] as { annotations?: Record<string, string> } | undefined)?.annotations?.[signedAnnotation];
      return v === 'true' || v === 'failed';
    };
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && !runs.every((r) => reconciled(server.get(refOf(r))))) await new Promise((res) => setTimeout(res, 50));

    const rows: Row[] = [];
    for (const r of runs) {
      const live = server.get(refOf(r));
      // The API server assigns uids on create, as a real one does: read the live object.
      const key = keyOf(live ?? r);
      const annotations = (live?.['metadata'] as { annotations?: Record<string, string> } | undefined)?.annotations ?? {};
      const signed = annotations[signedAnnotation] ?? 'no';
      const entries = await readLocal(localRoot, key).catch(() => []);
      const subjects = new Set<string>();
      let verified = 0;
      const problems: string[] = [];
      for (const e of entries) {
        try {
          const v = verifyBundle(e.bundle, { key: signer.publicKeyPem }, e.bundle.messageSignature ? { artifact: Buffer.from(e.payload) } : {});
          verified++;
          for (const s of v.subjects) subjects.add(s.name.split('/').pop() ?? s.name);
        } catch (err) {
          problems.push(errorMessage(err));
        }
      }
      const tektonKeys = Object.keys(annotations).filter((k) => k.startsWith('chains.tekton.dev/signature-')).length;
      const ok = signed === 'true' && entries.length > 0 && verified === entries.length;
      rows.push({
        run: `${key.kind}/${key.namespace}/${key.name}`,
        subjects: subjects.size === 0 ? '-' : [...subjects].join(','),
        signed: signed === 'failed' ? `failed (${annotations[reasonAnnotation] ?? '?'})` : signed,
        stored: `tekton:${tektonKeys} local:${entries.length}`,
        verified: entries.length === 0 ? 'no bundles' : problems.length === 0 ? `yes (${verified})` : `NO: ${problems[0]}`,
        ok,
      });
    }
    io.stdout(table(rows));
    const good = rows.filter((r) => r.ok).length;
    io.stdout(`\n${good}/${rows.length} runs signed and verified in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
    io.stdout(values.out ? ` Public key: ${path.join(outDir, 'key.pub')}; bundles: ${localRoot}/**/*.bundle.json\n` : '\n');
    return good === rows.length ? 0 : 1;
  } finally {
    await controller?.stop({ timeoutMs: 5000 }).catch(() => undefined);
    await server.stop();
    if (!values.out) await rm(outDir, { recursive: true, force: true });
  }
}

function refOf(obj: KubeObject): { apiVersion: string; kind: string; namespace: string; name: string } {
  const md = obj['metadata'] as { name: string; namespace: string };
  return { apiVersion: obj['apiVersion'] as string, kind: obj['kind'] as string, namespace: md.namespace, name: md.name };
}

export const demoCommand: CliCommand = {
  name: 'demo',
  summary: 'run the controller on the embedded default (no cluster, no Redis) and verify the results',
  run: runDemo,
};
