/**
 * The loopback world a benchmark runs in: the project's fake Kubernetes API server (in this
 * process), real Redis and CNCF Distribution (child processes), the mock Rekor (in this process),
 * and controller child processes (`bench/controller-entry.ts`) whose RSS/CPU are theirs alone.
 *
 * "Signed" is observed from the API server's side: every PATCH of a TaskRun is checked for
 * `chains.tekton.dev/signed=true`, and the first time it is seen the time is recorded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parse as parseYaml } from 'yaml';
import { createFakeKubeServer, type FakeKubeServer, type KubeObject, type RequestLogEntry } from '../../test/support/fake-kube-server.js';
import { startRedis, startRegistry, type RedisHandle, type RegistryHandle } from '../../test/support/services.js';
import { startSigstoreMock, type SigstoreMock } from '../../test/support/sigstore-mock.js';
import { benchDir, repoRoot, waitFor } from './common.js';

/**
 * V8 flags for the controller process only (never the harness, which holds every run): by default
 * the ones the Deployment sets (`NODE_OPTIONS` in manifests/base/controller.yaml: heap cap and young
 * generation size), so figures are the production configuration's. `BENCH_CONTROLLER_NODE_FLAGS=''`
 * measures without them. Results record them (`controllerNodeFlags`).
 */
export const controllerNodeFlags = process.env['BENCH_CONTROLLER_NODE_FLAGS'] ?? '--max-old-space-size=192 --max-semi-space-size=4';

export const signedKey = 'chains.tekton.dev/signed';

export interface StackOptions {
  readonly redis?: boolean;
  readonly registry?: boolean;
  readonly rekor?: boolean;
  /** chains-config data; merged over the defaults below. */
  readonly config?: Record<string, string>;
  readonly historyLimit?: number;
}

export interface SignedTracker {
  /** Run name → epoch ms when `signed=true` was first seen. */
  readonly signedAt: Map<string, number>;
  /** Run name → epoch ms when `signed=failed` was first seen. */
  readonly failedAt: Map<string, number>;
  /** Called on each newly signed run. */
  onSigned: ((name: string, at: number) => void) | undefined;
}

export interface Stack {
  readonly kube: FakeKubeServer;
  readonly redis: RedisHandle | undefined;
  readonly registry: RegistryHandle | undefined;
  readonly rekor: SigstoreMock | undefined;
  readonly tracker: SignedTracker;
  readonly tmp: string;
  /** Requests counted since the last `resetRequestCount`. */
  requestCount(): number;
  requestsByVerb(): Record<string, number>;
  resetRequestCount(): void;
  stop(): Promise<void>;
}

const runPath = /^\/apis\/tekton\.dev\/v1(?:beta1)?\/namespaces\/([^/]+)\/taskruns\/([^/]+)$/;

export async function startStack(options: StackOptions): Promise<Stack> {
  const tmp = await mkdtemp(path.join(tmpdir(), 'provenant-bench-'));
  // One at a time: `freePort` closes its probe socket before the child binds, so a server listening
  // on port 0 in the meantime could take the very port and pass for the child in `waitForPort`.
  const redis = options.redis ? await startRedis() : undefined;
  const registry = options.registry ? await startRegistry() : undefined;
  const rekor = options.rekor ? await startSigstoreMock() : undefined;
  const kube = await createFakeKubeServer({ historyLimit: options.historyLimit ?? 10_000, bookmarkIntervalMs: 5000 });
  kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'tekton-chains' } });
  const data: Record<string, string> = {
    'artifacts.taskrun.storage': 'tekton',
    'artifacts.oci.storage': 'tekton',
    'artifacts.pipelinerun.storage': 'tekton',
    ...(rekor ? { 'transparency.enabled': 'true', 'transparency.url': rekor.url } : {}),
    ...(registry ? { 'storage.oci.repository.insecure': 'true' } : {}),
    ...options.config,
  };
  kube.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'chains-config', namespace: 'tekton-chains' }, data });

  const tracker: SignedTracker = { signedAt: new Map(), failedAt: new Map(), onSigned: undefined };
  let counted = 0;
  const verbs: Record<string, number> = {};
  const log = kube.requestLog;
  const push = log.push.bind(log);
  // The fake server appends to its request log once a response is sent; watching it costs nothing
  // in the controller and tells us the moment a run's final annotation patch landed.
  log.push = (...entries: RequestLogEntry[]): number => {
    for (const e of entries) {
      counted++;
      const verb = e.query['watch'] === 'true' || e.query['watch'] === '1' ? 'WATCH' : e.method;
      verbs[verb] = (verbs[verb] ?? 0) + 1;
      if (e.method !== 'PATCH' || e.status >= 300) continue;
      const m = runPath.exec(e.path);
      if (m?.[1] === undefined || m[2] === undefined) continue;
      const name = m[2];
      if (tracker.signedAt.has(name)) continue;
      const obj = kube.get({ apiVersion: 'tekton.dev/v1', kind: 'TaskRun', namespace: m[1], name });
      const annotations = (obj?.['metadata'] as { annotations?: Record<string, string> } | undefined)?.annotations;
      if (annotations?.[signedKey] === 'true') {
        const at = Date.now();
        tracker.signedAt.set(name, at);
        tracker.onSigned?.(name, at);
      } else if (annotations?.[signedKey] === 'failed' && !tracker.failedAt.has(name)) {
        tracker.failedAt.set(name, Date.now());
      }
    }
    // Keep the log from growing without bound over 50,000-run benchmarks.
    if (log.length > 10_000) log.length = 0;
    return push(...entries);
  };

  return {
    kube,
    redis,
    registry,
    rekor,
    tracker,
    tmp,
    requestCount: () => counted,
    requestsByVerb: () => ({ ...verbs }),
    resetRequestCount: () => {
      counted = 0;
      for (const k of Object.keys(verbs)) delete verbs[k];
    },
    stop: async () => {
      await kube.stop().catch(() => undefined);
      await Promise.all([redis?.stop(), registry?.stop(), rekor?.stop()].map((p) => p?.catch(() => undefined)));
    },
  };
}

