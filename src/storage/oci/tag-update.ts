/**
 * Read-modify-write of a tagged manifest (cosign `.att`/`.sig`, referrers tag-schema index) that does
 * not lose concurrent writers' entries, on registries without conditional PUT (Distribution has no If-Match).
 *
 * 1. Writers of the same tag through the same client are coalesced: one runner per repo/tag takes every
 *    pending update, applies them all to one read, and writes once (20 parallel stores → a few PUTs).
 * 2. Every read-modify-write of one tag runs under a lock decided by the explicit coordination value:
 *    `{mode: 'process'}` takes the writer's own mutex (shared by every storage instance built with the
 *    same writer: other credentials, other ServiceAccounts); `{mode: 'shared', lock}` takes a lock every
 *    provenant writer of the deployment takes (Redis across replicas, or the process mutex of a single
 *    replica), which makes the update a real critical section.
 * 3. Writers we cannot lock out (cosign run by hand, a CLI next to a controller): in `process` mode, after a PUT we
 *    wait a settle time, re-read the tag and check every entry of the batch is still there; if another
 *    writer overwrote the tag from an older read, we merge again and re-PUT (bounded attempts, then
 *    `transient` `OCI_CONCURRENT_UPDATE` so the job retries). Such an entry is lost only if the other
 *    writer's whole read→PUT spans our PUT *and* the settle time.
 */
import type { RegistryClient } from './registry-client.js';
import { ProvenantError, isProvenantError } from '../../errors.js';
import { createKeyedMutex, type KeyedLock } from '../../mutex.js';

export type Doc = Record<string, unknown>;

export interface TagUpdate {
  /** The document with this writer's entries added, or undefined when `doc` already has them. Pure. */
  readonly apply: (doc: Doc | undefined) => Doc | undefined;
  /** True when `doc` contains everything this writer adds. */
  readonly contains: (doc: Doc | undefined) => boolean;
  /**
   * Settles once what the new entries reference exists (e.g. the layer blob uploaded): awaited before
   * the PUT, so the upload overlaps the tag read instead of preceding it.
   */
  readonly ready?: Promise<unknown>;
}

export interface TagKind {
  readonly mediaType: string;
  /** Final bytes of the document (may upload blobs it references first, e.g. the `.att` config). */
  readonly serialise: (doc: Doc) => Promise<Uint8Array>;
}

/** Runs `fn` while holding the lock named `key` (shared by every writer that can see the lock). */
export type TagLock = KeyedLock;

/**
 * How tag writes are coordinated, stated explicitly (not inferred from whether a lock was passed):
 * - `process`: this process's writers exclude each other; other processes may write the same tags
 *   (a CLI next to a controller, cosign), so every PUT is followed by a settle wait and a re-read.
 * - `shared`: every provenant writer of the deployment takes `lock` (Redis across replicas, or the
 *   process mutex of a single-replica controller), so the re-read needs no settle wait.
 */
export type TagWriteCoordination = { readonly mode: 'process' } | { readonly mode: 'shared'; readonly lock: TagLock };

export interface TagUpdateOptions {
  readonly settleMs: number;
  /**
   * Re-read the tag after each PUT and re-merge if another writer overwrote it (default true). Off
   * when every writer takes the shared lock: the re-read could then only catch a foreign writer
   * (cosign by hand) whose PUT lands within one round trip, and costs a request per tag write.
   */
  readonly verifyAfterWrite?: boolean;
  readonly maxAttempts: number;
  readonly sleep: (ms: number) => Promise<void>;
}

export const defaultTagUpdateOptions: TagUpdateOptions = {
  settleMs: 100,
  maxAttempts: 6,
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

/** The settle wait a coordination mode calls for. */
export function settleMsFor(coordination: TagWriteCoordination): number {
  return coordination.mode === 'shared' ? 0 : defaultTagUpdateOptions.settleMs;
}

interface Pending {
  readonly update: TagUpdate;
  readonly resolve: (wrote: boolean) => void;
  readonly reject: (err: unknown) => void;
}

interface Queue {
  readonly pending: Pending[];
  running: boolean;
}

/**
 * Reads the tag, asking again (a few times, briefly) after a transient answer: CNCF Distribution's
 * filesystem driver answers 500 to a manifest GET while another writer replaces the same tag, which
 * is exactly when the read-modify-write below reads. A GET is safe to repeat; a PUT is not retried here.
 */
async function readTag(client: RegistryClient, repository: string, tag: string, options: TagUpdateOptions): ReturnType<RegistryClient['getManifest']> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await client.getManifest(repository, tag);
    } catch (err) {
      if (attempt >= tagReadAttempts || !isProvenantError(err) || err.kind !== 'transient') throw err;
      await options.sleep(20 * attempt);
    }
  }
}

