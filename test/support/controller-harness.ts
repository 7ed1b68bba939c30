/**
 * End-to-end harness: the project's fake Kubernetes API server, a real Redis, a real registry
 * (CNCF Distribution), the mock Rekor, a signing-secrets directory with a throwaway `x509.pem`, and
 * controllers started in-process (`startController`) or as a child process (to SIGKILL it).
 *
 * The API server enforces RBAC: the ServiceAccount, roles and bindings of `manifests/` (or of
 * `rbacTarget`) are applied to it, and every controller runs as that ServiceAccount (in-process
 * with its token, as a child process through the in-cluster path: `KUBERNETES_SERVICE_HOST`/`PORT`
 * and the token and CA files). Test setup goes straight to the server's store, like an admin.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SerializedBundle } from '@sigstore/bundle';
import { startController, type Controller } from '../../src/main.js';
import { createCapturingLogger, createMetrics, createSilentLogger, type Logger, type Metrics } from '../../src/observability/index.js';
import { createBullQueue, createMemoryQueue, type JobQueue } from '../../src/queue/index.js';
import { createOciReader, type DockerCredentials } from '../../src/storage/index.js';
import { loadKubeConfig, type KubeClientConfig, payloadAnnotation, signatureAnnotation, signedAnnotation } from '../../src/tekton/index.js';
import { createFakeKubeServer, type FakeKubeServer, type KubeObject } from './fake-kube-server.js';
import { applyControllerIdentity, writeInClusterFiles, type ControllerIdentity } from './manifest-rbac.js';
import { verifyBundle } from '../../src/verify/index.js';
import { pushTestImage, type PushedImage } from './oci-image.js';
import { startRedis, startRegistry, type RedisHandle, type RegistryHandle } from './services.js';
import { startSigstoreMock, type SigstoreMock } from './sigstore-mock.js';

export const configNamespace = 'tekton-chains';
export const runNamespace = 'builds';

export interface E2eEnvironment {
  readonly kube: FakeKubeServer;
  readonly redis: RedisHandle | undefined;
  readonly registry: RegistryHandle;
  readonly sigstore: SigstoreMock;
  /** Signing-secrets directory holding a throwaway `x509.pem` (test-only key). */
  readonly secretsDir: string;
  readonly publicKeyPem: string;
  /** The chains-config data every scenario starts from. */
  readonly configData: Record<string, string>;
  /** The controller's ServiceAccount from the manifests, with its token and kubeconfig. */
  readonly identity: ControllerIdentity;
  /** Root of the pod's service account files (`loadKubeConfig({ inClusterRoot })`). */
  readonly inClusterRoot: string;
  /** `KUBERNETES_SERVICE_HOST`/`PORT` as a pod gets them. */
  readonly inClusterEnv: Readonly<Record<string, string>>;
  stop(): Promise<void>;
}

export interface E2eOptions {
  readonly redis?: boolean;
  readonly registryAuth?: { username: string; password: string };
  /** Kustomize target whose RBAC the controller gets; default `manifests` (the base). */
  readonly rbacTarget?: string;
}

export async function startE2eEnvironment(options: E2eOptions = {}): Promise<E2eEnvironment> {
  const [kube, redis, registry, sigstore] = await Promise.all([
    createFakeKubeServer({ bookmarkIntervalMs: 0 }),
    options.redis === false ? Promise.resolve(undefined) : startRedis(),
    startRegistry(options.registryAuth ? { auth: options.registryAuth } : {}),
    startSigstoreMock(),
  ]);
  const secretsDir = await mkdtemp(path.join(tmpdir(), 'provenant-e2e-secrets-'));
  // Throwaway test key, generated per run (never committed).
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  await writeFile(path.join(secretsDir, 'x509.pem'), privateKey.export({ format: 'pem', type: 'pkcs8' }));
  const publicKeyPem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
  kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: configNamespace } });
  kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: runNamespace } });
  const configData = {
    'artifacts.taskrun.storage': 'tekton,oci',
    'artifacts.pipelinerun.storage': 'tekton,oci',
    'artifacts.oci.storage': 'oci',
    'storage.oci.encoding-format': 'both',
    'transparency.enabled': 'true',
    'transparency.url': sigstore.rekorUrl,
    'signers.secret.path': secretsDir,
  };
  kube.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'chains-config', namespace: configNamespace }, data: configData });
  const identity = await applyControllerIdentity(kube, options.rbacTarget === undefined ? {} : { target: options.rbacTarget });
  if (identity.namespace !== configNamespace) throw new Error(`manifests install into ${identity.namespace}, the harness expects ${configNamespace}`);
  const inClusterRoot = await mkdtemp(path.join(tmpdir(), 'provenant-e2e-pod-'));
  const inClusterEnv = await writeInClusterFiles(kube, identity, inClusterRoot);
  return {
    kube,
    redis,
    registry,
    sigstore,
    secretsDir,
    publicKeyPem,
    configData,
    identity,
    inClusterRoot,
    inClusterEnv,
    stop: async () => {
      await Promise.allSettled([kube.stop(), redis?.stop(), registry.stop(), sigstore.stop()]);
      await rm(secretsDir, { recursive: true, force: true });
      await rm(inClusterRoot, { recursive: true, force: true });
    },
  };
}

