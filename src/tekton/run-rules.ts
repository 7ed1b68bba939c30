/**
 * The run rules (ARCHITECTURE.md): done, signed, copied, parent. Each is one pure function of the
 * raw object, called by the enqueue filter (watch/) and by reconcile alike, so they cannot drift.
 */
import {
  certAnnotationPrefix,
  payloadAnnotationPrefix,
  signatureAnnotationPrefix,
  signedAnnotation,
  signedUidAnnotation,
  signedValues,
} from './annotations.js';
import type { RunKey, RunKind } from './run-key.js';

/** Tekton Pipelines' label on a child TaskRun naming its PipelineRun. */
export const pipelineRunLabel = 'tekton.dev/pipelineRun';

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function stringMap(v: unknown): Readonly<Record<string, string>> {
  if (!isObj(v)) return {};
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) if (typeof val === 'string') out[k] = val;
  return out;
}

function metadataOf(obj: unknown): Obj {
  return isObj(obj) && isObj(obj['metadata']) ? obj['metadata'] : {};
}

/** Rule "done": the `Succeeded` condition is True or False (failed runs are attested too). */
export function isDone(obj: unknown): boolean {
  if (!isObj(obj) || !isObj(obj['status'])) return false;
  const conditions = obj['status']['conditions'];
  if (!Array.isArray(conditions)) return false;
  const succeeded = conditions.find((c): c is Obj => isObj(c) && c['type'] === 'Succeeded');
  return succeeded !== undefined && (succeeded['status'] === 'True' || succeeded['status'] === 'False');
}

/**
 * Rule "copied": the signing annotations on this run were written for another run (copied by a
 * re-run tool, Chains #1004). Evidence, strongest first: our `signed-uid`; else Chains' `tekton`
 * storage keys (`chains.tekton.dev/{payload,signature,cert}-<kind>-<uid>`) naming only other uids.
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

/**
 * Rule "signed": where this run stands. `copied` = it carries `signed=true|failed` written for
 * another run, so it still needs signing. `signed` and `failed` both mean "reconciled".
 */
export type SigningState = 'unsigned' | 'signed' | 'failed' | 'copied';

export function signingState(annotations: Readonly<Record<string, string>>, kind: RunKind, uid: string): SigningState {
  const signed = annotations[signedAnnotation];
  if (signed !== signedValues.true && signed !== signedValues.failed) return 'unsigned';
  if (hasCopiedSignature(annotations, kind, uid)) return 'copied';
  return signed === signedValues.true ? 'signed' : 'failed';
}

/** `signingState` of a raw run object (its own kind, uid and annotations). */
export function runSigningState(obj: unknown, kind: RunKind): SigningState {
  const metadata = metadataOf(obj);
  return signingState(stringMap(metadata['annotations']), kind, str(metadata['uid']) ?? '');
}

/** True when the run needs no (more) signing: signed or failed by provenant or Chains for this very run. */
export function isReconciled(state: SigningState): boolean {
  return state === 'signed' || state === 'failed';
}

/**
 * Rule "parent": the PipelineRun that owns a TaskRun. The owner reference gives the uid; when the
 * `tekton.dev/pipelineRun` label is present it must name the same PipelineRun.
 */
export function parentPipelineRun(obj: unknown): RunKey | undefined {
  const metadata = metadataOf(obj);
  const namespace = str(metadata['namespace']);
  if (namespace === undefined) return undefined;
  const label = stringMap(metadata['labels'])[pipelineRunLabel];
  const owners = Array.isArray(metadata['ownerReferences']) ? metadata['ownerReferences'] : [];
  const owner = owners.find(
    (o): o is Obj => isObj(o) && o['kind'] === 'PipelineRun' && str(o['name']) !== undefined && (label === undefined || o['name'] === label),
  );
  const name = owner === undefined ? undefined : str(owner['name']);
  const uid = owner === undefined ? undefined : str(owner['uid']);
  if (name === undefined || uid === undefined) return undefined;
  return { kind: 'PipelineRun', namespace, name, uid };
}
