/**
 * The per-artifact engine: the only code that sequences the steps of signing (ARCHITECTURE.md).
 * For each planned artifact: sign once → log once → store once in each backend, every step's
 * result saved in a checkpoint store, so a retry re-uses the signed (and logged) bundle: one run,
 * one signature, one Rekor entry. Used by the controller (checkpoints in the job), `provenant
 * sign` (in-memory checkpoints) and the benchmark probe.
 */
import type { SerializedBundle } from '@sigstore/bundle';
import type { Signer, Witness } from '@sigstore/sign';
import type { StorageName } from '../config/index.js';
import { errorMessage } from '../errors.js';
import { createMutex } from '../mutex.js';
import type { Logger } from '../observability/index.js';
import { mergeCheckpoints, type Checkpoints } from '../queue/index.js';
import type { StorageBackend, StoreResult } from '../storage/index.js';
import type { RunKey } from '../tekton/index.js';
import { createTransparentBundler, type TransparencyCheckpoint } from '../transparency/index.js';
import type { PlannedArtifact } from './plan.js';

/** Where the engine keeps what each step achieved. */
export interface CheckpointStore {
  /** The checkpoints saved so far (including those of earlier attempts). */
  current(): Checkpoints;
  /** Merge and persist before resolving (job data for the controller; memory for the CLI). */
  save(patch: Checkpoints): Promise<void>;
}

/** Checkpoints kept in memory, for one-shot callers (`provenant sign`, benchmarks). */
export function createMemoryCheckpoints(initial: Checkpoints = {}): CheckpointStore {
  let data = initial;
  return {
    current: () => data,
    save: async (patch) => {
      data = mergeCheckpoints(data, patch);
    },
  };
}

/** The steps, named as the `signing failures` metric names them. */
export type EngineStep = 'signing' | 'tlog' | 'storage';

/** A failure of one step, carrying the step for metrics; `inner` is the classified error. */
export class StepError extends Error {
  constructor(
    readonly step: EngineStep | 'payload_creation',
    readonly inner: unknown,
  ) {
    super(errorMessage(inner));
  }
}

export async function step<T>(name: StepError['step'], fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new StepError(name, err);
  }
}

export interface ArtifactEngineDeps {
  readonly run: RunKey;
  readonly signer: (artifact: PlannedArtifact) => Signer;
  /** Rekor and/or TSA witnesses; empty when this run is neither logged nor timestamped. */
  readonly witnesses: readonly Witness[];
  /** True when the witnesses include a transparency log (default: any witness); names the step and `onLogged`. */
  readonly logs?: boolean;
  readonly storage: (name: StorageName) => StorageBackend | Promise<StorageBackend>;
  readonly checkpoints: CheckpointStore;
  readonly logger: Logger;
  /** The run's annotations as last read (lets `tekton` storage check sizes without another GET). */
  readonly runAnnotations?: Readonly<Record<string, string>>;
  /** Called once per new signature (not for one reused from a checkpoint). */
  readonly onSigned?: (artifact: PlannedArtifact) => void;
  /** Called once per artifact logged by the witnesses. */
  readonly onLogged?: (artifact: PlannedArtifact) => void;
  readonly onStored?: (artifact: PlannedArtifact, backend: string, result: StoreResult) => void;
  /** Wraps each step (benchmarks time them); default: run it. Errors are wrapped in `StepError`. */
  readonly around?: <T>(name: EngineStep, fn: () => Promise<T>, info: StepInfo) => Promise<T>;
}

export interface EngineArtifactResult {
  readonly artifact: PlannedArtifact;
  readonly bundle: SerializedBundle;
}

export interface EngineResult {
  readonly artifacts: readonly EngineArtifactResult[];
  /**
   * Annotations backends left for the caller's one patch of the run (`tekton` with `deferPatch`):
   * written together with `signed`, one PATCH per run. Such stores are not checkpointed, so a retry
   * after a failed patch produces them again.
   */
  readonly annotations: Readonly<Record<string, string>>;
}

export interface StepInfo {
  readonly artifact: PlannedArtifact;
  /** The storage backend, for `storage` steps. */
  readonly backend?: string;
}

interface ArtifactCheckpoint {
  /** The signed (and, once witnessed, logged) bundle: reused by every retry. */
  readonly transparency: TransparencyCheckpoint;
  /** base64 of the signed payload (a message-signature bundle does not carry it). */
  readonly payload: string;
}

