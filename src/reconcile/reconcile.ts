/**
 * `reconcileRun`: the only code that sequences the steps for one run (ARCHITECTURE.md):
 * re-read the live run → skip what is done → plan → compose → sign (+ Rekor, inside the bundle)
 * → store in each backend → patch annotations (last). Every step's result is checkpointed in the
 * job, so a retry after a storage failure re-uses the signed bundle: one run, one signature, one
 * Rekor entry.
 */
import { createHash } from 'node:crypto';
import type { Signer, Witness } from '@sigstore/sign';
import type { Config, StorageName } from '../config/index.js';
import { ProvenantError, errorMessage, isProvenantError } from '../errors.js';
import type { Logger, Metrics, MetricKind, SigningErrorType } from '../observability/index.js';
import type { Checkpoints, JobContext } from '../queue/index.js';
import type { StorageBackend } from '../storage/types.js';
import {
  formatRunKey,
  isRunDone,
  parseRun,
  reasonAnnotation,
  retriesAnnotation,
  signedAnnotation,
  signedUidAnnotation,
  transparencyAnnotation,
  type Run,
  type RunKey,
} from '../tekton/index.js';
import {
  createTransparentBundler,
  resolveTransparency,
  tlogEntryOf,
  transparencyAnnotationValue,
  type TransparencyCheckpoint,
} from '../transparency/index.js';
import { isManagedByAccepted } from './managed-by.js';
import { planArtifacts, type PlannedArtifact } from './plan.js';
import { defaultServiceAccount } from './registry-credentials.js';

/** What reconcile needs from Kubernetes (the RunStore provides it). */
export interface RunAccess {
  /** The live object, or undefined when it does not exist. */
  get(key: { kind: RunKey['kind']; namespace: string; name: string }): Promise<unknown>;
  patchAnnotations(key: RunKey, annotations: Record<string, string | null>): Promise<void>;
  emitEvent(key: RunKey, event: { type: 'Normal' | 'Warning'; reason: string; message: string }): Promise<void>;
}

/** Everything built from one configuration; swapped as a whole on a ConfigMap change. */
export interface Wiring {
  readonly config: Config;
  /** The signer configured for an artifact section (`artifacts.<section>.signer`); built once per config. */
  signer(section: PlannedArtifact['section']): Signer;
  /** The Rekor witness, when transparency is enabled (`true` or `manual`). */
  readonly rekor: Witness | undefined;
  /** The RFC 3161 timestamp witness, when `signers.x509.tsa.url` is set: every signature is timestamped. */
  readonly tsa?: Witness | undefined;
  /**
   * The backend for a storage name. `scope` says whose run it stores for: `oci` uses the registry
   * credentials of that run's ServiceAccount (Chains' k8schain), so the backend may differ per scope.
   */
  storage(name: StorageName, scope: StorageScope): StorageBackend | Promise<StorageBackend>;
}

/** The run a store is for: its namespace and ServiceAccount (`default` when the run names none). */
export interface StorageScope {
  readonly namespace: string;
  readonly serviceAccountName: string;
}

export interface ReconcileDeps {
  readonly runs: RunAccess;
  readonly wiring: () => Wiring;
  /** Re-enqueue a key (the parent PipelineRun once a child TaskRun is signed). */
  readonly enqueue?: (key: RunKey) => Promise<void>;
  readonly logger: Logger;
  readonly metrics?: Metrics;
}

export type ReconcileOutcome =
  | { readonly status: 'skipped'; readonly reason: string }
  | { readonly status: 'deferred'; readonly reason: string }
  | { readonly status: 'signed'; readonly artifacts: readonly string[]; readonly transparency?: string };

interface ArtifactCheckpoint {
  /** The signed (and, once witnessed, logged) bundle: reused by every retry. */
  readonly transparency: TransparencyCheckpoint;
  /** base64 of the signed payload (a message-signature bundle does not carry it). */
  readonly payload: string;
}

const metricKind = (key: RunKey): MetricKind => (key.kind === 'TaskRun' ? 'taskrun' : 'pipelinerun');

class StepError extends Error {
  constructor(
    readonly step: SigningErrorType,
    readonly inner: unknown,
  ) {
    super(errorMessage(inner));
  }
}

async function step<T>(name: SigningErrorType, fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new StepError(name, err);
  }
}

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
  if (alreadyReconciled(run)) return { status: 'skipped', reason: 'already signed' };
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
      log.info({ reason: gate.deferred }, 'pipelinerun deferred until its TaskRuns are done and signed');
      return { status: 'deferred', reason: gate.deferred };
    }
    children = gate.children;
  }

  const plan = await step('payload_creation', () => planArtifacts({ run, children, config, logger: log }));
  const checkpoints: Checkpoints = ctx.data.checkpoints;
  const upload = wiring.rekor !== undefined && resolveTransparency(config, run.annotations ?? {}).rekorUrl !== undefined;
  let transparency: string | undefined;

  for (const artifact of plan) {
    const signed = await signOnce(artifact, checkpoints, ctx, wiring, upload, deps, key);
    const entry = tlogEntryOf(signed.transparency.bundle);
    if (artifact.type === 'provenance' && entry !== undefined) {
      transparency = transparencyAnnotationValue(config.transparency.url, entry.logIndex);
    }
    await storeOnce(artifact, signed, ctx, wiring, scope, deps, key, log);
  }

  const annotations: Record<string, string | null> = {
    [signedAnnotation]: 'true',
    [signedUidAnnotation]: run.uid,
    [reasonAnnotation]: null,
  };
  if (transparency !== undefined) annotations[transparencyAnnotation] = transparency;
  await deps.runs.patchAnnotations(key, annotations);
  deps.metrics?.markedSigned(metricKind(key));
  log.info({ artifacts: plan.map((a) => a.checkpointKey), transparency }, 'run signed');

  if (run.kind === 'TaskRun' && deps.enqueue) {
    const parent = parentPipelineRun(run);
    if (parent) await deps.enqueue(parent);
  }
  return { status: 'signed', artifacts: plan.map((a) => a.checkpointKey), ...(transparency ? { transparency } : {}) };
}

