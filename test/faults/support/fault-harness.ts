/**
 * Fault-suite harness: a backlog of runs, a controller (in-process or as a child process that can be
 * SIGKILLed), and the end-of-scenario audit every scenario shares: every stored bundle verified
 * (local storage with its Rekor entry against the mock's trusted root, tekton annotations with the
 * key), Rekor entries counted per run through the payload hash, signed annotations counted. The
 * results table is written only when asked for (`FAULTS_RESULTS=<dir>`, as `npm run faults:long`
 * does): a plain test run has no side effect on the tree.
 *
 * Scale: `FAULTS_SCALE` multiplies the backlog (default 1 → 200 TaskRuns + 10 PipelineRuns with 2
 * children each = 230 runs); `FAULTS_LONG=1` (npm run faults:long) sets scale 5 and the full fault
 * durations.
 */
import { expect } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startController, type Controller, type ControllerOptions } from '../../../src/main.js';
import { createCapturingLogger, createMetrics, type Metrics } from '../../../src/observability/index.js';
import { createBullQueue, createMemoryQueue, type JobQueue } from '../../../src/queue/index.js';
import { readLocal } from '../../../src/storage/index.js';
import { loadKubeConfig, signedAnnotation } from '../../../src/tekton/index.js';
import type { FakeKubeServer, KubeObject } from '../../support/fake-kube-server.js';
import { verifyBundle } from '../../../src/verify/index.js';
import {
  annotationsOf,
  bundlesFromTektonAnnotations,
  configNamespace,
  pipelineRunObject,
  refOf,
  runNamespace,
  startE2eEnvironment,
  taskRunObject,
  type E2eEnvironment,
  type RunRef,
} from '../../support/controller-harness.js';
import type { PushedImage } from '../../support/oci-image.js';

export const longRun = process.env['FAULTS_LONG'] === '1';
export const scale = Number(process.env['FAULTS_SCALE'] ?? (longRun ? 5 : 1));
/** TaskRuns in a standard backlog (PipelineRuns and their children come on top). */
export const backlogTaskRuns = Math.max(20, Math.round(200 * scale));
/** Timeout for a whole scenario, grown with the scale. */
export const scenarioTimeoutMs = Math.round(150_000 * Math.max(1, scale));

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/** Where results rows go, when asked for (`FAULTS_RESULTS`, relative to the repository); else nowhere. */
export const resultsDir: string | undefined = process.env['FAULTS_RESULTS'] ? path.resolve(repoRoot, process.env['FAULTS_RESULTS']) : undefined;

/** Writes a results file when `FAULTS_RESULTS` asks for one; a no-op otherwise. */
export async function writeResult(name: string, text: string, mode: 'append' | 'replace' = 'replace'): Promise<void> {
  if (resultsDir === undefined) return;
  await mkdir(resultsDir, { recursive: true });
  await (mode === 'append' ? appendFile : writeFile)(path.join(resultsDir, name), text);
}

export interface FaultEnvironment extends E2eEnvironment {
  /** `storage.local.path`: full bundles (with the Rekor entry) land here. */
  readonly localDir: string;
  /** The chains-config data the scenario starts from (local + tekton storage, Rekor on, no image signatures). */
  readonly faultConfig: Record<string, string>;
  setConfig(data: Record<string, string>): void;
  /** Strings a log line must never contain (signing key, kube token, passwords). */
  readonly secrets: string[];
}

export async function startFaultEnvironment(options: { redis?: boolean; rbacTarget?: string } = {}): Promise<FaultEnvironment> {
  const base = await startE2eEnvironment({ redis: options.redis ?? false, ...(options.rbacTarget === undefined ? {} : { rbacTarget: options.rbacTarget }) });
  const localDir = await mkdtemp(path.join(tmpdir(), 'provenant-faults-local-'));
  const faultConfig: Record<string, string> = {
    ...base.configData,
    'artifacts.taskrun.storage': 'tekton,local',
    'artifacts.pipelinerun.storage': 'tekton,local',
    'artifacts.oci.signer': 'none',
    'storage.local.path': localDir,
  };
  const cmRef = { apiVersion: 'v1', kind: 'ConfigMap', namespace: configNamespace, name: 'chains-config' };
  const setConfig = (data: Record<string, string>): void => {
    const cm = base.kube.get(cmRef);
    if (cm === undefined) throw new Error('no chains-config ConfigMap');
    base.kube.update({ ...cm, data });
  };
  setConfig(faultConfig);
  const keyPem = await readFile(path.join(base.secretsDir, 'x509.pem'), 'utf8');
  const secrets = [
    // Every base64 line of the private key (a partial leak counts too).
    ...keyPem.split('\n').filter((l) => l.length >= 40 && !l.startsWith('-----')),
    ...base.kube.kubeconfig.users.map((u) => u.token),
    base.identity.token,
  ];
  return {
    ...base,
    localDir,
    faultConfig,
    setConfig,
    secrets,
    stop: async () => {
      await base.stop();
      await rm(localDir, { recursive: true, force: true });
    },
  };
}