function wrap(deps: ArtifactEngineDeps, name: EngineStep, info: StepInfo): <T>(fn: () => Promise<T>) => Promise<T> {
  return (fn) => step(name, () => (deps.around ? deps.around(name, fn, info) : fn()));
}

/**
 * Signs and logs one artifact exactly once across attempts. Every artifact of a run can go through
 * this concurrently (their Rekor entries are independent).
 */
export async function signAndLogOnce(artifact: PlannedArtifact, deps: ArtifactEngineDeps): Promise<ArtifactCheckpoint> {
  const existing = deps.checkpoints.current().bundles?.[artifact.checkpointKey] as ArtifactCheckpoint | undefined;
  const payload = existing?.payload ?? Buffer.from(artifact.payload).toString('base64');
  const witnesses = deps.witnesses;
  const logs = deps.logs ?? witnesses.length > 0;
  let latest = existing;
  const bundler = createTransparentBundler({ signer: deps.signer(artifact), witnesses, logger: deps.logger });
  const bundle = await wrap(deps, logs ? 'tlog' : 'signing', { artifact })(() =>
    bundler.create(
      { kind: artifact.type === 'provenance' ? 'dsse' : 'message-signature', data: Buffer.from(payload, 'base64') },
      {
        checkpoint: existing?.transparency,
        save: async (transparency) => {
          // The first checkpoint of an artifact is a new signature; later ones only add the tlog entry.
          if (latest === undefined) deps.onSigned?.(artifact);
          if (transparency.witnessed && logs) deps.onLogged?.(artifact);
          latest = { transparency, payload };
          await deps.checkpoints.save({ bundles: { [artifact.checkpointKey]: latest } });
        },
      },
    ),
  );
  return { transparency: { ...(latest?.transparency ?? { verifier: '', witnessed: true }), bundle }, payload };
}

/**
 * Stores one signed artifact in each of its backends not done yet (per the checkpoints).
 * `pending` collects annotations left for the caller's final patch.
 */
export async function storeOnce(
  artifact: PlannedArtifact,
  signed: ArtifactCheckpoint,
  deps: ArtifactEngineDeps,
  pending: Record<string, string> = {},
): Promise<void> {
  const done = new Set(deps.checkpoints.current().stored?.[artifact.checkpointKey] ?? []);
  for (const name of artifact.storage) {
    if (done.has(name)) continue;
    const result = await wrap(deps, 'storage', { artifact, backend: name })(async () =>
      (await deps.storage(name)).store({
        run: deps.run,
        artifact: {
          type: artifact.type,
          shortKey: artifact.shortKey,
          subjects: artifact.subjects,
          ...(artifact.predicateType ? { predicateType: artifact.predicateType } : {}),
        },
        payload: Buffer.from(signed.payload, 'base64'),
        bundle: signed.transparency.bundle,
        runAnnotations: { ...deps.runAnnotations, ...pending },
      }),
    );
    if (result.annotations !== undefined) {
      // Not on the run until the caller's patch: not checkpointed as stored.
      Object.assign(pending, result.annotations);
    } else {
      done.add(name);
      await deps.checkpoints.save({ stored: { [artifact.checkpointKey]: [...done] } });
    }
    deps.onStored?.(artifact, name, result);
  }
}

/**
 * plan → sign once → log once → store once. Signing and logging of a run's artifacts run
 * concurrently; storing follows in plan order (backends may read-modify-write shared state).
 */
export async function processArtifacts(plan: readonly PlannedArtifact[], engineDeps: ArtifactEngineDeps): Promise<EngineResult> {
  // Saves of concurrent artifacts go one at a time: a store merges into what it read last.
  const serial = createMutex();
  const store = engineDeps.checkpoints;
  const deps: ArtifactEngineDeps = { ...engineDeps, checkpoints: { current: () => store.current(), save: (patch) => serial(() => store.save(patch)) } };
  const signed = await Promise.all(plan.map((artifact) => signAndLogOnce(artifact, deps)));
  const artifacts: EngineArtifactResult[] = [];
  const annotations: Record<string, string> = {};
  for (const [i, artifact] of plan.entries()) {
    const s = signed[i];
    if (s === undefined) continue;
    await storeOnce(artifact, s, deps, annotations);
    artifacts.push({ artifact, bundle: s.transparency.bundle });
  }
  return { artifacts, annotations };
}
