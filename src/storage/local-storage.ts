/**
 * `local` storage: a directory tree, the embedded default. One directory per run, two files per
 * signed artifact:
 *
 *   <root>/<namespace>/<kind lower>-<name>-<uid>/run.json
 *   <root>/<namespace>/<kind lower>-<name>-<uid>/<shortKey>.bundle.json
 *   <root>/<namespace>/<kind lower>-<name>-<uid>/<shortKey>.payload.json
 *
 * `run.json` holds the RunKey so readers never have to split `<name>-<uid>` (both contain `-`).
 * Every file is written to a temporary name in the same directory and renamed, so a reader (or a
 * crash) never sees half a file; storing the same request again rewrites identical bytes.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { SerializedBundle } from '@sigstore/bundle';
import { ProvenantError, errorMessage } from '../errors.js';
import type { Logger } from '../observability/index.js';
import { formatRunKey, type RunKey } from '../tekton/run-key.js';
import type { StorageBackend, StoreRequest, StoreResult } from './types.js';

export interface LocalStorageDeps {
  /** `storage.local.path`. */
  readonly root: string;
  readonly logger: Logger;
}

/** One stored artifact, as `readLocal` finds it. */
export interface LocalEntry {
  readonly run: RunKey;
  readonly shortKey: string;
  readonly bundlePath: string;
  readonly payloadPath: string;
  readonly bundle: SerializedBundle;
  readonly payload: Uint8Array;
}

const bundleSuffix = '.bundle.json';
const payloadSuffix = '.payload.json';
const runFile = 'run.json';

/**
 * A path segment built from Kubernetes names. Kubernetes already restricts names to DNS labels, but
 * the CLI can be fed any file: refuse anything that could leave the root or hide a file.
 */
function assertSegment(value: string, field: string): void {
  if (
    value.length === 0 ||
    value.length > 253 ||
    value === '.' ||
    value === '..' ||
    value.startsWith('.') ||
    /[/\\\0]/.test(value)
  ) {
    throw new ProvenantError('permanent', 'LOCAL_INVALID_NAME', `local storage: ${field} is not usable as a path segment`, {
      context: { field, value },
    });
  }
}

/** Directory of one run, relative to the root. */
export function localRunDirectory(run: RunKey): string {
  assertSegment(run.namespace, 'namespace');
  assertSegment(run.name, 'name');
  assertSegment(run.uid, 'uid');
  const kind = run.kind.toLowerCase();
  const full = `${kind}-${run.name}-${run.uid}`;
  if (Buffer.byteLength(full) <= maxNameBytes) return path.join(run.namespace, full);
  // Kubernetes allows 253-character names, file systems 255-byte file names: cut the name and keep
  // it unique with a hash of the whole name (run.json still holds the real key for readers).
  const hash = createHash('sha256').update(run.name).digest('hex').slice(0, 16);
  let name = run.name;
  while (name.length > 0 && Buffer.byteLength(`${kind}-${name}-${hash}-${run.uid}`) > maxNameBytes) name = name.slice(0, -1);
  return path.join(run.namespace, `${kind}-${name}-${hash}-${run.uid}`);
}

/** The longest file name most file systems accept (ext4, xfs, btrfs, APFS: 255 bytes). */
const maxNameBytes = 255;

async function writeAtomically(file: string, data: Uint8Array | string): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, data, { flag: 'wx' });
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

function storageError(err: unknown, run: RunKey, dir: string): ProvenantError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  // A full disk or a busy file may clear up; a permission or path problem will not.
  const transient = code === 'ENOSPC' || code === 'EBUSY' || code === 'EAGAIN' || code === 'EMFILE' || code === 'ENFILE';
  return new ProvenantError(transient ? 'transient' : 'permanent', 'LOCAL_WRITE_FAILED', `local storage: cannot write ${dir}: ${errorMessage(err)}`, {
    cause: err,
    context: { run: formatRunKey(run), errno: code },
  });
}

