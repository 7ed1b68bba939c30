import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { createSilentLogger } from '../../../src/observability/index.js';
import { createEphemeralSigner } from '../../../src/signing/index.js';
import { createWiring } from '../../../src/wiring/index.js';

const wiringFor = (data: Record<string, string>) =>
  createWiring(parseConfig({ 'transparency.enabled': 'false', ...data }).config, {
    logger: createSilentLogger(),
    runStore: { get: async () => undefined, patchAnnotations: async () => undefined },
    signerOverride: createEphemeralSigner(),
    tagWrites: { mode: 'process' },
  });

describe('wiring: artifacts.oci.sign-index-manifests', () => {
  it('offers index reading only when the flag is on (off: the controller never reads an index)', async () => {
    const off = await wiringFor({});
    const on = await wiringFor({ 'artifacts.oci.sign-index-manifests': 'true' });
    try {
      expect(off.platformManifests).toBeUndefined();
      expect(typeof on.platformManifests).toBe('function');
    } finally {
      await Promise.all([off.close(), on.close()]);
    }
  });
});