// ---- backlog ----

/** A subject-shaped image that was never pushed: provenance names it, nothing is stored for it. */
export function fakeImage(seed: string): PushedImage {
  const hex = createHash('sha256').update(seed).digest('hex');
  const name = `registry.example.com/faults/${seed.replace(/[^a-z0-9-]/g, '-')}`;
  return { name, repository: `faults/${seed}`, digest: `sha256:${hex}`, hex, ref: `${name}@sha256:${hex}` } as PushedImage;
}

export interface BacklogOptions {
  /** Default `backlogTaskRuns`. */
  readonly taskRuns?: number;
  /** Image per TaskRun index (default: a fake, never pushed image). */
  readonly images?: readonly PushedImage[];
  /** One PipelineRun (clone + build children) per 20 TaskRuns; default true. */
  readonly pipelineRuns?: boolean;
}

/**
 * Creates the TaskRuns plus one PipelineRun (with clone + build children) per 20 TaskRuns. Every
 * run is done, so a controller started afterwards has the whole backlog at its first list.
 */
export function createBacklog(kube: FakeKubeServer, prefix: string, options: BacklogOptions = {}): RunRef[] {
  const taskRuns = options.taskRuns ?? backlogTaskRuns;
  const refs: RunRef[] = [];
  const imageAt = (i: number): PushedImage => options.images?.[i] ?? fakeImage(`${prefix}-${i}`);
  for (let i = 0; i < taskRuns; i++) refs.push(refOf(kube.create(taskRunObject(`${prefix}-tr-${i}`, { image: imageAt(i) }))));
  const pipelines = options.pipelineRuns === false ? 0 : Math.floor(taskRuns / 20);
  for (let p = 0; p < pipelines; p++) {
    const name = `${prefix}-pr-${p}`;
    const image = fakeImage(`${prefix}-pr-${p}`);
    const pr = kube.create(pipelineRunObject(name, image, ['clone', 'build']));
    const uid = String(pr.metadata?.['uid']);
    refs.push(refOf(pr));
    refs.push(refOf(kube.create(taskRunObject(`${name}-clone`, { parent: { name, uid, task: 'clone' } }))));
    refs.push(refOf(kube.create(taskRunObject(`${name}-build`, { image, parent: { name, uid, task: 'build' } }))));
  }
  return refs;
}

export function reconciledCount(kube: FakeKubeServer, refs: readonly RunRef[]): number {
  let n = 0;
  for (const r of refs) {
    const v = annotationsOf(kube, r)[signedAnnotation];
    if (v === 'true' || v === 'failed') n++;
  }
  return n;
}

export function signedCount(kube: FakeKubeServer, refs: readonly RunRef[]): number {
  return refs.filter((r) => annotationsOf(kube, r)[signedAnnotation] === 'true').length;
}

export async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---- controllers ----

export interface FaultController {
  readonly controller: Controller;
  readonly queue: JobQueue;
  readonly metrics: Metrics;
  /** Every log line (JSON, debug level). */
  readonly lines: string[];
  stop(): Promise<void>;
}

export async function startFaultController(
  env: FaultEnvironment,
  options: {
    queueName?: string;
    attempts?: number;
    backoff?: { baseMs: number; maxMs: number };
    concurrency?: number;
    wiring?: ControllerOptions['wiring'];
  } = {},
): Promise<FaultController> {
  const { logger, lines } = createCapturingLogger('debug');
  const metrics = createMetrics();
  const attempts = options.attempts ?? 5;
  const backoff = options.backoff ?? { baseMs: 100, maxMs: 1000 };
  const queue =
    env.redis === undefined || options.queueName === undefined
      ? createMemoryQueue({ logger, attempts, backoff })
      : await createBullQueue({
          logger,
          attempts,
          backoff,
          redisUrl: env.redis.url,
          queueName: options.queueName,
          lockDurationMs: 3000,
          stalledIntervalMs: 1000,
        });
  const controller = await startController({
    kubeConfig: loadKubeConfig({ kubeconfigYaml: env.identity.kubeconfigYaml }),
    queue,
    logger,
    metrics,
    configNamespace,
    concurrency: options.concurrency ?? 8,
    watchBackoff: { initialMs: 50, maxMs: 500 },
    deferredRecheckMs: 300,
    ...(options.wiring ? { wiring: options.wiring } : {}),
  });
  return { controller, queue, metrics, lines, stop: () => controller.stop({ timeoutMs: 10_000 }) };
}

