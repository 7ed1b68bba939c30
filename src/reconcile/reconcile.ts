/**
 * `reconcileRun`: one job of the controller: re-read the live run → skip what is done (the run
 * rules of tekton/) → plan → the per-artifact engine (sign once → log once → store once, with the
 * job's checkpoints) → patch annotations (last). Returns a typed outcome; a deferred PipelineRun
 * carries `requeueAfterMs`.
 */
import type { Config } from '../config/index.js';
import { classifyError, errorMessage } from '../errors.js';
import type { Logger, Metrics, MetricKind } from '../observability/index.js';
import { backoffDelayMs, type BackoffOptions } from '../backoff.js';
import type { JobContext, JobHandler } from '../queue/index.js';
import {
  formatRunKey,
  isReconciled,
  isRunDone,
  parentPipelineRun,
  parseRun,
  runSigningState,
  reasonAnnotation,
  retriesAnnotation,
  signedAnnotation,
  signedUidAnnotation,
  transparencyAnnotation,
  type Run,
  type RunKey,
} from '../tekton/index.js';
import { resolveTransparency, tlogEntryOf, transparencyAnnotationValue } from '../transparency/index.js';
import { processArtifacts, step, StepError } from './engine.js';
import { isManagedByAccepted } from './managed-by.js';
import { indexCandidates, planArtifacts, type PlatformManifestMap } from './plan.js';
import { readPlatformManifestMap } from './platform-manifests.js';
import { defaultServiceAccount, type StorageScope, type Wiring } from '../wiring/index.js';

/** What reconcile needs from Kubernetes (the RunStore provides it). */
export interface RunAccess {
  /** The live object, or undefined when it does not exist. */
  get(key: { kind: RunKey['kind']; namespace: string; name: string }): Promise<unknown>;
  patchAnnotations(key: RunKey, annotations: Record<string, string | null>): Promise<void>;
  emitEvent(key: RunKey, event: { type: 'Normal' | 'Warning'; reason: string; message: string }): Promise<void>;
}

export interface ReconcileDeps {
  readonly runs: RunAccess;
  readonly wiring: () => Wiring;
  /** Re-enqueue a key (the parent PipelineRun once a child TaskRun is signed). */
  readonly enqueue?: (key: RunKey) => Promise<void>;
  readonly logger: Logger;
  readonly metrics?: Metrics;
  /**
   * Recheck of a deferred PipelineRun (children not signed yet): the project's backoff on the time
   * since the PipelineRun completed, so rechecks roughly double without state. Default 2 s .. 60 s.
   * The children's signing also nudges the parent; this covers a nudge that arrived while the
   * parent's own job was still running (and was deduplicated away).
   */
  readonly deferredRecheck?: BackoffOptions;
  readonly now?: () => number;
  readonly random?: () => number;
}

export const defaultDeferredRecheck: BackoffOptions = { baseMs: 2_000, maxMs: 60_000 };

export type ReconcileOutcome =
  | { readonly status: 'skipped'; readonly reason: string }
  | { readonly status: 'deferred'; readonly reason: string; readonly requeueAfterMs: number }
  | { readonly status: 'signed'; readonly artifacts: readonly string[]; readonly transparency?: string };

const metricKind = (key: RunKey): MetricKind => (key.kind === 'TaskRun' ? 'taskrun' : 'pipelinerun');

/** Runs the reconcile for one job. Throws (classified) errors for the queue to retry or give up. */
export async function reconcileRun(ctx: Pick<JobContext, 'data' | 'checkpoint' | 'attempt'>, deps: ReconcileDeps): Promise<ReconcileOutcome> {
  const key = ctx.data.key;
  const log = deps.logger.child({ run: formatRunKey(key), uid: key.uid, attempt: ctx.attempt });
  try {
    return await reconcileInner(ctx, deps, log);
  } catch (err) {
    if (err instanceof StepError) {
      deps.metrics?.signingFailure(metricKind(key), err.step);
      throw err.inner;
    }
    throw err;
  }
}

