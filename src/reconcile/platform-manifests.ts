/**
 * Reads the index of each candidate image (`artifacts.oci.sign-index-manifests`) before planning, so
 * planning stays pure: it gets the platform manifests as a map. Plain image manifests cost one HEAD.
 */
import type { ArtifactSubject } from '../provenance/index.js';
import { parseRepository, type ImageDigestRef, type PlatformManifest } from '../storage/index.js';
import { platformKey, type PlatformManifestMap } from './plan.js';

export async function readPlatformManifestMap(
  candidates: readonly ArtifactSubject[],
  read: (image: ImageDigestRef) => Promise<readonly PlatformManifest[] | undefined>,
): Promise<PlatformManifestMap> {
  const map = new Map<string, readonly PlatformManifest[]>();
  await Promise.all(
    candidates.map(async (c) => {
      const hex = c.digest['sha256'];
      const repo = parseRepository(c.name);
      if (hex === undefined || repo === undefined) return;
      const manifests = await read({ ...repo, digest: `sha256:${hex}` });
      if (manifests !== undefined && manifests.length > 0) map.set(platformKey(c.name, hex), manifests);
    }),
  );
  return map;
}