const tagReadAttempts = 4;

async function runBatch(
  client: RegistryClient,
  repository: string,
  tag: string,
  kind: TagKind,
  batch: Pending[],
  options: TagUpdateOptions,
  late: () => Pending[],
): Promise<void> {
  const wrote = new Set<Pending>();
  for (let attempt = 1; attempt <= options.maxAttempts; attempt++) {
    // Where writers outside the lock may write the tag (process mode), read only once the uploads are
    // done: the read → PUT window is where another writer's entry can be overwritten, and the settle
    // check after the PUT only covers writes that land within it. Under a shared lock the read may
    // overlap the uploads (nobody else writes the tag meanwhile).
    if (options.verifyAfterWrite !== false) await Promise.all(batch.map((p) => p.update.ready));
    const current = await readTag(client, repository, tag, options);
    let doc: Doc | undefined = current?.json;
    let changed = false;
    const applyAll = (ps: readonly Pending[]): void => {
      for (const p of ps) {
        const next = p.update.apply(doc);
        if (next !== undefined) {
          doc = next;
          changed = true;
          wrote.add(p);
        }
      }
    };
    applyAll(batch);
    if (!changed || doc === undefined) break;
    // Writers that arrived while this batch waited for its uploads join it: their entries go on the
    // document read under the lock, so one PUT carries them all.
    for (;;) {
      await Promise.all(batch.map((p) => p.update.ready));
      const joined = late();
      if (joined.length === 0) break;
      batch.push(...joined);
      applyAll(joined);
    }
    await client.putManifest(repository, tag, await kind.serialise(doc), kind.mediaType);
    if (options.verifyAfterWrite === false) break;
    if (options.settleMs > 0) await options.sleep(options.settleMs + Math.floor(Math.random() * options.settleMs));
    const after = (await readTag(client, repository, tag, options))?.json;
    if (batch.every((p) => p.update.contains(after))) break;
    if (attempt === options.maxAttempts) {
      throw new ProvenantError('transient', 'OCI_CONCURRENT_UPDATE', `tag ${tag} in ${client.registry}/${repository} kept changing under concurrent writers`, {
        context: { registry: client.registry, repository, tag },
      });
    }
  }
  for (const p of batch) p.resolve(wrote.has(p));
}

export interface TagWriter {
  readonly coordination: TagWriteCoordination;
  /** Adds this writer's entries to the tag. Resolves true when this call wrote them, false when they were there. */
  update(client: RegistryClient, repository: string, tag: string, kind: TagKind, update: TagUpdate): Promise<boolean>;
}

/**
 * One writer per process (the wiring builds it once and hands it to every `oci` backend), so storage
 * instances with different credentials still coalesce and exclude each other. `tuning` is for tests.
 */
export function createTagWriter(coordination: TagWriteCoordination, tuning: Partial<TagUpdateOptions> = {}): TagWriter {
  // Under the shared lock the re-read after a PUT goes with the settle wait: it could only catch a
  // foreign writer (cosign by hand) whose PUT lands within one round trip.
  const options: TagUpdateOptions = {
    ...defaultTagUpdateOptions,
    settleMs: settleMsFor(coordination),
    ...(coordination.mode === 'shared' ? { verifyAfterWrite: false } : {}),
    ...tuning,
  };
  const lock: TagLock = coordination.mode === 'shared' ? coordination.lock : createKeyedMutex();
  /** Per client (i.e. per set of credentials): a batch is written with the credentials of its writers only. */
  const queuesByClient = new WeakMap<RegistryClient, Map<string, Queue>>();

  return {
    coordination,
    update(client, repository, tag, kind, update) {
      const key = `${repository}:${tag}`;
      let queues = queuesByClient.get(client);
      if (queues === undefined) {
        queues = new Map();
        queuesByClient.set(client, queues);
      }
      const qs = queues;
      let queue = queues.get(key);
      if (queue === undefined) {
        queue = { pending: [], running: false };
        queues.set(key, queue);
      }
      const q = queue;
      const result = new Promise<boolean>((resolve, reject) => q.pending.push({ update, resolve, reject }));
      if (!q.running) {
        q.running = true;
        void (async () => {
          try {
            while (q.pending.length > 0) {
              const batch = q.pending.splice(0);
              try {
                // Writers arriving while the batch waits for its uploads join it (`late`).
                await lock(`${client.registry}/${repository}:${tag}`, () => runBatch(client, repository, tag, kind, batch, options, () => q.pending.splice(0)));
              } catch (err) {
                for (const p of batch) p.reject(err);
              }
            }
          } finally {
            q.running = false;
            if (q.pending.length === 0 && qs.get(key) === q) qs.delete(key);
          }
        })();
      }
      return result;
    },
  };
}