export interface ChildController {
  readonly child: ChildProcess;
  /** Resolves once the controller is watching. */
  readonly ready: Promise<void>;
  /** Resolves when the process has exited (any way). */
  readonly exited: Promise<void>;
}

/** `test/support/controller-child.ts` in its own Node process, logging JSON lines (debug) into `lines`. */
export function spawnChildController(env: FaultEnvironment, queueName: string, lines: string[]): ChildController {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'support', 'controller-child.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    env: {
      ...process.env,
      ...env.inClusterEnv,
      CHILD_IN_CLUSTER_ROOT: env.inClusterRoot,
      CHILD_REDIS_URL: env.redis?.url ?? '',
      CHILD_QUEUE: queueName,
      CHILD_LOG_LEVEL: 'debug',
      CHILD_BACKOFF_MAX_MS: '1000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let pending = '';
  child.stderr?.on('data', (d: Buffer) => {
    pending += d.toString('utf8');
    const parts = pending.split('\n');
    pending = parts.pop() ?? '';
    lines.push(...parts.filter((l) => l !== ''));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('READY')) resolve();
    });
    child.once('exit', (code, signal) => reject(new Error(`controller child exited before READY (${String(code ?? signal)})`)));
  });
  ready.catch(() => undefined);
  return { child, ready, exited };
}

// ---- audit ----

export interface ScenarioRow {
  readonly scenario: string;
  readonly runs: number;
  readonly signed: number;
  readonly failed: number;
  /** Distinct Rekor entries found for the runs' provenance payloads. */
  readonly rekorEntries: number;
  /** Rekor entries beyond one per signed artifact (re-signing) plus extra stored bundles. */
  readonly duplicates: number;
  /** From the end of the fault (or the last injection) to every run reconciled, in seconds. */
  readonly recoverSeconds: number;
  readonly totalSeconds: number;
}

export interface AuditResult {
  readonly signed: number;
  readonly failed: number;
  readonly pending: number;
  /** Bundles verified from local storage (signature + Rekor entry) and from the tekton annotations. */
  readonly verifiedLocal: number;
  readonly verifiedAnnotations: number;
  /** Per signed run: Rekor entries whose payload hash is the run's provenance. */
  readonly rekorPerRun: ReadonlyMap<string, number>;
  readonly rekorEntries: number;
  readonly duplicates: number;
  /** Signed runs without exactly one Rekor entry, or without a verified bundle in both stores. */
  readonly problems: string[];
}

async function rekorEntriesForPayload(rekorUrl: string, payload: Uint8Array): Promise<number> {
  const hash = `sha256:${createHash('sha256').update(payload).digest('hex')}`;
  const res = await fetch(`${rekorUrl}/api/v1/index/retrieve`, { method: 'POST', body: JSON.stringify({ hash }), headers: { 'Content-Type': 'application/json' } });
  if (!res.ok) throw new Error(`rekor index/retrieve answered ${res.status}`);
  return ((await res.json()) as string[]).length;
}

const runId = (r: { kind: string; namespace: string; name: string }): string => `${r.kind}/${r.namespace}/${r.name}`;

/**
 * Audits what a scenario left behind. `ignore`: runs expected to end `signed=failed` (not counted
 * as problems when failed).
 */