export interface ControllerProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  readonly spawnedAt: number;
  /** Epoch ms of each event the child reported (`started`, `ready`, `idle`, `stopped`). */
  readonly events: Map<string, number>;
  waitEvent(name: string, timeoutMs: number): Promise<number>;
  /** Throws when the process has exited (with its last stderr). */
  assertAlive(): void;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
}

export interface ControllerSpawnOptions {
  readonly concurrency: number;
  readonly role?: 'all' | 'watch' | 'work';
  /** Use BullMQ on this Redis; default the in-process queue. */
  readonly redisUrl?: string;
  readonly logFile?: string;
  readonly logLevel?: string;
  /** A compiled controller entry (bench/lib/compiled.ts) to run instead of bench/controller-entry.ts through tsx. */
  readonly entry?: string;
  /** More environment for the child (e.g. `BENCH_STAGE_FILE`). */
  readonly env?: Readonly<Record<string, string>>;
}

export function spawnController(stack: Stack, options: ControllerSpawnOptions): ControllerProcess {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // As JSON (which is YAML): in a pod the controller reads its service account files and never
    // loads a YAML parser (~10 MB), so neither does the benchmark's controller.
    BENCH_KUBECONFIG_YAML: JSON.stringify(parseYaml(stack.kube.kubeconfigYaml)),
    BENCH_CONCURRENCY: String(options.concurrency),
    BENCH_ROLE: options.role ?? 'all',
    BENCH_LOG_FILE: options.logFile ?? path.join(stack.tmp, `controller-${Date.now()}.log`),
    BENCH_LOG_LEVEL: options.logLevel ?? process.env['BENCH_LOG_LEVEL'] ?? 'info',
    REDIS_URL: options.redisUrl ?? '',
    ...options.env,
  };
  const spawnedAt = Date.now();
  const v8Flags = controllerNodeFlags.split(' ').filter((f) => f !== '');
  const program = options.entry === undefined ? ['--import', 'tsx', path.join(benchDir, 'controller-entry.ts')] : [options.entry];
  const child = spawn(process.execPath, [...v8Flags, ...program], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const events = new Map<string, number>();
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  if (child.stdout) {
    createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        const ev = JSON.parse(line) as { event?: string; at?: number };
        if (typeof ev.event === 'string') events.set(ev.event, ev.at ?? Date.now());
      } catch {
        // not ours
      }
    });
  }
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  return {
    pid: child.pid ?? -1,
    child,
    spawnedAt,
    events,
    async waitEvent(name, timeoutMs) {
      await waitFor(
        () => {
          if (exited && !events.has(name)) throw new Error(`controller exited before '${name}': ${stderr}`);
          return events.has(name);
        },
        timeoutMs,
        `controller event ${name}`,
      );
      return events.get(name) ?? Date.now();
    },
    assertAlive() {
      if (exited) throw new Error(`controller exited: ${stderr}`);
    },
    async stop() {
      if (exited) return;
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
      });
    },
  };
}

/** A namespace with the `pipeline` ServiceAccount the runs name (no pull secrets: the registry is open). */
export function ensureNamespace(kube: FakeKubeServer, name: string): void {
  if (kube.get({ apiVersion: 'v1', kind: 'Namespace', name }) !== undefined) return;
  kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  kube.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'pipeline', namespace: name } });
}

/**
 * Creates `objects` in the API server; returns the stored objects (with uids). The server stamps
 * `creationTimestamp` from `new Date()`; `ageMs` makes that clock read earlier while creating, so a
 * backlog can carry the creation times a real backlog has (runs created before the controller came up).
 */
export function createAll(kube: FakeKubeServer, objects: Iterable<KubeObject>, ageMs = 0): KubeObject[] {
  const RealDate = Date;
  if (ageMs > 0) {
    globalThis.Date = class extends RealDate {
      constructor(...args: ConstructorParameters<DateConstructor> | []) {
        if (args.length === 0) super(RealDate.now() - ageMs);
        else super(...(args as ConstructorParameters<DateConstructor>));
      }
    } as DateConstructor;
  }
  try {
    const out: KubeObject[] = [];
    for (const o of objects) out.push(kube.create(o));
    return out;
  } finally {
    globalThis.Date = RealDate;
  }
}
