/**
 * `--platform` for commands that take an image (verify --image, trace): an image index / manifest list
 * is followed to its platform manifest(s) (tektoncd/chains#1070), since what runs is the platform
 * manifest. `index` keeps the index itself; a plain image manifest is used as given.
 */
import { ProvenantError } from '../errors.js';
import type { Logger } from '../observability/index.js';
import {
  createIndexReader,
  formatPlatform,
  hostPlatform,
  parseImageDigestRef,
  parsePlatform,
  selectPlatformManifests,
  type DockerCredentials,
} from '../storage/oci/index.js';

export const platformHelp = `os/arch[/variant] (default: this host's, e.g. ${hostPlatform()}), 'all' or 'index'`;

export type PlatformChoice = 'all' | 'index' | { readonly os: string; readonly architecture: string; readonly variant?: string };

/** Parses `--platform`; undefined when malformed (the caller reports a usage error). */
export function parsePlatformChoice(value: string | undefined): PlatformChoice | undefined {
  const wanted = value ?? hostPlatform();
  return wanted === 'all' || wanted === 'index' ? wanted : parsePlatform(wanted);
}

export interface ResolvedImage {
  /** `registry/repo@sha256:…` to read. */
  readonly ref: string;
  /** The index and platform it was reached through, when it was. */
  readonly via?: string;
}

/**
 * The image(s) to look at for `ref`: the selected platform manifest(s) of an index, else `ref`.
 * An index without the wanted platform is `VERIFY_PLATFORM_NOT_FOUND` (input: choose another).
 */
export async function resolveImagePlatforms(
  ref: string,
  choice: PlatformChoice,
  deps: { readonly insecure: boolean; readonly credentials?: DockerCredentials | undefined; readonly logger: Logger },
): Promise<ResolvedImage[]> {
  if (choice === 'index') return [{ ref }];
  const image = parseImageDigestRef(ref);
  const manifests = await createIndexReader(deps).platformManifests(image);
  if (manifests === undefined) return [{ ref }];
  const selected = selectPlatformManifests(manifests, choice);
  if (selected.length === 0) {
    const has = manifests.map((m) => formatPlatform(m.platform)).join(', ') || 'none';
    throw new ProvenantError('input', 'VERIFY_PLATFORM_NOT_FOUND', `${ref} is an image index without a ${choice === 'all' ? 'platform' : formatPlatform(choice)} manifest (it has: ${has}); use --platform`, {
      context: { image: ref, platforms: has },
    });
  }
  const repo = ref.slice(0, ref.lastIndexOf('@'));
  return selected.map((m) => ({ ref: `${repo}@${m.digest}`, via: `${ref} ${formatPlatform(m.platform)}` }));
}