export async function auditRuns(env: FaultEnvironment, refs: readonly RunRef[], options: { expectFailed?: ReadonlySet<string> } = {}): Promise<AuditResult> {
  const problems: string[] = [];
  let signed = 0;
  let failed = 0;
  const signedRefs: RunRef[] = [];
  for (const r of refs) {
    const v = annotationsOf(env.kube, r)[signedAnnotation];
    if (v === 'true') {
      signed++;
      signedRefs.push(r);
    } else if (v === 'failed') {
      failed++;
      if (!options.expectFailed?.has(r.name)) problems.push(`${runId(r)}: signed=failed (${annotationsOf(env.kube, r)['chains.tekton.dev/reason'] ?? '?'})`);
    } else problems.push(`${runId(r)}: not reconciled`);
  }

  // Local storage: the full bundle, verified with the key, the mock's trusted root and its tlog entry.
  const policy = { key: env.publicKeyPem, trustedRoot: env.sigstore.trustedRoot, requireTlog: true } as const;
  const entries = await readLocal(env.localDir);
  const localByRun = new Map<string, typeof entries>();
  for (const e of entries) {
    const id = runId({ kind: e.run.kind, namespace: e.run.namespace, name: e.run.name });
    localByRun.set(id, [...(localByRun.get(id) ?? []), e]);
  }
  let verifiedLocal = 0;
  let verifiedAnnotations = 0;
  let duplicates = 0;
  let rekorEntries = 0;
  const rekorPerRun = new Map<string, number>();
  const byPayload = new Map<string, { payload: Uint8Array; runs: string[] }>();

  for (let i = 0; i < signedRefs.length; i += 16) {
    await Promise.all(
      signedRefs.slice(i, i + 16).map(async (r) => {
        const id = runId(r);
        const local = localByRun.get(id) ?? [];
        if (local.length !== 1) problems.push(`${id}: ${local.length} bundles in local storage`);
        if (local.length > 1) duplicates += local.length - 1;
        for (const e of local) {
          try {
            verifyBundle(e.bundle, policy);
            verifiedLocal++;
          } catch (err) {
            problems.push(`${id}: local bundle does not verify (${(err as Error).message})`);
          }
        }
        const fromAnnotations = bundlesFromTektonAnnotations(annotationsOf(env.kube, r));
        if (fromAnnotations.length !== 1) problems.push(`${id}: ${fromAnnotations.length} signatures in annotations`);
        for (const { bundle } of fromAnnotations) {
          try {
            verifyBundle(bundle, { key: env.publicKeyPem });
            verifiedAnnotations++;
          } catch (err) {
            problems.push(`${id}: annotation signature does not verify (${(err as Error).message})`);
          }
        }
        const payload = local[0]?.payload ?? fromAnnotations[0]?.payload;
        if (payload === undefined) return;
        const hash = createHash('sha256').update(payload).digest('hex');
        byPayload.set(hash, { payload, runs: [...(byPayload.get(hash)?.runs ?? []), id] });
      }),
    );
  }
  // Runs that differ only in what the statement leaves out (e.g. a dropped subject) share a payload:
  // a payload signed for k runs must have exactly k entries.
  for (const { payload, runs } of byPayload.values()) {
    const n = await rekorEntriesForPayload(env.sigstore.rekorUrl, payload);
    for (const id of runs) rekorPerRun.set(id, n / runs.length);
    rekorEntries += n;
    if (n !== runs.length) problems.push(`${runs.join(', ')}: ${n} Rekor entries for ${runs.length} run(s) with this payload`);
    if (n > runs.length) duplicates += n - runs.length;
  }
  return {
    signed,
    failed,
    pending: refs.length - signed - failed,
    verifiedLocal,
    verifiedAnnotations,
    rekorPerRun,
    rekorEntries,
    duplicates,
    problems,
  };
}

/** Log lines containing any of the secrets (the offending secret is not echoed, only its index). */
export function leakedSecrets(lines: readonly string[], secrets: readonly string[]): string[] {
  const out: string[] = [];
  for (const [i, s] of secrets.entries()) {
    if (s.length < 6) throw new Error(`secret #${i} is too short to scan for`);
    // Also the JSON-escaped and base64 forms a logger or an error body could carry.
    const forms = [s, JSON.stringify(s).slice(1, -1), Buffer.from(s).toString('base64')];
    const line = lines.findIndex((l) => forms.some((f) => l.includes(f)));
    if (line >= 0) out.push(`secret #${i} in log line ${line}`);
  }
  return out;
}

export async function recordRow(row: ScenarioRow): Promise<void> {
  await writeResult('results.jsonl', `${JSON.stringify({ ...row, scale, at: new Date().toISOString() })}\n`, 'append');
}

/**
 * How every scenario that expects all runs signed ends: the audit finds no problem, every run
 * signed, no duplicate and exactly one new Rekor entry per run, no fixture secret in the captured
 * lines; then its row goes to the results table.
 */
export async function expectCleanRecovery(
  env: FaultEnvironment,
  refs: readonly RunRef[],
  o: { readonly rekorBefore: number; readonly lines: readonly string[]; readonly scenario: string; readonly recoverSeconds: number; readonly started: number },
): Promise<AuditResult> {
  const audit = await auditRuns(env, refs);
  expect(audit.problems).toEqual([]);
  expect(audit.signed).toBe(refs.length);
  expect(audit.duplicates).toBe(0);
  expect(env.sigstore.rekorEntryCount() - o.rekorBefore).toBe(refs.length);
  expect(leakedSecrets(o.lines, env.secrets)).toEqual([]);
  await recordRow({
    scenario: o.scenario,
    runs: refs.length,
    signed: audit.signed,
    failed: audit.failed,
    rekorEntries: audit.rekorEntries,
    duplicates: audit.duplicates,
    recoverSeconds: o.recoverSeconds,
    totalSeconds: (Date.now() - o.started) / 1000,
  });
  return audit;
}

export function objectUid(obj: KubeObject): string {
  return String(obj.metadata?.['uid']);
}

export { runNamespace, configNamespace, refOf, annotationsOf, type RunRef };
