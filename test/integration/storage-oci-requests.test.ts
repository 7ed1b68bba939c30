/**
 * What `oci` storage asks of the registry for one run: the subject HEAD once per image, no blob
 * uploaded twice, a run's (artifact, image) pairs near the request floor, tag writes for one image
 * coalesced when a run's artifacts are stored together. Counts requests, never times them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, type RegistryHandle } from '../support/services.js';
import { createTestKey, pushTestImage, signMessage, signProvenance, simpleSigningPayload, testStatement, type PushedImage, type TestKey } from '../support/oci-image.js';
import { createKeyedMutex } from '../../src/mutex.js';
import { createSilentLogger } from '../../src/observability/index.js';
import { createOciStorage, createTagWriter } from '../../src/storage/oci/index.js';
import type { StoreRequest } from '../../src/storage/types.js';
import type { OciEncoding } from '../../src/config/types.js';

let registry: RegistryHandle;
let key: TestKey;

beforeAll(async () => {
  registry = await startRegistry();
  key = createTestKey();
});

afterAll(async () => {
  await registry?.stop();
});

interface Seen {
  readonly method: string;
  readonly path: string;
  readonly search: string;
}

/** A `fetch` that records each request as `METHOD path` (digests and upload ids kept). */
function countingFetch(): { fetch: typeof fetch; seen: Seen[] } {
  const seen: Seen[] = [];
  const f = (async (input: URL | string, init?: RequestInit) => {
    const url = new URL(String(input));
    seen.push({ method: (init?.method ?? 'GET').toUpperCase(), path: url.pathname, search: url.search });
    return fetch(input, init);
  }) as typeof fetch;
  return { fetch: f, seen };
}

async function runRequests(images: PushedImage[], uid: string): Promise<StoreRequest[]> {
  const run = { kind: 'TaskRun', namespace: 'ns', name: `build-${uid}`, uid } as const;
  const first = images[0]!;
  const statement = testStatement(first, Number.parseInt(uid.replace(/\D/g, '') || '0', 10));
  const provenance: StoreRequest = {
    run,
    artifact: {
      type: 'provenance',
      shortKey: `taskrun-${uid}`,
      subjects: images.map((im) => ({ name: im.name, digest: { sha256: im.hex } })),
      predicateType: 'https://slsa.dev/provenance/v0.2',
    },
    payload: statement,
    bundle: await signProvenance(key, statement),
  };
  const signatures = await Promise.all(
    images.map(async (im): Promise<StoreRequest> => {
      const payload = simpleSigningPayload(im);
      return {
        run,
        artifact: { type: 'image-signature', shortKey: im.hex.slice(0, 12), subjects: [{ name: im.name, digest: { sha256: im.hex } }] },
        payload,
        bundle: await signMessage(key, payload),
      };
    }),
  );
  return [provenance, ...signatures];
}

function storage(encoding: OciEncoding, f: typeof fetch): ReturnType<typeof createOciStorage> {
  // The controller's configuration: every writer takes the tag lock.
  const tagWriter = createTagWriter({ mode: 'shared', lock: createKeyedMutex() });
  return createOciStorage({ config: { repository: undefined, insecure: true, encoding }, logger: createSilentLogger(), fetch: f, tagWriter });
}

const count = (seen: readonly Seen[], method: string, pattern: RegExp): number => seen.filter((s) => s.method === method && pattern.test(s.path)).length;

describe('oci storage requests per run', () => {
  it('dsse: subject HEAD once per image, at most 7 requests per (artifact, image) pair, and a repeat uploads nothing', async () => {
    const images = await Promise.all([0, 1, 2].map((i) => pushTestImage({ host: registry.host, repository: `req/dsse-${i}` })));
    const { fetch: f, seen } = countingFetch();
    const s = storage('dsse', f);
    const requests = await runRequests(images, 'run-1');
    await Promise.all(requests.map((r) => s.store(r)));
    // 1 provenance × 3 images + 3 image signatures = 6 pairs.
    expect(count(seen, 'HEAD', /\/manifests\/sha256:/)).toBe(3);
    expect(seen.length).toBeLessThanOrEqual(6 * 7);
    // Layers and configs are new content: uploaded without a HEAD first.
    expect(count(seen, 'HEAD', /\/blobs\//)).toBe(0);
    // The provenance's `.att` layer and config are the same bytes for its 3 images (3 repositories):
    // uploaded once each, then mounted into the other two repositories (one POST, no PUT).
    const mounts = seen.filter((r) => r.method === 'POST' && r.search.includes('mount='));
    expect(mounts.length).toBe(4);
    expect(count(seen, 'PUT', /\/blobs\/uploads\/.+/)).toBe(6 * 2 - 4);
    expect(seen.length).toBeLessThanOrEqual(6 * 7 - 4);

    seen.length = 0;
    await Promise.all(requests.map((r) => s.store(r)));
    expect(count(seen, 'POST', /\/blobs\/uploads\/$/)).toBe(0);
    expect(count(seen, 'PUT', /\/manifests\//)).toBe(0);
  });

  it('both: one PUT per artifact at most on an image\'s referrers index, no re-read after a write under the lock, the shared empty config uploaded once', async () => {
    const images = await Promise.all([0, 1].map((i) => pushTestImage({ host: registry.host, repository: `req/both-${i}` })));
    const { fetch: f, seen } = countingFetch();
    const s = storage('both', f);
    await Promise.all((await runRequests(images, 'run-2')).map((r) => s.store(r)));
    for (const im of images) {
      // Written by the provenance and the image signature: once when they coalesce, else twice.
      expect(count(seen, 'PUT', new RegExp(`/manifests/sha256-${im.hex}$`))).toBeLessThanOrEqual(2);
      expect(count(seen, 'GET', new RegExp(`/manifests/sha256-${im.hex}(\\.att|\\.sig)?$`))).toBeLessThanOrEqual(4);
    }
    // 4 pairs × (layer + config + bundle) + the empty config once per repository.
    expect(count(seen, 'POST', /\/blobs\/uploads\/$/)).toBe(4 * 3 + images.length);
  });
});
