/**
 * Which witness logs an artifact, from `transparency.*`: Rekor v1 with `dsse` (default) or `intoto`
 * 0.0.2 entries for DSSE envelopes, or Rekor v2 (rekor-tiles, dsse only). Image signatures (message
 * signatures) are `hashedrekord` in every case. The entry type is chosen here, not in reconcile.
 */
import type { Witness } from '@sigstore/sign';
import type { Config, TransparencyEntryType } from '../config/index.js';
import type { Logger } from '../observability/index.js';
import { createRekorWitness } from './rekor-witness.js';

export { transparencyEntryTypes, transparencyVersions, type TransparencyEntryType, type TransparencyVersion } from '../config/index.js';
export const defaultTransparencyEntryType: TransparencyEntryType = 'dsse';

export interface TransparencyWitnessDeps {
  readonly transparency: Pick<Config['transparency'], 'url' | 'entryType' | 'version'>;
  readonly logger: Logger;
  readonly timeoutMs?: number;
}

export function createTransparencyWitness(deps: TransparencyWitnessDeps): Witness {
  const { url, entryType, version } = deps.transparency;
  return createRekorWitness({
    url,
    logger: deps.logger,
    entryType,
    majorApiVersion: version === 'v2' ? 2 : 1,
    ...(deps.timeoutMs === undefined ? {} : { timeoutMs: deps.timeoutMs }),
  });
}
