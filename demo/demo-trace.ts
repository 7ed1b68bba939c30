/**
 * The end of `provenant demo`: a three-run supply chain the demo builds and then traces from its own
 * `local` storage, offline. `build-os` produces an OS image, `build-base` a runtime image on it,
 * `build-app` the application on the runtime, from a git commit signed with SSH in a local
 * repository. Each image manifest names its base with the OCI `org.opencontainers.image.base.*`
 * annotations; the manifests are saved (exact bytes) where `trace --attestations` reads them.
 * Kept apart from the demo's own flow: two calls, `seedDemoChain` before the controller starts and
 * `traceDemoChain` after the runs are signed.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createSilentLogger } from '../src/observability/index.js';
import {
  createCommitChecker,
  createLocalEvidence,
  createLocalManifests,
  flagsPolicy,
  renderTraceHtml,
  renderTraceText,
  traceExitCode,
  traceImage,
  type TrustPolicy,
} from '../src/verify/index.js';
import type { CliIo } from '../src/cli/io.js';

type KubeObject = Record<string, unknown>;

export interface DemoChain {
  /** TaskRuns to create before the controller starts. */
  readonly runs: KubeObject[];
  readonly appRef: string;
  /** OpenSSH public key that signed the source commit (undefined when git/ssh-keygen are missing). */
  readonly sshPublicKey?: string;
}

const REGISTRY = 'registry.demo.local/chain';
const NAMESPACE = 'demo-chain';

