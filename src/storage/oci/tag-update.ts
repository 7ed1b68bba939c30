/**
 * Read-modify-write of a tagged manifest (cosign `.att`/`.sig`, referrers tag-schema index) that does
 * not lose concurrent writers' entries, on registries without conditional PUT (Distribution has no If-Match).
 *
 * 1. Writers of the same tag through the same client are coalesced: one runner per repo/tag takes every
 *    pending update, applies them all to one read, and writes once (20 parallel stores → a few PUTs).
 * 2. Every read-modify-write of one tag runs under a lock: a process-wide mutex always (separate storage
 *    instances, other credentials), and the `lock` option when replicas share one (the controller passes
 *    a Redis lock when it runs on BullMQ), which makes the update a real critical section.
 * 3. Writers we cannot lock out (cosign run by hand, a replica without the shared lock): after a PUT we
 *    wait a settle time, re-read the tag and check every entry of the batch is still there; if another
 *    writer overwrote the tag from an older read, we merge again and re-PUT (bounded attempts, then
 *    `transient` `OCI_CONCURRENT_UPDATE` so the job retries). Such an entry is lost only if the other
 *    writer's whole read→PUT spans our PUT *and* the settle time.
 */
import type { RegistryClient } from './registry-client.js';
import { ProvenantError } from '../../errors.js';

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
export type TagLock = <T>(key: string, fn: () => Promise<T>) => Promise<T>;

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
  /** A lock shared across replicas (e.g. in Redis); the process-wide mutex is always taken too. */
  readonly lock?: TagLock;
}

export const defaultTagUpdateOptions: TagUpdateOptions = {
  settleMs: 100,
  maxAttempts: 6,
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

interface Pending {
  readonly update: TagUpdate;
  readonly resolve: (wrote: boolean) => void;
  readonly reject: (err: unknown) => void;
}

interface Queue {
  readonly pending: Pending[];
  running: boolean;
}

/** Per client (i.e. per set of credentials): a batch is written with the credentials of its writers only. */
const queuesByClient = new WeakMap<RegistryClient, Map<string, Queue>>();

/** Tail of the chain of holders per `registry/repository:tag`, process-wide. */
const processLocks = new Map<string, Promise<void>>();

/** A FIFO mutex per key within this process. */
export const processTagLock: TagLock = async (key, fn) => {
  const previous = processLocks.get(key) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((resolve) => (release = resolve));
  const tail = previous.then(() => mine);
  processLocks.set(key, tail);
  await previous;
  try {
    return await fn();
  } finally {
    release();
    if (processLocks.get(key) === tail) processLocks.delete(key);
  }
};

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
    const current = await client.getManifest(repository, tag);
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
    const after = (await client.getManifest(repository, tag))?.json;
    if (batch.every((p) => p.update.contains(after))) break;
    if (attempt === options.maxAttempts) {
      throw new ProvenantError('transient', 'OCI_CONCURRENT_UPDATE', `tag ${tag} in ${client.registry}/${repository} kept changing under concurrent writers`, {
        context: { registry: client.registry, repository, tag },
      });
    }
  }
  for (const p of batch) p.resolve(wrote.has(p));
}

/** Adds this writer's entries to the tag. Resolves true when this call wrote them, false when they were there. */
export function updateTag(client: RegistryClient, repository: string, tag: string, kind: TagKind, update: TagUpdate, options: TagUpdateOptions): Promise<boolean> {
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
            const lockKey = `${client.registry}/${repository}:${tag}`;
            const locked = () => processTagLock(lockKey, () => runBatch(client, repository, tag, kind, batch, options, () => q.pending.splice(0)));
            // The process mutex is not reentrant: take it once even when it is also the configured lock.
            await (options.lock !== undefined && options.lock !== processTagLock ? options.lock(lockKey, locked) : locked());
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
}
