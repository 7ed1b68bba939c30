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
import { isCheckpointFinal, signUnwitnessed, witnessCheckpoint, type TransparencyCheckpoint } from '../transparency/index.js';
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

/** The settled results' values, or the first rejection thrown once all have settled. */
function firstRejection(results: readonly PromiseSettledResult<unknown>[]): unknown {
  for (const r of results) if (r.status === 'rejected') return r.reason as unknown;
  return undefined;
}

/**
 * Signs and logs every artifact of a run exactly once across attempts, in two steps each run for
 * all artifacts at once and checkpointed with one save (not one per artifact: with BullMQ each save
 * is a Redis round trip carrying the job data):
 *   1. sign what has no signature yet → save: the envelopes exist before any witness sees them, so a
 *      retry sends the very same envelope again (Rekor answers 409 and the witness fetches it);
 *   2. witness what is signed but not logged. Not saved here: returned as `unsaved`, saved with the
 *      stores' checkpoint, or when a later step fails. A run whose stores need no checkpoint (`tekton`
 *      leaves its annotations for the final patch) then costs one save, not two; a retry after a crash
 *      in between re-sends the saved envelope and gets the same entry back (409), never a second one.
 * A failure of one artifact does not lose the others' work: what succeeded is saved, then the first
 * failure is thrown.
 */
async function signAndLogAll(
  plan: readonly PlannedArtifact[],
  deps: ArtifactEngineDeps,
): Promise<{ readonly states: ArtifactCheckpoint[]; readonly unsaved: Record<string, ArtifactCheckpoint> }> {
  const saved = deps.checkpoints.current().bundles ?? {};
  const states = plan.map((a) => saved[a.checkpointKey] as ArtifactCheckpoint | undefined);
  const witnesses = deps.witnesses;
  const logs = deps.logs ?? witnesses.length > 0;

  const unsigned = plan.flatMap((a, i) => (states[i] === undefined ? [i] : []));
  if (unsigned.length > 0) {
    const results = await Promise.allSettled(
      unsigned.map((i) => {
        const artifact = plan[i]!;
        return wrap(deps, 'signing', { artifact })(async (): Promise<ArtifactCheckpoint> => {
          const signed = await signUnwitnessed(deps.signer(artifact), {
            kind: artifact.type === 'provenance' ? 'dsse' : 'message-signature',
            data: artifact.payload,
          });
          return { transparency: witnesses.length === 0 ? { ...signed, witnessed: true } : signed, payload: Buffer.from(artifact.payload).toString('base64') };
        });
      }),
    );
    await saveBundles(plan, unsigned, results, states, deps, (artifact) => deps.onSigned?.(artifact));
  }

  let unsaved: Record<string, ArtifactCheckpoint> = {};
  if (witnesses.length > 0) {
    const unlogged = plan.flatMap((_, i) => (states[i] !== undefined && !isCheckpointFinal(states[i].transparency) ? [i] : []));
    if (unlogged.length > 0) {
      const results = await Promise.allSettled(
        unlogged.map((i) => {
          const artifact = plan[i]!;
          const state = states[i]!;
          return wrap(deps, logs ? 'tlog' : 'signing', { artifact })(
            async (): Promise<ArtifactCheckpoint> => ({ transparency: await witnessCheckpoint(state.transparency, witnesses), payload: state.payload }),
          );
        }),
      );
      unsaved = await saveBundles(
        plan,
        unlogged,
        results,
        states,
        deps,
        (artifact) => {
          if (logs) deps.onLogged?.(artifact);
        },
        { deferUnlessFailed: true },
      );
    }
  }
  // Every artifact has a state here: a failed step threw above.
  return { states: states.filter((s): s is ArtifactCheckpoint => s !== undefined), unsaved };
}

/**
 * One save for every artifact a step succeeded on; then the step's first failure, if any. With
 * `deferUnlessFailed`, a step that fully succeeded is not saved but returned for a later save.
 */
async function saveBundles(
  plan: readonly PlannedArtifact[],
  indexes: readonly number[],
  results: readonly PromiseSettledResult<ArtifactCheckpoint>[],
  states: (ArtifactCheckpoint | undefined)[],
  deps: ArtifactEngineDeps,
  each: (artifact: PlannedArtifact) => void,
  options: { readonly deferUnlessFailed?: boolean } = {},
): Promise<Record<string, ArtifactCheckpoint>> {
  const bundles: Record<string, ArtifactCheckpoint> = {};
  for (const [j, r] of results.entries()) {
    if (r.status !== 'fulfilled') continue;
    const i = indexes[j]!;
    states[i] = r.value;
    bundles[plan[i]!.checkpointKey] = r.value;
  }
  const failed = firstRejection(results);
  const defer = options.deferUnlessFailed === true && failed === undefined;
  if (!defer && Object.keys(bundles).length > 0) await deps.checkpoints.save({ bundles });
  for (const [j, r] of results.entries()) if (r.status === 'fulfilled') each(plan[indexes[j]!]!);
  if (failed !== undefined) throw failed;
  return defer ? bundles : {};
}

