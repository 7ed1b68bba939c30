/**
 * Where the CLI's `inspect` and `verify` read stored attestations from: the live run (Kubernetes API,
 * kubectl's kubeconfig search order with the CLI's own environment), registry credentials (docker
 * config), and Rekor entries named by `chains.tekton.dev/transparency`.
 */
import path from 'node:path';
import type { SerializedBundle } from '@sigstore/bundle';
import { ProvenantError, errorMessage } from '../errors.js';
import { checkJsonShape, limits, readBodyBounded, violationError } from '../limits.js';
import { createRunStore, loadKubeConfig, type RunKind } from '../tekton/index.js';

export interface LiveRunOptions {
  readonly kind: RunKind;
  readonly name: string;
  /** `-n`; default the kubeconfig context's namespace, else `default`. */
  readonly namespace?: string | undefined;
  /** `--kubeconfig`; default `$KUBECONFIG` (first entry) from `env`, then `~/.kube/config`, then in-cluster. */
  readonly kubeconfig?: string | undefined;
  readonly env: NodeJS.ProcessEnv;
}

export interface LiveRun {
  readonly kind: RunKind;
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly annotations: Readonly<Record<string, string>>;
  readonly raw: Record<string, unknown>;
}

/** GETs the run now (never a cache). Throws `input` `RUN_NOT_FOUND` when it does not exist. */
export async function loadLiveRun(options: LiveRunOptions): Promise<LiveRun> {
  const fromEnv = options.env['KUBECONFIG']?.split(path.delimiter).find((p) => p !== '');
  const kubeconfigPath = options.kubeconfig ?? fromEnv;
  const kc = loadKubeConfig(kubeconfigPath === undefined ? {} : { kubeconfigPath });
  const namespace = options.namespace ?? kc.namespace ?? 'default';
  const raw = await createRunStore(kc).get({ kind: options.kind, namespace, name: options.name });
  if (raw === undefined || typeof raw !== 'object' || raw === null) {
    throw new ProvenantError('input', 'RUN_NOT_FOUND', `${options.kind} ${namespace}/${options.name} does not exist`, {
      context: { hint: 'check the name, -n NAMESPACE and the kubeconfig context' },
    });
  }
  const obj = raw as Record<string, unknown>;
  const metadata = (typeof obj['metadata'] === 'object' && obj['metadata'] !== null ? obj['metadata'] : {}) as Record<string, unknown>;
  const annotations = (typeof metadata['annotations'] === 'object' && metadata['annotations'] !== null ? metadata['annotations'] : {}) as Record<string, string>;
  return {
    kind: options.kind,
    namespace,
    name: options.name,
    uid: typeof metadata['uid'] === 'string' ? metadata['uid'] : '',
    annotations,
    raw: obj,
  };
}

export { loadDockerCredentials } from './docker-config.js';

type TlogEntry = SerializedBundle['verificationMaterial']['tlogEntries'][number];

interface RekorLogEntry {
  readonly body: string;
  readonly integratedTime: number;
  readonly logID: string;
  readonly logIndex: number;
  readonly verification?: {
    readonly signedEntryTimestamp?: string;
    readonly inclusionProof?: {
      readonly checkpoint?: string;
      readonly hashes?: readonly string[];
      readonly logIndex?: number;
      readonly rootHash?: string;
      readonly treeSize?: number;
    };
  };
}