async function signOnce(
  artifact: PlannedArtifact,
  checkpoints: Checkpoints,
  ctx: Pick<JobContext, 'checkpoint'>,
  wiring: Wiring,
  upload: boolean,
  deps: ReconcileDeps,
  key: RunKey,
): Promise<ArtifactCheckpoint> {
  const existing = checkpoints.bundles?.[artifact.checkpointKey] as ArtifactCheckpoint | undefined;
  const signer = wiring.signer(artifact.section);
  const witnesses = [...(upload && wiring.rekor ? [wiring.rekor] : []), ...(wiring.tsa ? [wiring.tsa] : [])];
  const payload = existing?.payload ?? Buffer.from(artifact.payload).toString('base64');
  let latest = existing;
  const bundler = createTransparentBundler({ signer, witnesses, logger: deps.logger });
  const bundle = await step(upload ? 'tlog' : 'signing', () =>
    bundler.create(
      { kind: artifact.type === 'provenance' ? 'dsse' : 'message-signature', data: Buffer.from(payload, 'base64') },
      {
        checkpoint: existing?.transparency,
        save: async (transparency) => {
          // The first checkpoint of an artifact is a new signature; later ones only add the tlog entry.
          if (latest === undefined) deps.metrics?.signCreated(metricKind(key));
          if (transparency.witnessed && upload) deps.metrics?.payloadUploaded(metricKind(key));
          latest = { transparency, payload };
          const entry = tlogEntryOf(transparency.bundle);
          await ctx.checkpoint({
            ...(artifact.type === 'provenance' ? { statementDigest: `sha256:${createHash('sha256').update(Buffer.from(payload, 'base64')).digest('hex')}` } : {}),
            bundles: { [artifact.checkpointKey]: latest },
            ...(entry ? { rekor: { [artifact.checkpointKey]: { logIndex: Number(entry.logIndex) } } } : {}),
          });
        },
      },
    ),
  );
  return { transparency: { ...(latest?.transparency ?? { verifier: '', witnessed: true }), bundle }, payload };
}

async function storeOnce(
  artifact: PlannedArtifact,
  signed: ArtifactCheckpoint,
  ctx: Pick<JobContext, 'checkpoint' | 'data'>,
  wiring: Wiring,
  scope: StorageScope,
  deps: ReconcileDeps,
  key: RunKey,
  log: Logger,
): Promise<void> {
  const done = new Set(ctx.data.checkpoints.stored?.[artifact.checkpointKey] ?? []);
  for (const name of artifact.storage) {
    if (done.has(name)) continue;
    const result = await step('storage', async () =>
      (await wiring.storage(name, scope)).store({
        run: key,
        artifact: {
          type: artifact.type,
          shortKey: artifact.shortKey,
          subjects: artifact.subjects,
          ...(artifact.predicateType ? { predicateType: artifact.predicateType } : {}),
        },
        payload: Buffer.from(signed.payload, 'base64'),
        bundle: signed.transparency.bundle,
      }),
    );
    done.add(name);
    await ctx.checkpoint({ stored: { [artifact.checkpointKey]: [...done] } });
    deps.metrics?.payloadStored(metricKind(key));
    log.debug({ artifact: artifact.checkpointKey, backend: name, locations: result.locations }, 'stored');
  }
}

function alreadyReconciled(run: Run): boolean {
  const a = run.annotations ?? {};
  const signed = a[signedAnnotation];
  if (signed !== 'true' && signed !== 'failed') return false;
  // A run copied with our annotations (re-run tools copy them, Chains #1004) carries another uid.
  const signedUid = a[signedUidAnnotation];
  return signedUid === undefined || signedUid === run.uid;
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
      const s = child.annotations?.[signedAnnotation];
      if (s !== 'true' && s !== 'failed') return { deferred: `child TaskRun ${ref.name} is not signed yet` };
    }
    children.push(child);
  }
  return { children };
}

function parentPipelineRun(run: Run): RunKey | undefined {
  const owners = (run.raw as { metadata?: { ownerReferences?: { kind?: string; name?: string; uid?: string }[] } }).metadata?.ownerReferences ?? [];
  const owner = owners.find((o) => o.kind === 'PipelineRun' && typeof o.name === 'string' && typeof o.uid === 'string');
  if (!owner?.name || !owner.uid) return undefined;
  return { kind: 'PipelineRun', namespace: run.namespace, name: owner.name, uid: owner.uid };
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
  const perr = isProvenantError(err)
    ? err
    : new ProvenantError('transient', 'UNEXPECTED', errorMessage(err), { cause: err, context: { run: formatRunKey(key) } });
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