function sha256(bytes: string | Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function manifestBytes(name: string, base?: { ref: string; digest: string }): string {
  const blob = (what: string): { mediaType: string; digest: string; size: number } => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${sha256(`${name} ${what}`)}`, size: 1024 });
  return JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { ...blob('config'), mediaType: 'application/vnd.oci.image.config.v1+json' },
    layers: [blob('layer')],
    ...(base === undefined ? {} : { annotations: { 'org.opencontainers.image.base.name': base.ref, 'org.opencontainers.image.base.digest': base.digest } }),
  });
}

function taskRun(name: string, image: string, digest: string, git?: { url: string; commit: string }): KubeObject {
  const results = [
    { name: 'IMAGE_URL', type: 'string', value: image },
    { name: 'IMAGE_DIGEST', type: 'string', value: digest },
    ...(git === undefined
      ? []
      : [
          { name: 'CHAINS-GIT_URL', type: 'string', value: git.url },
          { name: 'CHAINS-GIT_COMMIT', type: 'string', value: git.commit },
        ]),
  ];
  return {
    apiVersion: 'tekton.dev/v1',
    kind: 'TaskRun',
    metadata: { name, namespace: NAMESPACE, labels: { 'app.kubernetes.io/managed-by': 'tekton-pipelines', 'tekton.dev/task': name }, annotations: {} },
    spec: { serviceAccountName: 'builder', taskRef: { name: 'buildah', kind: 'Task' } },
    status: {
      conditions: [{ type: 'Succeeded', status: 'True', reason: 'Succeeded', lastTransitionTime: '2026-11-20T10:03:00Z', message: 'All Steps have completed executing' }],
      podName: `${name}-pod`,
      startTime: '2026-11-20T10:00:00Z',
      completionTime: '2026-11-20T10:03:00Z',
      results,
      taskSpec: { steps: [{ name: 'build', image: 'quay.io/buildah/stable:v1.37' }] },
    },
  };
}

/** A local repository with one SSH-signed commit; undefined when git or ssh-keygen is unavailable. */
function signedSource(dir: string): { url: string; commit: string; publicKey: string } | undefined {
  try {
    const repo = path.join(dir, 'app');
    const keyFile = path.join(dir, 'developer-ssh-key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'developer@demo.local', '-f', keyFile], { stdio: 'ignore' });
    execFileSync('git', ['init', '-q', '-b', 'main', repo], { stdio: 'ignore' });
    const id = ['-c', 'user.name=Demo Developer', '-c', 'user.email=developer@demo.local', '-c', 'gpg.format=ssh', '-c', `user.signingkey=${keyFile}`];
    execFileSync('git', ['-C', repo, ...id, 'commit', '-q', '--allow-empty', '-S', '-m', 'app: first release'], { stdio: 'ignore' });
    const commit = execFileSync('git', ['-C', repo, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
    return { url: pathToFileURL(repo).href, commit, publicKey: execFileSync('ssh-keygen', ['-y', '-f', keyFile], { encoding: 'utf8' }).trim() };
  } catch {
    return undefined;
  }
}

/** Writes the chain's manifests into `localRoot/manifests/` and returns its TaskRuns. */
export async function seedDemoChain(outDir: string, localRoot: string): Promise<DemoChain> {
  await mkdir(path.join(localRoot, 'manifests'), { recursive: true });
  const save = async (bytes: string): Promise<string> => {
    const digest = `sha256:${sha256(bytes)}`;
    await writeFile(path.join(localRoot, 'manifests', `${digest.replace(':', '-')}.json`), bytes);
    return digest;
  };
  const os = await save(manifestBytes('os'));
  const base = await save(manifestBytes('base', { ref: `${REGISTRY}/os:1.0`, digest: os }));
  const app = await save(manifestBytes('app', { ref: `${REGISTRY}/base:1.0`, digest: base }));
  await mkdir(path.join(outDir, 'source'), { recursive: true });
  const source = signedSource(path.join(outDir, 'source'));
  const git = source ?? { url: 'https://github.com/example/app', commit: '70e07cf83bacc9aa3641fd9984cc21bc340cfc6f' };
  return {
    runs: [
      taskRun('build-os', `${REGISTRY}/os:1.0`, os),
      taskRun('build-base', `${REGISTRY}/base:1.0`, base),
      taskRun('build-app', `${REGISTRY}/app:1.0`, app, { url: git.url, commit: git.commit }),
    ],
    appRef: `${REGISTRY}/app@${app}`,
    ...(source === undefined ? {} : { sshPublicKey: source.publicKey }),
  };
}

/**
 * Traces the chain's application image from `localRoot` alone (no registry, no network), prints the
 * tree, and with `--out` writes DIR/trace.json and DIR/trace.html. True when the trace passes.
 */
export async function traceDemoChain(io: CliIo, chain: DemoChain, options: { localRoot: string; outDir: string; publicKeyPem: string; keep: boolean }): Promise<boolean> {
  const keyRule = flagsPolicy([{ key: options.publicKeyPem }]);
  const trust: TrustPolicy = {
    ...keyRule,
    rules:
      chain.sshPublicKey === undefined ? [] : [{ name: 'demo-source', images: [], git: ['file:///**'], identities: [], sshKeys: [chain.sshPublicKey] }],
  };
  const graph = await traceImage(chain.appRef, {
    evidence: [await createLocalEvidence(options.localRoot)],
    manifests: createLocalManifests(options.localRoot),
    trust,
    checkCommit: createCommitChecker({ sources: new Map() }),
    logger: createSilentLogger(),
  });
  const code = traceExitCode(graph);
  io.stdout(`\nThe demo's own supply chain, traced offline from ${options.localRoot}:\n\n${renderTraceText(graph)}`);
  if (options.keep) {
    await writeFile(path.join(options.outDir, 'trace.json'), `${JSON.stringify(graph, null, 2)}\n`);
    await writeFile(path.join(options.outDir, 'trace.html'), renderTraceHtml(graph, { ok: code === 0, generatedAt: new Date().toISOString() }));
    io.stdout(`Trace: ${path.join(options.outDir, 'trace.json')}, ${path.join(options.outDir, 'trace.html')}\n`);
  }
  const verified = graph.nodes.filter((n) => n.kind === 'image' && n.verdict === 'verified').length;
  return code === 0 && verified >= 3;
}
