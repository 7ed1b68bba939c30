/**
 * Read-modify-write of a tagged manifest (cosign `.att`/`.sig`, referrers tag-schema index) that does
 * not lose concurrent writers' entries, on registries without conditional PUT (Distribution has no If-Match).
 *
 * 1. Writers of the same tag through the same client are coalesced: one runner per repo/tag takes every
 *    pending update, applies them all to one read, and writes once (20 parallel stores → a few PUTs).
 * 2. Across processes (several workers): after a PUT we wait a settle time, re-read the tag and check every
 *    entry of the batch is still there; if another writer overwrote the tag from an older read, we merge
 *    again and re-PUT (bounded attempts, then `transient` `OCI_CONCURRENT_UPDATE` so the job retries).
 *    An entry is lost only if another writer's whole read→PUT spans our PUT *and* the settle time.
 */
import type { RegistryClient } from './registry-client.js';
import { ProvenantError } from '../../errors.js';

export type Doc = Record<string, unknown>;

export interface TagUpdate {
  /** The document with this writer's entries added, or undefined when `doc` already has them. Pure. */
  readonly apply: (doc: Doc | undefined) => Doc | undefined;
  /** True when `doc` contains everything this writer adds. */
  readonly contains: (doc: Doc | undefined) => boolean;
}

export interface TagKind {
  readonly mediaType: string;
  /** Final bytes of the document (may upload blobs it references first, e.g. the `.att` config). */
  readonly serialise: (doc: Doc) => Promise<Uint8Array>;
}

export interface TagUpdateOptions {
  readonly settleMs: number;
  readonly maxAttempts: number;
  readonly sleep: (ms: number) => Promise<void>;
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

async function runBatch(client: RegistryClient, repository: string, tag: string, kind: TagKind, batch: readonly Pending[], options: TagUpdateOptions): Promise<void> {
  const wrote = new Set<Pending>();
  for (let attempt = 1; attempt <= options.maxAttempts; attempt++) {
    const current = await client.getManifest(repository, tag);
    let doc: Doc | undefined = current?.json;
    let changed = false;
    for (const p of batch) {
      const next = p.update.apply(doc);
      if (next !== undefined) {
        doc = next;
        changed = true;
        wrote.add(p);
      }
    }
    if (!changed || doc === undefined) break;
    await client.putManifest(repository, tag, await kind.serialise(doc), kind.mediaType);
    await options.sleep(options.settleMs + Math.floor(Math.random() * options.settleMs));
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
            await runBatch(client, repository, tag, kind, batch, options);
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