export interface ControllerInstance {
  readonly controller: Controller;
  readonly queue: JobQueue;
  readonly metrics: Metrics;
  /** Captured log lines (JSON), when `capture` was asked. */
  readonly lines: string[];
  stop(graceful?: boolean): Promise<void>;
}

export interface InstanceOptions {
  readonly queueName?: string;
  readonly attempts?: number;
  readonly concurrency?: number;
  readonly capture?: boolean;
  /** Use the in-process queue instead of Redis. */
  readonly memoryQueue?: boolean;
  readonly ociCredentials?: DockerCredentials;
  /** Run with this kubeconfig instead of the manifests' ServiceAccount. */
  readonly kubeconfigYaml?: string;
  /** Run with this client configuration (e.g. the in-cluster one). */
  readonly kubeConfig?: KubeClientConfig;
}

export async function startInstance(env: E2eEnvironment, options: InstanceOptions = {}): Promise<ControllerInstance> {
  const captured = options.capture ? createCapturingLogger('info') : undefined;
  const logger: Logger = captured?.logger ?? createSilentLogger();
  const metrics = createMetrics();
  const backoff = { baseMs: 100, maxMs: 400 };
  const attempts = options.attempts ?? 5;
  const queue =
    options.memoryQueue || env.redis === undefined
      ? createMemoryQueue({ logger, attempts, backoff })
      : await createBullQueue({
          logger,
          attempts,
          backoff,
          redisUrl: env.redis.url,
          queueName: options.queueName ?? 'e2e',
          lockDurationMs: 3000,
          stalledIntervalMs: 1000,
        });
  const controller = await startController({
    kubeConfig: options.kubeConfig ?? loadKubeConfig({ kubeconfigYaml: options.kubeconfigYaml ?? env.identity.kubeconfigYaml }),
    queue,
    logger,
    metrics,
    configNamespace,
    concurrency: options.concurrency ?? 8,
    watchBackoff: { initialMs: 50, maxMs: 500 },
    deferredRecheckMs: 300,
    ...(options.ociCredentials ? { wiring: { ociCredentials: options.ociCredentials } } : {}),
  });
  return {
    controller,
    queue,
    metrics,
    lines: captured?.lines ?? [],
    stop: (graceful = true) => controller.stop({ timeoutMs: graceful ? 10_000 : 0 }),
  };
}

/** Runs `test/support/controller-child.ts` in its own Node process (same Node as the tests). */
export function spawnControllerProcess(env: E2eEnvironment, options: { queueName: string }): { child: ChildProcess; ready: Promise<void> } {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'controller-child.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    env: {
      ...process.env,
      ...env.inClusterEnv,
      CHILD_IN_CLUSTER_ROOT: env.inClusterRoot,
      CHILD_REDIS_URL: env.redis?.url ?? '',
      CHILD_QUEUE: options.queueName,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const ready = new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('READY')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`controller child exited early (${String(code)})`)));
  });
  return { child, ready };
}

// ---- runs ----

const isoNow = (offsetMs = 0): string => new Date(Date.now() + offsetMs).toISOString();

function succeeded(): Record<string, unknown> {
  return {
    conditions: [{ type: 'Succeeded', status: 'True', reason: 'Succeeded', lastTransitionTime: isoNow() }],
    startTime: isoNow(-60_000),
    completionTime: isoNow(),
  };
}

export interface TaskRunOptions {
  readonly image?: PushedImage;
  /** Raw IMAGE_DIGEST value (e.g. an invalid one). */
  readonly digestValue?: string;
  readonly parent?: { readonly name: string; readonly uid: string; readonly task: string };
  readonly serviceAccountName?: string;
  readonly done?: boolean;
}

