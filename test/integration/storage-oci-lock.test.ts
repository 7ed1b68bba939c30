import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createOciStorage, createOciReader, processTagLock } from '../../src/storage/index.js';
import { createSilentLogger } from '../../src/observability/index.js';
import { startRegistry, type RegistryHandle } from '../support/services.js';
import { createTestKey, pushTestImage, signProvenance, testStatement, type PushedImage } from '../support/oci-image.js';

// The controller passes the process mutex as the shared lock when it runs alone (in-process queue);
// it must not deadlock on itself, and without the settle wait every writer's layer must still land.
describe('OCI storage with the process mutex as its lock', () => {
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
    const stores = [createOciStorage({ config, logger, tagUpdate: { lock: processTagLock } }), createOciStorage({ config, logger, tagUpdate: { lock: processTagLock } })];
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