async function reconcileInner(ctx: Pick<JobContext, 'data' | 'checkpoint'>, deps: ReconcileDeps, log: Logger): Promise<ReconcileOutcome> {
  const key = ctx.data.key;
  const raw = await deps.runs.get(key);
  if (raw === undefined) return { status: 'skipped', reason: 'run no longer exists' };
  const run = await step('payload_creation', () => parseRun(raw, { kind: key.kind }));
  if (run.uid !== key.uid) return { status: 'skipped', reason: 'a different object now has this name' };
  if (isReconciled(runSigningState(run.raw, run.kind))) return { status: 'skipped', reason: 'already signed' };
  if (!isRunDone(run)) return { status: 'skipped', reason: 'run is not done' };

  const wiring = deps.wiring();
  const config = wiring.config;
  if (!isManagedByAccepted(run.raw, config.filter.managedBy)) {
    return { status: 'skipped', reason: 'spec.managedBy names another controller (filter.managed-by)' };
  }
  const scope: StorageScope = { namespace: run.namespace, serviceAccountName: run.spec.serviceAccountName || defaultServiceAccount };

  let children: Run[] = [];
  if (run.kind === 'PipelineRun') {
    const gate = await loadChildren(run, config, deps);
    if ('deferred' in gate) {
      const requeueAfterMs = deferredRecheckMs(run, deps);
      log.info({ reason: gate.deferred, requeueAfterMs }, 'pipelinerun deferred until its TaskRuns are done and signed');
      return { status: 'deferred', reason: gate.deferred, requeueAfterMs };
    }
    children = gate.children;
  }

  const platforms = await step('payload_creation', () => platformManifestsFor(run, children, wiring, scope));
  const plan = await step('payload_creation', () => planArtifacts({ run, children, config, logger: log, platforms }));
  const upload = wiring.rekor !== undefined && resolveTransparency(config, run.annotations ?? {}).rekorUrl !== undefined;
  const kind = metricKind(key);
  const result = await processArtifacts(plan, {
    run: key,
    signer: (artifact) => wiring.signer(artifact.section),
    // Rekor when this run is logged; the timestamp authority for every signature when configured.
    witnesses: [...(upload && wiring.rekor ? [wiring.rekor] : []), ...(wiring.tsa ? [wiring.tsa] : [])],
    logs: upload,
    storage: (name) => wiring.storage(name, scope),
    checkpoints: { current: () => ctx.data.checkpoints, save: (patch) => ctx.checkpoint(patch) },
    logger: log,
    runAnnotations: run.annotations ?? {},
    onSigned: () => deps.metrics?.signCreated(kind),
    onLogged: () => deps.metrics?.payloadUploaded(kind),
    onStored: (artifact, backend, result) => {
      deps.metrics?.payloadStored(kind);
      log.debug({ artifact: artifact.checkpointKey, backend, locations: result.locations }, 'stored');
    },
  });
  let transparency: string | undefined;
  for (const { artifact, bundle } of result.artifacts) {
    const entry = tlogEntryOf(bundle);
    if (artifact.type === 'provenance' && entry !== undefined) transparency = transparencyAnnotationValue(config.transparency.url, entry.logIndex);
  }

  // One PATCH per run: what `tekton` storage left for it, and `signed` with it (issue 10).
  const annotations: Record<string, string | null> = {
    ...result.annotations,
    [signedAnnotation]: 'true',
    [signedUidAnnotation]: run.uid,
    [reasonAnnotation]: null,
  };
  if (transparency !== undefined) annotations[transparencyAnnotation] = transparency;
  await deps.runs.patchAnnotations(key, annotations);
  deps.metrics?.markedSigned(metricKind(key));
  log.info({ artifacts: plan.map((a) => a.checkpointKey), transparency }, 'run signed');

  if (run.kind === 'TaskRun' && deps.enqueue) {
    const parent = parentPipelineRun(run.raw);
    if (parent) await deps.enqueue(parent);
  }
  return { status: 'signed', artifacts: plan.map((a) => a.checkpointKey), ...(transparency ? { transparency } : {}) };
}

/** `artifacts.oci.sign-index-manifests`: the platform manifests of built images that are indexes. */
async function platformManifestsFor(run: Run, children: readonly Run[], wiring: Wiring, scope: StorageScope): Promise<PlatformManifestMap> {
  const read = wiring.platformManifests;
  const candidates = indexCandidates({ run, children, config: wiring.config });
  if (read === undefined || candidates.length === 0) return new Map();
  return readPlatformManifestMap(candidates, (image) => read(image, scope));
}

/** The n-th recheck after completion, where n grows with log2 of the time waited so far. */
export function deferredRecheckMs(run: Pick<Run, 'status'>, deps: Pick<ReconcileDeps, 'deferredRecheck' | 'now' | 'random'>): number {
  const backoff = deps.deferredRecheck ?? defaultDeferredRecheck;
  const now = (deps.now ?? Date.now)();
  const completed = run.status.completionTime === undefined ? Number.NaN : Date.parse(run.status.completionTime);
  const waited = Number.isFinite(completed) ? Math.max(0, now - completed) : 0;
  const n = 1 + Math.floor(Math.log2(Math.max(1, waited / Math.max(1, backoff.baseMs))));
  return backoffDelayMs(n, backoff, deps.random ?? Math.random);
}

