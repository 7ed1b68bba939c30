/**
 * The enqueue filter: a pure function of (object, scope, clock). It decides from the watched
 * object alone whether its key is worth a job; the worker re-reads the run anyway, so a wrong
 * "yes" costs one no-op job and a wrong "no" is what we must avoid.
 */
import {
  certAnnotationPrefix,
  payloadAnnotationPrefix,
  signatureAnnotationPrefix,
  signedAnnotation,
  signedValues,
} from '../tekton/annotations.js';
import type { RunKey, RunKind } from '../tekton/run-key.js';

/**
 * The uid of the run provenant signed, written together with `chains.tekton.dev/signed`.
 * Re-run tools copy annotations onto the new run (Chains #1004); a uid that is not the run's own
 * says "this signature belongs to another run".
 * TODO(tekton/annotations.ts): move this name there (proposed to its owner) and import it.
 */
export const signedUidAnnotation = 'chains.tekton.dev/signed-uid';

/** Tekton Pipelines' label on a child TaskRun naming its PipelineRun. */
export const pipelineRunLabel = 'tekton.dev/pipelineRun';

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

/** Done = the `Succeeded` condition is True or False (failed runs are attested too). */
export function isDone(obj: unknown): boolean {
  if (!isObj(obj) || !isObj(obj['status'])) return false;
  const conditions = obj['status']['conditions'];
  if (!Array.isArray(conditions)) return false;
  const succeeded = conditions.find((c): c is Obj => isObj(c) && c['type'] === 'Succeeded');
  return succeeded !== undefined && (succeeded['status'] === 'True' || succeeded['status'] === 'False');
}

function stringMap(v: unknown): Readonly<Record<string, string>> {
  if (!isObj(v)) return {};
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) if (typeof val === 'string') out[k] = val;
  return out;
}

/**
 * True when the signing annotations on this run were written for another run (copied by a
 * re-run tool). Evidence, strongest first: our `signed-uid`; else Chains' `tekton` storage keys
 * (`chains.tekton.dev/{payload,signature,cert}-<kind>-<uid>`) naming only other uids.
 */
export function hasCopiedSignature(annotations: Readonly<Record<string, string>>, kind: RunKind, uid: string): boolean {
  const recorded = annotations[signedUidAnnotation];
  if (recorded !== undefined) return recorded !== uid;
  const runPrefix = `${kind.toLowerCase()}-`;
  const uids = new Set<string>();
  for (const name of Object.keys(annotations)) {
    for (const prefix of [payloadAnnotationPrefix, signatureAnnotationPrefix, certAnnotationPrefix]) {
      if (name.startsWith(prefix + runPrefix)) uids.add(name.slice(prefix.length + runPrefix.length));
    }
  }
  return uids.size > 0 && !uids.has(uid);
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
  const scope = options.namespaces ?? [];
  if (scope.length > 0 && !scope.includes(namespace)) return { enqueue: false, reason: 'out-of-scope' };
  if (metadata['deletionTimestamp'] !== undefined && metadata['deletionTimestamp'] !== null) {
    return { enqueue: false, reason: 'deleting' };
  }
  if (!isDone(obj)) return { enqueue: false, reason: 'not-done' };
  const key: RunKey = { kind, namespace, name, uid };
  const annotations = stringMap(metadata['annotations']);
  const signed = annotations[signedAnnotation];
  if (signed === signedValues.true || signed === signedValues.failed) {
    if (hasCopiedSignature(annotations, kind, uid)) return { enqueue: true, key, reason: 'copied-annotations' };
    return { enqueue: false, reason: signed === signedValues.true ? 'signed' : 'failed' };
  }
  return { enqueue: true, key, reason: 'unsigned' };
}

/**
 * The parent PipelineRun of a finished child TaskRun, so the parent is looked at again when its
 * last child completes (or gets signed). Needs the owner reference for the parent's uid.
 */
export function parentPipelineRunKey(obj: unknown, options: FilterOptions = {}): RunKey | undefined {
  if (!isObj(obj) || runKind(obj, options.kind) !== 'TaskRun') return undefined;
  const metadata = isObj(obj['metadata']) ? obj['metadata'] : {};
  const namespace = str(metadata['namespace']);
  const parent = stringMap(metadata['labels'])[pipelineRunLabel];
  if (namespace === undefined || parent === undefined) return undefined;
  const scope = options.namespaces ?? [];
  if (scope.length > 0 && !scope.includes(namespace)) return undefined;
  if (metadata['deletionTimestamp'] !== undefined && metadata['deletionTimestamp'] !== null) return undefined;
  if (!isDone(obj)) return undefined;
  const owners = Array.isArray(metadata['ownerReferences']) ? metadata['ownerReferences'] : [];
  const owner = owners.find((o): o is Obj => isObj(o) && o['kind'] === 'PipelineRun' && o['name'] === parent);
  const uid = owner === undefined ? undefined : str(owner['uid']);
  if (uid === undefined) return undefined;
  return { kind: 'PipelineRun', namespace, name: parent, uid };
}