export function taskRunObject(name: string, options: TaskRunOptions = {}): KubeObject {
  const results = options.image
    ? [
        { name: 'IMAGE_URL', type: 'string', value: options.image.name },
        { name: 'IMAGE_DIGEST', type: 'string', value: options.digestValue ?? options.image.digest },
      ]
    : [{ name: 'commit', type: 'string', value: '1702d6c54e63dbda543900eb8b744314b68e6bf5' }];
  return {
    apiVersion: 'tekton.dev/v1',
    kind: 'TaskRun',
    metadata: {
      name,
      namespace: runNamespace,
      labels: options.parent
        ? { 'tekton.dev/pipelineRun': options.parent.name, 'tekton.dev/pipelineTask': options.parent.task, 'app.kubernetes.io/managed-by': 'tekton-pipelines' }
        : {},
      annotations: {},
      ...(options.parent
        ? { ownerReferences: [{ apiVersion: 'tekton.dev/v1', kind: 'PipelineRun', name: options.parent.name, uid: options.parent.uid, controller: true, blockOwnerDeletion: true }] }
        : {}),
    },
    spec: { taskRef: { name: 'kaniko', kind: 'Task' }, serviceAccountName: options.serviceAccountName ?? 'pipeline', timeout: '1h0m0s' },
    status: {
      ...(options.done === false ? { conditions: [{ type: 'Succeeded', status: 'Unknown', reason: 'Running' }], startTime: isoNow() } : succeeded()),
      podName: `${name}-pod`,
      steps: [
        {
          name: 'build',
          container: 'step-build',
          imageID: 'docker-pullable://gcr.io/kaniko-project/executor@sha256:c6166717f7fe0b7da44908c986137ecfeab21f31ec3992f6e128fff8a94be8a5',
          terminated: { exitCode: 0, reason: 'Completed', startedAt: isoNow(-50_000), finishedAt: isoNow(-1000) },
        },
      ],
      results,
      taskSpec: { steps: [{ name: 'build', image: 'gcr.io/kaniko-project/executor:v1.9.0', script: 'build' }] },
    },
  };
}

export function pipelineRunObject(name: string, image: PushedImage, children: readonly string[], done = true): KubeObject {
  return {
    apiVersion: 'tekton.dev/v1',
    kind: 'PipelineRun',
    metadata: { name, namespace: runNamespace, labels: { 'tekton.dev/pipeline': 'release' }, annotations: {} },
    spec: { pipelineRef: { name: 'release' }, taskRunTemplate: { serviceAccountName: 'pipeline' } },
    status: {
      ...(done ? succeeded() : { conditions: [{ type: 'Succeeded', status: 'Unknown', reason: 'Running' }], startTime: isoNow() }),
      childReferences: children.map((c) => ({ apiVersion: 'tekton.dev/v1', kind: 'TaskRun', name: `${name}-${c}`, pipelineTaskName: c })),
      results: [
        { name: 'IMAGE_URL', value: image.name },
        { name: 'IMAGE_DIGEST', value: image.digest },
      ],
      pipelineSpec: { tasks: children.map((c) => ({ name: c, taskRef: { name: c, kind: 'Task' } })) },
    },
  };
}

/** Creates a PipelineRun and its clone + build children (the build child produced `image`). */
export function createPipelineRun(kube: FakeKubeServer, name: string, image: PushedImage): { pipelineRun: KubeObject; children: KubeObject[] } {
  const pr = kube.create(pipelineRunObject(name, image, ['clone', 'build']));
  const uid = String(pr.metadata?.['uid']);
  const children = [
    kube.create(taskRunObject(`${name}-clone`, { parent: { name, uid, task: 'clone' } })),
    kube.create(taskRunObject(`${name}-build`, { image, parent: { name, uid, task: 'build' } })),
  ];
  return { pipelineRun: pr, children };
}

export async function pushImages(registry: RegistryHandle, prefix: string, n: number, credentials?: DockerCredentials): Promise<PushedImage[]> {
  const out: PushedImage[] = [];
  for (let i = 0; i < n; i += 16) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(16, n - i) }, (_, j) =>
        pushTestImage({ host: registry.host, repository: `${prefix}/app-${i + j}`, seed: `${prefix}-${i + j}`, ...(credentials ? { credentials } : {}) }),
      ),
    );
    out.push(...batch);
  }
  return out;
}

/** Replaces the chains-config ConfigMap's data (the controller's config watcher applies it). */
export function setChainsConfig(env: E2eEnvironment, data: Record<string, string>): void {
  env.kube.update({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'chains-config', namespace: configNamespace }, data });
}

/** An image that was never pushed, for storages that never read the image: the digest is made up from the name. */
export function unpushedImage(prefix: string, name: string): PushedImage {
  const hex = Buffer.from(name).toString('hex').padEnd(64, '0').slice(0, 64);
  const repository = `${prefix}/${name}`;
  return { name: `registry.invalid/${repository}`, repository, digest: `sha256:${hex}`, hex, ref: `registry.invalid/${repository}@sha256:${hex}` } as PushedImage;
}

// ---- observing ----

export type RunRef = { apiVersion: string; kind: string; namespace: string; name: string };