/**
 * The queue handler for run jobs: reconcile, record the job metrics, and ask the queue to requeue
 * a deferred PipelineRun after `requeueAfterMs` (a delayed job, not a timer in the controller).
 */
export function createRunJobHandler(deps: ReconcileDeps): JobHandler {
  const now = deps.now ?? Date.now;
  return async (ctx) => {
    const started = now();
    const kind = metricKind(ctx.data.key);
    let outcome: ReconcileOutcome;
    try {
      outcome = await reconcileRun(ctx, deps);
    } catch (err) {
      deps.metrics?.observeJobSeconds(kind, 'retry', (now() - started) / 1000);
      throw err;
    }
    deps.metrics?.observeJobSeconds(kind, outcome.status, (now() - started) / 1000);
    if (outcome.status !== 'signed') deps.logger.debug({ run: ctx.data.key, outcome }, 'job done without signing');
    return outcome.status === 'deferred' ? { requeueAfterMs: outcome.requeueAfterMs } : undefined;
  };
}

async function loadChildren(run: Run, config: Config, deps: ReconcileDeps): Promise<{ children: Run[] } | { deferred: string }> {
  const children: Run[] = [];
  for (const ref of run.status.childReferences) {
    if (ref.kind !== 'TaskRun') continue;
    const raw = await deps.runs.get({ kind: 'TaskRun', namespace: run.namespace, name: ref.name });
    if (raw === undefined) return { deferred: `child TaskRun ${ref.name} does not exist yet` };
    const child = parseRun(raw, { kind: 'TaskRun' });
    if (!isRunDone(child) || child.status.completionTime === undefined) return { deferred: `child TaskRun ${ref.name} is not done` };
    if (config.artifacts.taskrun.signer !== 'none') {
      if (!isReconciled(runSigningState(child.raw, 'TaskRun'))) return { deferred: `child TaskRun ${ref.name} is not signed yet` };
    }
    children.push(child);
  }
  return { children };
}

/**
 * Called by the queue after a failed attempt. Transient failures count `retries`; after the last
 * attempt (or a permanent error) the run is marked `signed=failed` with the reason code and a
 * Kubernetes Event. Config errors never mark runs: fixing the ConfigMap re-lists and signs them.
 */
export async function handleFailure(
  ctx: Pick<JobContext, 'data' | 'attempt' | 'maxAttempts'>,
  err: unknown,
  final: boolean,
  deps: Pick<ReconcileDeps, 'runs' | 'logger' | 'metrics'>,
): Promise<void> {
  const key = ctx.data.key;
  const log = deps.logger.child({ run: formatRunKey(key), uid: key.uid, attempt: ctx.attempt });
  const perr = classifyError(err, { run: formatRunKey(key) });
  const fields = { err: { kind: perr.kind, code: perr.code, message: perr.message, hint: perr.context.hint }, final };
  try {
    if (!final) {
      log.warn(fields, 'attempt failed; will retry');
      deps.metrics?.jobRetried(metricKind(key));
      await deps.runs.patchAnnotations(key, { [retriesAnnotation]: String(ctx.attempt) });
      return;
    }
    if (perr.kind === 'config') {
      log.error(fields, 'configuration error; run left unsigned until the configuration is fixed');
      await deps.runs.emitEvent(key, { type: 'Warning', reason: 'ProvenantConfigError', message: `${perr.code}: ${perr.message}` });
      return;
    }
    log.error(fields, 'signing failed; marking the run signed=failed');
    await deps.runs.patchAnnotations(key, {
      [signedAnnotation]: 'failed',
      [signedUidAnnotation]: key.uid,
      [reasonAnnotation]: perr.code,
      [retriesAnnotation]: String(ctx.attempt),
    });
    const hint = perr.context.hint ? ` (${perr.context.hint})` : '';
    await deps.runs.emitEvent(key, { type: 'Warning', reason: 'SigningFailed', message: `${perr.code}: ${perr.message}${hint}` });
  } catch (patchErr) {
    // The run may be gone; nothing more to do for it.
    log.warn({ err: { message: errorMessage(patchErr) } }, 'could not record the failure on the run');
  }
}
