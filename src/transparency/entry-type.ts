/**
 * Which witness logs an artifact, from `transparency.*`: Rekor v1 with `dsse` (default) or `intoto`
 * 0.0.2 entries for DSSE envelopes, or Rekor v2 (rekor-tiles, dsse only). Image signatures (message
 * signatures) are `hashedrekord` in every case. The entry type is chosen here, not in reconcile.
 */
import type { Witness } from '@sigstore/sign';
import type { Config, TransparencyEntryType } from '../config/index.js';
import type { Logger } from '../observability/index.js';
import { createRekorWitness } from './rekor-witness.js';
import { createRekorV2Witness } from './rekor-v2-witness.js';

export { transparencyEntryTypes, transparencyVersions, type TransparencyEntryType, type TransparencyVersion } from '../config/index.js';
export const defaultTransparencyEntryType: TransparencyEntryType = 'dsse';

export interface TransparencyWitnessDeps {
  readonly transparency: Pick<Config['transparency'], 'url' | 'entryType' | 'version'>;
  readonly logger: Logger;
  readonly timeoutMs?: number;
}

export function createTransparencyWitness(deps: TransparencyWitnessDeps): Witness {
  const { url, entryType, version } = deps.transparency;
  const timeout = deps.timeoutMs === undefined ? {} : { timeoutMs: deps.timeoutMs };
  // Rekor v2 takes hashedrekord 0.0.2 only (a DSSE envelope is logged by its PAE digest).
  if (version === 'v2') return createRekorV2Witness({ url, logger: deps.logger, ...timeout });
  return createRekorWitness({ url, logger: deps.logger, entryType, ...timeout });
}
