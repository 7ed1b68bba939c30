import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createKeyedMutex } from '../../src/mutex.js';
import { createOciStorage, createOciReader, createTagWriter } from '../../src/storage/index.js';
import { createSilentLogger } from '../../src/observability/index.js';
import { startRegistry, type RegistryHandle } from '../support/services.js';
import { createTestKey, pushTestImage, signProvenance, testStatement, type PushedImage } from '../support/oci-image.js';

// The controller declares `{mode: 'shared', lock: <process mutex>}` when it runs alone (in-process
// queue): without the settle wait every writer's layer must still land.
describe('OCI storage with a shared tag-write coordination (process mutex as the lock)', () => {
  let registry: RegistryHandle;
  let image: PushedImage;
  beforeAll(async () => {
    registry = await startRegistry();
    image = await pushTestImage({ host: registry.host, repository: 'locked/app' });
  });
  afterAll(async () => registry.stop());

  it('stores 10 concurrent attestations for one image, all present in both layouts', async () => {
    const key = createTestKey();
    const logger = createSilentLogger();
    const config = { repository: undefined, insecure: true, encoding: 'both' as const };
    // two storage instances, as two per-ServiceAccount backends in one controller would be
    const tagWriter = createTagWriter({ mode: 'shared', lock: createKeyedMutex() });
    expect(tagWriter.coordination.mode).toBe('shared');
    const stores = [createOciStorage({ config, logger, tagWriter }), createOciStorage({ config, logger, tagWriter })];
    await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const payload = testStatement(image, i);
        await stores[i % 2]!.store({
          run: { kind: 'TaskRun', namespace: 'ns', name: `r${i}`, uid: `u${i}` },
          artifact: { type: 'provenance', shortKey: `taskrun-u${i}`, subjects: [{ name: image.name, digest: { sha256: image.hex } }], predicateType: 'https://slsa.dev/provenance/v0.2' },
          payload,
          bundle: await signProvenance(key, payload),
        });
      }),
    );
    const found = await createOciReader({ config, logger }).readAttestations(image.ref);
    expect(found.envelopes).toHaveLength(10);
    expect(found.bundles).toHaveLength(10);
  }, 30_000);
});