export function createLocalStorage(deps: LocalStorageDeps): StorageBackend {
  const root = path.resolve(deps.root);
  return {
    name: 'local',
    async store(request: StoreRequest): Promise<StoreResult> {
      const { run, artifact } = request;
      assertSegment(artifact.shortKey, 'shortKey');
      const dir = path.join(root, localRunDirectory(run));
      const bundlePath = path.join(dir, `${artifact.shortKey}${bundleSuffix}`);
      const payloadPath = path.join(dir, `${artifact.shortKey}${payloadSuffix}`);
      try {
        await mkdir(dir, { recursive: true });
        const runJson = JSON.stringify({ kind: run.kind, namespace: run.namespace, name: run.name, uid: run.uid }, null, 2) + '\n';
        // Payload first, bundle last: a bundle file means the pair is complete.
        await writeAtomically(path.join(dir, runFile), runJson);
        await writeAtomically(payloadPath, request.payload);
        await writeAtomically(bundlePath, JSON.stringify(request.bundle, null, 2) + '\n');
      } catch (err) {
        throw storageError(err, run, dir);
      }
      deps.logger.debug({ run: formatRunKey(run), shortKey: artifact.shortKey, dir }, 'stored in local directory');
      return { backend: 'local', locations: [bundlePath, payloadPath] };
    },
  };
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw err;
  }
}

function parseRunKey(text: string, file: string): RunKey {
  const value: unknown = JSON.parse(text);
  if (typeof value === 'object' && value !== null) {
    const v = value as Record<string, unknown>;
    if (
      (v['kind'] === 'TaskRun' || v['kind'] === 'PipelineRun') &&
      typeof v['namespace'] === 'string' &&
      typeof v['name'] === 'string' &&
      typeof v['uid'] === 'string'
    ) {
      return { kind: v['kind'], namespace: v['namespace'], name: v['name'], uid: v['uid'] };
    }
  }
  throw new ProvenantError('input', 'LOCAL_CORRUPT', `local storage: ${file} is not a run key`, { context: { file } });
}

async function readRunDirectory(dir: string, runHint: RunKey | undefined): Promise<LocalEntry[]> {
  const files = await listDir(dir);
  if (files.length === 0) return [];
  let run = runHint;
  if (run === undefined) {
    if (!files.includes(runFile)) return [];
    run = parseRunKey(await readFile(path.join(dir, runFile), 'utf8'), path.join(dir, runFile));
  }
  const entries: LocalEntry[] = [];
  for (const file of files.filter((f) => f.endsWith(bundleSuffix) && !f.startsWith('.')).sort()) {
    const shortKey = file.slice(0, -bundleSuffix.length);
    const bundlePath = path.join(dir, file);
    const payloadPath = path.join(dir, `${shortKey}${payloadSuffix}`);
    let bundle: SerializedBundle;
    try {
      bundle = JSON.parse(await readFile(bundlePath, 'utf8')) as SerializedBundle;
    } catch (err) {
      throw new ProvenantError('input', 'LOCAL_CORRUPT', `local storage: cannot read ${bundlePath}: ${errorMessage(err)}`, {
        cause: err,
        context: { file: bundlePath },
      });
    }
    let payload: Uint8Array;
    try {
      payload = new Uint8Array(await readFile(payloadPath));
    } catch (err) {
      throw new ProvenantError('input', 'LOCAL_CORRUPT', `local storage: cannot read ${payloadPath}: ${errorMessage(err)}`, {
        cause: err,
        context: { file: payloadPath },
      });
    }
    entries.push({ run, shortKey, bundlePath, payloadPath, bundle, payload });
  }
  return entries;
}

/**
 * What the `local` backend holds: every artifact under `root`, or only those of one run.
 * A missing root or run directory yields an empty list.
 */
export async function readLocal(root: string, run?: RunKey): Promise<LocalEntry[]> {
  const base = path.resolve(root);
  if (run !== undefined) return readRunDirectory(path.join(base, localRunDirectory(run)), run);
  const entries: LocalEntry[] = [];
  for (const namespace of (await listDir(base)).sort()) {
    if (namespace.startsWith('.')) continue;
    for (const runDir of (await listDir(path.join(base, namespace))).sort()) {
      if (runDir.startsWith('.')) continue;
      entries.push(...(await readRunDirectory(path.join(base, namespace, runDir), undefined)));
    }
  }
  return entries;
}