export const refOf = (obj: KubeObject): RunRef => ({
  apiVersion: 'tekton.dev/v1',
  kind: String(obj.kind),
  namespace: String(obj.metadata?.['namespace']),
  name: String(obj.metadata?.['name']),
});

export function annotationsOf(kube: FakeKubeServer, ref: RunRef): Record<string, string> {
  return (kube.get(ref)?.metadata?.['annotations'] ?? {}) as Record<string, string>;
}

export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export function signedState(kube: FakeKubeServer, refs: readonly RunRef[]): { signed: number; failed: number; pending: number } {
  let signed = 0;
  let failed = 0;
  for (const r of refs) {
    const v = annotationsOf(kube, r)[signedAnnotation];
    if (v === 'true') signed++;
    else if (v === 'failed') failed++;
  }
  return { signed, failed, pending: refs.length - signed - failed };
}

const bundleMediaType = 'application/vnd.dev.sigstore.bundle.v0.3+json';

/** Key-only bundles rebuilt from the `tekton` storage annotations of a run (provenance + image signatures). */
export function bundlesFromTektonAnnotations(annotations: Readonly<Record<string, string>>): { shortKey: string; bundle: SerializedBundle; payload: Buffer }[] {
  const out: { shortKey: string; bundle: SerializedBundle; payload: Buffer }[] = [];
  for (const [k, v] of Object.entries(annotations)) {
    if (!k.startsWith(payloadAnnotation(''))) continue;
    const shortKey = k.slice(payloadAnnotation('').length);
    const sig = annotations[signatureAnnotation(shortKey)];
    if (sig === undefined) continue;
    const payload = Buffer.from(v, 'base64');
    const sigBytes = Buffer.from(sig, 'base64');
    const verificationMaterial = { publicKey: { hint: '' }, tlogEntries: [], timestampVerificationData: { rfc3161Timestamps: [] } };
    const isEnvelope = sigBytes[0] === 0x7b; // '{': a DSSE envelope (provenance)
    const bundle = (
      isEnvelope
        ? { mediaType: bundleMediaType, verificationMaterial, dsseEnvelope: JSON.parse(sigBytes.toString('utf8')) as unknown }
        : {
            mediaType: bundleMediaType,
            verificationMaterial,
            messageSignature: { messageDigest: { algorithm: 'SHA2_256', digest: createHash('sha256').update(payload).digest('base64') }, signature: sig },
          }
    ) as unknown as SerializedBundle;
    out.push({ shortKey, bundle, payload });
  }
  return out;
}

/**
 * Verifies everything stored for the images (registry: bundles, `.att`, `.sig`) with the key and the
 * mock's trusted root (so each Rekor entry is checked too). Returns counts per kind.
 */
export async function verifyRegistry(env: E2eEnvironment, images: readonly PushedImage[], credentials?: DockerCredentials): Promise<{ bundles: number; envelopes: number; signatures: number }> {
  const reader = createOciReader({ config: { repository: undefined, insecure: true }, logger: createSilentLogger(), credentials });
  const policy = { key: env.publicKeyPem, trustedRoot: env.sigstore.trustedRoot, requireTlog: true } as const;
  let bundles = 0;
  let envelopes = 0;
  let signatures = 0;
  for (let i = 0; i < images.length; i += 16) {
    const results = await Promise.all(images.slice(i, i + 16).map((img) => reader.readAttestations(img.ref)));
    for (const r of results) {
      for (const b of r.bundles) {
        // A message-signature bundle signs the simple-signing payload, which the `.sig` layer carries.
        const payload = b.messageSignature ? r.signatures[0]?.payload : undefined;
        verifyBundle(b, policy, payload ? { artifact: Buffer.from(payload) } : {});
        bundles++;
      }
      for (const e of r.envelopes) {
        if (e.bundle === undefined) throw new Error('.att layer without a Rekor bundle annotation');
        verifyBundle(e.bundle, policy);
        envelopes++;
      }
      for (const s of r.signatures) {
        if (s.bundle === undefined) throw new Error('.sig layer without a Rekor bundle annotation');
        verifyBundle(s.bundle, policy, { artifact: Buffer.from(s.payload) });
        signatures++;
      }
    }
  }
  return { bundles, envelopes, signatures };
}

/** Verifies the `tekton` storage annotations of every run with the key; returns the number verified. */
export function verifyTektonAnnotations(env: E2eEnvironment, refs: readonly RunRef[]): number {
  let n = 0;
  for (const r of refs) {
    for (const { bundle, payload } of bundlesFromTektonAnnotations(annotationsOf(env.kube, r))) {
      verifyBundle(bundle, { key: env.publicKeyPem }, bundle.messageSignature ? { artifact: payload } : {});
      n++;
    }
  }
  return n;
}
