/**
 * The enqueue filter: a pure function of (object, scope, clock). It decides from the watched
 * object alone whether its key is worth a job; the worker re-reads the run anyway, so a wrong
 * "yes" costs one no-op job and a wrong "no" is what we must avoid. The run rules themselves
 * (done, signed, copied, parent) live in tekton/ and are shared with reconcile.
 */
import { isDone, parentPipelineRun, runSigningState, type RunKey, type RunKind } from '../tekton/index.js';

export type EnqueueReason = 'unsigned' | 'copied-annotations';

export type SkipReason =
  | 'not-a-run'
  | 'missing-metadata'
  | 'out-of-scope'
  | 'deleting'
  | 'not-done'
  | 'signed'
  | 'failed';

export type EnqueueDecision =
  | { readonly enqueue: true; readonly key: RunKey; readonly reason: EnqueueReason }
  | { readonly enqueue: false; readonly reason: SkipReason };

export interface FilterOptions {
  /** Namespaces in scope; undefined or empty = all. */
  readonly namespaces?: readonly string[];
  /** Kind to assume when the object carries none (items of some list responses). */
  readonly kind?: RunKind;
  /** Reserved for time-based rules (none yet); passed so callers never read the clock here. */
  readonly now?: Date;
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function runKind(obj: Obj, fallback: RunKind | undefined): RunKind | undefined {
  const kind = obj['kind'] ?? fallback;
  const apiVersion = obj['apiVersion'];
  if (typeof apiVersion === 'string' && !apiVersion.startsWith('tekton.dev/')) return undefined;
  return kind === 'TaskRun' || kind === 'PipelineRun' ? kind : undefined;
}

function inScope(metadata: Obj, namespace: string, options: FilterOptions): boolean {
  const scope = options.namespaces ?? [];
  return scope.length === 0 || scope.includes(namespace);
}

function deleting(metadata: Obj): boolean {
  return metadata['deletionTimestamp'] !== undefined && metadata['deletionTimestamp'] !== null;
}

export function shouldEnqueue(obj: unknown, options: FilterOptions = {}): EnqueueDecision {
  if (!isObj(obj)) return { enqueue: false, reason: 'not-a-run' };
  const kind = runKind(obj, options.kind);
  if (kind === undefined) return { enqueue: false, reason: 'not-a-run' };
  const metadata = isObj(obj['metadata']) ? obj['metadata'] : {};
  const namespace = str(metadata['namespace']);
  const name = str(metadata['name']);
  const uid = str(metadata['uid']);
  if (namespace === undefined || name === undefined || uid === undefined) return { enqueue: false, reason: 'missing-metadata' };
  if (!inScope(metadata, namespace, options)) return { enqueue: false, reason: 'out-of-scope' };
  if (deleting(metadata)) return { enqueue: false, reason: 'deleting' };
  if (!isDone(obj)) return { enqueue: false, reason: 'not-done' };
  const key: RunKey = { kind, namespace, name, uid };
  switch (runSigningState(obj, kind)) {
    case 'unsigned':
      return { enqueue: true, key, reason: 'unsigned' };
    case 'copied':
      return { enqueue: true, key, reason: 'copied-annotations' };
    case 'signed':
      return { enqueue: false, reason: 'signed' };
    case 'failed':
      return { enqueue: false, reason: 'failed' };
  }
}

/**
 * The parent PipelineRun of a finished child TaskRun, so the parent is looked at again when its
 * last child completes (or gets signed). Needs the owner reference for the parent's uid.
 */
export function parentPipelineRunKey(obj: unknown, options: FilterOptions = {}): RunKey | undefined {
  if (!isObj(obj) || runKind(obj, options.kind) !== 'TaskRun') return undefined;
  const metadata = isObj(obj['metadata']) ? obj['metadata'] : {};
  const namespace = str(metadata['namespace']);
  if (namespace === undefined || !inScope(metadata, namespace, options) || deleting(metadata) || !isDone(obj)) return undefined;
  return parentPipelineRun(obj);
}