/**
 * Stores every signed artifact in each of its backends not done yet (per the checkpoints), one
 * backend after the other (so each one's cost is its own). Within a backend that allows it
 * (`concurrentArtifacts`, e.g. `oci`) the run's artifacts are stored at once; otherwise one at a
 * time in plan order (`tekton` reads the annotations earlier artifacts left). What got stored is
 * checkpointed with one save at the end, also when a store failed (then that failure is thrown),
 * together with the `unsaved` log entries of the witness step (also saved alone when a store failed).
 * Returns the annotations left for the caller's final patch.
 */
async function storeAll(
  plan: readonly PlannedArtifact[],
  signed: readonly ArtifactCheckpoint[],
  deps: ArtifactEngineDeps,
  unsaved: Readonly<Record<string, ArtifactCheckpoint>> = {},
): Promise<Record<string, string>> {
  const pending: Record<string, string> = {};
  const stored = deps.checkpoints.current().stored ?? {};
  const done = plan.map((a) => new Set(stored[a.checkpointKey] ?? []));
  const changed = new Set<number>();
  const backends: StorageName[] = [];
  for (const a of plan) for (const name of a.storage) if (!backends.includes(name)) backends.push(name);

  let failure: unknown;
  for (const name of backends) {
    const todo = plan.flatMap((a, i) => (a.storage.includes(name) && !done[i]!.has(name) ? [i] : []));
    if (todo.length === 0) continue;
    let backend: StorageBackend;
    try {
      backend = await deps.storage(name);
    } catch (err) {
      failure = new StepError('storage', err);
      break;
    }
    const storeOne = async (i: number): Promise<void> => {
      const artifact = plan[i]!;
      const s = signed[i]!;
      const result = await wrap(deps, 'storage', { artifact, backend: name })(() =>
        backend.store({
          run: deps.run,
          artifact: {
            type: artifact.type,
            shortKey: artifact.shortKey,
            subjects: artifact.subjects,
            ...(artifact.predicateType ? { predicateType: artifact.predicateType } : {}),
          },
          payload: Buffer.from(s.payload, 'base64'),
          bundle: s.transparency.bundle,
          runAnnotations: { ...deps.runAnnotations, ...pending },
        }),
      );
      if (result.annotations !== undefined) {
        // Not on the run until the caller's patch: not checkpointed as stored.
        Object.assign(pending, result.annotations);
      } else {
        done[i]!.add(name);
        changed.add(i);
      }
      deps.onStored?.(artifact, name, result);
    };
    if (backend.concurrentArtifacts === true) {
      failure = firstRejection(await Promise.allSettled(todo.map(storeOne)));
    } else {
      for (const i of todo) {
        try {
          await storeOne(i);
        } catch (err) {
          failure = err;
          break;
        }
      }
    }
    if (failure !== undefined) break;
  }
  const bundles = Object.keys(unsaved).length > 0 ? { bundles: unsaved } : {};
  if (changed.size > 0) {
    const patch: Record<string, string[]> = {};
    for (const i of changed) patch[plan[i]!.checkpointKey] = plan[i]!.storage.filter((n) => done[i]!.has(n));
    await deps.checkpoints.save({ ...bundles, stored: patch });
  } else if (failure !== undefined && 'bundles' in bundles) {
    await deps.checkpoints.save(bundles);
  }
  if (failure !== undefined) throw failure;
  return pending;
}

/**
 * plan → sign once → log once → store once. Signing and logging of a run's artifacts run
 * concurrently; storing follows, per backend. Checkpoint saves per run: one after signing, one
 * with the stores (log entries included), none more (issue 10: each is a Redis round trip).
 */
export async function processArtifacts(plan: readonly PlannedArtifact[], engineDeps: ArtifactEngineDeps): Promise<EngineResult> {
  // Saves go one at a time: a store merges into what it read last.
  const serial = createMutex();
  const store = engineDeps.checkpoints;
  const deps: ArtifactEngineDeps = { ...engineDeps, checkpoints: { current: () => store.current(), save: (patch) => serial(() => store.save(patch)) } };
  const { states, unsaved } = await signAndLogAll(plan, deps);
  const annotations = await storeAll(plan, states, deps, unsaved);
  return { artifacts: plan.map((artifact, i) => ({ artifact, bundle: states[i]!.transparency.bundle })), annotations };
}