/** Rekor v1's log entry JSON as a bundle tlog entry (hex fields become base64). */
export function tlogEntryFromRekor(entry: RekorLogEntry): TlogEntry {
  const invalid = (what: string, cause?: unknown): ProvenantError =>
    new ProvenantError('permanent', 'REKOR_ENTRY_INVALID', `the Rekor entry ${what}`, cause === undefined ? {} : { cause });
  checkJsonShape(entry, limits.rekor, violationError('input', 'REKOR_ENTRY_INVALID', 'Rekor entry'));
  if (typeof entry !== 'object' || entry === null || typeof entry.body !== 'string') throw invalid('has no body');
  const scalar = (v: unknown): boolean => typeof v === 'number' || typeof v === 'string';
  if (!scalar(entry.logIndex) || !scalar(entry.integratedTime)) throw invalid('has no log index or integrated time');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(entry.body, 'base64').toString('utf8'));
  } catch (cause) {
    throw invalid('body is not base64 JSON', cause);
  }
  checkJsonShape(parsed, limits.rekor, violationError('input', 'REKOR_ENTRY_INVALID', 'Rekor entry body'));
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalid('body is not a JSON object');
  const body = parsed as { kind?: unknown; apiVersion?: unknown };
  const proof = entry.verification?.inclusionProof;
  const verification = entry.verification as unknown;
  if (verification !== undefined && (typeof verification !== 'object' || verification === null)) throw invalid('verification is malformed');
  const proofOk =
    proof === undefined ||
    (typeof proof === 'object' &&
      proof !== null &&
      (proof.hashes === undefined || (Array.isArray(proof.hashes) && proof.hashes.every((h) => typeof h === 'string'))) &&
      ['rootHash', 'checkpoint'].every((k) => proof[k as 'rootHash'] === undefined || typeof proof[k as 'rootHash'] === 'string') &&
      ['logIndex', 'treeSize'].every((k) => proof[k as 'logIndex'] === undefined || typeof proof[k as 'logIndex'] === 'number'));
  const set = entry.verification?.signedEntryTimestamp as unknown;
  if (!proofOk || typeof entry.logID !== 'string' || (set !== undefined && typeof set !== 'string')) throw invalid('has malformed fields');
  const hex = (h: string): string => Buffer.from(h, 'hex').toString('base64');
  return {
    logIndex: String(entry.logIndex),
    logId: { keyId: hex(entry.logID) },
    kindVersion: { kind: typeof body.kind === 'string' ? body.kind : '', version: typeof body.apiVersion === 'string' ? body.apiVersion : '' },
    integratedTime: String(entry.integratedTime),
    inclusionPromise: entry.verification?.signedEntryTimestamp === undefined ? undefined : { signedEntryTimestamp: entry.verification.signedEntryTimestamp },
    inclusionProof:
      proof === undefined
        ? undefined
        : {
            logIndex: String(proof.logIndex ?? entry.logIndex),
            rootHash: hex(proof.rootHash ?? ''),
            treeSize: String(proof.treeSize ?? 0),
            hashes: (proof.hashes ?? []).map(hex),
            checkpoint: { envelope: proof.checkpoint ?? '' },
          },
    canonicalizedBody: entry.body,
  } as TlogEntry;
}

/**
 * Fetches the Rekor entry a `chains.tekton.dev/transparency` annotation points at
 * (`<rekor>/api/v1/log/entries?logIndex=N`). Throws `transient` `REKOR_UNAVAILABLE` when it cannot.
 */
export async function fetchRekorEntry(url: string, fetchFn: typeof fetch = fetch): Promise<TlogEntry> {
  let response: Response;
  try {
    response = await fetchFn(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(15_000) });
  } catch (cause) {
    throw new ProvenantError('transient', 'REKOR_UNAVAILABLE', `cannot fetch the Rekor entry ${url}: ${errorMessage(cause)}`, { cause });
  }
  if (!response.ok) {
    throw new ProvenantError('transient', 'REKOR_UNAVAILABLE', `Rekor answered HTTP ${response.status} for ${url}`, { context: { status: response.status } });
  }
  const { bytes } = await readBodyBounded(response, limits.rekor.maxBytes, {
    tooLarge: (actual) =>
      new ProvenantError('input', 'REKOR_ENTRY_INVALID', `Rekor's answer for ${url} has more than ${limits.rekor.maxBytes} bytes (${actual})`, {
        context: { limit: 'bytes', max: limits.rekor.maxBytes, actual, hint: 'see docs/limits.md' },
      }),
    failed: (cause) => new ProvenantError('transient', 'REKOR_UNAVAILABLE', `cannot read the Rekor entry ${url}: ${errorMessage(cause)}`, { cause }),
  });
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (cause) {
    throw new ProvenantError('permanent', 'REKOR_ENTRY_INVALID', `Rekor's answer for ${url} is not JSON`, { cause });
  }
  checkJsonShape(json, limits.rekor, violationError('input', 'REKOR_ENTRY_INVALID', `Rekor's answer for ${url}`));
  const entries = Array.isArray(json) ? (json as unknown[]) : [json];
  for (const e of entries) {
    if (typeof e !== 'object' || e === null) continue;
    const first = Object.values(e as Record<string, unknown>)[0] as RekorLogEntry | null | undefined;
    if (typeof first === 'object' && first !== null && typeof first.body === 'string') return tlogEntryFromRekor(first);
  }
  throw new ProvenantError('transient', 'REKOR_UNAVAILABLE', `Rekor returned no entry for ${url}`);
}
